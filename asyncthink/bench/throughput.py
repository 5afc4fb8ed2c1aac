"""Throughput: many sessions decoded together in one Engine vs one session.

For each N: N async sessions (the same question, greedy, the control answer forced to "yes"
so every writer keeps decoding) are submitted to one Engine; after their prompts are
prefilled (untimed) and every session's thinker and writer are decoding, `steps` engine
steps are timed. Figures: decode tokens per second across all sessions (thinker + writer
tokens), mean rows per forward pass, and the speed-up over N = 1.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..engine import Engine
from .control import force_writer_on
from .table import render

QUESTION = "What is 17 * 23?"


def _decoding(session) -> bool:
    return session.state == "thinker_and_writer" and "writer" in session.started


def _measure(reasoner, sessions: int, steps: int, budget: int) -> dict[str, Any]:
    engine = Engine(reasoner, capacity=sessions * (2 * budget + 1600))
    batch = [engine.submit(QUESTION, budget=budget, check_every=10_000, listen_capacity=0) for _ in range(sessions)]
    for session in batch:  # the writer starts at once and stays on: this measures decoding, not the policy
        session._check_due = True
        force_writer_on(session)
    for _ in range(budget):  # prefill and warm up, untimed, until every session decodes both streams
        engine.step()
        if all(_decoding(s) for s in batch):
            break
    before = sum(len(s.tokens["thinker"]) + len(s.tokens["writer"]) for s in batch)
    rows = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        engine.step()  # ends in the step's host sync
        rows += engine.runner.last_plan.rows
    elapsed = time.perf_counter() - t0
    produced = sum(len(s.tokens["thinker"]) + len(s.tokens["writer"]) for s in batch) - before
    for s in batch:
        s.cancel()
    engine.run()
    return {"sessions": sessions, "steps": steps, "tokens": produced, "seconds": elapsed,
            "tokens_per_s": produced / elapsed, "rows_per_pass": rows / steps}


def measure_throughput(reasoner, sessions=(1, 4, 8, 16), steps: int = 8, budget: int = 256,
                       log=lambda msg: None) -> dict[str, Any]:
    rows = []
    with torch.inference_mode():
        for n in sessions:
            log(f"throughput: {n} sessions ...")
            rows.append(_measure(reasoner, n, steps, budget))
    base = next((r["tokens_per_s"] for r in rows if r["sessions"] == 1), None)
    for r in rows:
        r["vs_one_session"] = r["tokens_per_s"] / base if base else None
    return {"steps": steps, "budget": budget, "question": QUESTION, "rows": rows}


def format_throughput(section: dict[str, Any]) -> list[str]:
    lines = [(f"Throughput: N sessions in one Engine, {section['steps']} timed steps after prefill, control answer "
             "forced to yes (thinker + writer decode tokens)"), ""]
    table = [["sessions", "rows/forward", "tokens", "seconds", "tokens/s", "vs 1 session"]]
    for r in section["rows"]:
        table.append([str(r["sessions"]), f"{r['rows_per_pass']:.1f}", str(r["tokens"]), f"{r['seconds']:.2f}",
                      f"{r['tokens_per_s']:.1f}", "-" if r["vs_one_session"] is None else f"{r['vs_one_session']:.2f}x"])
    return lines + render(table)
