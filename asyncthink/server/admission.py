"""Admission: a bounded, first-come-first-served wait for room in the shared KV pool.

    request ─▶ admit(start) ─▶ start() in a worker thread (tokenize, allocate blocks: Engine.submit)
                   │  ArenaFull: no room now
                   ▼
               wait queue (at most `max_waiting`; when full: 429)  ─▶ retried after each engine step,
               head of the queue first, until `timeout` seconds (then 503)

A session is admitted when the pool has pages for its prompt (beyond a small margin and the
pages promised to preempted sessions); later pages come as it writes, and when the pool runs
out the engine preempts its newest sessions (preemption.py). Whoever cannot get in waits, in
order, instead of failing at once. A session that could never fit raises a plain SessionError, reported by the caller as
a 400. Submitting runs in a worker thread because Engine.submit waits for the engine's lock,
which a step holds for the whole forward pass.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ..engine import ArenaFull
from ..session import Session
from .bridge import StepSignal
from .errors import APIError

# seconds a refused client is told to wait (Retry-After): room returns as soon as a stream ends
RETRY_AFTER = 1


class Admission:
    def __init__(self, signal: StepSignal, max_waiting: int, timeout: float):
        self.signal = signal
        self.max_waiting = max_waiting
        self.timeout = timeout
        self._queue: deque[object] = deque()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def admit(self, start: Callable[[], Session]) -> Session:
        """Run `start` (which calls Engine.submit) once there is room; raises 429 or 503 APIErrors."""
        if not self._queue:
            session = await self._try(start)
            if session is not None:
                return session
        if len(self._queue) >= self.max_waiting:
            raise APIError(429, f"the server is at capacity and {len(self._queue)} requests are already waiting "
                           f"(limit {self.max_waiting}); retry later", code="queue_full",
                           retry_after=RETRY_AFTER)
        ticket = object()
        self._queue.append(ticket)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            while True:
                if self._queue[0] is ticket:
                    session = await self._try(start)
                    if session is not None:
                        return session
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise APIError(503, f"no room for this request in the KV cache after waiting {self.timeout:g} s; "
                                   "retry later", code="queue_timeout", retry_after=RETRY_AFTER)
                await self.signal.wait(min(remaining, 1.0))  # room comes back only when a step ends a session
        finally:
            self._queue.remove(ticket)

    @staticmethod
    async def _try(start: Callable[[], Session]) -> Session | None:
        attempt = asyncio.ensure_future(asyncio.to_thread(start))
        try:
            return await asyncio.shield(attempt)
        except ArenaFull:
            return None
        except asyncio.CancelledError:
            # the caller left while the worker thread was submitting: a session it still starts has no reader
            attempt.add_done_callback(_cancel_orphan)
            raise


def _cancel_orphan(attempt: asyncio.Future) -> None:
    if not attempt.cancelled() and attempt.exception() is None:
        attempt.result().cancel()
