"""What each stream feeds at a step: its start text, its pending token, or a question's cue.

    a stream's first step  the initial text of its view's blocks nobody fed yet, in view order
                           (chunked: at most `prefill_chunk` prompt tokens per pass); the last
                           text fed gives its first token
    later steps            the token it sampled last step (+ heard ids, for the thinker)
    control / safety       the question text at the first check (cached: only shifted later),
                           then the short cue in the scratch block, every check

A mixin of Session: plain Python over block names and token ids; tensors are runner.py's.
"""

from __future__ import annotations

from ..core.plan import Chunk
from ..errors import SessionError
from ..layout import CONTROL, SAFETY, THINKER


class Feeding:
    def _chunks(self, stream: str) -> list[Chunk]:
        view = self.views[stream]
        written = self.writes[stream]
        if stream in (CONTROL, SAFETY):
            chunks, complete = self._start_chunks(stream, view)  # the first check also feeds the question text
            if not complete:
                return chunks  # the question text is still being prefilled: ask at a later step
            if stream == CONTROL:
                self.control_checks += 1
                checks, block = self.control_checks, self.layout.question_block
            else:
                self.safety_checks += 1
                checks, block = self.safety_checks, self.layout.safety_block
            if not self.cache_question and checks > 1:
                question = self.block[block]
                self.runner.table.reset(question)
                chunks.append(Chunk(stream, view, question, list(self.block_ids[block]), want_logits=False))
            return [*chunks, Chunk(stream, view, written, list(self.cue_ids))]
        if stream not in self.started:
            chunks, complete = self._start_chunks(stream, view)
            if not complete:
                return chunks
            if not chunks:
                raise SessionError(f"layout {self.layout.name!r}: stream {stream!r} has no text to start from")
            self.started.add(stream)
            # the last text fed at the start gives the stream's first token
            return [*chunks[:-1], Chunk(stream, view, chunks[-1].block, chunks[-1].tokens)]
        tokens = [self.pending.pop(stream)]
        if stream == THINKER:
            tokens += self._thinker_heard
            self._thinker_heard = []
        return [Chunk(stream, view, written, tokens)]

    def _start_chunks(self, stream: str, view: tuple[str, ...]) -> tuple[list[Chunk], bool]:
        """Initial text of the view's blocks that nobody has fed yet, fed now in this view, in view
        order; with `prefill_chunk`, at most that many tokens per step (a block may be fed over several
        steps, and nothing after it before it is complete). Returns (chunks, whether all is fed)."""
        chunks = []
        for name in self.layout.views[stream]:
            if name not in self.unfed:
                continue
            ids = self.block_ids[name]
            fed = self._fed.get(name, 0)
            take = len(ids) - fed if self._prefill_room is None else min(len(ids) - fed, self._prefill_room)
            if take:
                chunks.append(Chunk(stream, view, self.block[name], list(ids[fed : fed + take]), want_logits=False))
            if self._prefill_room is not None:
                self._prefill_room -= take
            if fed + take < len(ids):
                self._fed[name] = fed + take
                return chunks, False
            self.unfed.remove(name)
        return chunks, True
