"""Runner: turns a list of chunks into one packed forward pass over the block arena.

It owns the block table (host bookkeeping), the KV arena (device storage) and the model
(through adapter.py). Sessions decide *what* to feed; the runner only executes.
"""

from __future__ import annotations

import torch

from . import adapter
from .arena import KVArena
from .attention import StepContext
from .blocks import BlockTable
from .plan import Chunk, plan_step


class Runner:
    def __init__(self, model, capacities: dict[str, int] | None = None, naive_attention: bool = False,
                 capacity: int | None = None):
        """`capacities`: one session's blocks, reserved now; `capacity`: a shared arena of that many
        slots whose blocks sessions allocate and free as they come and go (engine.py)."""
        adapter.attach(model)
        shape = adapter.model_shape(model)
        self.model = model
        self.device = next(model.parameters()).device
        self.table = BlockTable(capacities, capacity)
        self.arena = KVArena(shape.layers, shape.kv_heads, shape.head_dim, self.table.capacity, model.dtype, self.device)
        self.rotary = adapter.offset_rotary(model)
        self.naive_attention = naive_attention
        self.rows_computed = 0  # instrumentation: total rows (tokens) through the model
        self.last_plan = None

    def run(self, chunks: list[Chunk]) -> torch.Tensor:
        """Feed the chunks; returns logits [chunks wanting logits, vocab] (float32)."""
        plan = plan_step(chunks, self.table)
        step = StepContext(plan, self.arena, self.rotary, naive=self.naive_attention)
        as_tensor = lambda xs: torch.tensor(xs, dtype=torch.long).to(self.device)  # noqa: E731
        logits = adapter.forward(
            self.model, step, as_tensor([plan.input_ids]), as_tensor([plan.positions]), as_tensor(plan.logit_rows)
        )
        self.rows_computed += plan.rows
        self.last_plan = plan
        return logits.float()

    def release(self) -> None:
        """Free the arena (the block table stays for `view()`); the runner cannot run again."""
        self.arena = None
