"""The KV arena: one preallocated key and value tensor for all layers and all blocks.

    keys, values: [layers, kv_heads, capacity, head_dim]

Slot s of every layer belongs to the block whose reserved slice holds s (see blocks.py).
Keys are stored exactly as the model produced them, rotated at local block positions,
and are never moved, re-rotated or concatenated afterwards.
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
        """Views (no copy) of one block's keys and values: [kv_heads, length, head_dim]."""
        return (self.keys[layer, :, start : start + length], self.values[layer, :, start : start + length])
