"""Attention over the block arena for one planned step (tensor code, no host syncs).

Shapes (R = rows in the step, H = query heads, G = H / kv_heads, d = head_dim,
nb = blocks visible to some row, L_b = length of block b):

    query        [1, H, R, d]     rotated by the model at local positions
    key, value   [1, kv, R, d]    the rows' own new keys, written to the arena first
    cos, sin     [nb, R, rot]     R(delta) per (block, row), shared by all layers
    bias_b       [R, L_b]         0 where visible, -inf elsewhere (per sliding window)

Per layer: write the new keys, rotate the queries once per block (one broadcast op for
all blocks), score each block's keys once for all rows (K_b is read once even when both
streams see it), one softmax over the concatenated scores, and one product with each
block's values. Stored keys are never re-rotated or concatenated.

A block lives in pages (blocks.py); consecutive pages form runs, and each run is read as one
slice of the arena (no copy): usually a block is one run or a few. A block split into more than
MAX_RUNS runs is read with one index_select per layer instead (a copy, but few large products):

    block b, runs (slot, local, n)   keys_b = arena.keys[layer, :, slot : slot + n] per run
    scores_b [kv, G, R, n] per run   + bias_b[:, local : local + n]

`naive_attention` is the slow reference the method is measured against: per stream, each
block's keys re-rotated to view positions and concatenated into a contiguous context.
"""

from __future__ import annotations

import torch

from .arena import KVArena
from .plan import StepPlan
from .rotary import OffsetRotary

MAX_RUNS = 8  # a block in more runs than this is gathered into one copy per layer


class _Group:
    """One row group's tensors: its rows' rotations and masks over its own blocks."""

    def __init__(self, group, positions: torch.Tensor, rotary: OffsetRotary, dtype, device):
        rows = slice(group.first_row, group.first_row + group.rows)
        self.rows, self.blocks, self.dtype = rows, group.blocks, dtype
        deltas = torch.tensor([b.delta[rows] for b in group.blocks], dtype=torch.long).reshape(len(group.blocks), group.rows)
        self.cos, self.sin = rotary.cos_sin(deltas, dtype, device)  # [nb, R_g, rot]
        ends = torch.tensor([b.visible_end[rows] for b in group.blocks], dtype=torch.long).reshape(deltas.shape)
        # view distance of query row r to key 0 of block b; sliding windows cut keys below
        # (distance - window + 1); see DESIGN.md section 1
        self._distance = (deltas + positions[rows]).to(device)
        self._ends = ends.to(device)
        self._bias: dict[int | None, list[torch.Tensor]] = {}
        # per block, the pieces its keys are read in: (first slot or a slot index tensor, local start, length)
        self.pieces = [list(b.runs) if len(b.runs) <= MAX_RUNS else
                       [(torch.tensor([s + k for s, _, n in b.runs for k in range(n)], device=device), 0, b.length)]
                       for b in group.blocks]

    def bias(self, window: int | None) -> list[torch.Tensor]:
        """Additive masks [R_g, L_b] per block for a sliding window (None: full attention)."""
        if window not in self._bias:
            masks = []
            for i, block in enumerate(self.blocks):
                keys = torch.arange(block.length, device=self._ends.device)
                visible = keys < self._ends[i, :, None]
                if window is not None:
                    visible &= keys > self._distance[i, :, None] - window
                bias = torch.zeros(visible.shape, dtype=self.dtype, device=visible.device)
                masks.append(bias.masked_fill_(~visible, float("-inf")))
            self._bias[window] = masks
        return self._bias[window]


class StepContext:
    """Everything a layer needs for one forward pass; built once per step, used by all layers."""

    def __init__(self, plan: StepPlan, arena: KVArena, rotary: OffsetRotary, naive: bool = False):
        device, dtype = arena.keys.device, arena.keys.dtype
        self.plan, self.arena, self.rotary, self.naive = plan, arena, rotary, naive
        self.slots = torch.tensor(plan.slots, dtype=torch.long).to(device)
        self.positions = torch.tensor(plan.positions, dtype=torch.long)
        self.groups = [_Group(g, self.positions, rotary, dtype, device) for g in plan.groups]
        self.layers_seen = 0

    def attend(self, layer: int, query, key, value, scaling: float, window: int | None) -> torch.Tensor:
        self.layers_seen += 1
        self.arena.write(layer, self.slots, key[0], value[0])
        if self.naive:
            return naive_attention(self, layer, query, scaling, window)
        if len(self.groups) == 1:  # one session: no scatter into a shared output
            return block_attention(self, self.groups[0], layer, query, scaling, window)
        out = torch.empty(query.shape[0], query.shape[2], query.shape[1], query.shape[3], dtype=query.dtype,
                          device=query.device)  # [1, R, H, d]
        for group in self.groups:
            out[:, group.rows] = block_attention(self, group, layer, query[:, :, group.rows], scaling, window)
        return out


def block_attention(ctx: StepContext, group: _Group, layer: int, query, scaling: float,
                    window: int | None) -> torch.Tensor:
    """query [1, H, R_g, d] of one row group -> [1, R_g, H, d]."""
    _, heads, rows, dim = query.shape
    kv_heads = ctx.arena.keys.shape[1]
    groups = heads // kv_heads
    q = (query[0] * scaling).reshape(kv_heads, groups, rows, dim)  # scale folded into q: R rows, not R x L scores
    # [nb, kv, G, R, d]: each row's query placed once per block
    q_blocks = ctx.rotary.rotate(q.unsqueeze(0), group.cos[:, None, None], group.sin[:, None, None])
    keys, values = ctx.arena.keys[layer], ctx.arena.values[layer]  # [kv, slots, d]
    scores = []
    for i, (pieces, bias) in enumerate(zip(group.pieces, group.bias(window))):
        q_block = q_blocks[i].reshape(kv_heads, groups * rows, dim)
        for source, local, n in pieces:
            s = torch.matmul(q_block, _read(keys, source, n).transpose(1, 2))
            scores.append(s.view(kv_heads, groups, rows, n).add_(bias[:, local : local + n]))
    probs = torch.cat(scores, dim=-1).softmax(dim=-1, dtype=torch.float32).to(query.dtype)
    out, first = None, 0
    for pieces in group.pieces:
        for source, _, n in pieces:
            p = probs[..., first : first + n].reshape(kv_heads, groups * rows, n)
            part = torch.matmul(p, _read(values, source, n))
            out = part if out is None else out + part
            first += n
    # [kv, G*R, d] -> [1, R, H, d] as HF attention functions return
    return out.view(heads, rows, dim).transpose(0, 1).unsqueeze(0)


def _read(arena_layer: torch.Tensor, source, n: int) -> torch.Tensor:
    """[kv, n, d] of one piece: a slice (no copy) from a first slot, or an index_select of slots."""
    return arena_layer[:, source : source + n] if isinstance(source, int) else arena_layer.index_select(1, source)


def naive_attention(ctx: StepContext, layer: int, query, scaling: float, window: int | None) -> torch.Tensor:
    """Reference: materialise each stream's view with keys re-rotated to view positions."""
    _, heads, rows, dim = query.shape
    kv_heads = ctx.arena.keys.shape[1]
    groups = heads // kv_heads
    blocks = {b.name: b for b in ctx.plan.blocks}
    out = torch.empty(rows, heads, dim, dtype=query.dtype, device=query.device)
    for chunk_rows in ctx.plan.chunks:
        chunk = chunk_rows.chunk
        first, n = chunk_rows.first_row, len(chunk.tokens)
        keys, values = [], []
        for name, offset in chunk_rows.offsets.items():
            if name not in blocks:
                continue
            k, v = ctx.arena.gather(layer, blocks[name].runs)
            keys.append(ctx.rotary.shift(k, offset))
            values.append(v)
        keys = torch.cat(keys, dim=1).repeat_interleave(groups, dim=0)  # [H, Lv, d]
        values = torch.cat(values, dim=1).repeat_interleave(groups, dim=0)
        q = ctx.rotary.shift(query[0, :, first : first + n], chunk_rows.offsets[chunk.block])
        q_pos = chunk_rows.offsets[chunk.block] + ctx.positions[first : first + n].to(query.device)
        k_pos = torch.arange(keys.shape[1], device=query.device)
        visible = k_pos[None, :] <= q_pos[:, None]
        if window is not None:
            visible &= k_pos[None, :] > q_pos[:, None] - window
        s = torch.matmul(q, keys.transpose(1, 2)) * scaling
        s = s.masked_fill(~visible, float("-inf")).softmax(dim=-1, dtype=torch.float32).to(query.dtype)
        out[first : first + n] = torch.matmul(s, values).transpose(0, 1)
    return out.unsqueeze(0)
