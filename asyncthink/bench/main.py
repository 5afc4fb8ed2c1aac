"""Options, model loading, the sections in order, the speed issue's targets, the table and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch

from ..core.cpu_linears import unpack_linears
from ..reasoner import AsyncReasoner
from .conditions import contention_note, describe, environment, loadavg
from .control import format_control, measure_control
from .listen import format_listen, measure_listen
from .step import format_steps, measure_steps
from .table import fmt
from .throughput import format_throughput, measure_throughput

SECTIONS = ("step", "control", "listen", "throughput")
DEFAULTS = {  # device type -> (model, dtype, contexts)
    "cpu": ("random:Qwen/Qwen3-0.6B", "float32", (512, 2048, 8192)),
    "cuda": ("random:Qwen/Qwen3-8B", "bfloat16", (2048, 8192, 32768)),
}


def _row(section, key, value):
    return next((r for r in (section or {}).get("rows", []) if r.get(key) == value), None)


def evaluate_targets(results: dict[str, Any], device_type: str) -> list[dict[str, Any]]:
    """The speed issue's targets (ratios from this run); n/a where the run did not measure them."""
    gpu = device_type == "cuda"
    s = results["sections"]
    step8k, listen8k = _row(s.get("step"), "context", 8192), _row(s.get("listen"), "context", 8192)
    cached, eight = _row(s.get("control"), "mode", "cached"), _row(s.get("throughput"), "sessions", 8)
    checks = [
        ("two-stream step / ordinary decode at 8192", step8k and step8k["async_over_hf_static"], "<=", 1.1 if gpu else 1.2),
        ("naive / two-stream step at 8192", step8k and step8k["naive_over_async"], ">=", 5.0),
        ("control question share of the run's time (cached question)", cached and cached["overhead_share"], "<=", 0.05),
        ("restart / listen at 8192", listen8k and listen8k["restart_over_listen"], ">=", 50.0),
        ("8 sessions / 1 session tokens per second", eight and eight["vs_one_session"], ">=", 4.0 if gpu else 2.0),
    ]
    out = []
    for name, value, op, bound in checks:
        status = "n/a" if value is None else ("PASS" if (value <= bound if op == "<=" else value >= bound) else "MISS")
        out.append({"target": name, "value": value, "op": op, "bound": bound, "status": status})
    return out


def run_all(reasoner: AsyncReasoner, spec: str, sections=SECTIONS, *, contexts=(512, 2048, 8192), repeats: int = 5,
            warmup: int = 2, sequential: bool = False, control_steps: int = 300, check_every: int = 20,
            heard: int = 32, sessions=(1, 4, 8, 16), throughput_steps: int = 16, budget: int = 256,
            threads: int | None = None, linears: str = "", log=lambda msg: None) -> dict[str, Any]:
    """Run the chosen sections on one loaded model; returns {"conditions", "sections", "targets"}."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    model = reasoner.model
    conditions = environment(model, spec, threads)
    if linears:
        conditions["linears"] = linears
    out: dict[str, Any] = {}
    if "step" in sections:
        out["step"] = measure_steps(model, contexts, repeats, warmup, sequential=sequential, log=log)
    if "control" in sections:
        out["control"] = measure_control(reasoner, control_steps, check_every, log=log)
    if "listen" in sections:
        out["listen"] = measure_listen(model, contexts, heard, repeats, log=log)
    if "throughput" in sections:
        out["throughput"] = measure_throughput(reasoner, sessions, throughput_steps, budget, log=log)
    conditions["load_average_end"] = loadavg()
    results = {"conditions": conditions, "sections": out}
    results["targets"] = evaluate_targets(results, next(model.parameters()).device.type)
    return results


FORMATTERS = {"step": format_steps, "control": format_control, "listen": format_listen, "throughput": format_throughput}


def format_results(results: dict[str, Any]) -> str:
    c = results["conditions"]
    lines = ["asyncthink bench", *describe(c), ""]
    for name, section in results["sections"].items():
        lines += [*FORMATTERS[name](section), ""]
    note = contention_note(c)
    if note:
        lines += [note, ""]
    lines.append("targets (ratios from this run):")
    for t in results["targets"]:
        lines.append(f"  {t['target']} {t['op']} {t['bound']}: measured {fmt(t['value'], '.3f')} -> {t['status']}")
    return "\n".join(lines)


def _int_list(text: str, minimum: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"{what} must be integers >= {minimum}, got {text!r}")
    return values


def at_least(minimum: float, kind: type = int):
    """An argparse type: a number of `kind` no smaller than `minimum`, else a message naming both."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'} >= {minimum}, "
                                             f"got {text!r}")
        return value
    return parse


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [n for n in names if n not in SECTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"sections must be a comma-separated subset of {','.join(SECTIONS)}, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asyncthink bench",
        description="Speed figures: two-stream step vs ordinary HF decode vs naive re-rotation, control-question "
        "overhead, listening cost, many-session throughput. Prints a table (and JSON with --json).")
    p.add_argument("--sections", type=_sections, default=SECTIONS, help=f"subset of {','.join(SECTIONS)} (default all)")
    p.add_argument("--model", default=None, help="model spec or HF path (default: random Qwen3-0.6B shape on CPU, "
                   "random Qwen3-8B shape with CUDA)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", help="auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16")
    p.add_argument("--contexts", type=lambda t: _int_list(t, 8, "contexts"), default=None,
                   help="step and listen contexts (default 512,2048,8192 on CPU; 2048,8192,32768 on CUDA)")
    p.add_argument("--threads", type=at_least(1), default=2, help="torch.set_num_threads on CPU (default 2)")
    p.add_argument("--layers", type=at_least(1), default=None, help="override num_hidden_layers (quick smoke runs)")
    p.add_argument("--repeats", type=at_least(1), default=5, help="timed steps per method and context (median reported)")
    p.add_argument("--warmup", type=at_least(0), default=2, help="untimed steps before timing")
    p.add_argument("--sequential", action="store_true",
                   help="step: time one method at a time with only its state alive (default: round-robin)")
    p.add_argument("--linears", choices=("packed", "stock"), default="packed",
                   help="CPU fp32 linear kernels for every method: oneDNN-prepacked (asyncthink's default) or stock")
    p.add_argument("--control-steps", type=at_least(1), default=300, help="control: steps per question mode")
    p.add_argument("--check-every", type=at_least(1), default=20, help="control: thinker tokens between checks")
    p.add_argument("--heard", type=at_least(1), default=32, help="listen: heard tokens made visible")
    p.add_argument("--sessions", type=lambda t: _int_list(t, 1, "sessions"), default=(1, 4, 8, 16),
                   help="throughput: session counts")
    p.add_argument("--throughput-steps", type=at_least(1), default=16, help="throughput: timed engine steps")
    p.add_argument("--budget", type=at_least(16), default=256, help="throughput: step budget per session")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def load(args) -> tuple[AsyncReasoner, str, str]:
    from ..reasoner import resolve_device

    device = resolve_device(args.device)
    model_default, dtype_default, _ = DEFAULTS["cuda" if device.startswith("cuda") else "cpu"]
    spec = args.model or model_default
    overrides = {} if args.layers is None else {"num_hidden_layers": args.layers}
    reasoner = AsyncReasoner.from_pretrained(spec, device=device, dtype=dtype_default if args.dtype == "auto" else args.dtype,
                                             **overrides)
    linears = "stock torch F.linear for every method"
    if device == "cpu" and reasoner.model.dtype == torch.float32:
        if args.linears == "stock":
            unpack_linears(reasoner.model)
        else:
            linears = "oneDNN-prepacked nn.Linear for every method (AsyncReasoner's default on CPU fp32)"
    return reasoner, spec, linears


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True))
    if args.threads:
        torch.set_num_threads(args.threads)
    reasoner, spec, linears = load(args)
    device_type = next(reasoner.model.parameters()).device.type
    contexts = args.contexts or DEFAULTS["cuda" if device_type == "cuda" else "cpu"][2]
    results = run_all(reasoner, spec, args.sections, contexts=contexts, repeats=args.repeats, warmup=args.warmup,
                      sequential=args.sequential, control_steps=args.control_steps, check_every=args.check_every,
                      heard=args.heard, sessions=args.sessions, throughput_steps=args.throughput_steps,
                      budget=args.budget, threads=args.threads, linears=linears, log=log)
    print(format_results(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0
