"""Static-shape step descriptors: a StepPlan padded to fixed sizes, as one flat list of ints.

Plain Python, no tensors. The decode fast path (arena_attention.py, graphs.py) runs every
step of the same padded shape with the same tensor shapes, so a CUDA graph captured once
replays for every later step of that shape. What changes from step to step is only data:

    rows     R  (power of two)   input id, local position, arena slot, valid flag per row
    views    V  (fixed)          per row: up to V (block index, rotation delta, visible end)
    extent   E  (power of two)   arena slots [0, E) scored by every row
    pages    NP = ceil(E / P)    per arena page of the extent: the index of the block holding it
                                 (-1: none) and the local position of its first slot

`logit_rows` lists the rows whose logits are wanted (padded with 0; the first `wanted` count).
Padding rows feed token 0 at position 0 into the arena's sink slot (owned by no block, so no
real row ever sees it); padding view entries name block -2, which matches no slot.

Flat layout of `PaddedStep.ints` (all int64 on the device):

    [ input_ids R | positions R | slots R | valid R | logit_rows R | page_block NP | page_local NP |
      row_block R*V | row_delta R*V | row_end R*V ]

so slot e belongs to block page_block[e // P] at local position page_local[e // P] + e % P.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import StepPlan

NO_BLOCK = -2  # a padding view entry: matches no arena slot (slots outside every block are -1)


def bucket(n: int, minimum: int = 1) -> int:
    """Smallest power of two >= max(n, minimum)."""
    size = minimum
    while size < n:
        size *= 2
    return size


@dataclass(frozen=True)
class StaticShape:
    rows: int
    views: int
    extent: int
    page_size: int

    @property
    def pages(self) -> int:
        return -(-self.extent // self.page_size)

    def fields(self) -> dict[str, tuple[int, int]]:
        """Field name -> (offset, length) in the flat int buffer."""
        r, np_, rv = self.rows, self.pages, self.rows * self.views
        sizes = {"input_ids": r, "positions": r, "slots": r, "valid": r, "logit_rows": r, "page_block": np_,
                 "page_local": np_, "row_block": rv, "row_delta": rv, "row_end": rv}
        out, at = {}, 0
        for name, size in sizes.items():
            out[name] = (at, size)
            at += size
        return out

    @property
    def size(self) -> int:
        return sum(n for _, n in self.fields().values())


@dataclass
class PaddedStep:
    shape: StaticShape
    ints: list[int]
    wanted: int  # rows whose logits the step returns: the first `wanted` entries of logit_rows


def row_views(plan: StepPlan) -> list[list[tuple[int, int, int]]]:
    """Per row: the (block index, rotation delta, visible end) of every block it sees, in block order."""
    return [[(i, b.delta[r], b.visible_end[r]) for i, b in enumerate(plan.blocks) if b.visible_end[r] > 0]
            for r in range(plan.rows)]


def static_shape(plan: StepPlan, views: int, arena_slots: int, max_rows: int, page_size: int, min_extent: int = 256,
                 seen: list[list[tuple[int, int, int]]] | None = None) -> StaticShape | None:
    """The padded shape for `plan`, or None when it does not fit the fast path (too many rows,
    a row seeing more than `views` blocks): such steps (prefill) run eagerly. `seen`: row_views(plan)."""
    if plan.rows > max_rows:
        return None
    seen = row_views(plan) if seen is None else seen
    if max(map(len, seen), default=0) > views:
        return None
    used = max([slot + n for b in plan.blocks for slot, _, n in b.runs] + [s + 1 for s in plan.slots])
    extent = min(bucket(used, min_extent), arena_slots)
    return StaticShape(bucket(plan.rows), views, extent, page_size)


def pad_plan(plan: StepPlan, shape: StaticShape, sink_slot: int,
             seen: list[list[tuple[int, int, int]]] | None = None) -> PaddedStep:
    r_pad = shape.rows - plan.rows
    logit_rows = plan.logit_rows
    page_block, page_local = [-1] * shape.pages, [0] * shape.pages
    p = shape.page_size
    for i, block in enumerate(plan.blocks):
        for slot, local, n in block.runs:  # runs start on page boundaries
            for k in range(-(-n // p)):
                page_block[slot // p + k], page_local[slot // p + k] = i, local + k * p
    ints = [*plan.input_ids, *[0] * r_pad, *plan.positions, *[0] * r_pad, *plan.slots, *[sink_slot] * r_pad,
            *[1] * plan.rows, *[0] * r_pad, *logit_rows, *[0] * (shape.rows - len(logit_rows)),
            *page_block, *page_local]
    seen = row_views(plan) if seen is None else seen
    entries = [e for row in seen for e in row + [(NO_BLOCK, 0, 0)] * (shape.views - len(row))]
    entries += [(NO_BLOCK, 0, 0)] * (shape.views * r_pad)  # padding rows see nothing through their views
    ints += [e[0] for e in entries] + [e[1] for e in entries] + [e[2] for e in entries]
    return PaddedStep(shape, ints, len(logit_rows))
