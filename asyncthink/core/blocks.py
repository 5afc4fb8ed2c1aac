"""Block table: which named runs of tokens exist and which arena pages hold them.

Plain Python, no tensors. The arena's slots are cut into pages of `page_size` slots, all in one
preallocated pool; a block is a list of pages, taken from the pool as its tokens are written
(nothing is held for tokens not written yet) and given back when it is emptied or freed:

    arena pages   0     1     2     3     4     5     6     7     8   ...  pages-1 | sink slot
                 [ p0 ][ p1 ][ t0 ][ t1 ][ a0 ][    ][ t2 ][ q0 ][    ] ...       |
    prompt   p: pages [0, 1]      slot of token j = pages[j // page_size] * page_size + j % page_size
    thoughts t: pages [2, 3, 6]   (page 4 was taken by the answer when t needed its third page)
    answer   a: pages [4]

A block's keys are stored at *local* positions 0..len-1 whatever pages hold them; where it sits
in a stream's context is decided by the views (layout), through offsets computed here per step.
`capacity` is the most tokens a block may ever hold (its session's caps), not memory set aside.

Where a block's next page goes: the page right after its last one when that is free (the block
stays one contiguous run, which attention reads as one slice); otherwise the lowest free run that
leaves it room to grow (GROWTH_SLOTS, or the most any run leaves), starting there — or, when the
run follows another block that may still grow, up to GROWTH_SLOTS (at most half the run) further
on, so that block keeps room after its own last page. Blocks stay a few runs each and the pages in
use stay low in the arena (the static decode step scores the arena up to the highest one).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..errors import ArenaFull, SessionError

DEFAULT_PAGE_SIZE = 16
GROWTH_SLOTS = 1024  # room a new run leaves after a block that may still grow (and wants for itself)


@dataclass
class Block:
    name: str
    capacity: int  # the most tokens the block may hold
    tokens: list[int] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)  # arena pages holding the tokens, in order
    page_runs: list | None = field(default=None, repr=False)  # consecutive pages: (first page, index, count)

    @property
    def length(self) -> int:
        return len(self.tokens)


def pages_for(tokens: int, page_size: int) -> int:
    return -(-tokens // page_size)


class BlockTable:
    """Named blocks over a pool of `capacity` arena slots (whole pages: rounded down).

    A single session passes `capacities` (its blocks; the pool is made to hold all of them full);
    an engine serving many sessions passes `capacity` and sessions allocate and free blocks as they
    come and go. Pages are shared by all blocks, first come first served.
    """

    def __init__(self, capacities: dict[str, int] | None = None, capacity: int | None = None,
                 page_size: int = DEFAULT_PAGE_SIZE):
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive number of slots, got {page_size!r}")
        capacities = capacities or {}
        self.page_size = page_size
        self.pages = (capacity // page_size if capacity is not None  # never more than the slots asked for
                      else sum(pages_for(size, page_size) for size in capacities.values()))
        self.capacity = self.pages * page_size  # slots in the pool; the arena has one more (the sink)
        self.blocks: dict[str, Block] = {}
        self._free: list[list[int]] = [[0, self.pages]] if self.pages else []  # runs [first page, count], sorted
        self._owner: list[str | None] = [None] * self.pages
        # admission policy, set by an engine (session/fitting.py admit()): pages a newcomer must leave free
        # for the running sessions to grow, and pages promised to preempted sessions (they come back first)
        self.admit_margin = 0
        self.promised = 0
        for name, size in capacities.items():
            self.allocate(name, size)

    # ---- the pool ------------------------------------------------------------------

    @property
    def free_pages(self) -> int:
        return sum(count for _, count in self._free)

    @property
    def used_pages(self) -> int:
        return self.pages - self.free_pages

    @property
    def free_slots(self) -> int:
        return self.free_pages * self.page_size

    def pages_needed(self, new_tokens: dict[str, int]) -> int:
        """Pages the pool must give for these blocks to grow by these many tokens."""
        p = self.page_size
        return sum(max(0, pages_for(self.blocks[n].length + k, p) - len(self.blocks[n].pages))
                   for n, k in new_tokens.items())

    def _take(self, block: Block) -> int:
        """One free page for `block`: after its last page if free, else low in the pool with room to grow."""
        if not self._free:
            raise ArenaFull(f"the KV pool has no free page for block {block.name!r} (all {self.pages} pages of "
                            f"{self.page_size} slots are in use); wait for running sessions to finish or give "
                            "the engine a larger capacity")
        index = None
        if block.pages:
            after = block.pages[-1] + 1
            index = next((i for i, (first, _) in enumerate(self._free) if first == after), None)
        if index is not None:
            page = after
        else:  # (room to grow, page, run index) per free run, lowest addresses first
            gap = max(1, GROWTH_SLOTS // self.page_size)
            candidates = []
            for i, (first, count) in enumerate(self._free):
                skip = min(count // 2, gap) if first and self._may_grow(self._owner[first - 1]) else 0
                candidates.append((count - skip, first + skip, i))
            want = min(gap, max(room for room, _, _ in candidates))
            _, page, index = next(c for c in candidates if c[0] >= want)
        return self._claim(index, page, block)

    def _claim(self, index: int, page: int, block: Block) -> int:
        """Take `page`, which lies in free run `index`, for `block`."""
        first, count = self._free[index]
        rest = [[first, page - first], [page + 1, first + count - page - 1]]
        self._free[index : index + 1] = [run for run in rest if run[1]]
        self._owner[page] = block.name
        return page

    def _may_grow(self, name: str | None) -> bool:
        """Whether the block `name` (owner of a page before a free run) may still need pages after it."""
        block = self.blocks.get(name) if name is not None else None
        return block is not None and len(block.pages) * self.page_size < block.capacity

    def _give_back(self, pages: list[int]) -> None:
        for page in pages:
            self._owner[page] = None
            i = bisect.bisect(self._free, [page, 0])
            before = i > 0 and self._free[i - 1][0] + self._free[i - 1][1] == page
            after = i < len(self._free) and self._free[i][0] == page + 1
            if before and after:
                self._free[i - 1][1] += 1 + self._free[i][1]
                del self._free[i]
            elif before:
                self._free[i - 1][1] += 1
            elif after:
                self._free[i][0], self._free[i][1] = page, self._free[i][1] + 1
            else:
                self._free.insert(i, [page, 1])

    # ---- blocks --------------------------------------------------------------------

    def allocate(self, name: str, capacity: int) -> Block:
        """A new, empty block that may hold up to `capacity` tokens (no page is taken yet)."""
        if name in self.blocks:
            raise ValueError(f"block {name!r} already exists")
        block = self.blocks[name] = Block(name, capacity)
        return block

    def free(self, name: str) -> None:
        block = self.blocks.pop(name)
        self._give_back(block.pages)

    def __getitem__(self, name: str) -> Block:
        return self.blocks[name]

    def room(self, name: str) -> int:
        block = self.blocks[name]
        return block.capacity - block.length

    def slot(self, block: Block, j: int) -> int:
        return block.pages[j // self.page_size] * self.page_size + j % self.page_size

    def slots(self, name: str) -> list[int]:
        """Arena slots of the block's tokens, in order."""
        block = self.blocks[name]
        return [self.slot(block, j) for j in range(block.length)]

    def runs(self, name: str) -> list[tuple[int, int, int]]:
        """The block's tokens as contiguous runs of arena slots: (first slot, first local position, length)."""
        block, p = self.blocks[name], self.page_size
        if block.page_runs is None:  # computed again only when the block's pages change
            block.page_runs = []
            for i, page in enumerate(block.pages):
                last = block.page_runs[-1] if block.page_runs else None
                if last is not None and last[0] + last[2] == page:
                    block.page_runs[-1] = (last[0], last[1], last[2] + 1)
                else:
                    block.page_runs.append((page, i, 1))
        out = []
        for page, index, count in block.page_runs:
            n = min(count * p, block.length - index * p)
            if n <= 0:
                break
            out.append((page * p, index * p, n))
        return out

    def append(self, name: str, token_ids: list[int]) -> tuple[list[int], list[int]]:
        """Record tokens at the end of a block, taking pages as needed; returns (local positions, arena
        slots). ArenaFull when the pool has no page left (nothing is recorded then)."""
        block = self.blocks[name]
        if len(token_ids) > self.room(name):
            raise SessionError(
                f"block {name!r} is full: {block.length} + {len(token_ids)} tokens > capacity "
                f"{block.capacity}; start the session with a larger budget or shorter input"
            )
        first = block.length
        self._grow(block, first + len(token_ids))
        block.tokens.extend(token_ids)
        local = list(range(first, first + len(token_ids)))
        return local, [self.slot(block, j) for j in local]

    def _grow(self, block: Block, length: int) -> None:
        """Give `block` pages for `length` tokens, all or none."""
        taken = []
        try:
            while len(block.pages) * self.page_size < length:
                taken.append(self._take(block))
                block.pages.append(taken[-1])
                block.page_runs = None
        except ArenaFull:
            del block.pages[len(block.pages) - len(taken):]
            self._give_back(taken)
            raise

    def truncate(self, name: str, length: int) -> None:
        """Keep the block's first `length` tokens; pages no longer needed go back to the pool."""
        block = self.blocks[name]
        del block.tokens[length:]
        keep = pages_for(length, self.page_size)
        if keep < len(block.pages):
            block.page_runs = None
        self._give_back(block.pages[keep:])
        del block.pages[keep:]

    def reset(self, name: str) -> None:
        self.truncate(name, 0)

    def evict(self, name: str) -> None:
        """Give the block's pages back but keep its tokens (a preempted session: its keys are elsewhere)."""
        block = self.blocks[name]
        self._give_back(block.pages)
        block.pages, block.page_runs = [], None

    def restore(self, name: str) -> list[int]:
        """Pages again for an evicted block's tokens; returns their new arena slots (ArenaFull: none taken)."""
        block = self.blocks[name]
        self._grow(block, block.length)
        return self.slots(name)

    def offsets(self, view: tuple[str, ...]) -> dict[str, int]:
        """Start position of each block of `view` in that view's contiguous sequence."""
        out, position = {}, 0
        for name in view:
            out[name] = position
            position += self.blocks[name].length
        return out

    def view_tokens(self, view: tuple[str, ...]) -> list[int]:
        return [t for name in view for t in self.blocks[name].tokens]
