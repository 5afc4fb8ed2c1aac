"""Control-question overhead: the share of a session's decode time spent asking "may the writer go on?".

One async session (the benchmark's model and tokenizer, greedy, the control answer forced to
"yes" so the writer keeps decoding) runs `steps` steps with a check every `check_every`
thinker tokens (and at thinker paragraph ends), once per question mode:

  cached      the question text is computed at the first check and reused (shifted);
              later checks compute only the cue (asyncthink's default, layout.py)
  recomputed  the whole question is recomputed at every check (cache_question=False)

Each step is timed (session.step(), which ends in the step's host sync) and classified:
prefill (a stream's start feeds more than one token; excluded), check (the step also carries
control rows) or plain. Overhead share = sum over checks of (check step - median plain
step) / total time of the timed steps. The first check, which also feeds the note and the
question once, is included, so the share falls with the session's length; the steady-state
share leaves it out: median extra time of the later checks / (check_every x plain step).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from .table import fmt, render

QUESTION = "What is 17 * 23? Explain briefly."
MODES = {"cached": True, "recomputed": False}


def force_writer_on(session) -> None:
    """Every control answer reads "yes": benchmarks measure decoding, not the policy of random weights."""
    session.yes_no = lambda logits: torch.tensor([1.0, 0.0], device=logits.device)


def _kind(plan) -> str:
    streams = {c.chunk.stream for c in plan.chunks}
    if any(len(c.chunk.tokens) > 1 for c in plan.chunks if c.chunk.stream != "control"):
        return "prefill"
    return "check" if "control" in streams else "plain"


def measure_control(reasoner, steps: int = 300, check_every: int = 20, log=lambda msg: None) -> dict[str, Any]:
    rows = []
    with torch.inference_mode():
        for mode, cache in MODES.items():
            log(f"control: {mode} question, {steps} steps ...")
            session = reasoner.start(QUESTION, budget=steps + 1, check_every=check_every, cache_question=cache,
                                     listen_capacity=0)
            force_writer_on(session)
            times: dict[str, list[float]] = {"prefill": [], "check": [], "plain": []}
            check_rows = []
            for _ in range(steps):
                if session.done:
                    break
                t0 = time.perf_counter()
                session.step()
                elapsed = (time.perf_counter() - t0) * 1e3
                plan = session.runner.last_plan
                kind = _kind(plan)
                times[kind].append(elapsed)
                if kind == "check":
                    check_rows.append(sum(len(c.chunk.tokens) for c in plan.chunks if c.chunk.stream == "control"))
            session.cancel()
            session.step()
            plain = statistics.median(times["plain"]) if times["plain"] else None
            total = sum(times["plain"]) + sum(times["check"])
            overhead = sum(t - plain for t in times["check"]) if plain else None
            rows.append({
                "mode": mode, "steps": len(times["plain"]) + len(times["check"]), "checks": len(times["check"]),
                "question_tokens": len(session.block_ids["question"]), "cue_tokens": len(session.cue_ids),
                "control_rows_per_check": check_rows, "plain_step_ms": plain,
                "check_step_ms": statistics.median(times["check"]) if times["check"] else None,
                "total_ms": total, "overhead_ms": overhead,
                "overhead_share": overhead / total if overhead is not None and total else None,
                "steady_share": (statistics.median(times["check"][1:]) - plain) / (check_every * plain)
                if plain and len(times["check"]) > 1 else None,
                "context": len(session.view("control")),
            })
    return {"question": QUESTION, "check_every": check_every, "rows": rows}


def format_control(section: dict[str, Any]) -> list[str]:
    lines = [(f"Control question overhead: one async session, check every {section['check_every']} thinker tokens "
             "(and at paragraph ends), control answer forced to yes; prefill steps excluded"), ""]
    table = [["question", "steps", "checks", "rows/check", "plain ms", "check ms", "share of run", "steady share"]]
    for r in section["rows"]:
        per_check = r["control_rows_per_check"]
        rows_text = "-" if not per_check else (f"{per_check[0]} first, then {statistics.median(per_check[1:]):.0f}"
                                               if len(per_check) > 1 else str(per_check[0]))
        table.append([r["mode"], str(r["steps"]), str(r["checks"]), rows_text, fmt(r["plain_step_ms"], ".1f"),
                      fmt(r["check_step_ms"], ".1f"), _percent(r["overhead_share"]), _percent(r["steady_share"])])
    lines += render(table)
    r = section["rows"][0]
    lines.append(f"question block {r['question_tokens']} tokens, cue {r['cue_tokens']} tokens (this tokenizer); "
                 f"control view at the end {r['context']} tokens")
    return lines


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"
