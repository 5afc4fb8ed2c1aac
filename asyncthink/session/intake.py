"""Listening intake: input heard while a session runs, from listen() to the step that feeds it.

    listen(text)  any thread ─▶ tokenized, room checked ─▶ Inbox (listening.py)
    _take_heard() at a step   ─▶ ready items (hold rules), oldest first:
                                 to input  ─▶ a chunk into the shared input block
                                 to thinker ─▶ ids fed right after the thinker's next token
                                 and the writer pauses (on_input="pause_writer")

A mixin of Session: it reads the session's layout, blocks, inbox and state.
"""

from __future__ import annotations

from ..core.plan import Chunk
from ..errors import SessionError
from ..layout import THINKER
from ..listening import Heard, at_boundary
from .options import check_listen_args, check_utf8


class Intake:
    def listen(self, text: str, to: str | None = None, hold: str | None = None) -> None:
        """Hear new user input while the session runs (thread-safe, returns at once).

        It takes effect at the next step that may take it (see listening.py) with a
        `heard` event; it raises SessionError for empty text, a finished session, or text
        beyond the listening room (`listen_capacity` tokens per target).
        """
        if not isinstance(text, str) or not text.strip():
            raise SessionError("listen() needs non-empty text")
        check_utf8(text, "heard text")
        to, hold = check_listen_args(to or self.listen_to, hold or self.listen_hold)
        if to != "input" and THINKER not in self.layout.views:
            to = "input"  # no thinker in this mode: the request itself is amended
        fields = {"text": text}
        thinker_ids = self._encode(self.layout.heard_template.format(**fields)) if to != "input" else []
        # always spelled for the input block: input aimed at the thinker goes there once thinking has ended
        input_ids = self._encode(self.layout.input_template.format(**fields))
        with self._listen_lock:
            if self._closed or self._cancel.is_set():
                raise SessionError(f"the session has finished ({self.stop_reason or 'cancelled'}); start a new session to ask more")
            # an aimed-at-thinker item may fall back to the input block, so it counts against both rooms
            need = {"thinker": len(thinker_ids), "input": len(input_ids)}
            for target, n in need.items():
                if self._listen_used[target] + n > self.listen_capacity:
                    raise SessionError(
                        f"heard input of {n} tokens does not fit: {self._listen_used[target]} of the "
                        f"{self.listen_capacity} tokens of listening room ({target}) are used; start the "
                        "session with a larger listen_capacity"
                    )
            for target, n in need.items():
                self._listen_used[target] += n
            self._inbox.put(Heard(text, to, hold, thinker_ids, input_ids, self._now()))

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _take_heard(self, thinker_active: bool) -> list[Chunk]:
        """Release ready heard input: input-block chunks, and ids queued behind the thinker's token."""

        def ready(item: Heard) -> bool:
            if item.to == "input" or not thinker_active:
                return True  # no thinker to wait for: it goes to the input block now
            if THINKER not in self.started:
                return False  # the thinker has not started yet: it hears it right after
            return item.waited >= self.max_hold or at_boundary(self.detok[THINKER].text, item.hold)

        chunks = []
        listen_view = self.views[self.layout.listen_stream]
        for item in self._inbox.take_ready(ready):
            to = item.to if thinker_active else "input"
            input_ids = item.input_tokens
            if to in ("input", "both"):
                chunks.append(Chunk(self.layout.listen_stream, listen_view, self.block[self.layout.input_block], input_ids,
                                    want_logits=False))
            if to in ("thinker", "both"):
                self._thinker_heard += item.thinker_tokens
            tokens = (len(input_ids) if to != "thinker" else 0) + (len(item.thinker_tokens) if to != "input" else 0)
            self._event("input", "heard", item.text, data={
                "to": to, "requested": item.to, "tokens": tokens, "queued_at": item.queued_at,
                "waited_tokens": item.waited})
            if self.on_input == "pause_writer" and self.state == "thinker_and_writer":
                self._set_state("thinker_only", "heard_input")
        return chunks

