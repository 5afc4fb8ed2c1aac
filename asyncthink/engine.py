"""Engine: many sessions decoded together, one forward pass per step (continuous batching).

    submit() ──▶ session allocates its blocks in the shared arena (or is refused: full)
    step():  every live session prepare()s its chunks ─▶ one packed forward over all of them
             ─▶ each session pick()s on the device ─▶ one host sync for everybody
             ─▶ each session consume()s its values ─▶ finished sessions free their blocks

Sessions join and leave between steps; a finished session's slots are reused by the next
one that asks. Per-session layouts, budgets, sampling and listening all stay per session:
the engine only packs rows. The bookkeeping here is plain Python.

A submit the arena cannot take *now* raises `ArenaFull` (a SessionError), so a caller such
as the server can wait for room; one that could never fit, even in an empty arena, raises
a plain SessionError. Step listeners (`add_step_listener`) are called after every step, from
the stepping thread, so an asyncio server can wake its streams without a thread per client.

    one arena, shared:  [ s1/prompt | s1/thoughts ... | s2/prompt | s2/thoughts ... | free ... ]
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

import torch

from .core.runner import Runner
from .errors import ArenaFull, SessionError
from .events import Event
from .session import Session

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, reasoner, capacity: int = 65536, naive_attention: bool = False,
                 prefill_chunk: int | None = None):
        """`capacity`: KV slots shared by all sessions (each reserves its prompt + budgets).
        `prefill_chunk`: prompt tokens per pass for all starting sessions together, oldest first
        (chunked prefill), so newcomers' long prompts cost the running sessions several short
        stalls, not one long one."""
        if not isinstance(capacity, int) or capacity < 1:
            raise SessionError(f"capacity must be a positive number of KV slots, got {capacity!r}")
        if prefill_chunk is not None and (not isinstance(prefill_chunk, int) or prefill_chunk < 1):
            raise SessionError(f"prefill_chunk must be a positive number of prompt tokens (or None), got {prefill_chunk!r}")
        self.reasoner = reasoner
        self.prefill_chunk = prefill_chunk
        self.runner = Runner(reasoner.model, capacity=capacity, naive_attention=naive_attention,
                             decode=reasoner.decode)
        self.sessions: dict[str, Session] = {}
        self.batch_sizes: Counter[int] = Counter()  # sessions per forward pass -> how many passes
        self._lock = threading.Lock()
        self._next_id = 0
        self._work = threading.Condition()  # wakes the background loop when a session arrives
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_listeners: list[Callable[[], None]] = []
        self.failure: BaseException | None = None  # set if a background step raised (a bug): nothing steps after it

    def submit(self, problem: str, **start_kwargs) -> Session:
        """Start a session inside the engine (same options as AsyncReasoner.start).

        Raises ArenaFull when the arena has no room for its blocks right now, and a plain
        SessionError when it never would (the session needs more than the whole arena)."""
        with self._lock:
            name = f"s{self._next_id}"
            self._next_id += 1
            try:
                session = self.reasoner.start(problem, runner=self.runner, name=name, **start_kwargs)
            except ArenaFull as exc:
                if self.runner.table.free_slots < self.runner.table.capacity:
                    raise
                raise SessionError(f"the session can never fit in the engine's KV arena of {self.runner.table.capacity} "
                                   f"slots ({exc}); lower its token budgets") from None
            self.sessions[name] = session
        with self._work:
            self._work.notify()
        return session

    @property
    def active(self) -> int:
        return len(self.sessions)

    @property
    def allocated_slots(self) -> int:
        """KV slots reserved by live sessions (0 when idle: a finished session frees its blocks at once)."""
        with self._lock:
            return self.runner.table.capacity - self.runner.table.free_slots

    @staticmethod
    def new_events(session: Session, seen: int) -> list[Event]:
        """The session's events after the first `seen`, without waiting (any thread)."""
        return session._events[seen:]

    def add_step_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every step, from the stepping thread; it must return quickly."""
        self._step_listeners.append(listener)

    def step(self) -> dict[str, list[Event]]:
        """One forward pass for every live session; returns each session's new events."""
        with self._lock:
            marks = {name: len(s._events) for name, s in self.sessions.items()}
            prepared = []
            room = self.prefill_chunk  # prompt rows this pass, for all starting sessions, oldest first
            for session in self.sessions.values():
                ready = session.prepare(prefill_room=room)
                if room is not None:
                    room -= session.prompt_rows
                if ready is not None:
                    prepared.append((session, *ready))
            chunks = [c for _, _, session_chunks in prepared for c in session_chunks]
            if chunks:  # (none only when every live session waits for prefill room: never the oldest)
                logits = self.runner.run(chunks)
                picks, row = [], 0
                for session, active, _ in prepared:
                    picks.append(session.pick(active, logits[row : row + len(active)]))
                    row += len(active)
                # the step's one host sync, for every session at once
                flat_picks = [p for session_picks in picks for p in session_picks]
                flat = torch.cat(flat_picks).tolist() if flat_picks else []  # [] : a pass that only prefilled
                at = 0
                for (session, active, _), session_picks in zip(prepared, picks):
                    n = sum(p.numel() for p in session_picks)
                    session.consume(active, flat[at : at + n])
                    at += n
                self.batch_sizes[len(prepared)] += 1
            events = {name: s._events[marks[name]:] for name, s in self.sessions.items()}
            for name in [n for n, s in self.sessions.items() if s.done]:
                del self.sessions[name]  # its blocks were freed when it finished
        for listener in self._step_listeners:
            listener()
        return events

    def run(self) -> None:
        """Step until every submitted session is done."""
        while self.sessions:
            self.step()

    # ---- background mode: a thread steps while sessions exist; callers iterate their sessions

    def start(self) -> None:
        """Step in a background thread; `for event in session` then waits for the engine's events."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="asyncthink-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cancel every live session, let the loop free them, and end the thread."""
        for session in list(self.sessions.values()):
            session.cancel()
        self._stop.set()
        with self._work:
            self._work.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._work:
                self._work.wait_for(lambda: self.sessions or self._stop.is_set())
            if self.sessions:
                try:
                    self.step()
                except Exception as exc:  # a bug: record it for the callers to report, and stop stepping
                    log.exception("engine step failed; the engine stops")
                    self.failure = exc
                    for listener in self._step_listeners:
                        listener()
                    return
            elif self._stop.is_set():
                return
