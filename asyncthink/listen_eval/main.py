"""`asyncthink listen-eval TASKS.jsonl ...`: options, the run, rows to JSON Lines, the summary table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ..errors import AsyncThinkError
from ..layout import resolve_layout
from .conditions import run_listen_eval
from .summary import format_summary, summarize
from .tasks import CONDITIONS, DEFAULT_EVERY, EXAMPLE_PATH, load_tasks


def _conditions(text: str) -> tuple[str, ...]:
    values = tuple(c.strip() for c in text.split(",") if c.strip())
    bad = [c for c in values if c not in CONDITIONS]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"conditions must be a comma-separated subset of {','.join(CONDITIONS)}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def build_parser(prog: str = "asyncthink listen-eval") -> argparse.ArgumentParser:
    from ..defaults import DEFAULT_MODEL

    p = argparse.ArgumentParser(
        prog=prog,
        description="Evaluate listening on sharded tasks: all shards up front vs heard while thinking vs "
        "cancel-and-restart. Writes one JSON row per task and condition and prints a summary table.",
    )
    p.add_argument("file", nargs="?", default=str(EXAMPLE_PATH), metavar="FILE",
                   help="JSONL task file (default: the small packaged example)")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help="Hub name, local path or random:<hub name>")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16")
    p.add_argument("--every", type=_positive, default=DEFAULT_EVERY,
                   help=f"thinker tokens between shards (default {DEFAULT_EVERY})")
    p.add_argument("--budget", type=_positive, default=4096, help="maximum forward steps per session")
    p.add_argument("--max-thinker-tokens", type=_positive, default=None)
    p.add_argument("--max-writer-tokens", type=_positive, default=None)
    p.add_argument("--check-every", type=_positive, default=20)
    p.add_argument("--conditions", type=_conditions, default=CONDITIONS, help="e.g. upfront,listen")
    p.add_argument("--layout", default=None, help="independent (default) or interleaved")
    p.add_argument("--listen-to", default="thinker", choices=("thinker", "input", "both"))
    p.add_argument("--listen-hold", default="sentence", choices=("none", "sentence", "paragraph"))
    p.add_argument("--on-input", default="pause_writer", choices=("pause_writer", "continue"))
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--limit", type=_positive, default=None, help="only the first N tasks")
    p.add_argument("--layers", type=_positive, default=None, help="random: models only: number of hidden layers")
    p.add_argument("--threads", type=_positive, default=None,
                   help="torch CPU threads (default: torch's; 1 is often fastest on a busy machine)")
    p.add_argument("--out", default=None, metavar="PATH", help="write the rows as JSON Lines here")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up session")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "asyncthink listen-eval") -> int:
    args = build_parser(prog).parse_args(argv)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(f"[listen-eval] {msg}", file=sys.stderr, flush=True))
    try:
        return _main(args, log)
    except AsyncThinkError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _main(args, log) -> int:
    from ..errors import ModelLoadError
    from ..models.random_weights import is_random_spec, known_random_models
    from ..reasoner import AsyncReasoner, resolve_device, resolve_dtype
    from ..sampling import SamplingParams

    tasks = load_tasks(args.file)[: args.limit]
    sampling = SamplingParams(temperature=args.temperature, seed=args.seed)
    session_kwargs = dict(budget=args.budget, max_thinker_tokens=args.max_thinker_tokens,
                          max_writer_tokens=args.max_writer_tokens, check_every=args.check_every, sampling=sampling,
                          listen_to=args.listen_to, listen_hold=args.listen_hold, on_input=args.on_input)
    if args.layout is not None:
        session_kwargs["layout"] = args.layout
    resolve_layout("async", args.layout)  # a bad layout fails before the model load
    if args.layers is not None and not is_random_spec(args.model):
        raise ModelLoadError(f"--layers only applies to random: models, not {args.model!r}")
    if is_random_spec(args.model):
        if args.model not in known_random_models():
            raise ModelLoadError(f"unknown random model {args.model!r}; `asyncthink models` lists them")
        log(f"warning: {args.model} has random weights: answers are gibberish, accuracy means nothing")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    log(f"loading {args.model} on {device} ({str(dtype).removeprefix('torch.')})")
    extra = {} if args.layers is None else {"num_hidden_layers": args.layers}
    reasoner = AsyncReasoner.from_pretrained(args.model, device=device, dtype=dtype, **extra)
    log(f"{len(tasks)} tasks from {args.file}; conditions {', '.join(args.conditions)}; every {args.every}")

    out = open(args.out, "w", encoding="utf-8") if args.out else None
    try:
        def on_row(row):
            if out is not None:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
            log(f"{row['id']} {row['condition']}: {'correct' if row['correct'] else 'wrong'} "
                f"({row['prediction']!r} vs {row['reference']!r}), {row['time_to_final_answer']:.2f} s, "
                f"{row['stop_reason']}, shards {row['shards_used']}/{row['shards']}, restarts {row['restarts']}")

        rows = run_listen_eval(reasoner, tasks, args.conditions, args.every, warmup=not args.no_warmup,
                               on_row=on_row, **session_kwargs)
    finally:
        if out is not None:
            out.close()
    settings = {"model": args.model, "dtype": str(dtype).removeprefix("torch."), "device": device,
                "every": args.every, "budget": args.budget, "tasks": len(tasks), "file": args.file}
    if args.layers is not None:
        settings["layers"] = args.layers
    if args.threads is not None:
        settings["threads"] = args.threads
    if args.temperature:
        settings["temperature"] = args.temperature
    if args.listen_to != "thinker" or args.listen_hold != "sentence":
        settings["listen"] = f"to {args.listen_to}, hold {args.listen_hold}"
    print(format_summary(summarize(rows), settings))
    if args.out:
        log(f"rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m asyncthink.listen_eval"))
