"""Incremental detokenization: the text each new token adds, never half a character.

Fast tokenizers use `tokenizers`' DecodeStream, which buffers byte-level pieces until they
form valid UTF-8. A model can emit byte sequences that never become valid (random weights
do it all the time); after `MAX_PENDING` tokens without text the buffered ids are flushed
with U+FFFD replacement characters so no output is withheld forever.
Slow tokenizers fall back to decoding everything and diffing.
"""

from __future__ import annotations

from tokenizers.decoders import DecodeStream

MAX_PENDING = 4  # a UTF-8 character spans at most 4 bytes


class Detokenizer:
    def __init__(self, tokenizer):
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        self.tokenizer = tokenizer
        self.stream = DecodeStream(skip_special_tokens=False) if self.backend is not None else None
        self.ids: list[int] = []
        self.pending: list[int] = []
        self.text = ""

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        if self.stream is None:
            full = self.tokenizer.decode(self.ids, skip_special_tokens=False)
            new = "" if full.endswith("\ufffd") else full[len(self.text) :]
        else:
            new = self.stream.step(self.backend, token_id)
            self.pending.append(token_id)
            if new is None and len(self.pending) >= MAX_PENDING:
                new = self.tokenizer.decode(self.pending, skip_special_tokens=False)
                self.stream = DecodeStream(skip_special_tokens=False)
            if new is not None:
                self.pending = []
            new = new or ""
        self.text += new
        return new
