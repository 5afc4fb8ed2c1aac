"""The table and plots of an evaluation: per dataset and configuration, accuracy and delay.

    result records (results.py) ─▶ summarize(): groups by (dataset, config)
        ─▶ format_table(): accuracy with a Wilson 95 % interval, time to first writer token,
                           answers spoken, first-audio delay, total stall, total delay, steps
                           (mean / median; the audio figures over the same spoken answers)
        ─▶ plot(): <dir>/<dataset>-accuracy-vs-delay.png   (one point per config, interval bars)
                   <dir>/<dataset>-first-audio-delay.png   (distribution per config)

HarmBench's "accuracy" is the share judged safe (1 - attack success rate); answers the
judge never saw (no judge configured) are left out of it and counted as "unjudged".
Delays come from the wall clock, or with clock="steps" from the simulated step clock
of runs made with --step-time.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

Z95 = 1.959964


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (0, 1 for n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def _stats(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    return {"mean": statistics.fmean(present) if present else None,
            "median": statistics.median(present) if present else None, "n": len(present)}


def summarize(records: list[dict[str, Any]], clock: str = "wall") -> list[dict[str, Any]]:
    """One row per (dataset, config), in order of first appearance."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["config"]), []).append(record)
    rows = []
    for (dataset, config), group in groups.items():
        scored = [r for r in group if r["correct"] is not None]
        correct = sum(bool(r["correct"]) for r in scored)
        low, high = wilson(correct, len(scored))
        delays = [(r["delay_steps"] if clock == "steps" else r["delay"]) or {} for r in group]
        # the listener's figures over the answers that were heard: an answer with no audio has no
        # stall (0 in its file) that could be averaged in beside the spoken ones
        spoken = [d for d in delays if d.get("first_audio_delay") is not None]
        rows.append({
            "dataset": dataset, "config": config, "n": len(group), "scored": len(scored), "correct": correct,
            "accuracy": correct / len(scored) if scored else None, "ci_low": low, "ci_high": high,
            "ttft_writer": _stats([d.get("time_to_first_writer_token") for d in delays]),
            "spoken": len(spoken),
            "first_audio": _stats([d["first_audio_delay"] for d in spoken]),
            "total_stall": _stats([d["total_stall"] for d in spoken]),
            "stall_over_1s": _stats([d["stall_over_1s"] for d in spoken]),
            "total_delay": _stats([d["total_delay"] for d in spoken]),
            "first_audio_values": [d["first_audio_delay"] for d in spoken],
            "steps": _stats([r["session"]["steps"] for r in group]),
            "steps_to_first": _stats([d.get("steps_to_first_writer_token") for d in delays]),
            "idle_steps": _stats([d.get("writer_idle_steps") for d in delays]),
            "stop_reasons": dict(Counter(r["stop_reason"] for r in group)),
            "tts": sorted({d.get("tts", "?") for d in delays if d}),
        })
    return rows


def _f(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def _pair(stats: dict[str, float | None], spec: str = ".2f") -> str:
    return f"{_f(stats['mean'], spec)} / {_f(stats['median'], spec)}"


HEADER = ["dataset", "config", "n", "accuracy [95% CI]", "ttft writer s", "spoken", "first audio s", "total stall s",
          "stall>1s s", "total delay s", "steps", "steps to 1st", "idle steps"]


def format_table(rows: list[dict[str, Any]], clock: str = "wall") -> str:
    table = [HEADER]
    for r in rows:
        accuracy = (f"{r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] ({r['correct']}/{r['scored']})"
                    if r["accuracy"] is not None else "-")
        if r["scored"] < r["n"]:
            accuracy += f", {r['n'] - r['scored']} unjudged"
        table.append([r["dataset"], r["config"], str(r["n"]), accuracy, _pair(r["ttft_writer"]), str(r["spoken"]),
                      _pair(r["first_audio"]), _pair(r["total_stall"]), _pair(r["stall_over_1s"]),
                      _pair(r["total_delay"]), _pair(r["steps"], ".0f"), _pair(r["steps_to_first"], ".0f"),
                      _pair(r["idle_steps"], ".0f")])
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = []
    for i, row in enumerate(table):
        lines.append(" | ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    tts = sorted({t for r in rows for t in r["tts"]})
    lines.append(f"values: mean / median over samples ({clock} clock; speech: {', '.join(tts) or '-'}); delays "
                 "(first audio, stalls, total) are over the `spoken` answers, those with audio; harmbench accuracy = share "
                 "judged safe")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], directory: Path) -> list[Path]:
    """Two PNGs per dataset (see the module docstring); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == dataset]

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in group:
            delay = r["total_delay"]["mean"]
            if r["accuracy"] is None or delay is None:
                continue
            below, above = max(0.0, r["accuracy"] - r["ci_low"]), max(0.0, r["ci_high"] - r["accuracy"])  # rounding
            ax.errorbar([delay], [r["accuracy"]], yerr=[[below], [above]],
                        fmt="o", capsize=4, label=f"{r['config']} (n={r['scored']})")
        ax.set_xlabel("mean total delay, s (silence before the first audio + stalls)")
        ax.set_ylabel("accuracy (Wilson 95% interval)")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{dataset}: accuracy vs total real-time delay")
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "no answer was spoken", ha="center", va="center", transform=ax.transAxes)
        written.append(_save(fig, directory / f"{dataset}-accuracy-vs-delay.png"))

        fig, ax = plt.subplots(figsize=(7, 4.5))
        spoken = [r for r in group if r["first_audio_values"]]
        if spoken:
            ax.boxplot([r["first_audio_values"] for r in spoken], showmeans=True)
            ax.set_xticks(range(1, len(spoken) + 1), [f"{r['config']}\n(n={len(r['first_audio_values'])})"
                                                      for r in spoken])
            for i, r in enumerate(spoken, 1):
                ax.scatter([i] * len(r["first_audio_values"]), r["first_audio_values"], s=10, alpha=0.5)
        else:
            ax.text(0.5, 0.5, "no answer was spoken", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylabel("delay before the first audio, s")
        ax.set_title(f"{dataset}: first-audio delay per configuration")
        ax.grid(alpha=0.3, axis="y")
        written.append(_save(fig, directory / f"{dataset}-first-audio-delay.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
