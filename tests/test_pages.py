"""The paged block table (plain Python): pages taken as blocks grow, runs, placement, give-back."""

import random

import pytest

from asyncthink.core.blocks import BlockTable
from asyncthink.errors import ArenaFull, SessionError


def test_pages_are_taken_as_tokens_are_written():
    table = BlockTable(capacity=64, page_size=4)
    assert (table.pages, table.capacity, table.free_pages) == (16, 64, 16)
    table.allocate("a", 40)
    assert table["a"].pages == [] and table.used_pages == 0  # nothing held for tokens not written
    local, slots = table.append("a", [1, 2, 3])
    assert local == [0, 1, 2] and slots == [0, 1, 2] and table.used_pages == 1
    _, slots = table.append("a", [4, 5, 6])  # crosses a page boundary
    assert slots == [3, 4, 5] and table["a"].pages == [0, 1]
    assert table.runs("a") == [(0, 0, 6)]  # consecutive pages: one run
    assert table.pages_needed({"a": 2}) == 0 and table.pages_needed({"a": 3}) == 1


def test_a_block_grows_after_its_last_page_else_where_it_has_room():
    table = BlockTable(capacity=64, page_size=4)
    for name in ("t", "a"):
        table.allocate(name, 64)
    table.append("t", [0] * 4)  # page 0
    table.append("a", [0])  # t may still grow: a goes to the middle of the free run, not right after t
    assert table["a"].pages == [8]
    table.append("t", [0] * 32)  # t grows into pages 1..7, then its next page (8) is a's
    assert table["t"].pages[:8] == list(range(8)) and table["t"].pages[8] != 8
    runs = table.runs("t")
    assert [n for _, _, n in runs] == [32, 4] and runs[1][1] == 32  # (first slot, local start, length)
    slots = table.slots("t")
    assert slots[:32] == list(range(32)) and slots[32] == runs[1][0]


def test_growing_blocks_stay_few_runs_low_in_a_large_pool():
    """Two sessions' thoughts and answers growing at once in a pool of 4096 pages: each block stays a
    few runs, and the pages in use stay low (the static step scores up to the highest one)."""
    table = BlockTable(capacity=65536, page_size=16)
    for s in ("s0", "s1"):
        for name, size in (("prompt", 40), ("thoughts", 5000), ("answer", 5000)):
            table.allocate(f"{s}/{name}", size)
        table.append(f"{s}/prompt", [0] * 40)
    for step in range(3000):
        for s in ("s0", "s1"):
            table.append(f"{s}/thoughts", [0])
            if step >= 100:
                table.append(f"{s}/answer", [0])
    assert max(len(table.runs(name)) for name in table.blocks) <= 3
    top = max(p for b in table.blocks.values() for p in b.pages)
    assert table.used_pages == 746 and top < 800  # of 4096 pages: packed low, a little room between


def test_a_block_that_cannot_grow_leaves_the_next_page_to_others():
    table = BlockTable(capacity=64, page_size=4)
    table.allocate("marker", 3)  # never more than 3 tokens: one page
    table.allocate("answer", 40)
    table.append("marker", [7, 7, 7])
    table.append("answer", [1])
    assert table["answer"].pages == [1]


def test_truncate_reset_free_give_pages_back_and_coalesce():
    table = BlockTable(capacity=64, page_size=4)
    for name in ("x", "y", "z"):
        table.allocate(name, 64)
        table.append(name, [0] * 9)
    assert table.used_pages == 9
    table.truncate("y", 5)
    assert len(table["y"].pages) == 2 and table["y"].tokens == [0] * 5 and table.used_pages == 8
    table.reset("z")
    assert table["z"].pages == [] and table.used_pages == 5
    table.free("x")
    table.free("y")
    assert table._free == [[0, 16]] and table.free_slots == 64


def test_full_pool_raises_and_takes_nothing():
    table = BlockTable(capacity=16, page_size=4)
    table.allocate("a", 100)
    table.allocate("b", 100)
    table.append("a", [0] * 10)
    with pytest.raises(ArenaFull, match="no free page"):
        table.append("b", [0] * 7)  # needs 2 pages, 1 is free
    assert table["b"].pages == [] and table["b"].tokens == [] and table.free_pages == 1
    with pytest.raises(SessionError, match="is full"):
        table.append("a", [0] * 91)  # beyond the block's capacity: refused before any page is taken


def test_evict_and_restore_keep_tokens_and_give_new_slots():
    table = BlockTable(capacity=32, page_size=4)
    table.allocate("a", 32)
    table.append("a", list(range(6)))
    table.evict("a")
    assert table["a"].tokens == list(range(6)) and table["a"].pages == [] and table.free_pages == 8
    assert table.pages_needed({"a": 0}) == 2 and table.pages_needed({"a": 3}) == 3  # back, and grown
    slots = table.restore("a")
    assert len(slots) == 6 and table.used_pages == 2


def test_a_session_pool_holds_its_blocks_full():
    """A single session's pool (capacities) has pages for every block at its capacity, in any order."""
    capacities = {"prompt": 37, "thoughts": 200, "split": 3, "answer": 120, "scratch": 5}
    rng = random.Random(0)
    for _ in range(20):
        table = BlockTable(capacities, page_size=16)
        left = dict(capacities)
        while left:
            name = rng.choice(sorted(left))
            n = min(left[name], rng.randint(1, 9))
            table.append(name, [0] * n)
            left[name] -= n
            if not left[name]:
                del left[name]
        assert sum(len(b.pages) for b in table.blocks.values()) <= table.pages
        for name, size in capacities.items():
            assert sorted(table.slots(name)) == sorted(set(table.slots(name))) and len(table.slots(name)) == size
        every = [s for name in capacities for s in table.slots(name)]
        assert len(every) == len(set(every))  # no slot held by two blocks


def test_bad_page_size():
    with pytest.raises(ValueError, match="page_size"):
        BlockTable(capacity=10, page_size=0)
