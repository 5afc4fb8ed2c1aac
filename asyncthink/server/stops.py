"""Stop sequences on the streamed answer: text is released only once it cannot start a stop sequence.

    feed("Hel") -> "Hel"      feed("lo ST") -> "lo "  (held: "ST" may begin "STOP")
    feed("OP!") -> ""  and .stopped: the answer ends before "STOP", as OpenAI's `stop` does
"""

from __future__ import annotations


class StopMatcher:
    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.stopped = False
        self._held = ""

    def feed(self, text: str) -> str:
        """Text that is safe to show now; sets `stopped` when a stop sequence appeared."""
        if self.stopped or not self.stops:
            return "" if self.stopped else text
        buffer = self._held + text
        cut = min((i for i in (buffer.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self._held = True, ""
            return buffer[:cut]
        keep = max((len(s) - 1 for s in self.stops), default=0)
        # hold back the longest tail that is a proper prefix of some stop sequence
        hold = next((n for n in range(min(keep, len(buffer)), 0, -1)
                     if any(s.startswith(buffer[-n:]) for s in self.stops)), 0)
        self._held = buffer[len(buffer) - hold:] if hold else ""
        return buffer[: len(buffer) - hold]

    def flush(self) -> str:
        """At the end of the answer: what was held back was not a stop sequence after all."""
        held, self._held = self._held, ""
        return "" if self.stopped else held
