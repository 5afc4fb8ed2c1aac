"""Independent oracles: plain transformers forward / generate on materialised contexts.

`materialised_logits` rebuilds, for one chunk of a captured step, the contiguous context
its stream saw: every visible block's cached keys re-rotated from local to view positions
and concatenated into an ordinary HF DynamicCache, then runs the stock model (SDPA) on the
chunk's tokens at their view positions. It shares no attention code with the engine.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache

from asyncthink.core.rotary import OffsetRotary


def rope_shift(inv_freq: torch.Tensor, head_dim: int, x: torch.Tensor, delta: int) -> torch.Tensor:
    # deliberately simple: rotate_half convention, float64 angles
    return OffsetRotary(inv_freq, head_dim).shift(x, delta)


class StepRecorder:
    """Wraps a session's runner to keep, per step, the plan, logits and a copy of the arena."""

    def __init__(self, session, max_steps: int):
        self.records = []
        runner = session.runner
        original = runner.run

        def run(chunks):
            logits = original(chunks)
            if len(self.records) < max_steps:
                self.records.append((runner.last_plan, logits.clone(), runner.arena.keys.clone(), runner.arena.values.clone()))
            return logits

        runner.run = run


@torch.no_grad()
def materialised_logits(model, plan, keys, values) -> torch.Tensor:
    """Reference logits [chunks wanting logits, vocab] for a recorded step."""
    rotary = model.get_decoder().rotary_emb
    head_dim = keys.shape[-1]
    lengths = {b.name: b.length for b in plan.blocks}
    # each block's arena slots in local order (its pages: runs of consecutive slots)
    slots = {b.name: torch.tensor([s + k for s, _, n in b.runs for k in range(n)]) for b in plan.blocks}
    out = []
    for rows in plan.chunks:
        chunk = rows.chunk
        if not chunk.want_logits:
            continue
        first_local = plan.positions[rows.first_row]
        cache = DynamicCache()
        for layer in range(keys.shape[0]):
            ks, vs = [], []
            for name, offset in rows.offsets.items():
                length = first_local if name == chunk.block else lengths.get(name, 0)
                if length == 0:
                    continue
                index = slots[name][:length].to(keys.device)
                k = keys[layer][:, index]
                ks.append(rope_shift(rotary.inv_freq, head_dim, k, offset))
                vs.append(values[layer][:, index])
            if ks:
                cache.update(torch.cat(ks, 1)[None], torch.cat(vs, 1)[None], layer)
        start = rows.offsets[chunk.block] + first_local
        n = len(chunk.tokens)
        device = keys.device
        logits = model(
            input_ids=torch.tensor([chunk.tokens], device=device),
            position_ids=torch.arange(start, start + n, device=device)[None],
            past_key_values=cache if cache.get_seq_length() else None,
            use_cache=True,
        ).logits[0, -1]
        out.append(logits.float())
    return torch.stack(out)
