"""Plain-text tables for the benchmark sections."""

from __future__ import annotations


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(table: list[list[str]]) -> list[str]:
    """Right-aligned columns with a rule under the header row."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = []
    for i, r in enumerate(table):
        lines.append(" | ".join(cell.rjust(w) for cell, w in zip(r, widths)))
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return lines
