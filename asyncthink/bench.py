"""Speed benchmark: one asyncthink two-stream step vs one ordinary HF decode step (DESIGN.md section 3).

    python -m asyncthink.bench --contexts 512,2048,8192 --threads 2

For each context length C it measures the wall time of one step (median of `repeats` after
`warmup`, under `torch.inference_mode`) of:

  (a)  asyncthink: `Runner.run([thinker 1 token -> "thoughts", writer 1 token -> "answer"])`
       over the "independent" layout's blocks (prompt, thoughts, writer_prompt, writer_split,
       answer), block lengths summing to C;
  (b)  one HF single-stream decode step of the same model with its stock SDPA attention and
       a `StaticCache` of exactly C + 1 slots (preallocated; the most favourable size for HF);
  (b') the same with a `DynamicCache` (concatenates the whole cache every step), for information;
  (c)  the naive reference: `Runner(..., naive_attention=True)` on the same block state
       (re-rotates and concatenates every visible block every step).

Contexts are filled synthetically (dummy token ids, random keys/values): step time does not
depend on cache values, and a real 8k prefill on a small CPU takes minutes. Every repeat runs
at the same context: asyncthink's appended tokens are popped after each step, the StaticCache
write position is reset, the DynamicCache is cropped back.

(a), (b) and (c) are timed round-robin within each repeat (interleaved) so that load from other
processes on a shared machine hits them alike; `--sequential` times one method at a time with
only its state alive (lowest memory). On a busy machine also set OMP_WAIT_POLICY=PASSIVE in the
environment: spin-waiting OpenMP threads slow steps made of many small ops far more than others.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import torch

from . import adapter
from .cpu_linears import pack_linears, unpack_linears
from .plan import Chunk
from .runner import Runner

DEFAULT_MODEL = "random:Qwen/Qwen3-0.6B"
DEFAULT_CONTEXTS = (512, 2048, 8192)
METHODS = ("asyncthink", "hf_static", "hf_dynamic", "naive")
LABELS = {
    "asyncthink": "(a) ms",
    "hf_static": "(b) ms StaticCache",
    "hf_dynamic": "(b') ms DynamicCache",
    "naive": "(c) ms",
}
# Targets from the speed issue: (ratio key, context, comparison, bound)
TARGETS = (
    ("async_over_hf_static", 2048, "<=", 1.3),
    ("async_over_hf_static", 8192, "<=", 1.3),
    ("naive_over_async", 8192, ">=", 2.0),
)
RATIO_LABELS = {"async_over_hf_static": "(a)/(b)", "naive_over_async": "(c)/(a)"}

THINKER_VIEW = ("prompt", "thoughts")
WRITER_VIEW = ("writer_prompt", "thoughts", "writer_split", "answer")
BLOCK_ORDER = ("prompt", "thoughts", "writer_prompt", "writer_split", "answer")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ---------------------------------------------------------------------------- layout


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


# ---------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_steps(step: Callable[[], Any], reset: Callable[[], None], repeats: int, warmup: int, device) -> list[float]:
    """Wall time (ms) of `step` for each of `repeats` runs after `warmup`; `reset` (untimed) after each."""
    samples = []
    for i in range(warmup + repeats):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        elapsed = (time.perf_counter() - t0) * 1e3
        reset()
        if i >= warmup:
            samples.append(elapsed)
    return samples


def _time_interleaved(steps: dict[str, tuple[Callable[[], Any], Callable[[], None]]], repeats: int, warmup: int,
                      device) -> dict[str, list[float]]:
    """Like `_time_steps` for several methods at once, round-robin: repeat i times every method
    once, starting at a rotating method, so load from other processes hits all methods alike."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            step, reset = steps[name]
            step()
            reset()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            samples[name].extend(_time_steps(*steps[name], repeats=1, warmup=0, device=device))
    return samples


def _fill_(t: torch.Tensor, gen: torch.Generator) -> None:
    """Random normal values in place (layer by layer to keep temporaries small)."""
    for part in t:
        if part.device.type == "cpu":
            part.normal_(generator=gen)
        else:
            part.copy_(torch.randn(part.shape, generator=gen, dtype=torch.float32).to(part.device, part.dtype))


# ---------------------------------------------------------------------------- (a) / (c)


def make_async_runner(model, context: int, seed: int = 0, naive: bool = False) -> Runner:
    """A Runner whose blocks hold `context` dummy tokens (block_sizes) over random keys/values."""
    sizes = block_sizes(context)
    capacities = {name: n + (1 if name in ("thoughts", "answer") else 0) for name, n in sizes.items()}
    runner = Runner(model, capacities, naive_attention=naive)
    for name, n in sizes.items():
        runner.table[name].tokens = [1] * n  # dummy ids; only lengths matter to the step
    gen = torch.Generator().manual_seed(seed)
    _fill_(runner.arena.keys, gen)
    _fill_(runner.arena.values, gen)
    return runner


def naive_twin(runner: Runner) -> Runner:
    """A Runner with naive_attention=True over the same block table and arena (no copy)."""
    twin = copy.copy(runner)
    twin.naive_attention = True
    return twin


def _async_step(runner: Runner, token: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    thoughts, answer = runner.table["thoughts"], runner.table["answer"]
    lengths = (thoughts.length, answer.length)
    chunks = [
        Chunk("thinker", THINKER_VIEW, "thoughts", [token]),
        Chunk("writer", WRITER_VIEW, "answer", [token]),
    ]

    def step():
        return runner.run(chunks)

    def reset():
        del thoughts.tokens[lengths[0] :]
        del answer.tokens[lengths[1] :]

    return step, reset


# ---------------------------------------------------------------------------- (b) / (b')


def _kv_shape(model, context: int) -> tuple[int, int, int, int]:
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
    shape = _kv_shape(model, context)
    for layer in range(model.config.num_hidden_layers):
        k = torch.randn(shape, generator=gen).to(device, dtype)
        v = torch.randn(shape, generator=gen).to(device, dtype)
        cache.update(k, v, layer)
        del k, v
    if cache.get_seq_length() != context:
        raise RuntimeError(f"{kind} cache holds {cache.get_seq_length()} positions, expected {context}")
    return cache


def _reset_hf_cache(cache, context: int) -> None:
    from transformers import StaticCache

    if isinstance(cache, StaticCache):
        for layer in cache.layers:  # the next step overwrites slot `context` in place
            layer.cumulative_length.fill_(context)
    else:
        extra = int(cache.get_seq_length()) - context
        if extra:
            cache.crop(-extra)  # transformers 5: crop takes the (negative) number of tokens to drop


def hf_decode(model, cache, context: int, token: int = 1) -> torch.Tensor:
    """One ordinary decode step at position `context`; returns logits [vocab]."""
    device = next(model.parameters()).device
    ids = torch.tensor([[token]], dtype=torch.long, device=device)
    pos = torch.tensor([[context]], dtype=torch.long, device=device)
    out = model(input_ids=ids, position_ids=pos, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.logits[0, -1]


def _hf_step(model, cache, context: int, token: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    device = next(model.parameters()).device
    ids = torch.tensor([[token]], dtype=torch.long, device=device)
    pos = torch.tensor([[context]], dtype=torch.long, device=device)

    def step():
        return model(input_ids=ids, position_ids=pos, past_key_values=cache, use_cache=True, logits_to_keep=1).logits

    return step, lambda: _reset_hf_cache(cache, context)


# ---------------------------------------------------------------------------- conditions


def _processor() -> str:
    name = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return name or platform.machine()


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 0


def model_conditions(model, spec: str) -> dict[str, Any]:
    c = model.config
    heads = c.num_attention_heads
    return {
        "spec": spec,
        "architecture": type(model).__name__,
        "layers": c.num_hidden_layers,
        "hidden": c.hidden_size,
        "heads": heads,
        "kv_heads": getattr(c, "num_key_value_heads", None) or heads,
        "head_dim": getattr(c, "head_dim", None) or c.hidden_size // heads,
        "vocab": c.vocab_size,
        "tied_embeddings": bool(getattr(c, "tie_word_embeddings", False)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
    }


def _conditions(model, spec, threads, dtype, repeats, warmup, device) -> dict[str, Any]:
    import transformers

    return {
        "machine": {
            "processor": _processor(),
            "platform": platform.platform(),
            "cpus": _cpus(),
            "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        },
        "torch_threads": torch.get_num_threads(),
        "requested_threads": threads,
        "dtype": str(dtype).replace("torch.", ""),
        "repeats": repeats,
        "warmup": warmup,
        "statistic": "median",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")},
        "model": model_conditions(model, spec),
        "hf_attention": "sdpa (stock; the model called without the asyncthink keyword)",
        "hf_static_cache": "transformers StaticCache, max_cache_len = context + 1 (no padding read)",
        "hf_dynamic_cache": "transformers DynamicCache (torch.cat of the whole cache each step), cropped back each repeat",
        "asyncthink_step": "Runner.run: thinker 1 token -> thoughts, writer 1 token -> answer (2 rows, one forward)",
        "naive_step": "Runner(naive_attention=True) on the same blocks: re-rotate + concatenate each view every step",
        "fill": "synthetic: dummy token ids, random normal keys/values (no prefill)",
    }


# ---------------------------------------------------------------------------- main entry


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if not num or not den else num / den


def _paired(row: dict[str, Any], num: str, den: str, sequential: bool) -> float | None:
    """Median over repeats of num_i / den_i (same round of an interleaved run)."""
    a, b = row[f"{num}_samples"], row[f"{den}_samples"]
    if sequential or not a or not b:
        return None
    return statistics.median(x / y for x, y in zip(a, b))


def _evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_context = {row["context"]: row for row in rows}
    checks = []
    for key, context, op, bound in TARGETS:
        row = by_context.get(context)
        value = row.get(key) if row else None
        if value is None:
            status = "n/a"
        else:
            status = "PASS" if (value <= bound if op == "<=" else value >= bound) else "MISS"
        checks.append(
            {"ratio": key, "label": RATIO_LABELS[key], "context": context, "op": op, "bound": bound,
             "value": value, "status": status}
        )
    return checks


def _load(model_spec: str, dtype: torch.dtype, device: str, seed: int, layers: int | None, log):
    from .random_models import is_random_spec, load_random

    overrides = {} if layers is None else {"num_hidden_layers": layers}
    log(f"loading {model_spec} ({str(dtype).replace('torch.', '')}, {device}) ...")
    if is_random_spec(model_spec):
        model, _ = load_random(model_spec, dtype=dtype, device=device, seed=seed, **overrides)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_spec, dtype=dtype, **overrides).to(device)
        model.eval()
    return model, model_spec


def run_bench(
    model_spec: str = DEFAULT_MODEL,
    contexts=DEFAULT_CONTEXTS,
    threads: int | None = 2,
    dtype: str | torch.dtype = "float32",
    repeats: int = 5,
    warmup: int = 2,
    layers: int | None = None,
    *,
    model=None,
    device: str = "cpu",
    methods=METHODS,
    sequential: bool = False,
    seed: int = 0,
    linears: str = "packed",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure per-step times (ms) of the methods at each context; see the module docstring.

    Pass `model` (an HF causal LM, e.g. from `tiny_model`) to skip loading `model_spec`.
    By default (a), (b) and (c) are timed round-robin within each repeat, so load from other
    processes hits them alike (peak memory: weights + one arena + one StaticCache);
    `sequential=True` times one method at a time with only its state alive.

    Returns {"conditions", "rows", "targets"}; each row has "context", "blocks" (lengths), per
    method in METHODS: <method> (median ms), <method>_min, <method>_samples, and the ratios
    "async_over_hf_static", "async_over_hf_dynamic", "naive_over_async" (of medians),
    "*_min" (of fastest repeats), "*_paired" (median of per-round ratios, interleaved only).
    """
    log = log or (lambda msg: None)
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        dtype = DTYPES[dtype]
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        if model is None:
            model, spec = _load(model_spec, dtype, device, seed, layers, log)
        else:
            if layers is not None:
                raise ValueError("`layers` applies to a model loaded from `model_spec`, not to a given model")
            spec = getattr(model.config, "name_or_path", "") or type(model).__name__
            dtype = model.dtype
        with torch.inference_mode():
            dev = next(model.parameters()).device
            adapter.attach(model)  # asyncthink attention; calls without its keyword fall back to SDPA
            # one model object serves every method, so (a), (b) and (c) always use the same linear kernels
            packed = pack_linears(model) if linears == "packed" else 0
            if linears == "stock":
                unpack_linears(model)
            conditions = _conditions(model, spec, threads, dtype, repeats, warmup, dev)
            conditions["linears"] = (f"oneDNN-prepacked ({packed} nn.Linear, as AsyncReasoner does on CPU fp32) "
                                     "for every method" if packed else "stock torch F.linear for every method")
            conditions["load_average_start"] = _loadavg()
            conditions["schedule"] = (
                "sequential: each method timed alone, one state alive at a time" if sequential else
                "interleaved: (a), (b), (c) timed round-robin within each repeat on live states ((c) shares (a)'s "
                "block table and arena); (b') timed alone"
            )
            token = 1
            rows = []
            for context in contexts:
                row: dict[str, Any] = {"context": int(context), "blocks": block_sizes(context)}
                for method in METHODS:
                    row[method] = row[f"{method}_min"] = None
                    row[f"{method}_samples"] = []
                # interleaved: (a), (b), (c) timed round-robin on live states ((c) shares (a)'s arena);
                # sequential: one method at a time, one state alive. (b') is always timed alone.
                groups = [[m] for m in METHODS if m in methods]
                if not sequential:
                    together = [m for m in ("asyncthink", "hf_static", "naive") if m in methods]
                    groups = [together] + [[m] for m in METHODS if m in methods and m not in together]
                for group in groups:
                    if not group:
                        continue
                    log(f"context {context}: timing {', '.join(group)} ...")
                    states, steps = [], {}
                    runner = None
                    for method in group:
                        if method in ("hf_static", "hf_dynamic"):
                            kind = "static" if method == "hf_static" else "dynamic"
                            states.append(make_hf_cache(model, context, kind, seed))
                            steps[method] = _hf_step(model, states[-1], context, token)
                        else:
                            if runner is None:
                                runner = make_async_runner(model, context, seed)
                                states.append(runner)
                            steps[method] = _async_step(runner if method == "asyncthink" else naive_twin(runner), token)
                    samples = _time_interleaved(steps, repeats, warmup, dev)
                    for method, times in samples.items():
                        row[method] = statistics.median(times)
                        row[f"{method}_samples"] = times
                        row[f"{method}_min"] = min(times)
                        log(f"context {context}: {method} {row[method]:.1f} ms")
                    del states, steps, runner, samples
                    gc.collect()
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
                row["async_over_hf_static"] = _ratio(row["asyncthink"], row["hf_static"])
                row["async_over_hf_dynamic"] = _ratio(row["asyncthink"], row["hf_dynamic"])
                row["naive_over_async"] = _ratio(row["naive"], row["asyncthink"])
                row["async_over_hf_static_min"] = _ratio(row["asyncthink_min"], row["hf_static_min"])
                row["async_over_hf_static_paired"] = _paired(row, "asyncthink", "hf_static", sequential)
                row["naive_over_async_paired"] = _paired(row, "naive", "asyncthink", sequential)
                row["naive_over_async_min"] = _ratio(row["naive_min"], row["asyncthink_min"])
                row["load_average"] = _loadavg()
                rows.append(row)
        conditions["load_average_end"] = _loadavg()
    finally:
        torch.set_num_threads(previous_threads)
    return {"conditions": conditions, "rows": rows, "targets": _evaluate_targets(rows)}


# ---------------------------------------------------------------------------- output


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _contention_note(c: dict[str, Any]) -> str | None:
    loads = [x for x in (c.get("load_average_start"), c.get("load_average_end")) if x]
    busy = any(x[0] > c["machine"]["cpus"] * 0.75 for x in loads)
    passive = (c["env"].get("OMP_WAIT_POLICY") or "").upper() == "PASSIVE"
    if busy and not passive and c["torch_threads"] > 1:
        return (
            "WARNING: the CPUs were busy with other processes and OpenMP threads spin-wait by default: "
            "steps made of many small ops (asyncthink, naive) slow down far more than HF's. "
            "Rerun on an idle machine, or with OMP_WAIT_POLICY=PASSIVE set in the environment."
        )
    return None


def format_table(results: dict[str, Any]) -> str:
    c = results["conditions"]
    m, mc = c["model"], c["machine"]
    lines = [
        f"asyncthink bench: per-step wall time, {c['statistic']} of {c['repeats']} after {c['warmup']} warmup, "
        "torch.inference_mode",
        f"machine: {mc['processor']}, {mc['cpus']} CPUs, {mc['platform']}; device {mc['device']}",
        f"torch threads: {c['torch_threads']}; dtype: {c['dtype']}; torch {c['torch']}; "
        f"transformers {c['transformers']}; python {c['python']}",
        f"model: {m['spec']} ({m['architecture']}): layers {m['layers']}, hidden {m['hidden']}, heads {m['heads']}, "
        f"kv heads {m['kv_heads']}, head_dim {m['head_dim']}, vocab {m['vocab']}, "
        f"tied embeddings {m['tied_embeddings']}, {m['parameters'] / 1e6:.1f}M params "
        f"({m['weight_bytes'] / 2**30:.2f} GiB)",
        f"(a)  {c['asyncthink_step']}",
        f"(b)  HF decode step (1 row), {c['hf_attention']}; cache: {c['hf_static_cache']}",
        f"linear layers: {c['linears']}",
        f"(b') HF decode step, {c['hf_dynamic_cache']} (for information)",
        f"(c)  {c['naive_step']}",
        f"fill: {c['fill']}",
        f"schedule: {c['schedule']}",
        f"load average (1/5/15 min) at start {c['load_average_start']}, end {c['load_average_end']} "
        f"(> threads means other processes competed for the CPUs); "
        f"OMP_WAIT_POLICY={c['env'].get('OMP_WAIT_POLICY') or 'unset'}",
        "",
    ]
    header = ["context"] + [LABELS[k] for k in METHODS] + ["(a)/(b)", "(c)/(a)"]
    table = [header]
    for row in results["rows"]:
        table.append(
            [str(row["context"])]
            + [_fmt(row[k], ".1f") for k in METHODS]
            + [_fmt(row["async_over_hf_static"], ".2f"), _fmt(row["naive_over_async"], ".2f")]
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        lines.append(" | ".join(cell.rjust(w) for cell, w in zip(r, widths)))
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    lines.append("")
    for row in results["rows"]:
        b = row["blocks"]
        lines.append(
            f"context {row['context']} blocks: " + ", ".join(f"{k} {v}" for k, v in b.items())
            + f"; thinker view {b['prompt'] + b['thoughts']}, writer view "
            f"{b['writer_prompt'] + b['thoughts'] + b['writer_split'] + b['answer']}; "
            f"(a)/(b') {_fmt(row['async_over_hf_dynamic'], '.2f')}; fastest repeats: "
            f"(a)/(b) {_fmt(row['async_over_hf_static_min'], '.2f')}, (c)/(a) {_fmt(row['naive_over_async_min'], '.2f')}; "
            f"median of per-round ratios: (a)/(b) {_fmt(row['async_over_hf_static_paired'], '.2f')}, "
            f"(c)/(a) {_fmt(row['naive_over_async_paired'], '.2f')}; load average {row['load_average']}"
        )
    lines.append("")
    note = _contention_note(c)
    if note:
        lines += [note, ""]
    lines.append("targets (ratios from this run; (a) produces 2 tokens per step, (b) 1):")
    for t in results["targets"]:
        lines.append(
            f"  {t['label']} {t['op']} {t['bound']} at {t['context']}: "
            f"measured {_fmt(t['value'], '.2f')} -> {t['status']}"
        )
    return "\n".join(lines)


def _parse_contexts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"contexts must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 8:
        raise argparse.ArgumentTypeError("contexts must be integers >= 8")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asyncthink bench",
        description="Time one asyncthink two-stream step against one ordinary HF decode step "
        "(StaticCache and DynamicCache) and the naive re-rotating method at several context lengths.",
    )
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model spec or HF path (default {DEFAULT_MODEL})")
    p.add_argument("--contexts", type=_parse_contexts, default=DEFAULT_CONTEXTS, help="e.g. 512,2048,8192")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--repeats", type=int, default=5, help="timed steps per method and context (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing")
    p.add_argument("--layers", type=int, default=None, help="override num_hidden_layers (quick smoke runs)")
    p.add_argument("--sequential", action="store_true",
                   help="time one method at a time with only its state alive (default: (a), (b), (c) round-robin)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--linears", choices=("packed", "stock"), default="packed",
                   help="CPU fp32 linear kernels for every method: oneDNN-prepacked (asyncthink's default) or stock")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the results dict as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    log = None if args.quiet else (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    results = run_bench(
        model_spec=args.model,
        contexts=args.contexts,
        threads=args.threads,
        dtype=args.dtype,
        repeats=args.repeats,
        warmup=args.warmup,
        layers=args.layers,
        sequential=args.sequential,
        linears=args.linears,
        device=args.device,
        log=log,
    )
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
