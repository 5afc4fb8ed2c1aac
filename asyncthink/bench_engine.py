"""Throughput of many sessions in one forward pass (Engine) vs one session at a time.

    python -m asyncthink.bench_engine --sessions 1,4,8,16 --steps 8

For each N: N async sessions (random weights of a real shape, the same question each, greedy,
writer allowed from the first control answer) are submitted to one Engine; after their
prompts are prefilled (untimed) and every session's thinker and writer are decoding, `steps`
engine steps are timed. Figures: decode tokens per second across all sessions (thinker +
writer tokens), mean rows per forward pass, and the speed-up over N = 1. The control answer is forced to "yes" so every writer keeps decoding.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import transformers

from .engine import Engine
from .reasoner import AsyncReasoner

QUESTION = "What is 17 * 23?"


def _decoding(session) -> bool:
    return session.state == "thinker_and_writer" and "writer" in session.started


def measure(reasoner, sessions: int, steps: int, budget: int) -> dict:
    engine = Engine(reasoner, capacity=sessions * (2 * budget + 1600))
    batch = [engine.submit(QUESTION, budget=budget, check_every=10_000, listen_capacity=0) for _ in range(sessions)]
    for session in batch:  # the writer starts at once and stays on: this measures decoding, not the policy
        session._check_due = True
        session.yes_no = lambda logits: torch.tensor([1.0, 0.0], device=logits.device)
    for _ in range(budget):  # prefill and warm up, untimed, until every session decodes both streams
        engine.step()
        if all(_decoding(s) for s in batch):
            break
    for s in batch:
        s._check_due = False
        s.check_every = 10_000
    before = sum(len(s.tokens["thinker"]) + len(s.tokens["writer"]) for s in batch)
    rows = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        engine.step()
        rows += engine.runner.last_plan.rows
    elapsed = time.perf_counter() - t0
    produced = sum(len(s.tokens["thinker"]) + len(s.tokens["writer"]) for s in batch) - before
    for s in batch:
        s.cancel()
    engine.run()
    return {"sessions": sessions, "steps": steps, "tokens": produced, "seconds": elapsed,
            "tokens_per_s": produced / elapsed, "rows_per_pass": rows / steps}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="asyncthink bench-engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="random:Qwen/Qwen3-0.6B")
    p.add_argument("--sessions", default="1,4,8,16")
    p.add_argument("--steps", type=int, default=8, help="timed engine steps")
    p.add_argument("--budget", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=None, help="override num_hidden_layers (smoke runs)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {} if args.layers is None else {"num_hidden_layers": args.layers}
    reasoner = AsyncReasoner.from_pretrained(args.model, device="cpu", dtype="float32", **overrides)
    c = reasoner.model.config
    print(f"asyncthink bench-engine: {args.model} (layers {c.num_hidden_layers}, hidden {c.hidden_size}), float32, "
          f"cpu, {args.threads} threads, {platform.processor() or platform.machine()}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}; {args.steps} timed steps after prefill; oneDNN-packed linears")
    print(f"{'sessions':>8} | {'rows/pass':>9} | {'tokens':>6} | {'seconds':>7} | {'tokens/s':>8} | vs 1 session")
    base = None
    with torch.inference_mode():
        for n in (int(x) for x in args.sessions.split(",")):
            r = measure(reasoner, n, args.steps, args.budget)
            base = base or r["tokens_per_s"]
            print(f"{n:>8} | {r['rows_per_pass']:>9.1f} | {r['tokens']:>6} | {r['seconds']:>7.2f} | "
                  f"{r['tokens_per_s']:>8.1f} | {r['tokens_per_s'] / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
