"""Listening evaluation in the style of "Lost in Conversation": a task told in shards.

    python -m asyncthink.listen_eval tasks.jsonl --model Qwen/Qwen3-0.6B --every 64 --budget 4096 --out rows.jsonl

Each task is split into shards: shard 0 is the initial request, later shards add
information or constraints, as a user who keeps talking would. Three conditions run
every task on the same reasoner (same engine, same clock):

    upfront   all shards joined with blank lines as the problem; no listening.
              The reference point: everything is known from the start.
    listen    shard 0 is the problem; each time `every` more thinker tokens have been
              produced, the next shard is heard with `session.listen(shard)` (the
              session's default target and hold), until all are given; the session
              then runs to its end.
    restart   the cancel-and-restart baseline: start with shard 0; each time `every`
              thinker tokens have been produced since the last (re)start and shards
              remain, cancel and start a new session on the shards so far (joined with
              blank lines, re-prefilled from scratch); the last one runs to its end.

Pace: the shard clock counts thinker tokens. Once the thinker has stopped (it closed its
thoughts or hit its token cap) while shards remain, each writer token counts instead, so
the rest of the shards still arrive at the same pace. A session that ends before all
shards reached it (writer end-of-turn, budget) answered early: its row says how many
shards the answer had (`shards_used`, `complete`); in `listen`, shards given but not
yet fed when it ended are listed in `unheard`.

Task file (JSON Lines, UTF-8; blank lines are skipped), one task per line:

    {"id": "apples", "shards": ["How many apples ...?", "She starts with 3.", "She buys 4 more."],
     "answer": "7", "answer_type": "number"}

    id           str, non-empty, unique in the file
    shards       list of non-empty str, at least one; shard 0 is the initial request
    answer       str, the reference final answer (for "number": a number such as
                 "7", "-2.5", "1,200" or "3/4")
    answer_type  optional, "number" (default) or "text"
    other fields are kept in `Task.meta` and otherwise ignored.

Errors name the file, the line number and the field (TaskFileError).

Answer checking needs no judge model: the prediction is the content of the last
`\\boxed{...}` in the final answer (nested braces allowed); without one, a "number"
task takes the last number in the answer text and a "text" task the whole text.
Numbers compare by value ("1,200" == "1200", "5" == "5.0", "0.5" == "1/2"); text
compares after lower-casing and collapsing whitespace.

Per task and condition a row records the final answer, the extracted prediction,
`correct`, times on the task clock (seconds from just before the first session was
created: `time_to_final_answer` until the final session's done event, across restarts
for `restart`; `time_to_first_writer_token` of the final session; `time_after_last_shard`
from the moment the last shard was given, None when the session ended before it was), thinker/writer tokens (over all sessions of
the task; `final_*` for the last one), steps, stop reason, shards given/heard/used and
restarts. `summarize()` aggregates them per condition and `format_summary()` prints a table.

Nothing here downloads anything; with `random:` models the answers are gibberish and
only the mechanics and timings mean something.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answers import (  # noqa: F401
    answers_match,
    check_answer,
    extract_answer,
    extract_boxed,
    normalize_text,
    parse_number,
)
from .errors import AsyncThinkError, SessionError
from .layout import resolve_layout

CONDITIONS = ("upfront", "listen", "restart")
ANSWER_TYPES = ("number", "text")
DEFAULT_EVERY = 64
EXAMPLE_PATH = Path(__file__).parent / "data" / "sharded_example.jsonl"
SHARD_SEPARATOR = "\n\n"
_REQUIRED = {"id": str, "shards": list, "answer": str}


class TaskFileError(AsyncThinkError):
    """The task file could not be read or a line does not describe a valid task."""


@dataclass(frozen=True)
class Task:
    id: str
    shards: tuple[str, ...]
    answer: str
    answer_type: str = "number"
    line: int = 0  # line number in the file it came from (1-based; 0 when built in code)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.shards:
            raise TaskFileError(f"task {self.id!r} has no shards")
        if self.answer_type not in ANSWER_TYPES:
            raise TaskFileError(f"task {self.id!r}: answer_type must be one of {', '.join(ANSWER_TYPES)}")

    @property
    def full_problem(self) -> str:
        return SHARD_SEPARATOR.join(self.shards)


# ---------------------------------------------------------------------------- loading


def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__)


def parse_task(obj: Any, where: str = "task", line: int = 0) -> Task:
    """Validate one decoded JSON value as a task; errors start with `where`."""
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: expected a JSON object, got {_type_name(obj)}")
    for name, kind in _REQUIRED.items():
        if name not in obj:
            raise TaskFileError(f"{where}: missing field {name!r}")
        if not isinstance(obj[name], kind):
            expected = "a list of strings" if kind is list else "a string"
            raise TaskFileError(f"{where}: field {name!r} must be {expected}, got {_type_name(obj[name])}")
    if not obj["id"].strip():
        raise TaskFileError(f"{where}: field 'id' is empty")
    shards = obj["shards"]
    if not shards:
        raise TaskFileError(f"{where}: field 'shards' is empty; give at least the initial request")
    for i, shard in enumerate(shards):
        if not isinstance(shard, str):
            raise TaskFileError(f"{where}: field 'shards' item {i} must be a string, got {_type_name(shard)}")
        if not shard.strip():
            raise TaskFileError(f"{where}: field 'shards' item {i} is empty")
    answer_type = obj.get("answer_type", "number")
    if answer_type not in ANSWER_TYPES:
        raise TaskFileError(f"{where}: field 'answer_type' must be one of {', '.join(ANSWER_TYPES)}, "
                            f"got {answer_type!r}")
    answer = obj["answer"]
    if not answer.strip():
        raise TaskFileError(f"{where}: field 'answer' is empty")
    if answer_type == "number" and parse_number(answer, strict=True) is None:
        raise TaskFileError(f"{where}: field 'answer' must be a number for answer_type 'number', got {answer!r} "
                            "(set \"answer_type\": \"text\" for other answers)")
    meta = {k: v for k, v in obj.items() if k not in ("id", "shards", "answer", "answer_type")}
    return Task(obj["id"], tuple(shards), answer, answer_type, line, meta)


def load_tasks(path: str | Path) -> list[Task]:
    """Read and validate a JSONL task file (format in the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFileError(f"cannot read task file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    tasks: list[Task] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        task = parse_task(obj, where, number)
        if task.id in first_line:
            raise TaskFileError(f"{where}: field 'id': duplicate id {task.id!r} (first on line {first_line[task.id]})")
        first_line[task.id] = number
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{path}: no tasks (expected one JSON object per line)")
    return tasks


# ---------------------------------------------------------------------------- running


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


# ---------------------------------------------------------------------------- summary


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


# ---------------------------------------------------------------------------- CLI


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
    from .reasoner import DEFAULT_MODEL

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
    from .errors import ModelLoadError
    from .random_models import is_random_spec, known_random_models
    from .reasoner import AsyncReasoner, resolve_device, resolve_dtype
    from .sampling import SamplingParams

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
