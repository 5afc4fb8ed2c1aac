"""The KV arena: one preallocated key and value tensor for all layers and all blocks.

    keys, values: [layers, kv_heads, capacity, head_dim]      capacity = pages * page_size (+ 1 sink slot)
                                       └─ page k: slots [k * page_size, (k + 1) * page_size)

Slot s of every layer belongs to the block that holds page s // page_size (see blocks.py).
Keys are stored exactly as the model produced them, rotated at local block positions,
and are never re-rotated or concatenated afterwards; they move only when an engine preempts a
session (`take` copies its slots out, `put` writes them back into new pages, bit for bit).
"""

from __future__ import annotations

import torch


class KVArena:
    def __init__(self, layers: int, kv_heads: int, head_dim: int, capacity: int, dtype, device):
        shape = (layers, kv_heads, capacity, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def write(self, layer: int, slots: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> None:
        """slots [rows] long; keys, values [kv_heads, rows, head_dim], written in place."""
        self.keys[layer].index_copy_(1, slots, keys)
        self.values[layer].index_copy_(1, slots, values)

    def block(self, layer: int, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Views (no copy) of a contiguous run of slots: [kv_heads, length, head_dim]."""
        return (self.keys[layer, :, start : start + length], self.values[layer, :, start : start + length])

    def gather(self, layer: int, runs: list[tuple[int, int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """A block's keys and values in local order from its runs (first slot, local, length):
        [kv_heads, length, head_dim]; a view when it is one run, else a copy."""
        if len(runs) == 1:
            return self.block(layer, runs[0][0], runs[0][2])
        parts = [self.block(layer, slot, n) for slot, _, n in runs]
        return torch.cat([k for k, _ in parts], 1), torch.cat([v for _, v in parts], 1)

    def take(self, slots: list[int], device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Copies of these slots of every layer, on `device`: [layers, kv_heads, len(slots), head_dim]."""
        index = torch.tensor(slots, dtype=torch.long, device=self.keys.device)
        return self.keys.index_select(2, index).to(device), self.values.index_select(2, index).to(device)

    def put(self, slots: list[int], keys: torch.Tensor, values: torch.Tensor) -> None:
        """Write what `take` copied into these slots (of every layer)."""
        index = torch.tensor(slots, dtype=torch.long, device=self.keys.device)
        self.keys.index_copy_(2, index, keys.to(self.keys.device))
        self.values.index_copy_(2, index, values.to(self.values.device))
