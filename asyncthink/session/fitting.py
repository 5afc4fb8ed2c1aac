"""Fitting start()'s defaults to the model's context, so that `reasoner.start(problem)` works on
any model, not only on those with room for the default 4096-token caps and listening room.

    what the user set ─────────────────────────────────────────────▶ kept as given
    what the user left out (token caps, listening room) ─▶ defaults ─▶ scaled down together,
        by one factor, until the longest view fits max_position_embeddings

The token caps default to the budget; a budget the user set is a request, so caps derived
from it are kept too. Only defaults shrink: when what the user asked for (or the input)
does not fit, Session refuses it with ContextOverflow, exactly as without fitting. The
step budget itself takes no positions and keeps its default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..layout import CONTROL, SAFETY, THINKER, WRITER, Layout
from .options import check_utf8

DEFAULT_BUDGET = 4096
DEFAULT_LISTEN_CAPACITY = 256


def block_capacities(layout: Layout, text_lengths: dict[str, int], cue_length: int, max_thinker_tokens: int,
                     max_writer_tokens: int, listen_capacity: int) -> dict[str, int]:
    """Positions each block reserves: its initial text plus what the streams, the control cue and
    heard input (`listen_capacity` per target) may add to it."""
    room = {layout.writes.get(THINKER): max_thinker_tokens + listen_capacity,
            layout.writes[WRITER]: max_writer_tokens, layout.input_block: listen_capacity,
            layout.writes.get(CONTROL): cue_length, layout.writes.get(SAFETY): cue_length}
    return {n: length + room.get(n, 0) for n, length in text_lengths.items()}


def view_lengths(layout: Layout, capacities: dict[str, int]) -> dict[str, int]:
    """The most positions each stream's view can reach with these block capacities."""
    return {stream: sum(capacities[b] for b in view) for stream, view in layout.views.items()}


@dataclass(frozen=True)
class Room:
    budget: int
    max_thinker_tokens: int
    max_writer_tokens: int
    listen_capacity: int


def fit_room(reasoner, problem: str, layout: Layout, budget: int | None, max_thinker_tokens: int | None,
             max_writer_tokens: int | None, listen_capacity: int | None) -> Room:
    """The session's caps: the user's values, and defaults for the rest fitted to the model."""
    steps = DEFAULT_BUDGET if budget is None else budget
    caps = Room(steps, steps if max_thinker_tokens is None else max_thinker_tokens,
                steps if max_writer_tokens is None else max_writer_tokens,
                DEFAULT_LISTEN_CAPACITY if listen_capacity is None else listen_capacity)
    free = {"max_thinker_tokens": budget is None and max_thinker_tokens is None,
            "max_writer_tokens": budget is None and max_writer_tokens is None,
            "listen_capacity": listen_capacity is None}
    limit = getattr(reasoner.model.config, "max_position_embeddings", None)
    numbers = (caps.budget, caps.max_thinker_tokens, caps.max_writer_tokens, caps.listen_capacity)
    if not limit or not any(free.values()) or not all(type(v) is int for v in numbers):
        return caps  # nothing to fit, or a bad value Session will name
    if not isinstance(problem, str) or not problem.strip():
        return caps  # Session refuses the empty problem
    check_utf8(problem, "the problem text")
    tok, fmt = reasoner.tokenizer, reasoner.chat_format
    texts = {n: len(tok.encode(t, add_special_tokens=False)) for n, t in layout.texts(problem, fmt).items()}
    cue = len(tok.encode(layout.cue(fmt), add_special_tokens=False))

    def longest(room: Room) -> dict[str, int]:
        return view_lengths(layout, block_capacities(layout, texts, cue, room.max_thinker_tokens,
                                                     room.max_writer_tokens, room.listen_capacity))

    full = longest(caps)
    if max(full.values()) <= limit:
        return caps
    fixed = longest(Room(caps.budget, *(0 if free[k] else getattr(caps, k) for k in free)))
    over = [s for s in full if full[s] > limit]
    if any(fixed[s] >= limit for s in over):
        return caps  # the user's own settings or the input leave no room: Session says which
    scale = min((limit - fixed[s]) / (full[s] - fixed[s]) for s in over)
    least = {"max_thinker_tokens": 1, "max_writer_tokens": 1, "listen_capacity": 0}
    shrunk = {k: max(least[k], math.floor(scale * getattr(caps, k))) if free[k] else getattr(caps, k) for k in free}
    return Room(caps.budget, **shrunk)
