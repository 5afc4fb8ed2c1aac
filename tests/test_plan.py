"""Step planning is plain Python: rows, deltas, visibility and row groups, without tensors."""

from asyncthink.core.blocks import BlockTable
from asyncthink.core.plan import Chunk, plan_step


def test_deltas_and_visibility_follow_the_views():
    table = BlockTable({"p": 10, "t": 10, "a": 10}, page_size=10)  # one page per block: p, t, a in order
    table.append("p", [1, 2, 3])
    table.append("t", [4, 5])
    plan = plan_step([Chunk("thinker", ("p", "t"), "t", [6]), Chunk("writer", ("p", "t", "a"), "a", [7, 8])], table)
    assert plan.input_ids == [6, 7, 8] and plan.positions == [2, 0, 1]
    assert plan.slots == [12, 20, 21] and plan.logit_rows == [0, 2]
    p, t, a = plan.blocks
    # thinker row (t at offset 3, pos 2): sees p whole, t causally, never a
    assert (p.delta[0], t.delta[0], a.visible_end[0]) == (3, 0, 0)
    assert (p.visible_end[0], t.visible_end[0]) == (3, 3)
    # writer rows (a at offset 3 + 3 = 6): see the thinker's same-step token in t
    assert (p.delta[1], t.delta[1], a.delta[1]) == (6, 3, 0)
    assert (t.visible_end[1], a.visible_end[1], a.visible_end[2]) == (3, 1, 2)
    assert len(plan.groups) == 1 and plan.groups[0].rows == 3


def test_sessions_with_disjoint_blocks_form_separate_row_groups():
    table = BlockTable(capacity=100)
    for name in ("s0/p", "s0/t", "s1/p", "s1/t"):
        table.allocate(name, 10)
        table.append(name, [1])
    chunks = [Chunk("thinker", ("s0/p", "s0/t"), "s0/t", [2]), Chunk("thinker", ("s1/p", "s1/t"), "s1/t", [3, 4])]
    plan = plan_step(chunks, table)
    assert [(g.first_row, g.rows, [b.name for b in g.blocks]) for g in plan.groups] == [
        (0, 1, ["s0/p", "s0/t"]), (1, 2, ["s1/p", "s1/t"])]


def test_interleaved_sharing_falls_back_to_one_group():
    table = BlockTable({"x": 10, "y": 10})
    table.append("x", [1])
    table.append("y", [1])
    chunks = [Chunk("a", ("x",), "x", [2]), Chunk("b", ("y",), "y", [3]), Chunk("c", ("x", "y"), "y", [4])]
    plan = plan_step(chunks, table)
    assert len(plan.groups) == 1 and plan.groups[0].rows == 3
