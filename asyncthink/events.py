"""Typed, time-stamped events: the only thing consumers (CLI, server, metrics) see.

    stream  kind       text                      data
    ------  ---------  ------------------------  -----------------------------------------
    thinker token      the token's text          token_id
    writer  token      the token's text          token_id
    control decision   "yes" | "no"              p_yes, p_no (+ held_until_step when a "yes" is
                                                 overruled by hold_writer_steps)
    control decision   "safe" | "unsafe"         p_yes, p_no, question="safety" (safety checks)
    control state      new state name            previous state, reason
    control done       stop reason               metrics
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATES = ("thinker_only", "thinker_and_writer", "writer_only", "done")
STOP_REASONS = ("writer_eos", "budget", "max_tokens", "writer_budget", "cancelled", "unsafe")


@dataclass(frozen=True)
class Event:
    stream: str  # "thinker" | "writer" | "control" | "input"
    kind: str  # "token" | "decision" | "state" | "done" | "heard"
    text: str
    step: int  # forward pass (0-based) that produced it
    time: float  # seconds since the session started
    token_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    stop_reason: str
    total_time: float
    steps: int
    thinker_tokens: int
    writer_tokens: int
    control_checks: int
    safety_checks: int
    time_to_first_writer_token: float | None  # None when the writer never spoke
    steps_to_first_writer_token: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Result:
    answer: str
    thoughts: str
    events: list[Event]
    metrics: Metrics

    @property
    def stop_reason(self) -> str:
        return self.metrics.stop_reason
