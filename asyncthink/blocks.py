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

from .errors import SessionError


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
    def __init__(self, capacities: dict[str, int]):
        self.blocks: dict[str, Block] = {}
        start = 0
        for name, capacity in capacities.items():
            self.blocks[name] = Block(name, start, capacity)
            start += capacity
        self.capacity = start

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
