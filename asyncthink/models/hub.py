"""Loading a real checkpoint, from a folder or the Hugging Face Hub, with errors a user can act on.

    name ─▶ a shipped name ("tiny-reasoner")  ─▶ its folder in the package
         ─▶ a path (absolute, ./, ~, or an existing folder) ─▶ checked: exists, is a folder,
            has config.json and tokenizer files ─▶ loaded from there
         ─▶ a Hub name ─▶ the local cache first (no network at all when it is there)
                       ─▶ else one quick probe of the Hub (a few seconds at most) ─▶ download
                          or one clear line: no network / no such model / gated

transformers itself would retry a dead network for about a minute and print each retry;
the probe answers first.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelLoadError
from .catalog import shipped_path

PROBE_TIMEOUT = 5.0  # seconds for the Hub probe
_REACHABLE: set[str] = set()  # Hub names a probe of this process found
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
NO_WEIGHTS_HINT = ("pass a local model folder, or run the model that ships with asyncthink: `-m tiny-reasoner` "
                   "(or random:Qwen/Qwen3-0.6B, random weights)")


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(name) or Path(name).expanduser().exists()


def check_folder(folder: Path, name: str) -> None:
    if not folder.exists():
        raise ModelLoadError(f"no such folder: {name}; pass the folder that holds the model's config.json, or a Hub "
                             "name such as Qwen/Qwen3-0.6B")
    if not folder.is_dir():
        raise ModelLoadError(f"{name} is a file, not a model folder; pass the folder that holds config.json")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"folder {name} has no config.json: it is not a Hugging Face model folder "
                             "(save one with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise ModelLoadError(f"folder {name} has no tokenizer ({' or '.join(TOKENIZER_FILES[:2])}); save it there "
                             "with tokenizer.save_pretrained(folder)")


def _in_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def _probe_hub(name: str) -> None:
    """Raise a one-line ModelLoadError when the Hub cannot give us `name`; return when it can."""
    import huggingface_hub
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
    )

    try:
        huggingface_hub.model_info(name, timeout=PROBE_TIMEOUT)
    except GatedRepoError:
        raise ModelLoadError(f"{name!r} is gated on the Hugging Face Hub: accept its terms there and log in with "
                             "`hf auth login`") from None
    except RepositoryNotFoundError:
        raise ModelLoadError(f"no model {name!r} on the Hugging Face Hub (nor a local folder of that name); check "
                             f"the name, or {NO_WEIGHTS_HINT}") from None
    except HfHubHTTPError as exc:
        raise ModelLoadError(f"the Hugging Face Hub refused {name!r}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001  (DNS, refused, timeout, proxy: every transport error means no network)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"cannot reach the Hugging Face Hub to download {name!r} ({reason}); without network, "
                             f"{NO_WEIGHTS_HINT}; a model already downloaded loads with HF_HUB_OFFLINE=1") from None


def resolve_source(name: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, local_files_only) for a shipped name, a folder or a Hub name."""
    if (folder := shipped_path(name)) is not None:
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"the shipped model {name!r} is missing from this installation "
                                 f"(no {folder}/config.json); reinstall asyncthink")
        return str(folder), True
    if _looks_like_path(name):
        folder = Path(name).expanduser()
        check_folder(folder, name)
        return str(folder), True
    if os.environ.get("HF_HUB_OFFLINE") or _in_cache(name):
        return name, True  # the cache is enough: no network at all
    if name not in _REACHABLE:  # the CLI resolves before importing torch, from_pretrained again: probe once
        _probe_hub(name)
        _REACHABLE.add(name)
    return name, False
