"""python -m asyncthink.training.check DIR: measure the tiny reasoner through the real engine.

Everything runs through `AsyncReasoner.from_pretrained(DIR)` with greedy decoding and the
default `start()` options (async = the default `independent` layout):

    accuracy      think, async and no_think on N held-out problems (tiny_tasks split "heldout")
    first token   steps_to_first_writer_token, async vs think (the mean of each, and their ratio)
    control       every control decision of the async sessions, split by whether the thinker's
                  text fed so far states the result ("So the answer is N." after the last heard
                  input): the share of "no" before and of "yes" after
    listening     held-out listening tasks (a correction as shard 1) under listen / restart /
                  upfront (asyncthink.listen_eval), with `--every` thinker tokens per shard
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from ..evaluation.checking import check_answer
from ..listen_eval import (
    format_summary,
    parse_task,
    run_listen,
    run_restart,
    run_upfront,
    summarize,
)
from ..models import tiny_tasks

RESULT = re.compile(r"So the answer is -?\d+\.")
MODES = ("think", "async", "no_think")
SESSION_SLOTS = 10_000  # KV slots one session reserves with the default budgets (4096 per stream + room)


def holds_result(thoughts: str, heard_marker: str = "[New input from the user:") -> bool:
    """Whether the thoughts state a result after the last heard input."""
    return bool(RESULT.search(thoughts.rsplit(heard_marker, 1)[-1]))


def control_decisions(events) -> list[tuple[bool, str]]:
    """(thoughts fed so far hold the result, decision) for each control decision of a session.

    A decision at step k reads the thinker's tokens emitted before it in event order (the
    last of them is fed in the same pass as the question and is visible to it)."""
    thoughts, out = "", []
    for e in events:
        if e.stream == "thinker" and e.kind == "token":
            thoughts += e.text
        elif e.kind == "heard" and e.data.get("to") in ("thinker", "both"):
            thoughts += "[New input from the user:"
        elif e.stream == "control" and e.kind == "decision" and e.text in ("yes", "no"):
            out.append((holds_result(thoughts), e.text))
    return out


def measure_problems(reasoner, problems: list[dict], log=print, batch: int = 8) -> dict:
    """Every problem in every mode, `batch` sessions at a time packed by an Engine (the same
    tokens as each session alone; steps are counted per session)."""
    from ..engine import Engine
    from ..errors import ArenaFull

    rows = {m: [] for m in MODES}
    decisions = []
    jobs = [(p, mode) for p in problems for mode in MODES]
    engine = Engine(reasoner, capacity=2 * batch * SESSION_SLOTS)  # room to spare: blocks fragment the arena
    running, done = {}, 0
    while jobs or running:
        while jobs and len(running) < batch:
            p, mode = jobs[0]
            try:
                running[engine.submit(p["problem"], mode=mode)] = jobs.pop(0)
            except ArenaFull:  # the free slots are split up: wait for a session to finish
                break
        engine.step()
        for session in [s for s in running if s.done]:
            p, mode = running.pop(session)
            result = session.result()
            _, correct = check_answer(result.answer, p["answer"])
            rows[mode].append({"correct": correct, "steps_first": result.metrics.steps_to_first_writer_token,
                               "steps": result.metrics.steps, "kind": p["kind"]})
            if mode == "async":
                decisions += control_decisions(result.events)
            done += 1
            if done % 60 == 0:
                log(f"  {done}/{len(problems) * len(MODES)} sessions: " + ", ".join(
                    f"{m} {sum(r['correct'] for r in rows[m])}/{len(rows[m])}" for m in MODES))
    out = {}
    for mode, rs in rows.items():
        firsts = [r["steps_first"] for r in rs if r["steps_first"] is not None]
        out[mode] = {
            "accuracy": sum(r["correct"] for r in rs) / len(rs),
            "by_kind": {k: sum(r["correct"] for r in rs if r["kind"] == k) / max(1, sum(r["kind"] == k for r in rs))
                        for k in tiny_tasks.KINDS},
            "mean_steps_to_first_writer_token": statistics.mean(firsts) if firsts else None,
            "mean_steps": statistics.mean(r["steps"] for r in rs),
        }
    before = [d for held, d in decisions if not held]
    after = [d for held, d in decisions if held]
    out["control"] = {"checks": len(decisions),
                      "before_result": len(before), "no_before": before.count("no") / max(1, len(before)),
                      "after_result": len(after), "yes_after": after.count("yes") / max(1, len(after)),
                      "right": (before.count("no") + after.count("yes")) / max(1, len(decisions))}
    a, t = out["async"]["mean_steps_to_first_writer_token"], out["think"]["mean_steps_to_first_writer_token"]
    out["first_token_ratio"] = a / t if a and t else None
    return out


def measure_listening(reasoner, tasks, every: int, log=print) -> tuple[dict, list[dict]]:
    rows = []
    for i, task in enumerate(tasks):
        for run in (run_listen, run_restart, run_upfront):
            rows.append(run(reasoner, task, every))
        if (i + 1) % 10 == 0:
            log(f"  {i + 1}/{len(tasks)} listening tasks")
    return summarize(rows), rows


def format_report(figures: dict) -> str:
    lines = ["| measure | value |", "|---|---|"]
    p = figures.get("problems")
    for mode in MODES if p else ():
        m = p[mode]
        lines.append(f"| {mode} accuracy ({figures['n']} held-out) | {m['accuracy']:.1%} |")
    if p:
        for mode in ("async", "think"):
            first = p[mode]["mean_steps_to_first_writer_token"]
            lines.append(f"| {mode}: mean steps to first writer token | {'-' if first is None else f'{first:.1f}'} |")
        ratio = p["first_token_ratio"]
        lines.append(f"| ratio async / think (first writer token, steps) | {'-' if ratio is None else f'{ratio:.3f}'} |")
        c = p["control"]
        lines.append(f"| control: 'no' before the result ({c['before_result']} checks) | {c['no_before']:.1%} |")
        lines.append(f"| control: 'yes' after the result ({c['after_result']} checks) | {c['yes_after']:.1%} |")
        lines.append(f"| control: right overall ({c['checks']} checks) | {c['right']:.1%} |")
    for cond, s in figures.get("listening", {}).items():
        first = s["mean_time_to_first_writer_token"]
        lines.append(f"| listening {cond}: corrected answer ({s['n']} tasks, every {figures['every']}) | "
                     f"{s['accuracy']:.1%} (first writer token {'-' if first is None else f'{first:.2f} s'} mean, "
                     f"{s['mean_steps']:.0f} steps) |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m asyncthink.training.check",
                                description="Measure a tiny-reasoner folder through the engine and print a table.")
    p.add_argument("model", help="model folder (e.g. asyncthink/models/tiny_reasoner)")
    p.add_argument("--n", type=int, default=200, help="held-out problems (default 200; 0: skip)")
    p.add_argument("--seed", type=int, default=1, help="seed of the held-out problems and listening tasks")
    p.add_argument("--listen-n", type=int, default=50, help="listening tasks (default 50; 0: skip)")
    p.add_argument("--every", type=int, default=32, help="thinker tokens between shards in listen/restart")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--json", help="also write the figures (and listening rows) to this JSON file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.every < 1 or args.threads < 1:
        print("error: --every and --threads must be positive integers", file=sys.stderr)
        return 1
    if args.n < 0 or args.listen_n < 0 or not args.n + args.listen_n:
        print("error: --n and --listen-n must be >= 0, and not both 0", file=sys.stderr)
        return 1
    if not Path(args.model).is_dir():
        print(f"error: model folder {args.model!r} not found", file=sys.stderr)
        return 1
    import torch

    from ..errors import AsyncThinkError
    from ..reasoner import AsyncReasoner

    torch.set_num_threads(args.threads)
    try:
        reasoner = AsyncReasoner.from_pretrained(args.model, device="cpu")
    except AsyncThinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    log = lambda line: print(line, file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    figures = {"n": args.n, "seed": args.seed, "every": args.every}
    if args.n:
        figures["problems"] = measure_problems(reasoner, tiny_tasks.generate(args.n, args.seed, "heldout"), log)
    rows = []
    if args.listen_n:
        tasks = [parse_task(t) for t in tiny_tasks.listening_tasks(args.listen_n, args.seed, "heldout")]
        summary, rows = measure_listening(reasoner, tasks, args.every, log)
        figures["listening"] = summary
        figures["listening_table"] = format_summary(summary)
    figures["seconds"] = time.perf_counter() - t0
    print(format_report(figures))
    if rows:
        print()
        print(figures["listening_table"])
    print(f"\n({figures['seconds'] / 60:.1f} min)")
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "listening_rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
