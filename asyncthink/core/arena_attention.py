"""Arena attention: the static-shape step of DESIGN.md section 3 (tensor code, no host syncs).

Every row scores the whole arena extent [0, E) once with each of its (at most V) rotated
queries and keeps, for each key, the score of the query rotated for that key's block:

    q_views   [V, kv, G, R, d]   row r's query rotated by its v-th block's delta
    scores    [kv, V, G, R, E]   q_views @ keys[:, :E]           (keys read once)
    picked    [kv, G, R, E]      scores[:, view_of[r, e]]        (gather along V)
    bias      [R, E]             0 where row r sees slot e, -inf elsewhere (per window)
    out       [1, R, H, d]       softmax(picked + bias) @ values[:, :E]

`view_of[r, e]` is which of row r's view entries owns slot e's block, found through the page
table (slot e is in page e // P, whose block and local start the step's ints give). All shapes depend
only on the padded step shape (static_plan.py), so one CUDA graph serves every step of
that shape (graphs.py); the per-step data lives in one flat int64 buffer `ints`, written
before each run. The block loop of attention.py stays the path for prefill and for CPU,
where it does less work.
"""

from __future__ import annotations

import torch

from .arena import KVArena
from .rotary import OffsetRotary
from .static_plan import StaticShape


class ArenaStep:
    """Device buffers of one static shape and the attention over them; reused step after step."""

    def __init__(self, shape: StaticShape, arena: KVArena, rotary: OffsetRotary):
        device = arena.keys.device
        self.shape, self.arena, self.rotary = shape, arena, rotary
        self.ints = torch.zeros(shape.size, dtype=torch.long, device=device)
        self._host = torch.zeros(shape.size, dtype=torch.long, pin_memory=device.type == "cuda")
        self._copied = torch.cuda.Event() if device.type == "cuda" else None
        f = {name: self.ints[at : at + n] for name, (at, n) in shape.fields().items()}
        r, v = shape.rows, shape.views
        self.input_ids, self.positions, self.slots = f["input_ids"][None], f["positions"][None], f["slots"]
        self.logit_rows = f["logit_rows"]
        self._valid, self._page_block, self._page_local = f["valid"], f["page_block"], f["page_local"]
        self._row_block, self._row_delta = f["row_block"].view(r, v), f["row_delta"].view(r, v)
        self._row_end = f["row_end"].view(r, v)
        self._slot_ids = torch.arange(shape.extent, device=device)
        self._page_of, self._in_page = self._slot_ids // shape.page_size, self._slot_ids % shape.page_size  # [E]
        self._inv_freq = rotary.inv_freq.to(device)  # float64
        self.layers_seen = 0

    def load(self, ints: list[int]) -> None:
        """Write one step's descriptors (host -> device, asynchronous on CUDA from pinned memory)."""
        if self._copied is not None:
            self._copied.synchronize()  # the previous step's copy out of the pinned buffer (long done)
        self._host.copy_(torch.tensor(ints, dtype=torch.long))
        self.ints.copy_(self._host, non_blocking=True)
        if self._copied is not None:
            self._copied.record()

    def prepare(self) -> None:
        """Per-step tensors shared by all layers, computed on the device from `ints`."""
        self.layers_seen = 0
        slot_block = self._page_block[self._page_of]  # [E] block index of each slot (-1: none)
        match = self._row_block[:, :, None] == slot_block[None, None, :]  # [R, V, E]
        self._view_of = match.int().argmax(1)  # [R, E]
        self._local = self._page_local[self._page_of] + self._in_page  # [E] key position inside its block
        end = self._row_end.gather(1, self._view_of)
        self._visible = match.any(1) & (self._local[None] < end)  # [R, E]
        self._distance = self._row_delta.gather(1, self._view_of) + self.positions[0, :, None]  # [R, E]
        angles = self._row_delta.t().double()[..., None] * self._inv_freq  # [V, R, rot/2]
        angles = torch.cat((angles, angles), dim=-1)
        dtype = self.arena.keys.dtype
        self._cos, self._sin = angles.cos().to(dtype), angles.sin().to(dtype)
        self._bias: dict[int | None, torch.Tensor] = {}

    def bias(self, window: int | None) -> torch.Tensor:
        if window not in self._bias:
            visible = self._visible
            if window is not None:  # sliding window: keys closer than `window` view positions
                visible = visible & (self._local[None] > self._distance - window)
            visible = visible | (self._valid == 0)[:, None]  # padding rows see everything: no all -inf rows
            zeros = torch.zeros(visible.shape, dtype=self.arena.keys.dtype, device=visible.device)
            self._bias[window] = zeros.masked_fill_(~visible, float("-inf"))
        return self._bias[window]

    def attend(self, layer: int, query, key, value, scaling: float, window: int | None) -> torch.Tensor:
        """query [1, H, R, d], key/value [1, kv, R, d] -> [1, R, H, d]."""
        self.layers_seen += 1
        self.arena.write(layer, self.slots, key[0], value[0])
        _, heads, rows, dim = query.shape
        kv_heads, extent, views = self.arena.keys.shape[1], self.shape.extent, self.shape.views
        groups = heads // kv_heads
        q = (query[0] * scaling).reshape(kv_heads, groups, rows, dim)
        q_views = self.rotary.rotate(q.unsqueeze(0), self._cos[:, None, None], self._sin[:, None, None])
        keys = self.arena.keys[layer, :, :extent]  # [kv, E, d]
        flat = q_views.transpose(0, 1).reshape(kv_heads, views * groups * rows, dim)
        scores = torch.matmul(flat, keys.transpose(1, 2)).view(kv_heads, views, groups, rows, extent)
        index = self._view_of[None, None, None].expand(kv_heads, 1, groups, rows, extent)
        picked = scores.gather(1, index).squeeze(1) + self.bias(window)  # [kv, G, R, E]
        probs = picked.softmax(dim=-1, dtype=torch.float32).to(query.dtype)
        out = torch.matmul(probs.view(kv_heads, groups * rows, extent), self.arena.values[layer, :, :extent])
        return out.view(heads, rows, dim).transpose(0, 1).unsqueeze(0)
