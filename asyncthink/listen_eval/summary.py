"""Rows of a listening evaluation aggregated per condition, and printed as a table."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per condition (in order of first appearance): counts, accuracy, times and tokens."""
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_condition.setdefault(row["condition"], []).append(row)
    summary = {}
    for condition, group in by_condition.items():
        final = [r["time_to_final_answer"] for r in group]
        first = [r["time_to_first_writer_token"] for r in group if r["time_to_first_writer_token"] is not None]
        after = [r["time_after_last_shard"] for r in group if r["time_after_last_shard"] is not None]
        summary[condition] = {
            "n": len(group),
            "correct": sum(bool(r["correct"]) for r in group),
            "accuracy": sum(bool(r["correct"]) for r in group) / len(group),
            "complete": sum(bool(r["complete"]) for r in group) / len(group),
            "mean_time_to_final_answer": _mean(final),
            "median_time_to_final_answer": _median(final),
            "mean_time_to_first_writer_token": _mean(first),
            "median_time_to_first_writer_token": _median(first),
            "writer_spoke": len(first),
            "mean_time_after_last_shard": _mean(after),
            "median_time_after_last_shard": _median(after),
            "mean_thinker_tokens": _mean([r["thinker_tokens"] for r in group]),
            "mean_writer_tokens": _mean([r["writer_tokens"] for r in group]),
            "mean_steps": _mean([r["steps"] for r in group]),
            "mean_restarts": _mean([r["restarts"] for r in group]),
            "stop_reasons": dict(Counter(r["stop_reason"] for r in group)),
        }
    return summary


def _f(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def format_summary(summary: dict[str, dict[str, Any]], settings: dict[str, Any] | None = None) -> str:
    """A plain-text table of `summarize()` output; `settings` (model, dtype, ...) go in a header line."""
    lines = []
    if settings:
        lines.append("listen-eval: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    header = ["condition", "n", "accuracy", "complete", "final s (mean)", "final s (median)",
              "first writer s (median)", "after last shard s (median)", "thinker tok", "writer tok", "restarts",
              "stop reasons"]
    table = [header]
    for condition, s in summary.items():
        table.append([
            condition, str(s["n"]), f"{s['accuracy']:.3f} ({s['correct']}/{s['n']})", f"{s['complete']:.2f}",
            _f(s["mean_time_to_final_answer"]), _f(s["median_time_to_final_answer"]),
            _f(s["median_time_to_first_writer_token"]) + ("" if s["writer_spoke"] == s["n"] else
                                                          f" ({s['writer_spoke']}/{s['n']})"),
            _f(s["median_time_after_last_shard"]), _f(s["mean_thinker_tokens"], ".1f"),
            _f(s["mean_writer_tokens"], ".1f"), _f(s["mean_restarts"], ".2f"),
            ", ".join(f"{k} {v}" for k, v in sorted(s["stop_reasons"].items())),
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        lines.append(" | ".join(c.ljust(w) if j in (0, len(header) - 1) else c.rjust(w)
                                for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    lines.append("times: seconds on the task clock (from just before the first session is created); 'complete': "
                 "share of rows whose final answer had every shard; tokens summed over restarts")
    return "\n".join(lines)
