"""The decode fast path: static-shape steps, replayed from CUDA graphs.

    plan (host) ─▶ static_shape(): fits? ──no──▶ eager block attention (runner.py; prefill)
                        │ yes
                        ▼
                  pad_plan() ─▶ ArenaStep.load(): one pinned host->device copy of the ints
                        ▼
              graph for this shape? ──no──▶ warm up eagerly, then capture prepare() + model forward
                        ▼ yes
                  replay ─▶ logits [R, vocab] (static buffer) ─▶ index_select of the wanted rows

Nothing in this path waits for the device: descriptors go up asynchronously, the graph is
replayed, the wanted logit rows are selected on the device. The step's one host sync stays
where it was, in Session.consume / Engine.step (`.tolist()` of the sampled tokens).

Shapes are bucketed (static_plan.py), so a session growing from 1k to 32k tokens uses a
handful of graphs per row count. Without CUDA (or with `cuda_graphs=False`) the same
static-shape step runs eagerly: that is how the CPU tests check it against the oracle.
A model whose forward cannot be captured (e.g. MoE routing that syncs on expert counts)
falls back to eager steps once, with a warning.
"""

from __future__ import annotations

import warnings

import torch

from . import adapter
from .arena import KVArena
from .arena_attention import ArenaStep
from .plan import StepPlan
from .rotary import OffsetRotary
from .static_plan import StaticShape, pad_plan, row_views, static_shape


class _Graph:
    def __init__(self, step: ArenaStep, model, graph, logits: torch.Tensor):
        self.step, self.model, self.graph, self.logits = step, model, graph, logits


class StaticDecoder:
    """Runs steps that fit a static shape; `run` returns None for steps that do not."""

    def __init__(self, model, arena: KVArena, rotary: OffsetRotary, sink_slot: int, *, cuda_graphs: bool,
                 page_size: int, max_rows: int = 64, views: int = 8, max_graphs: int = 48):
        """`max_graphs`: graphs kept at most (each holds its step's per-row masks, ~27 bytes x rows x
        extent); shapes beyond that run the same static step eagerly."""
        self.model, self.arena, self.rotary, self.sink_slot, self.page_size = model, arena, rotary, sink_slot, page_size
        self.cuda_graphs = cuda_graphs and arena.keys.device.type == "cuda"
        self.max_rows, self.views, self.max_graphs = max_rows, views, max_graphs
        self._steps: dict[StaticShape, ArenaStep] = {}
        self._graphs: dict[StaticShape, _Graph] = {}
        self.steps = 0  # instrumentation: steps served by this path
        self.replays = 0  # ... of which replayed from a graph
        self._pool = torch.cuda.graph_pool_handle() if self.cuda_graphs else None

    def run(self, plan: StepPlan) -> torch.Tensor | None:
        """Logits [wanted rows, vocab] for the plan, or None when it must run eagerly."""
        if plan.rows > self.max_rows:
            return None  # prefill: eager
        seen = row_views(plan)
        shape = static_shape(plan, self.views, self.arena.keys.shape[2], self.max_rows, self.page_size, seen=seen)
        if shape is None:
            return None
        padded = pad_plan(plan, shape, self.sink_slot, seen)
        step = self._steps.get(shape) or self._steps.setdefault(shape, ArenaStep(shape, self.arena, self.rotary))
        step.load(padded.ints)
        self.steps += 1
        logits = self._replay(shape, step) if self.cuda_graphs else self._forward(step)
        return logits.index_select(0, step.logit_rows[: padded.wanted])  # a copy: graphs reuse `logits`

    def _forward(self, step: ArenaStep) -> torch.Tensor:
        """prepare() + the model over all R padded rows -> logits [R, vocab]."""
        step.prepare()
        return adapter.forward(self.model, step, step.input_ids, step.positions, logit_rows=0)

    def _replay(self, shape: StaticShape, step: ArenaStep) -> torch.Tensor:
        graph = self._graphs.get(shape)
        if graph is None:
            if len(self._graphs) >= self.max_graphs:
                return self._forward(step)
            graph = self._capture(step)
            if graph is None:
                return self._forward(step)
            self._graphs[shape] = graph
        graph.graph.replay()
        self.replays += 1
        return graph.logits

    def _capture(self, step: ArenaStep) -> _Graph | None:
        # Warm-up on a side stream (as torch.cuda.graphs recommends), then capture. Capture only
        # records; the replay that follows computes the step (its arena writes repeat the warm-up's).
        # All graphs share one memory pool: they replay one at a time and their logits are copied out.
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self._forward(step)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                logits = self._forward(step)
            return _Graph(step, self.model, graph, logits)
        except RuntimeError as exc:  # e.g. a host sync inside the model's forward
            warnings.warn(f"CUDA graph capture failed ({str(exc).splitlines()[0]}); decoding eagerly", stacklevel=2)
            self.cuda_graphs = False
            return None
