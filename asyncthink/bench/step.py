"""Step time: one asyncthink two-stream step vs one ordinary HF decode step (DESIGN.md section 3).

At each context C, the wall time of one step (median of `repeats` after `warmup`, under
`torch.inference_mode`, the device synchronised) of:

  (a)  asyncthink: `Runner.run([thinker 1 token -> "thoughts", writer 1 token -> "answer"])`
       over the "independent" layout's blocks, block lengths summing to C (synthetic.py),
       with the runner's default decode path (CUDA graphs on CUDA, eager block attention on CPU);
  (a') for information, the other path: on CUDA eager block attention, on CPU the static-shape
       step that CUDA graphs replay, run eagerly (what `decode` chooses between);
  (b)  one HF single-stream decode step of the same model with its stock SDPA attention and
       a `StaticCache` of exactly C + 1 slots (preallocated; the most favourable size for HF);
  (b') the same with a `DynamicCache` (concatenates the whole cache every step), for information;
  (c)  the naive reference: `Runner(..., naive_attention=True)` on the same block state
       (re-rotates and concatenates every visible block every step).

(a), (b) and (c) are timed round-robin within each repeat (interleaved), so load from other
processes on a shared machine hits them alike; `sequential` times one method at a time with
only its state alive (lowest memory). One model object serves every method, so all use the
same linear kernels.
"""

from __future__ import annotations

import gc
import statistics
from typing import Any

import torch

from .conditions import loadavg
from .synthetic import (
    async_step,
    block_sizes,
    eager_twin,
    hf_step,
    make_async_runner,
    make_hf_cache,
    naive_twin,
    static_twin,
)
from .table import fmt, render
from .timing import time_interleaved

METHODS = ("asyncthink", "asyncthink_eager", "asyncthink_static", "hf_static", "hf_dynamic", "naive")
LABELS = {
    "asyncthink": "(a) ms",
    "asyncthink_eager": "(a') ms eager",
    "asyncthink_static": "(a') ms static",
    "hf_static": "(b) ms StaticCache",
    "hf_dynamic": "(b') ms DynamicCache",
    "naive": "(c) ms",
}
DESCRIPTION = {
    "asyncthink_step": "Runner.run: thinker 1 token -> thoughts, writer 1 token -> answer (2 rows, one forward)",
    "asyncthink_eager": "the same step with eager block attention (measured on CUDA, where (a) replays CUDA graphs)",
    "asyncthink_static": "the same step through the static-shape arena attention, eagerly (measured on CPU)",
    "hf_attention": "sdpa (stock; the model called without the asyncthink keyword)",
    "hf_static_cache": "transformers StaticCache, max_cache_len = context + 1 (no padding read)",
    "hf_dynamic_cache": "transformers DynamicCache (torch.cat of the whole cache each step), cropped back each repeat",
    "naive_step": "Runner(naive_attention=True) on the same blocks: re-rotate + concatenate each view every step",
    "fill": "synthetic: dummy token ids, random normal keys/values (no prefill)",
    "statistic": "median",
}


def ratio(num: float | None, den: float | None) -> float | None:
    return None if not num or not den else num / den


def _paired(row: dict[str, Any], num: str, den: str, sequential: bool) -> float | None:
    """Median over repeats of num_i / den_i (same round of an interleaved run)."""
    a, b = row[f"{num}_samples"], row[f"{den}_samples"]
    if sequential or not a or not b:
        return None
    return statistics.median(x / y for x, y in zip(a, b))


def _groups(methods, sequential: bool) -> list[list[str]]:
    """Methods timed together: (a), (b), (c) round-robin on live states; (b') always alone."""
    if sequential:
        return [[m] for m in METHODS if m in methods]
    together = [m for m in ("asyncthink", "asyncthink_eager", "asyncthink_static", "hf_static", "naive") if m in methods]
    return [g for g in [together] + [[m] for m in METHODS if m in methods and m not in together] if g]


def measure_steps(model, contexts, repeats: int = 5, warmup: int = 2, *, methods=None, sequential: bool = False,
                  seed: int = 0, log=lambda msg: None) -> dict[str, Any]:
    """Per-step times (ms) at each context. Returns {"description", "schedule", "rows"}; each row has
    "context", "blocks", per method: <method> (median ms), <method>_min, <method>_samples, and the
    ratios async_over_hf_static, async_over_hf_dynamic, naive_over_async (of medians), *_min (of
    the fastest repeats), *_paired (median of per-round ratios, interleaved only)."""
    device = next(model.parameters()).device
    if methods is None:  # (a'): the decode path (a) does not use on this device
        other = "asyncthink_eager" if device.type == "cuda" else "asyncthink_static"
        methods = [m for m in METHODS if m in ("asyncthink", other) or not m.startswith("asyncthink")]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    token, rows = 1, []
    with torch.inference_mode():
        for context in contexts:
            row: dict[str, Any] = {"context": int(context), "blocks": block_sizes(context)}
            for method in METHODS:
                row[method] = row[f"{method}_min"] = None
                row[f"{method}_samples"] = []
            for group in _groups(methods, sequential):
                log(f"step: context {context}: timing {', '.join(group)} ...")
                states, steps, runner = [], {}, None
                for method in group:
                    if method in ("hf_static", "hf_dynamic"):
                        states.append(make_hf_cache(model, context, "static" if method == "hf_static" else "dynamic", seed))
                        steps[method] = hf_step(model, states[-1], context, token)
                    else:
                        if runner is None:
                            runner = make_async_runner(model, context, seed)
                            states.append(runner)
                        twin = {"asyncthink": runner, "asyncthink_eager": eager_twin(runner),
                                "asyncthink_static": static_twin(runner), "naive": naive_twin(runner)}
                        steps[method] = async_step(twin[method], token)
                for method, times in time_interleaved(steps, repeats, warmup, device).items():
                    row[method], row[f"{method}_samples"], row[f"{method}_min"] = statistics.median(times), times, min(times)
                    log(f"step: context {context}: {method} {row[method]:.1f} ms")
                if runner is not None:
                    runner.release()
                del states, steps, runner
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            row["async_over_hf_static"] = ratio(row["asyncthink"], row["hf_static"])
            row["async_over_hf_dynamic"] = ratio(row["asyncthink"], row["hf_dynamic"])
            row["naive_over_async"] = ratio(row["naive"], row["asyncthink"])
            row["async_over_hf_static_min"] = ratio(row["asyncthink_min"], row["hf_static_min"])
            row["naive_over_async_min"] = ratio(row["naive_min"], row["asyncthink_min"])
            row["async_over_hf_static_paired"] = _paired(row, "asyncthink", "hf_static", sequential)
            row["naive_over_async_paired"] = _paired(row, "naive", "asyncthink", sequential)
            row["load_average"] = loadavg()
            rows.append(row)
    schedule = ("sequential: each method timed alone, one state alive at a time" if sequential else
                "interleaved: (a), (b), (c) timed round-robin within each repeat on live states ((c) shares (a)'s "
                "block table and arena); (b') timed alone")
    return {"description": DESCRIPTION, "schedule": schedule, "repeats": repeats, "warmup": warmup, "rows": rows}


def format_steps(section: dict[str, Any]) -> list[str]:
    d = section["description"]
    shown = [k for k in METHODS if any(row[k] is not None for row in section["rows"])]
    lines = [
        f"Step time: {d['statistic']} of {section['repeats']} after {section['warmup']} warm-up steps",
        f"(a)  {d['asyncthink_step']}",
        f"(b)  HF decode step (1 row), {d['hf_attention']}; cache: {d['hf_static_cache']}",
        f"(b') HF decode step, {d['hf_dynamic_cache']} (for information)",
        f"(c)  {d['naive_step']}",
        *[f"(a') {d[k]}" for k in ("asyncthink_eager", "asyncthink_static") if k in shown],
        f"fill: {d['fill']}; schedule: {section['schedule']}",
        "",
    ]
    header = ["context"] + [LABELS[k] for k in shown] + ["(a)/(b)", "(c)/(a)"]
    table = [header] + [[str(row["context"])] + [fmt(row[k], ".1f") for k in shown]
                        + [fmt(row["async_over_hf_static"], ".2f"), fmt(row["naive_over_async"], ".2f")]
                        for row in section["rows"]]
    lines += render(table)
    for row in section["rows"]:
        b = row["blocks"]
        lines.append(
            f"context {row['context']} blocks: " + ", ".join(f"{k} {v}" for k, v in b.items())
            + f"; thinker view {b['prompt'] + b['thoughts']}, writer view "
            f"{b['writer_prompt'] + b['thoughts'] + b['writer_split'] + b['answer']}; "
            f"(a)/(b') {fmt(row['async_over_hf_dynamic'], '.2f')}; fastest repeats: "
            f"(a)/(b) {fmt(row['async_over_hf_static_min'], '.2f')}, (c)/(a) {fmt(row['naive_over_async_min'], '.2f')}; "
            f"median of per-round ratios: (a)/(b) {fmt(row['async_over_hf_static_paired'], '.2f')}, "
            f"(c)/(a) {fmt(row['naive_over_async_paired'], '.2f')}; load average {row['load_average']}"
        )
    return lines

