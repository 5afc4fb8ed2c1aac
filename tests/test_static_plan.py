"""Static-shape descriptors (plain Python): buckets, padding, per-row view entries."""

from asyncthink.core.blocks import BlockTable
from asyncthink.core.plan import Chunk, plan_step
from asyncthink.core.static_plan import (
    NO_BLOCK,
    StaticShape,
    bucket,
    pad_plan,
    static_shape,
)


def _plan():
    table = BlockTable({"prompt": 10, "thoughts": 20, "answer": 20}, page_size=10)  # pages: prompt 0, thoughts 1-2, answer 3-4
    table.append("prompt", list(range(5)))
    table.append("thoughts", [7, 8])
    chunks = [Chunk("thinker", ("prompt", "thoughts"), "thoughts", [9]),
              Chunk("writer", ("prompt", "thoughts", "answer"), "answer", [4, 5, 6])]
    return plan_step(chunks, table), table


def _field(padded, name):
    at, n = padded.shape.fields()[name]
    return padded.ints[at : at + n]


def test_bucket():
    assert [bucket(n) for n in (1, 2, 3, 5, 64, 65)] == [1, 2, 4, 8, 64, 128]
    assert bucket(3, minimum=256) == 256


def test_shape_buckets_and_limits():
    plan, _ = _plan()
    shape = static_shape(plan, views=8, arena_slots=51, max_rows=64, page_size=10)
    # 4 rows; extent: the highest used slot is the answer's third token (slot 32) -> 256, capped at 51
    assert shape == StaticShape(rows=4, views=8, extent=51, page_size=10) and shape.pages == 6
    assert static_shape(plan, views=8, arena_slots=51, max_rows=2, page_size=10) is None  # too many rows: eager prefill
    assert static_shape(plan, views=2, arena_slots=51, max_rows=64, page_size=10) is None  # the writer sees 3 blocks


def test_pad_plan_fields():
    plan, _ = _plan()
    shape = StaticShape(rows=8, views=4, extent=64, page_size=10)
    padded = pad_plan(plan, shape, sink_slot=50)
    assert len(padded.ints) == shape.size
    assert _field(padded, "input_ids") == [9, 4, 5, 6, 0, 0, 0, 0]
    assert _field(padded, "slots") == [12, 30, 31, 32, 50, 50, 50, 50]  # padding rows write the sink slot
    assert _field(padded, "valid") == [1, 1, 1, 1, 0, 0, 0, 0]
    assert _field(padded, "logit_rows")[: padded.wanted] == [0, 3]  # each chunk's last row
    # per page of the extent (7 pages of 10): its block (-1: none) and the local position of its first slot;
    # pages 2 and 4 belong to thoughts and answer but hold none of their tokens yet, the sink's page none
    assert _field(padded, "page_block") == [0, 1, -1, 2, -1, -1, -1]
    assert _field(padded, "page_local") == [0, 0, 0, 0, 0, 0, 0]
    blocks, deltas, ends = (_field(padded, n) for n in ("row_block", "row_delta", "row_end"))
    # thinker row: prompt (delta 5: thoughts start at view position 5), thoughts itself (causal end 3)
    assert blocks[:4] == [0, 1, NO_BLOCK, NO_BLOCK] and deltas[:2] == [5, 0] and ends[:2] == [5, 3]
    # the writer's second row: prompt, thoughts (incl. the thinker's same-step token), answer up to itself
    assert blocks[8:12] == [0, 1, 2, NO_BLOCK] and deltas[8:11] == [8, 3, 0] and ends[8:11] == [5, 3, 2]
    assert set(blocks[16:]) == {NO_BLOCK}  # padding rows see nothing through their view entries
