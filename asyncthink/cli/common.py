"""What every command shares: loading a model and translating user errors, once.

User errors (`AsyncThinkError`) become one `error: ...` line on stderr and exit code 1;
anything else is a bug and keeps its traceback. Ctrl-C outside a session exits 130.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from ..errors import AsyncThinkError, ContextOverflow
from ..models.catalog import is_random_spec

if TYPE_CHECKING:
    from ..reasoner import AsyncReasoner


# the start() options `run` and `chat` take as flags (--max-tokens, --budget, ...)
SESSION_FLAGS = ("max_tokens", "budget", "max_thinker_tokens", "max_writer_tokens", "listen_capacity")


def error_line(exc: AsyncThinkError, flags: tuple[str, ...] = SESSION_FLAGS) -> str:
    """The error as one line; a context overflow names the command's flags (`--budget`), not start()'s
    keywords, and only those of `flags` (the options this command has)."""
    if isinstance(exc, ContextOverflow):
        return exc.explain(lambda option: f"--{option.replace('_', '-')}" if option in flags else None)
    return " ".join(str(exc).split())


@contextmanager
def user_errors(flags: tuple[str, ...] = SESSION_FLAGS):
    """Translate user errors into one line and an exit code; bugs keep their traceback."""
    try:
        yield
    except AsyncThinkError as exc:
        typer.echo(f"error: {error_line(exc, flags)}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        # Ctrl-C outside the session loop (e.g. while loading): click would say "Aborted!" and exit 1
        raise typer.Exit(130) from None


def load_model(model: str, device: str, dtype: str, layers: int | None, decode: str = "auto",
               warn: bool = True) -> AsyncReasoner:
    """Load through AsyncReasoner.from_pretrained; `warn`: say here that random weights give gibberish
    (a live view passes False and calls `random_weights_warning` once its spinner is gone)."""
    if not is_random_spec(model):
        from ..models.hub import resolve_source

        resolve_source(model)  # a missing folder or no network: one line now, before torch is imported
    from transformers.utils import logging as hf_logging

    from ..reasoner import AsyncReasoner

    hf_logging.disable_progress_bar()  # its 'Loading weights' bar would mix with the session's output
    kwargs = {} if layers is None else {"num_hidden_layers": layers}
    reasoner = AsyncReasoner.from_pretrained(model, device=device, dtype=dtype, decode=decode, **kwargs)
    if warn:
        random_weights_warning(model)
    return reasoner


def random_weights_warning(model: str) -> None:
    if is_random_spec(model):
        typer.echo(f"warning: {model} has random weights: its output is gibberish", err=True)
