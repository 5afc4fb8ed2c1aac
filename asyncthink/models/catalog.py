"""What can be named and loaded offline, importable without torch (the CLI lists it fast).

    "tiny-reasoner"        ─▶  asyncthink/models/tiny_reasoner/   an ordinary Hugging Face model folder
                               (Qwen3 architecture, the project's BPE tokenizer with Qwen3's chat
                               template), trained by `python -m asyncthink.training`
    "random:<hub name>"    ─▶  random weights of that checkpoint's shape (configs/<org>__<name>.json,
                               architecture fields only; random_weights.py builds them)

`TINY_REASONER` is public API: `transformers.AutoModelForCausalLM.from_pretrained(TINY_REASONER)`
loads it as any model, and `AsyncReasoner.from_pretrained("tiny-reasoner")` resolves the name here.
"""

from __future__ import annotations

from pathlib import Path

TINY_REASONER = Path(__file__).parent / "tiny_reasoner"
SHIPPED: dict[str, Path] = {"tiny-reasoner": TINY_REASONER}
RANDOM_PREFIX = "random:"
CONFIG_DIR = Path(__file__).parent / "configs"


def shipped_path(name: str) -> Path | None:
    """The folder of a shipped model's name, or None for any other name (a Hub name, a path, ...)."""
    return SHIPPED.get(name) if isinstance(name, str) else None


def is_random_spec(spec: str) -> bool:
    """True if ``spec`` asks for a random model (``"random:<hub name>"``)."""
    return isinstance(spec, str) and spec.startswith(RANDOM_PREFIX)


def known_random_models() -> list[str]:
    """Specs accepted by :func:`load_random`, e.g. ``"random:Qwen/Qwen3-0.6B"``."""
    return sorted(RANDOM_PREFIX + p.stem.replace("__", "/") for p in CONFIG_DIR.glob("*.json"))
