"""From the engine thread to asyncio: one step signal that every waiting stream awaits.

    engine thread:  step() ─▶ step listener ─▶ loop.call_soon_threadsafe(signal._wake)
    event loop:     session_events (state.py) reads a session's new events, then awaits the signal

The engine steps in its own thread; the event loop must never block on it. Rather than a
worker thread per waiting client (what `Session.astream()` does, and the default executor
has only a handful), every waiting stream awaits one asyncio event that the engine sets
after each step; each stream then reads its session's events past its own cursor. Checking
for events and starting to wait happen with no await in between, so no wake-up is lost.
"""

from __future__ import annotations

import asyncio

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
