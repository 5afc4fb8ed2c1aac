"""The state machine's transitions: what follows from each stream's sampled token.

    thinker token   emitted; a paragraph end or `check_every` tokens make a control check due;
                    </think> or the thinker's cap ─▶ writer_only
    control answer  yes ─▶ thinker_and_writer (unless held); no ─▶ thinker_only
    safety answer   unsafe ─▶ thinker_only (or done, "unsafe", once thinking is over)
    writer token    end of turn ─▶ done; a paragraph end ─▶ thinker_only (ask again)
    max_tokens      both streams' tokens together reach it ─▶ done (when one token of room is left
                    and both would write, the writer's is kept, the thinker's dropped)

A mixin of Session; events are appended through Session._event.
"""

from __future__ import annotations

import math

from ..layout import CONTROL, SAFETY, THINKER, WRITER


class Transitions:
    def _on_tokens(self, thinker: list[float] | None, writer: list[float] | None) -> None:
        """The streams' sampled tokens of one step, thinker first. With one token of `max_tokens` room left
        and both streams writing, the writer's token (the answer the user reads) is kept and the
        thinker's dropped; the session then ends ("max_tokens")."""
        if thinker is not None:
            tight = writer is not None and self._room() < 2 and self._writes(THINKER, int(thinker[0]))
            if not (tight and self._writes(WRITER, int(writer[0]))):
                self._on_thinker(*thinker)
        if writer is not None and not self.done:
            self._on_writer(int(writer[0]))

    def _room(self) -> float:
        """Tokens both streams together may still write under `max_tokens` (inf without it)."""
        if self.max_tokens is None:
            return math.inf
        return self.max_tokens - len(self.tokens[THINKER]) - len(self.tokens[WRITER])

    def _writes(self, stream: str, token: int) -> bool:
        """Whether this sampled token would be written (emitted), not end the stream."""
        if stream == THINKER:
            return token != self.think_close_id and len(self.tokens[THINKER]) < self.max_thinker_tokens
        return token not in self.end_ids and len(self.tokens[WRITER]) < self.max_writer_tokens

    def _on_thinker(self, token: float, entropy: float | None = None) -> None:
        token = int(token)
        if entropy is not None and entropy > self.entropy_pause and self.state == "thinker_and_writer":
            self._set_state("thinker_only", "thinker_uncertain", entropy=entropy)
        if token == self.think_close_id or len(self.tokens[THINKER]) >= self.max_thinker_tokens:
            reason = "thinker_closed" if token == self.think_close_id else "thinker_budget"
            self._set_state("writer_only", reason)
            return
        text = self._emit(THINKER, token)
        self._inbox.tick()
        self._since_check += 1
        if "\n\n" in self._tail(THINKER, text) or self._since_check >= self.check_every:
            self._check_due = True

    def _on_control(self, p_yes: float, p_no: float) -> None:
        yes = p_yes > p_no
        held = yes and self.state == "thinker_only" and self.steps < self.hold_writer_steps
        data = {"p_yes": p_yes, "p_no": p_no, **({"held_until_step": self.hold_writer_steps} if held else {})}
        self._event(CONTROL, "decision", "yes" if yes else "no", data=data)
        self._check_due, self._since_check = False, 0
        if yes and self.state == "thinker_only" and not held:
            self._set_state("thinker_and_writer", "control_yes")
        elif not yes and self.state == "thinker_and_writer":
            self._set_state("thinker_only", "control_no")

    def _on_safety(self, p_yes: float, p_no: float) -> None:
        safe = p_yes > p_no
        self._event(CONTROL, "decision", "safe" if safe else "unsafe", data={"p_yes": p_yes, "p_no": p_no,
                                                                              "question": SAFETY})
        self._since_safety = 0
        if safe:
            return
        if self.state == "thinker_and_writer":
            self._set_state("thinker_only", "unsafe")
        elif self.state == "writer_only":
            self._finish("unsafe")

    def _on_writer(self, token: int) -> None:
        if token in self.end_ids:
            self._finish("writer_eos")
            return
        if len(self.tokens[WRITER]) >= self.max_writer_tokens:
            self._finish("writer_budget")
            return
        text = self._emit(WRITER, token)
        self._since_safety += 1
        if self.state == "thinker_and_writer" and "\n\n" in self._tail(WRITER, text):
            self._set_state("thinker_only", "writer_paragraph_end")

    def _emit(self, stream: str, token: int) -> str:
        self.tokens[stream].append(token)
        self.pending[stream] = token
        text = self.detok[stream].add(token)
        self._event(stream, "token", text, token_id=token)
        return text

    def _tail(self, stream: str, new_text: str) -> str:
        """The new text with the character before it, to see a paragraph end split over tokens."""
        full = self.detok[stream].text
        return full[-len(new_text) - 1 :] if new_text else ""

    def _set_state(self, state: str, reason: str, **data) -> None:
        previous, self.state = self.state, state
        self._event(CONTROL, "state", state, data={"previous": previous, "reason": reason, **data})
