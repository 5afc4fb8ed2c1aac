"""Block table: which named runs of tokens exist and where they live in the KV arena.

Plain Python, no tensors. Every block owns a fixed slice of arena slots reserved at
session start; tokens are appended in place and a block can be emptied (the scratch block
of the control question) without touching any other block:

    arena slots  0 ............................................... capacity
                 [ prompt |....][ thoughts ...........|....][ split ][ answer ....|...][ scratch |..]
                   ^start        ^start                                              len ^   ^ capacity

A block's keys are stored at *local* positions 0..len-1; where it sits in a stream's
context is decided by the views (layout), through offsets computed here per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ArenaFull, SessionError


@dataclass
class Block:
    name: str
    start: int  # first arena slot
    capacity: int
    tokens: list[int] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.tokens)


class BlockTable:
    """Named blocks over `capacity` arena slots, allocated first-fit from a free list.

    A single session reserves all its blocks at once (`capacities`); an engine serving many
    sessions allocates and frees them as sessions join and leave, and freed slots are reused.
    """

    def __init__(self, capacities: dict[str, int] | None = None, capacity: int | None = None):
        capacities = capacities or {}
        self.capacity = capacity if capacity is not None else sum(capacities.values())
        self.blocks: dict[str, Block] = {}
        self._free: list[tuple[int, int]] = [(0, self.capacity)] if self.capacity else []  # (start, length)
        for name, size in capacities.items():
            self.allocate(name, size)

    @property
    def free_slots(self) -> int:
        return sum(length for _, length in self._free)

    def allocate(self, name: str, capacity: int) -> Block:
        if name in self.blocks:
            raise ValueError(f"block {name!r} already exists")
        for i, (start, length) in enumerate(self._free):
            if length >= capacity:
                self._free[i : i + 1] = [(start + capacity, length - capacity)] if length > capacity else []
                block = self.blocks[name] = Block(name, start, capacity)
                return block
        raise ArenaFull(
            f"the KV arena has no free run of {capacity} slots for block {name!r} ({self.free_slots} of "
            f"{self.capacity} slots free in {len(self._free)} runs); wait for running sessions to finish or "
            "give the engine a larger capacity"
        )

    def free(self, name: str) -> None:
        block = self.blocks.pop(name)
        runs = sorted([*self._free, (block.start, block.capacity)])
        merged = [runs[0]]
        for start, length in runs[1:]:
            last_start, last_length = merged[-1]
            if last_start + last_length == start:
                merged[-1] = (last_start, last_length + length)
            else:
                merged.append((start, length))
        self._free = [run for run in merged if run[1]]

    def __getitem__(self, name: str) -> Block:
        return self.blocks[name]

    def room(self, name: str) -> int:
        block = self.blocks[name]
        return block.capacity - block.length

    def append(self, name: str, token_ids: list[int]) -> tuple[list[int], list[int]]:
        """Record tokens at the end of a block; returns (local positions, arena slots)."""
        block = self.blocks[name]
        if len(token_ids) > self.room(name):
            raise SessionError(
                f"block {name!r} is full: {block.length} + {len(token_ids)} tokens > capacity "
                f"{block.capacity}; start the session with a larger budget or shorter input"
            )
        first = block.length
        block.tokens.extend(token_ids)
        local = list(range(first, first + len(token_ids)))
        return local, [block.start + j for j in local]

    def reset(self, name: str) -> None:
        self.blocks[name].tokens.clear()

    def offsets(self, view: tuple[str, ...]) -> dict[str, int]:
        """Start position of each block of `view` in that view's contiguous sequence."""
        out, position = {}, 0
        for name in view:
            out[name] = position
            position += self.blocks[name].length
        return out

    def view_tokens(self, view: tuple[str, ...]) -> list[int]:
        return [t for name in view for t in self.blocks[name].tokens]
