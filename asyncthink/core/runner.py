"""Runner: turns a list of chunks into one packed forward pass over the block arena.

It owns the block table (host bookkeeping), the KV arena (device storage) and the model
(through adapter.py). Sessions decide *what* to feed; the runner only executes.

    decode="eager"   every step: block attention (attention.py), shapes follow the blocks
    decode="static"  steps of at most 64 rows: static-shape arena attention (arena_attention.py)
    decode="graphs"  the same, replayed from CUDA graphs (graphs.py); prefill stays eager
    decode="auto"    eager everywhere for now: the graph path has not yet passed tests/test_gpu.py
                     on a GPU, so it stays opt-in until it has (then auto means graphs on CUDA)

The arena holds the block table's pool of pages (blocks.py) and one slot more: the sink where
padding rows of static steps write, owned by no block.
"""

from __future__ import annotations

import torch

from ..defaults import DECODE_MODES
from ..errors import SessionError
from . import adapter
from .arena import KVArena
from .attention import StepContext
from .blocks import DEFAULT_PAGE_SIZE, BlockTable
from .graphs import StaticDecoder
from .plan import Chunk, plan_step


def resolve_decode(decode: str) -> str:
    """The decode path `decode` names; "auto" is eager until the graph path has run on a GPU."""
    if decode not in DECODE_MODES:
        raise SessionError(f"decode must be one of {', '.join(DECODE_MODES)}, got {decode!r}")
    return "eager" if decode == "auto" else decode


class Runner:
    def __init__(self, model, capacities: dict[str, int] | None = None, naive_attention: bool = False,
                 capacity: int | None = None, decode: str = "auto", page_size: int = DEFAULT_PAGE_SIZE):
        """`capacities`: one session's blocks, in a pool made to hold them all full; `capacity`: a shared
        pool of that many slots (rounded up to pages of `page_size`) whose pages blocks take as they grow,
        for sessions that come and go (engine.py)."""
        decode = resolve_decode(decode)
        adapter.attach(model)
        shape = adapter.model_shape(model)
        self.model = model
        self.device = next(model.parameters()).device
        self.table = BlockTable(capacities, capacity, page_size)
        sink = self.table.capacity
        self.arena = KVArena(shape.layers, shape.kv_heads, shape.head_dim, sink + 1, model.dtype, self.device)
        self.rotary = adapter.offset_rotary(model)
        self.naive_attention = naive_attention
        self.decode = decode
        self.static = None if decode == "eager" or naive_attention else StaticDecoder(
            model, self.arena, self.rotary, sink, cuda_graphs=decode == "graphs", page_size=self.table.page_size)
        self.rows_computed = 0  # instrumentation: total rows (tokens) through the model
        self.last_plan = None

    def run(self, chunks: list[Chunk]) -> torch.Tensor:
        """Feed the chunks; returns logits [chunks wanting logits, vocab] (float32)."""
        plan = plan_step(chunks, self.table)
        logits = self.static.run(plan) if self.static is not None else None
        if logits is None:  # eager: prefill, CPU, or a step the static shapes do not cover
            step = StepContext(plan, self.arena, self.rotary, naive=self.naive_attention)
            as_tensor = lambda xs: torch.tensor(xs, dtype=torch.long).to(self.device)
            logits = adapter.forward(
                self.model, step, as_tensor([plan.input_ids]), as_tensor([plan.positions]), as_tensor(plan.logit_rows)
            )
        self.rows_computed += plan.rows
        self.last_plan = plan
        return logits.float()

    def release(self) -> None:
        """Free the arena (the block table stays for `view()`); the runner cannot run again."""
        self.arena = self.static = None
