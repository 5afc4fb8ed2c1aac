"""The evaluation runner: every (sample, configuration, repeat) decoded on one engine, one result file each.

    samples × configs × repeats ─▶ plan (names) ─▶ this rank's share ─▶ minus files that exist (resume)
        ─▶ Engine: up to `batch` sessions per forward pass; configs of one sample side by side,
           so async, think and no_think share the engine and the clock
        ─▶ each finished session: score (checking.py / judge.py) + delay metrics (realtime.py)
        ─▶ results.py: OUT/<dataset>/<config>/<id>.json, atomically

Configurations: "async-<layout>" for each layout asked, "think", "no_think". Sampling:
greedy unless asked (AIME 2025 defaults to the sampled decoding of its spec); repeat k
of a sample uses seed + k, so every result is reproducible and a resumed run makes the
same ones. Heard input is not part of these benchmarks (listen_capacity 0).

Timing: each session's clock starts at its first forward pass. With batch > 1 a step
carries every live session's rows, so wall-clock delays include the shared load (the
same for every configuration in the batch); `--batch 1` measures one session alone,
and `step_time` adds delay figures on a simulated clock (steps × seconds) that does not
depend on the machine or the batch.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import ArenaFull, SessionError
from ..layout import DEFAULT_LAYOUT
from ..sampling import SamplingParams
from .checking import check_choice, check_math
from .datasets import DatasetSpec, Sample
from .judge import Judge, judge_answer
from .realtime import delay_metrics
from .results import (
    PLAN,
    ResultsError,
    check_plan,
    done_names,
    result_name,
    write_json_atomic,
)
from .tts import MemoTTS

MODES = ("async", "think", "no_think")


@dataclass(frozen=True)
class Config:
    mode: str
    layout: str | None = None  # async only

    @property
    def label(self) -> str:
        return f"async-{self.layout or DEFAULT_LAYOUT}" if self.mode == "async" else self.mode


def make_configs(modes: list[str], layouts: list[str]) -> list[Config]:
    """Each mode once; async once per layout."""
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise SessionError(f"unknown mode {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}")
    configs = []
    for mode in dict.fromkeys(modes):
        configs += [Config(mode, layout) for layout in dict.fromkeys(layouts)] if mode == "async" else [Config(mode)]
    return configs


@dataclass(frozen=True)
class RunSettings:
    """Everything that decides a result (recorded in every file and in the plan; a resume with any
    of it different is refused). Device, dtype and decode are the resolved ones ("auto" on a GPU
    machine and on a CPU one are different runs); the device is its type only, so the ranks of a
    data-parallel run (cuda:0, cuda:1, ...) share one plan. The judge is recorded for HarmBench,
    where it decides the verdicts, and is None elsewhere."""

    model: str
    source: str  # data file or Hub name
    layers: int | None = None  # random: models only
    device: str = "cpu"  # device type: cpu, cuda, mps, ...
    dtype: str = "float32"
    decode: str = "eager"  # runner.py
    budget: int = 4096
    max_thinker_tokens: int | None = None
    max_writer_tokens: int | None = None
    check_every: int = 20
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int = 0
    repeats: int = 1
    data_seed: int = 0
    tts: str = "rate"  # the engine actually used (tts.py)
    tts_parallel: bool = True
    chunk_size: int = 5
    step_time: float | None = None
    batch: int = 8
    # safety controls of async sessions (session.py): writer hold, safety question, entropy pause
    hold_writer_steps: int = 0
    safety_check_every: int = 0
    entropy_pause: float | None = None
    judge: dict[str, Any] | None = None  # judge.Judge.settings(): URL, model, reply budget, thinking

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkItem:
    sample: Sample
    config: Config
    repeat: int
    name: str  # result file, relative to OUT/<dataset>
    group: int  # sample index * repeats + repeat: the unit a rank takes


def plan_items(samples: list[Sample], configs: list[Config], repeats: int) -> list[WorkItem]:
    items = [WorkItem(s, c, r, result_name(c.label, s.id, r, repeats), i * repeats + r)
             for i, s in enumerate(samples) for r in range(repeats) for c in configs]
    names: dict[str, str] = {}
    for item in items:
        other = names.setdefault(item.name, item.sample.id)
        if other != item.sample.id:
            raise ResultsError(f"sample ids {other!r} and {item.sample.id!r} map to the same result file {item.name}")
    return items


def shard(items: list[WorkItem], rank: int, world: int) -> list[WorkItem]:
    """Rank `rank` of `world` takes every world-th (sample, repeat), with all of its configurations."""
    return [item for item in items if item.group % world == rank]


def score(sample: Sample, answer: str, judge: Judge | None) -> dict[str, Any]:
    if sample.kind == "math":
        prediction, correct = check_math(answer, sample.reference)
        return {"prediction": prediction, "correct": correct}
    if sample.kind == "choice":
        prediction, correct = check_choice(answer, sample.reference, sample.letters)
        return {"prediction": prediction, "correct": correct}
    verdict = judge_answer(sample.reference, answer, judge)
    return {"prediction": verdict.verdict, "correct": verdict.safe, "verdict": verdict.to_dict()}


def compact_events(events) -> list[list[Any]]:
    """[stream, kind, text, step, time] per event: the timeline the delay metrics need, and no more."""
    return [[e.stream, e.kind, e.text, e.step, round(e.time, 6)] for e in events]


@dataclass
class EvalRun:
    reasoner: Any
    spec: DatasetSpec
    settings: RunSettings
    out: Path  # OUT/<dataset>
    tts: Any
    judge: Judge | None = None
    capacity: int | None = None  # engine KV slots; default: room for `batch` of the longest sessions
    on_record: Callable[[dict[str, Any]], None] = field(default=lambda record: None)
    _plan: dict[str, Any] | None = field(default=None, init=False, repr=False)  # checked, not yet written

    def prepare(self, planned: list[WorkItem], mine: list[WorkItem]) -> list[WorkItem]:
        """Check the folder's plan against every rank's items (a merge tells from it what is
        missing); the ones of `mine` not done yet. The plan is written by record_plan()."""
        self._plan = check_plan(self.out, {"dataset": self.spec.name, "settings": self.settings.to_dict(),
                                           "items": [i.name for i in planned]})
        done = done_names(self.out, [i.name for i in mine])
        return [i for i in mine if i.name not in done]

    def record_plan(self) -> None:
        """Write the plan prepare() checked; called once the model works, so a command that fails
        before (a typo in --model) leaves the folder free for the corrected one."""
        if self._plan is not None:
            write_json_atomic(self.out / PLAN, self._plan)
            self._plan = None

    def start_kwargs(self, item: WorkItem) -> dict[str, Any]:
        s = self.settings
        safety = {"hold_writer_steps": s.hold_writer_steps, "safety_check_every": s.safety_check_every,
                  "entropy_pause": s.entropy_pause} if item.config.mode == "async" else {}
        return {"mode": item.config.mode, "layout": item.config.layout, "budget": s.budget,
                "max_thinker_tokens": s.max_thinker_tokens, "max_writer_tokens": s.max_writer_tokens,
                "check_every": s.check_every, "listen_capacity": 0, **safety,
                "sampling": SamplingParams(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                                           seed=s.seed + item.repeat)}

    def _capacity(self, todo: list[WorkItem]) -> int:
        if self.capacity is not None:
            return self.capacity
        s, tok = self.settings, self.reasoner.tokenizer
        prompt = max(len(tok.encode(i.sample.prompt_for(tok), add_special_tokens=False)) for i in todo)
        # the prompt sits in two blocks (thinker's and writer's turn), plus both streams' caps and
        # the markers and control question (a few hundred tokens with the toy byte tokenizer)
        per_session = 2 * prompt + (s.max_thinker_tokens or s.budget) + (s.max_writer_tokens or s.budget) + 1024
        return per_session * min(s.batch, len(todo))

    def run(self, todo: list[WorkItem]) -> int:
        """Decode and write every item of `todo`; returns how many were written."""
        if not todo:
            return 0
        engine = Engine(self.reasoner, self._capacity(todo))
        pending, live = deque(todo), {}
        # scoring, TTS and the judge run beside the decode loop, so the sessions still
        # decoding do not see their clocks run while a finished one is written
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="asyncthink-eval-write") as writer:
            writes = []
            try:
                self._decode(engine, pending, live, writer, writes)
            finally:
                for future in writes:
                    future.result()  # re-raises a failed write (e.g. the judge) here
        return len(writes)

    def _decode(self, engine, pending, live, writer, writes) -> None:
        while pending or live:
            while pending and len(live) < self.settings.batch:
                item = pending[0]
                try:
                    session = engine.submit(item.sample.prompt_for(self.reasoner.tokenizer), **self.start_kwargs(item))
                except ArenaFull:
                    if not live:
                        raise  # nothing will free room: the session cannot fit at all
                    break  # the arena is full: wait for a live session to finish
                except SessionError as exc:  # this sample cannot run at all (e.g. longer than the context)
                    raise SessionError(f"sample {item.sample.id!r} ({item.config.label}): {exc}") from exc
                pending.popleft()
                live[session.name] = (item, session)
            engine.step()
            for name in [n for n, (_, s) in live.items() if s.done]:
                writes.append(writer.submit(self._write, *live.pop(name)))
            if any(f.done() and f.exception() for f in writes):
                return  # stop decoding: run() re-raises the failure

    def _write(self, item: WorkItem, session) -> None:
        result = session.result()
        s = self.settings
        tts = MemoTTS(self.tts)
        wall, _ = delay_metrics(result.events, tts, s.tts_parallel, s.chunk_size)
        record = {
            "dataset": self.spec.name, "sample_id": item.sample.id, "config": item.config.label,
            "mode": item.config.mode, "layout": item.config.layout, "repeat": item.repeat,
            "kind": item.sample.kind, "settings": s.to_dict(),
            "sampling": {"temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k, "seed": s.seed + item.repeat},
            "prompt": item.sample.prompt_for(self.reasoner.tokenizer) if self.spec.store_prompt else None,
            "reference": item.sample.reference,
            "answer": result.answer, "thoughts": result.thoughts,
            **score(item.sample, result.answer, self.judge),
            "stop_reason": result.stop_reason, "session": result.metrics.to_dict(),
            "delay": wall.to_dict(),
            "delay_steps": (delay_metrics(result.events, tts, s.tts_parallel, s.chunk_size, s.step_time)[0]
                            .to_dict() if s.step_time else None),
            "events": compact_events(result.events),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(self.out / item.name, record)
        self.on_record(record)
