"""From the engine thread to asyncio: a step signal and per-session event streams.

    engine thread:  step() ─▶ step listener ─▶ loop.call_soon_threadsafe(signal._wake)
    event loop:     session_events(session) reads the session's new events, then awaits the signal

The engine steps in its own thread; the event loop must never block on it. Rather than a
worker thread per waiting client (what `Session.astream()` does, and the default executor
has only a handful), every waiting stream awaits one asyncio event that the engine sets
after each step; each stream then reads its session's events past its own cursor. Checking
for events and starting to wait happen with no await in between, so no wake-up is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..events import Event
from ..session import Session
from .errors import APIError

if TYPE_CHECKING:
    from .state import ServerState

# a safety net only: a wake-up is due after every step, and steps take milliseconds to seconds
_RECHECK_SECONDS = 1.0


class StepSignal:
    """Wakes every waiting task after each engine step; `notify` is called from the engine thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._event = asyncio.Event()

    def notify(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # the loop is closed: the server is shutting down and nobody waits any more

    def _wake(self) -> None:
        self._event.set()
        self._event = asyncio.Event()  # later waiters wait for the next step

    async def wait(self, timeout: float = _RECHECK_SECONDS) -> None:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass


async def session_events(state: ServerState, session: Session) -> AsyncIterator[Event]:
    """The session's events as the engine produces them, ending with its `done` event; an APIError
    instead when the session failed in the engine, the engine failed, or the shutdown ended it."""
    engine, signal, seen = state.engine, state.signal, 0
    while True:
        events = engine.new_events(session, seen)
        seen += len(events)
        for event in events:
            if event.kind == "done" and event.text == "error":  # this session alone failed in the engine
                raise APIError(500, "decoding this request failed inside the engine (the server log says why); "
                               "other requests are not affected", code="session_failed")
            if event.kind == "done" and event.text == "cancelled" and session in state.drained:
                raise APIError(503, "the server is shutting down and ended this response; retry it later",
                               code="server_shutting_down", retry_after=5)
            yield event
            if event.kind == "done":
                return
        if not events:
            if engine.failure is not None:
                raise APIError(503, "the decoding engine failed and the server is restarting; retry later",
                               code="engine_failed", retry_after=5)
            await signal.wait()
