"""The three conditions run on one task: upfront, listen (shards heard), restart (cancel and re-prefill)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import SessionError
from ..evaluation.checking import check_answer
from ..layout import resolve_layout
from .tasks import CONDITIONS, DEFAULT_EVERY, SHARD_SEPARATOR, Task


def _pace(events) -> int:
    """Shard-clock ticks in one step's events: thinker tokens, else writer tokens (thinker stopped)."""
    thinker = sum(1 for e in events if e.kind == "token" and e.stream == "thinker")
    if thinker:
        return thinker
    return sum(1 for e in events if e.kind == "token" and e.stream == "writer")


def _listen_room(reasoner, task: Task, session_kwargs: dict) -> int:
    """Listening room (tokens per target) that fits every later shard of the task."""
    layout = resolve_layout(session_kwargs.get("mode", "async"), session_kwargs.get("layout"))
    encode = lambda s: len(reasoner.tokenizer.encode(s, add_special_tokens=False))
    later = task.shards[1:]
    need = max(sum(encode(layout.heard_template.format(text=s)) for s in later),
               sum(encode(layout.input_template.format(text=s)) for s in later), 0)
    return need + 8


class _Run:
    """One task under one condition: the task clock, sessions, tokens and shard bookkeeping."""

    def __init__(self, reasoner, task: Task, condition: str, every: int, session_kwargs: dict):
        self.reasoner, self.task, self.condition, self.every = reasoner, task, condition, every
        self.kwargs = dict(session_kwargs)
        self.mode = self.kwargs.pop("mode", "async")
        self.layout = self.kwargs.pop("layout", None)
        self.t0 = time.perf_counter()
        self.sessions = 0
        self.totals = Counter()
        self.last_shard_at = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def start(self, problem: str):
        session = self.reasoner.start(problem, self.mode, self.layout, **self.kwargs)
        self.sessions += 1
        return session

    def account(self, session) -> None:
        m = session.metrics()
        self.totals.update(thinker=m.thinker_tokens, writer=m.writer_tokens, steps=m.steps)

    def row(self, session, offset: float, done_at: float, **fields) -> dict[str, Any]:
        result = session.result()  # already done: collects answer and metrics
        m = result.metrics
        prediction, correct = check_answer(result.answer, self.task.answer, self.task.answer_type)
        first = m.time_to_first_writer_token
        row = {
            "id": self.task.id,
            "condition": self.condition,
            "shards": len(self.task.shards),
            "answer": result.answer,
            "prediction": prediction,
            "reference": self.task.answer,
            "answer_type": self.task.answer_type,
            "correct": correct,
            "time_to_final_answer": done_at,
            "time_to_first_writer_token": None if first is None else offset + first,
            "final_session_time_to_first_writer_token": first,
            "final_session_time": m.total_time,
            "time_after_last_shard": None,
            "thinker_tokens": self.totals["thinker"],
            "writer_tokens": self.totals["writer"],
            "steps": self.totals["steps"],
            "final_thinker_tokens": m.thinker_tokens,
            "final_writer_tokens": m.writer_tokens,
            "final_steps": m.steps,
            "stop_reason": m.stop_reason,
            "sessions": self.sessions,
            "restarts": self.sessions - 1,
        }
        row.update(fields)
        row.setdefault("restarted_at", [])
        row["complete"] = row["shards_used"] == len(self.task.shards)
        if row["shards_given"] == len(self.task.shards):  # the user said everything
            row["time_after_last_shard"] = done_at - self.last_shard_at
        return row


def _drive_to_end(run: _Run, session) -> float:
    """Step until done; the task-clock time of the done event."""
    while not session.done:
        session.step()
    return run.now()


def run_upfront(reasoner, task: Task, every: int = DEFAULT_EVERY, **session_kwargs) -> dict[str, Any]:
    run = _Run(reasoner, task, "upfront", every, session_kwargs)
    session = run.start(task.full_problem)
    offset = run.now()
    done_at = _drive_to_end(run, session)
    run.account(session)
    n = len(task.shards)
    return run.row(session, offset, done_at, shards_given=n, shards_heard=0, shards_used=n, unheard=[],
                   heard_at=[])


def run_listen(reasoner, task: Task, every: int = DEFAULT_EVERY, **session_kwargs) -> dict[str, Any]:
    session_kwargs.setdefault("listen_capacity", max(256, _listen_room(reasoner, task, session_kwargs)))
    run = _Run(reasoner, task, "listen", every, session_kwargs)
    session = run.start(task.shards[0])
    offset = run.now()
    given, ticks, heard_at, done_at = 1, 0, [], None
    n = len(task.shards)
    while not session.done:
        events = session.step()
        heard_at += [offset + e.time for e in events if e.kind == "heard"]
        if session.done:
            done_at = run.now()
            break
        ticks += _pace(events)
        if given < n and ticks >= every * given:
            run.last_shard_at = run.now()
            session.listen(task.shards[given])
            given += 1
    run.account(session)
    done = next(e for e in reversed(session.events) if e.kind == "done")
    heard = sum(1 for e in session.events if e.kind == "heard")
    return run.row(session, offset, done_at, shards_given=given, shards_heard=heard, shards_used=1 + heard,
                   unheard=list(done.data.get("unheard", [])), heard_at=heard_at)


def run_restart(reasoner, task: Task, every: int = DEFAULT_EVERY, **session_kwargs) -> dict[str, Any]:
    run = _Run(reasoner, task, "restart", every, session_kwargs)
    n, used, restarted_at = len(task.shards), 1, []
    while True:
        session = run.start(SHARD_SEPARATOR.join(task.shards[:used]))
        offset, ticks = run.now(), 0
        while not session.done:
            events = session.step()
            if session.done:
                break
            ticks += _pace(events)
            if used < n and ticks >= every:
                run.last_shard_at = run.now()
                restarted_at.append(run.last_shard_at)
                session.cancel()
                session.step()  # emits the done event ("cancelled") and frees the cache
                break
        done_at = run.now()
        run.account(session)
        if session.stop_reason != "cancelled":
            break
        used += 1
    return run.row(session, offset, done_at, shards_given=used, shards_heard=0, shards_used=used, unheard=[],
                   heard_at=[], restarted_at=restarted_at)


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "upfront": run_upfront, "listen": run_listen, "restart": run_restart}


def warm_up(reasoner, steps: int = 4, **session_kwargs) -> None:
    """A few untimed steps so one-off costs (kernel loading, allocator) do not land in the first task."""
    kwargs = {k: v for k, v in session_kwargs.items() if k not in ("budget", "max_thinker_tokens", "max_writer_tokens")}
    session = reasoner.start("What is 1 + 1?", budget=steps, **kwargs)
    session.result()


def run_listen_eval(
    reasoner,
    tasks: Iterable[Task],
    conditions: Sequence[str] = CONDITIONS,
    every: int = DEFAULT_EVERY,
    *,
    warmup: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    **session_kwargs,
) -> list[dict[str, Any]]:
    """Run every task under every condition (task by task, conditions in the given order).

    `session_kwargs` go to `reasoner.start` for every session (budget, check_every,
    sampling, layout, listen_to, listen_hold, on_input, ...); `listen_capacity`
    defaults to what the task's shards need. `on_row` is called with each row as soon
    as it is done. Returns the rows (see the module docstring).
    """
    conditions = tuple(conditions)
    unknown = [c for c in conditions if c not in RUNNERS]
    if unknown or not conditions:
        raise SessionError(f"unknown conditions {unknown}; choose from {', '.join(CONDITIONS)}")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise SessionError(f"every must be a positive integer, got {every!r}")
    tasks = list(tasks)
    if warmup and tasks:
        warm_up(reasoner, **session_kwargs)
    rows = []
    for task in tasks:
        for condition in conditions:
            row = RUNNERS[condition](reasoner, task, every, **session_kwargs)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
