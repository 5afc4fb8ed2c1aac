"""Engine: many sessions decoded together, one forward pass per step (continuous batching).

    submit() ──▶ admitted when the shared pool has pages for its texts (else refused: full)
    step():  preempted sessions resume if they fit (preemption.py)
             ─▶ every running session prepare()s its chunks ─▶ their pages fit the pool (the newest
                sessions are preempted when they do not) ─▶ one packed forward over all of them
             ─▶ each session pick()s on the device ─▶ one host sync for everybody
             ─▶ each session consume()s its values ─▶ finished sessions free their pages

One session's failure is its own: an exception in its work ends it with stop reason "error"
(its rows of a failed packed pass are found by retrying the sessions alone); the engine stops
(`failure`, failure listeners) only when the fault concerns everybody.

Sessions join and leave between steps; a finished session's pages are reused by the next
one that asks. Per-session layouts, budgets, sampling and listening all stay per session:
the engine only packs rows. The bookkeeping here is plain Python.

A submit the pool cannot take *now* raises `ArenaFull` (a SessionError), so a caller such
as the server can wait for room; one that could never fit, even alone in an empty pool, raises
`ArenaTooSmall` (a plain SessionError). Step listeners (`add_step_listener`) are called after
every step, from the stepping thread, so an asyncio server can wake its streams without a
thread per client.

    one pool of pages, shared:  [ s1/prompt | s1/prompt | s2/prompt | s1/thoughts | s2/thoughts | free ...]
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

import torch

from .core.blocks import DEFAULT_PAGE_SIZE
from .core.runner import Runner
from .errors import ArenaFull, SessionError  # noqa: F401  (ArenaFull: imported from here by callers)
from .events import Event
from .preemption import Preemptions
from .session import Session

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, reasoner, capacity: int = 65536, naive_attention: bool = False,
                 prefill_chunk: int | None = None, page_size: int = DEFAULT_PAGE_SIZE,
                 admit_margin: int | None = None):
        """`capacity`: KV slots shared by all sessions, in pages of `page_size` slots that sessions take as
        they write. A session is admitted when the pool has pages for its texts beyond `admit_margin`
        pages (default 1 % of the pool), which running sessions keep to grow into; when the pool runs out,
        the newest sessions are preempted (preemption.py).
        `prefill_chunk`: prompt tokens per pass for all starting sessions together, oldest first
        (chunked prefill), so newcomers' long prompts cost the running sessions several short
        stalls, not one long one."""
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise SessionError(f"capacity must be a positive number of KV slots, got {capacity!r}")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= capacity:
            raise SessionError(f"page_size must be a positive number of KV slots, at most the capacity, "
                               f"got {page_size!r}")
        if prefill_chunk is not None and (not isinstance(prefill_chunk, int) or prefill_chunk < 1):
            raise SessionError(f"prefill_chunk must be a positive number of prompt tokens (or None), got {prefill_chunk!r}")
        self.reasoner = reasoner
        self.prefill_chunk = prefill_chunk
        self.runner = Runner(reasoner.model, capacity=capacity, naive_attention=naive_attention,
                             decode=reasoner.decode, page_size=page_size)
        table = self.runner.table
        table.admit_margin = max(1, table.pages // 100) if admit_margin is None else admit_margin
        self.preemption = Preemptions(self.runner)
        self.sessions: dict[str, Session] = {}  # live sessions, oldest first (preempted ones included)
        self.batch_sizes: Counter[int] = Counter()  # sessions per forward pass -> how many passes
        self._lock = threading.Lock()
        self._next_id = 0
        self._work = threading.Condition()  # wakes the background loop when a session arrives
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_listeners: list[Callable[[], None]] = []
        self._failure_listeners: list[Callable[[], None]] = []
        self.failure: BaseException | None = None  # set if the engine itself cannot go on: nothing steps after it

    def submit(self, problem: str, **start_kwargs) -> Session:
        """Start a session inside the engine (same options as AsyncReasoner.start).

        Raises ArenaFull when the pool has no pages for its texts right now (beyond the margin and the
        pages promised to preempted sessions), and ArenaTooSmall (a plain SessionError) when it never
        would (even alone the session could outgrow the whole pool)."""
        with self._lock:
            name = f"s{self._next_id}"
            self._next_id += 1
            session = self.reasoner.start(problem, runner=self.runner, name=name, **start_kwargs)
            self.sessions[name] = session
        with self._work:
            self._work.notify()
        return session

    @property
    def active(self) -> int:
        return len(self.sessions)

    @property
    def allocated_slots(self) -> int:
        """KV slots in pages held by live sessions (0 when idle: a finished session frees its pages at once)."""
        with self._lock:
            return self.runner.table.capacity - self.runner.table.free_slots

    def pool(self) -> dict[str, int]:
        """The KV pool now: page size, pages in all, used and free; sessions preempted now and so far."""
        with self._lock:
            table = self.runner.table
            return {"page_size": table.page_size, "pages": table.pages, "used": table.used_pages,
                    "free": table.free_pages, "preempted": len(self.preemption.swapped),
                    "preemptions": self.preemption.count}

    @staticmethod
    def new_events(session: Session, seen: int) -> list[Event]:
        """The session's events after the first `seen`, without waiting (any thread)."""
        return session._events[seen:]

    def add_step_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every step, from the stepping thread; it must return quickly."""
        self._step_listeners.append(listener)

    def add_failure_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` once, from the stepping thread, if the engine itself fails (`failure`)."""
        self._failure_listeners.append(listener)

    def step(self) -> dict[str, list[Event]]:
        """One forward pass for every live session; returns each session's new events.

        A session whose own work raises (preparing, its rows of the pass, picking, consuming)
        ends with stop reason "error" and the others go on (`_fail`); only what concerns every
        session at once (the host sync, a broken device) raises from here."""
        with self._lock:
            marks = {name: len(s._events) for name, s in self.sessions.items()}
            resumed = self.preemption.resume(self.sessions)
            prepared = []
            room = self.prefill_chunk  # prompt rows this pass, for all starting sessions, oldest first
            for session in list(self.sessions.values()):  # oldest first
                if self.preemption.holds(session) or session.done:
                    continue
                try:
                    ready = resumed[session.name] if session.name in resumed else session.prepare(prefill_room=room)
                except Exception as exc:
                    self._fail(session, exc, "while preparing its step")
                    continue
                if room is not None:
                    room -= session.prompt_rows
                if ready is not None:
                    prepared.append((session, *ready))
            prepared = self.preemption.fit(prepared, self.sessions, self._fail)
            if any(chunks for _, _, chunks in prepared):  # (none only when all wait for prefill room)
                picked = []
                for (session, active, _), logits in self._forward(prepared):
                    try:
                        picked.append((session, active, session.pick(active, logits)))
                    except Exception as exc:
                        self._fail(session, exc, "while choosing its tokens")
                # the step's one host sync, for every session at once
                flat_picks = [p for _, _, session_picks in picked for p in session_picks]
                flat = torch.cat(flat_picks).tolist() if flat_picks else []  # [] : a pass that only prefilled
                at = 0
                for session, active, session_picks in picked:
                    n = sum(p.numel() for p in session_picks)
                    try:
                        session.consume(active, flat[at : at + n])
                    except Exception as exc:
                        self._fail(session, exc, "while taking its tokens")
                    at += n
                self.batch_sizes[len(picked)] += 1
            events = {name: s._events[marks[name]:] for name, s in self.sessions.items()}
            for name in [n for n, s in self.sessions.items() if s.done]:
                del self.sessions[name]  # its blocks were freed when it finished
        for listener in self._step_listeners:
            listener()
        return events

    def _forward(self, prepared: list) -> list:
        """[((session, active, chunks), its logits rows)] for the sessions whose rows could be computed.

        One packed pass; if it raises, the sessions are retried each alone (each reads only its own
        blocks, so alone equals packed) and those whose own pass raises fail. The block tables are
        rolled back before a retry, so the retried rows land in the same slots."""
        table = self.runner.table
        lengths = {c.block: table[c.block].length for _, _, chunks in prepared for c in chunks}
        try:
            logits = self.runner.run([c for _, _, chunks in prepared for c in chunks])
        except Exception as exc:
            if _device_broken(exc):
                raise
            log.warning("a forward pass of %d sessions failed (%s); retrying each alone", len(prepared), exc)
            _roll_back(table, lengths)
            return [out for entry in prepared if (out := self._forward_alone(entry, lengths)) is not None]
        out, row = [], 0
        for entry in prepared:
            out.append((entry, logits[row : row + len(entry[1])]))
            row += len(entry[1])
        return out

    def _forward_alone(self, entry: tuple, lengths: dict[str, int]) -> tuple | None:
        session, _, chunks = entry
        if not chunks:
            return entry, torch.empty(0)
        try:
            return entry, self.runner.run(chunks)
        except Exception as exc:
            if _device_broken(exc):
                raise
            _roll_back(self.runner.table, {c.block: lengths[c.block] for c in chunks})
            self._fail(session, exc, "in its forward pass")
            return None

    @staticmethod
    def _fail(session: Session, exc: Exception, where: str) -> None:
        """End one session after an exception in its own work (a bug or an input the model cannot
        take): stop reason "error", its blocks freed; if even that raises, the engine cannot go on."""
        log.error("session %s failed %s; it ends, the other sessions go on", session.name, where, exc_info=exc)
        with session._lock:
            if not session.done:
                session._finish("error")

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
                except Exception as exc:  # not one session's fault: record it for the callers, stop stepping
                    log.exception("engine step failed; the engine stops")
                    self.failure = exc
                    for listener in (*self._step_listeners, *self._failure_listeners):
                        listener()
                    return
            elif self._stop.is_set():
                return


def _device_broken(exc: Exception) -> bool:
    """A device error (CUDA's are sticky: every later kernel fails too) is no one session's fault."""
    return isinstance(exc, torch.AcceleratorError) or "CUDA error" in str(exc)


def _roll_back(table, lengths: dict[str, int]) -> None:
    """Forget the tokens a failed pass appended to these blocks, and their new pages (blocks already freed
    are skipped)."""
    for name, length in lengths.items():
        if name in table.blocks:
            table.truncate(name, length)
