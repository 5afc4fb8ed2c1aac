"""Incremental detokenization: the text each new token adds, never half a character.

Fast tokenizers use `tokenizers`' DecodeStream (buffers byte-level pieces until they form
valid UTF-8). Slow tokenizers fall back to decoding a prefix window and diffing.
"""

from __future__ import annotations

from tokenizers.decoders import DecodeStream


class Detokenizer:
    def __init__(self, tokenizer):
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        self.tokenizer = tokenizer
        self.stream = DecodeStream(skip_special_tokens=False) if self.backend is not None else None
        self.ids: list[int] = []
        self.text = ""

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        if self.stream is not None:
            new = self.stream.step(self.backend, token_id) or ""
        else:
            full = self.tokenizer.decode(self.ids, skip_special_tokens=False)
            new = "" if full.endswith("\ufffd") else full[len(self.text) :]
        self.text += new
        return new
