"""Checks of a session's options and texts, before anything is allocated.

Each failure is a SessionError naming the option and the value given, so a caller (the
CLI, the server) can pass the message on as it is.
"""

from __future__ import annotations

from ..defaults import ON_INPUT
from ..errors import SessionError
from ..layout import Layout
from ..listening import HOLDS, TARGETS


def check_listen_args(to: str, hold: str) -> tuple[str, str]:
    if to not in TARGETS:
        raise SessionError(f"listen target must be one of {', '.join(TARGETS)}, got {to!r}")
    if hold not in HOLDS:
        raise SessionError(f"hold must be one of {', '.join(HOLDS)}, got {hold!r}")
    return to, hold


def check_utf8(text: str, what: str) -> None:
    """Text decoded with surrogateescape (e.g. argv with invalid bytes) cannot be tokenized."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SessionError(f"{what} is not valid Unicode (undecodable byte at position {exc.start}); "
                           "pass UTF-8 text") from None


def check_max_tokens(max_tokens) -> None:
    """Checked before the defaults derived from it (the budget, the per-stream caps) are."""
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise SessionError(f"max_tokens must be a positive integer (or None: no cap), got {max_tokens!r}")


def check_options(problem, layout: Layout, *, budget, max_tokens, max_thinker_tokens, max_writer_tokens, check_every,
                  listen_capacity, hold_writer_steps, safety_check_every, prefill_chunk, entropy_pause,
                  on_input) -> None:
    if not isinstance(problem, str) or not problem.strip():
        raise SessionError("the problem text is empty; pass the question to answer")
    check_utf8(problem, "the problem text")
    check_max_tokens(max_tokens)
    for option, value in (("budget", budget), ("max_thinker_tokens", max_thinker_tokens),
                          ("max_writer_tokens", max_writer_tokens), ("check_every", check_every)):
        if not isinstance(value, int) or value < 1:
            raise SessionError(f"{option} must be a positive integer, got {value!r}")
    for option, value in (("listen_capacity", listen_capacity), ("hold_writer_steps", hold_writer_steps),
                          ("safety_check_every", safety_check_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SessionError(f"{option} must be a non-negative integer, got {value!r}")
    if prefill_chunk is not None and (not isinstance(prefill_chunk, int) or prefill_chunk < 1):
        raise SessionError(f"prefill_chunk must be a positive integer (or None), got {prefill_chunk!r}")
    if entropy_pause is not None and (not isinstance(entropy_pause, (int, float)) or entropy_pause <= 0):
        raise SessionError(f"entropy_pause must be a positive number of nats (or None), got {entropy_pause!r}")
    if safety_check_every and not layout.asks_safety:
        raise SessionError(f"layout {layout.name!r} has no safety view; safety checks need an async layout")
    if on_input not in ON_INPUT:
        raise SessionError(f"on_input must be one of {', '.join(ON_INPUT)}, got {on_input!r}")
