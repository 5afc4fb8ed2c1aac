"""Fitting start()'s defaults to the model's context, so that `reasoner.start(problem)` works on
any model, not only on those with room for the default 4096-token caps and listening room.

    what the user set ─────────────────────────────────────────────▶ kept as given
    what the user left out (token caps, listening room) ─▶ defaults ─▶ scaled down together,
        by one factor, until the longest view fits max_position_embeddings

The token caps default to the budget (and to no more than `max_tokens`, the cap on both
streams together); a budget or `max_tokens` the user set is a request, so caps derived from
it are kept too. Only defaults shrink: when what the user asked for (or the input) does not
fit, Session refuses it with ContextOverflow (`overflow` below), exactly as without fitting.
The step budget itself takes no positions and keeps its default.

check_room() refuses a session whose views could outgrow the context (ContextOverflow) or that an
engine's whole KV pool could never hold even alone (ArenaTooSmall: counted by what it can really
write, most_slots()), naming options, never blocks, and the largest max_tokens that would fit;
admit() admits a session into a shared pool when there are pages for its texts (pages for the rest
come as it writes).

A view's length is counted in two parts: `fixed` positions (block texts, the control cue, the
listening room) and `written` ones (what the streams may write into the view's blocks: each
stream's cap, and all of them together at most `max_tokens`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ArenaFull, ArenaTooSmall, ContextOverflow
from ..layout import CONTROL, SAFETY, THINKER, WRITER, Layout
from .options import check_utf8

DEFAULT_BUDGET = 4096
DEFAULT_LISTEN_CAPACITY = 256
# steps that write no token: the one where the thinker closes its thinking (or meets its cap) and the
# one where the writer ends its turn; every other step writes at least one token
SILENT_STEPS = 2


def default_budget(max_tokens: int | None) -> int:
    """Steps when the user gives none: 4096, or with `max_tokens` just enough to write them all."""
    return DEFAULT_BUDGET if max_tokens is None else max_tokens + SILENT_STEPS


def _fixed_room(layout: Layout, cue_length: int, listen_capacity: int) -> dict[str, int]:
    """Positions blocks may take beyond their text whatever the streams write: heard input, the cue."""
    room = {layout.input_block: listen_capacity, layout.writes.get(CONTROL): cue_length,
            layout.writes.get(SAFETY): cue_length}
    if THINKER in layout.writes:
        room[layout.writes[THINKER]] = listen_capacity  # input heard into the thoughts
    return room


def _stream_room(layout: Layout, max_thinker_tokens: int, max_writer_tokens: int,
                 max_tokens: int | None) -> dict[str, int]:
    """Positions each stream may write into its block: its cap, and never more than `max_tokens`."""
    cap = (lambda n: n) if max_tokens is None else (lambda n: min(n, max_tokens))
    room = {layout.writes[WRITER]: cap(max_writer_tokens)}
    if THINKER in layout.writes:
        room[layout.writes[THINKER]] = cap(max_thinker_tokens)
    return room


def block_capacities(layout: Layout, text_lengths: dict[str, int], cue_length: int, max_thinker_tokens: int,
                     max_writer_tokens: int, listen_capacity: int, max_tokens: int | None = None) -> dict[str, int]:
    """Positions each block may hold (its capacity): its initial text plus what the streams, the control cue and
    heard input (`listen_capacity` per target) may add to it."""
    fixed = _fixed_room(layout, cue_length, listen_capacity)
    written = _stream_room(layout, max_thinker_tokens, max_writer_tokens, max_tokens)
    return {n: length + fixed.get(n, 0) + written.get(n, 0) for n, length in text_lengths.items()}


@dataclass(frozen=True)
class ViewRoom:
    text: int  # the view's block texts (the input and the layout's own text)
    fixed: int  # text + the control cue + listening room
    written: int  # the most the streams can write into the view's blocks

    @property
    def longest(self) -> int:
        return self.fixed + self.written


def view_rooms(layout: Layout, text_lengths: dict[str, int], cue_length: int, max_thinker_tokens: int,
               max_writer_tokens: int, listen_capacity: int, max_tokens: int | None = None) -> dict[str, ViewRoom]:
    """The most positions each stream's view can reach, split as ViewRoom says."""
    fixed = _fixed_room(layout, cue_length, listen_capacity)
    written = _stream_room(layout, max_thinker_tokens, max_writer_tokens, max_tokens)
    rooms = {}
    for stream, view in layout.views.items():
        text = sum(text_lengths[b] for b in view)
        streams = sum(written.get(b, 0) for b in view)
        rooms[stream] = ViewRoom(text, text + sum(fixed.get(b, 0) for b in view),
                                 streams if max_tokens is None else min(streams, max_tokens))
    return rooms


def overflow(rooms: dict[str, ViewRoom], limit: int | None) -> ContextOverflow | None:
    """The error for views that could outgrow `limit` positions (None when all fit): it names the
    longest such view and `room`, the most thought and answer tokens that fit in every view (so
    max_tokens=room always fits; <= 0 when the text and listening room alone leave none)."""
    over = {s: r for s, r in rooms.items() if limit and r.longest > limit}
    if not over:
        return None
    stream = max(over, key=lambda s: over[s].longest)
    return ContextOverflow(stream, over[stream].longest, limit, max(r.text for r in over.values()),
                           min(limit - r.fixed for r in over.values()))


def too_big(capacity: int, needed: int, fixed: int) -> ArenaTooSmall | None:
    """The error for a session that may come to use `needed` slots, more than a whole pool of `capacity`
    (None when it fits): `fixed` of them are its texts, listening room and page rounding, the rest what
    its streams may write; its `room` is the largest max_tokens that would fit."""
    if needed <= capacity:
        return None
    low = capacity - fixed  # the streams' tokens together that fit next to the fixed part
    fix = ("shorten the input or lower listen_capacity=" if low < 1 else
           f"set max_tokens= to {low} or less (thought and answer tokens together), or lower budget= (the "
           "default of the per-stream caps), max_thinker_tokens=, max_writer_tokens= or listen_capacity=")
    return ArenaTooSmall(f"the session may come to use {needed} KV slots (its texts, listening room and "
                         f"thought and answer tokens), more than the engine's whole KV pool of {capacity} "
                         f"slots; {fix}, or give the engine a larger capacity", needed, capacity, fixed,
                         max(low, 0))


def most_slots(layout: Layout, texts: dict[str, int], cue_length: int, max_thinker_tokens: int,
               max_writer_tokens: int, listen_capacity: int, max_tokens: int | None,
               page_size: int) -> tuple[int, int]:
    """(the most pool slots a session can come to use, the part of them fixed whatever it writes).

    Blocks take pages as they grow, so what counts is what the session can really write: its texts,
    the cue, the listening room, and its streams' tokens — each at most its cap, all of them together
    at most `max_tokens` — plus each block's last page, which may be partly empty."""
    fixed = sum(block_capacities(layout, texts, cue_length, 0, 0, listen_capacity).values())
    holding = block_capacities(layout, texts, cue_length, max_thinker_tokens, max_writer_tokens, listen_capacity)
    fixed += sum(1 for n in holding.values() if n) * (page_size - 1)  # blocks that may hold a token at all
    written = sum(_stream_room(layout, max_thinker_tokens, max_writer_tokens, None).values())
    return fixed + (written if max_tokens is None else min(written, max_tokens)), fixed


def check_room(layout: Layout, texts: dict[str, int], cue_length: int, max_thinker_tokens: int,
               max_writer_tokens: int, listen_capacity: int, max_tokens: int | None, limit: int | None,
               pool=None) -> dict[str, int]:
    """The blocks' capacities (the most tokens each may hold), once the views fit the model's context of
    `limit` positions and the session a shared `pool` (a BlockTable; None: one made to measure). Of the
    two refusals the one with the smaller room is raised, so the max_tokens it names satisfies both."""
    caps = (max_thinker_tokens, max_writer_tokens, listen_capacity, max_tokens)
    capacities = block_capacities(layout, texts, cue_length, *caps)
    refusals = [overflow(view_rooms(layout, texts, cue_length, *caps), limit)]
    if pool is not None:
        needed, fixed = most_slots(layout, texts, cue_length, *caps, pool.page_size)
        refusals.append(too_big(pool.capacity, needed, fixed))
    refusals = [r for r in refusals if r is not None]
    if refusals:
        raise min(refusals, key=lambda r: r.room)
    return capacities


def admit(table, capacities: dict[str, int], texts: dict[str, int]) -> None:
    """Admit a session into a shared pool: its blocks (arena name -> most tokens) are made, empty, when the
    pool has free pages for their texts (`texts`: arena name -> tokens) beyond the margin it keeps and the
    pages promised to preempted sessions; ArenaFull (naming no block) when it has not, now."""
    p = table.page_size
    needed = sum(-(-n // p) for n in texts.values())
    spare = table.free_pages - table.admit_margin - table.promised
    if needed > spare:
        raise ArenaFull(f"the KV pool has no room for this session now: its texts need {needed} pages of {p} slots, "
                        f"{table.free_pages} of {table.pages} pages are free ({table.admit_margin} kept as a "
                        f"margin for running sessions to grow, {table.promised} promised to preempted sessions); "
                        "wait for running sessions to finish or give the engine a larger capacity")
    for name, size in capacities.items():
        table.allocate(name, size)


@dataclass(frozen=True)
class Room:
    budget: int
    max_thinker_tokens: int
    max_writer_tokens: int
    listen_capacity: int


def fit_room(reasoner, problem: str, layout: Layout, budget: int | None, max_thinker_tokens: int | None,
             max_writer_tokens: int | None, listen_capacity: int | None, max_tokens: int | None = None) -> Room:
    """The session's caps: the user's values, and defaults for the rest fitted to the model."""
    steps = default_budget(max_tokens if type(max_tokens) is int else None) if budget is None else budget
    derived = steps if type(max_tokens) is not int or type(steps) is not int else min(steps, max_tokens)
    caps = Room(steps, derived if max_thinker_tokens is None else max_thinker_tokens,
                derived if max_writer_tokens is None else max_writer_tokens,
                DEFAULT_LISTEN_CAPACITY if listen_capacity is None else listen_capacity)
    asked = budget is not None or max_tokens is not None  # caps derived from what the user asked for are kept
    free = {"max_thinker_tokens": not asked and max_thinker_tokens is None,
            "max_writer_tokens": not asked and max_writer_tokens is None,
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
        rooms = view_rooms(layout, texts, cue, room.max_thinker_tokens, room.max_writer_tokens,
                           room.listen_capacity, max_tokens)
        return {s: r.longest for s, r in rooms.items()}

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
