"""Synthetic state for step timing: block tables and HF caches filled with random keys/values.

Step time does not depend on cache values, and a real 8k prefill on a small CPU takes
minutes, so contexts are filled with dummy ids and random normal keys/values. Blocks follow
the "independent" layout's streams:

    thinker view: [prompt | thoughts]                              (+1 token per step)
    writer view:  [writer_prompt | thoughts | writer_split | answer] (+1 token per step)
    arena order:  prompt, thoughts, writer_prompt, writer_split, answer

Every repeat runs at the same context: appended tokens are popped after each step, a
StaticCache's write position is reset, a DynamicCache is cropped back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from ..core.graphs import StaticDecoder
from ..core.plan import Chunk
from ..core.runner import Runner

THINKER_VIEW = ("prompt", "thoughts")
WRITER_VIEW = ("writer_prompt", "thoughts", "writer_split", "answer")
BLOCK_ORDER = ("prompt", "thoughts", "writer_prompt", "writer_split", "answer")


def block_sizes(context: int) -> dict[str, int]:
    """Block lengths summing to `context`: prompt ~100, writer_prompt ~20, writer_split ~15,
    the rest 75% thoughts / 25% answer (fixed blocks shrink for tiny contexts)."""
    if context < 8:
        raise ValueError(f"context {context} too small (need >= 8)")
    sizes = {
        "prompt": max(1, min(100, context // 4)),
        "writer_prompt": max(1, min(20, context // 16)),
        "writer_split": max(1, min(15, context // 16)),
    }
    rest = context - sum(sizes.values())
    sizes["thoughts"] = max(1, round(rest * 0.75))
    sizes["answer"] = rest - sizes["thoughts"]
    return {name: sizes[name] for name in BLOCK_ORDER}


def fill_(t: torch.Tensor, gen: torch.Generator) -> None:
    """Random normal values in place (layer by layer to keep temporaries small)."""
    for part in t:
        if part.device.type == "cpu":
            part.normal_(generator=gen)
        else:
            part.copy_(torch.randn(part.shape, generator=gen, dtype=torch.float32).to(part.device, part.dtype))


def make_async_runner(model, context: int, seed: int = 0, naive: bool = False, thoughts_room: int = 1) -> Runner:
    """A Runner whose blocks hold `context` dummy tokens (block_sizes) over random keys/values;
    "thoughts" has room for `thoughts_room` more tokens, "answer" for one."""
    sizes = block_sizes(context)
    room = {"thoughts": thoughts_room, "answer": 1}
    # (a) on CUDA measures the graph path on purpose: decode="auto" is eager until graphs have passed on a GPU
    decode = "graphs" if next(model.parameters()).device.type == "cuda" else "auto"
    runner = Runner(model, {name: n + room.get(name, 0) for name, n in sizes.items()}, naive_attention=naive,
                    decode=decode)
    for name, n in sizes.items():
        runner.table.append(name, [1] * n)  # dummy ids; only lengths (and the pages taken) matter to the step
    gen = torch.Generator().manual_seed(seed)
    fill_(runner.arena.keys, gen)
    fill_(runner.arena.values, gen)
    return runner


def naive_twin(runner: Runner) -> Runner:
    """A Runner with naive_attention=True over the same block table and arena (no copy)."""
    twin = copy.copy(runner)
    twin.naive_attention, twin.static = True, None
    return twin


def static_twin(runner: Runner) -> Runner:
    """A Runner running the static-shape step (without CUDA graphs) over the same table and arena."""
    twin = copy.copy(runner)
    twin.static = StaticDecoder(runner.model, runner.arena, runner.rotary, runner.table.capacity, cuda_graphs=False,
                                page_size=runner.table.page_size)
    return twin


def eager_twin(runner: Runner) -> Runner:
    """A Runner using eager block attention for every step, over the same block table and arena."""
    twin = copy.copy(runner)
    twin.static = None
    return twin


def async_step(runner: Runner, token: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    thoughts, answer = runner.table["thoughts"], runner.table["answer"]
    lengths = (thoughts.length, answer.length)
    chunks = [
        Chunk("thinker", THINKER_VIEW, "thoughts", [token]),
        Chunk("writer", WRITER_VIEW, "answer", [token]),
    ]

    def step():
        return runner.run(chunks)

    def reset():
        runner.table.truncate("thoughts", lengths[0])
        runner.table.truncate("answer", lengths[1])

    return step, reset


def kv_shape(model, context: int) -> tuple[int, int, int, int]:
    c = model.config
    kv_heads = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return (1, kv_heads, context, head_dim)


def make_hf_cache(model, context: int, kind: str, seed: int = 0):
    """A transformers cache holding `context` random positions in every layer.

    kind "static": `StaticCache(max_cache_len=context + 1)`; "dynamic": `DynamicCache`.
    Filled with one `update` per layer (full-length tensor), so the caches' own length
    bookkeeping says `context`.
    """
    from transformers import DynamicCache, StaticCache

    if kind == "static":
        cache = StaticCache(config=model.config, max_cache_len=context + 1)
    elif kind == "dynamic":
        cache = DynamicCache(config=model.config)
    else:
        raise ValueError(f"unknown cache kind {kind!r}")
    device, dtype = next(model.parameters()).device, model.dtype
    gen = torch.Generator().manual_seed(seed)
    shape = kv_shape(model, context)
    for layer in range(model.config.num_hidden_layers):
        k = torch.randn(shape, generator=gen).to(device, dtype)
        v = torch.randn(shape, generator=gen).to(device, dtype)
        cache.update(k, v, layer)
        del k, v
    if cache.get_seq_length() != context:
        raise RuntimeError(f"{kind} cache holds {cache.get_seq_length()} positions, expected {context}")
    return cache


def reset_hf_cache(cache, context: int) -> None:
    from transformers import StaticCache

    if isinstance(cache, StaticCache):
        for layer in cache.layers:  # the next step overwrites slot `context` in place
            layer.cumulative_length.fill_(context)
    else:
        extra = int(cache.get_seq_length()) - context
        if extra:
            cache.crop(-extra)


def hf_decode(model, cache, context: int, token: int = 1) -> torch.Tensor:
    """One ordinary decode step at position `context`; returns logits [vocab]."""
    device = next(model.parameters()).device
    ids = torch.tensor([[token]], dtype=torch.long, device=device)
    pos = torch.tensor([[context]], dtype=torch.long, device=device)
    out = model(input_ids=ids, position_ids=pos, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.logits[0, -1]


def hf_step(model, cache, context: int, token: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    device = next(model.parameters()).device
    ids = torch.tensor([[token]], dtype=torch.long, device=device)
    pos = torch.tensor([[context]], dtype=torch.long, device=device)

    def step():
        return model(input_ids=ids, position_ids=pos, past_key_values=cache, use_cache=True, logits_to_keep=1).logits

    return step, lambda: reset_hf_cache(cache, context)
