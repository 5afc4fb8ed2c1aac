"""Chat formats as data: how prompts and markers are spelled for a tokenizer family.

The format belongs to the tokenizer, not the architecture: a DeepSeek-R1 distill of a
Qwen2 or Llama model speaks DeepSeek's format. `detect_format` picks the format whose
marker tokens the tokenizer has as single tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ChatFormatError


@dataclass(frozen=True)
class ChatFormat:
    name: str
    bos: str  # text that starts a conversation ("" when the template adds none)
    user_open: str
    turn_end: str  # closes a user turn ("" when the next marker implies it)
    assistant_open: str
    think_open: str  # spelled as the model writes it, e.g. "<think>\n"
    think_close: str
    think_tokens: tuple[str, str]  # the single tokens opening / closing thinking
    end_tokens: tuple[str, ...]  # tokens that end the assistant's turn
    turn_tokens: tuple[str, ...]  # tokens that start a new turn

    def fields(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("bos", "user_open", "turn_end", "assistant_open", "think_open", "think_close")}


QWEN3 = ChatFormat(
    name="qwen3",
    bos="",
    user_open="<|im_start|>user\n",
    turn_end="<|im_end|>\n",
    assistant_open="<|im_start|>assistant\n",
    think_open="<think>\n",
    think_close="</think>",
    think_tokens=("<think>", "</think>"),
    end_tokens=("<|im_end|>", "<|endoftext|>"),
    turn_tokens=("<|im_start|>",),
)

DEEPSEEK_R1 = ChatFormat(
    name="deepseek_r1",
    bos="<｜begin▁of▁sentence｜>",
    user_open="<｜User｜>",
    turn_end="",
    assistant_open="<｜Assistant｜>",
    think_open="<think>\n",
    think_close="</think>",
    think_tokens=("<think>", "</think>"),
    end_tokens=("<｜end▁of▁sentence｜>",),
    turn_tokens=("<｜User｜>", "<｜Assistant｜>"),
)

# most specific first: DeepSeek-R1 distills of Qwen keep Qwen's <|im_start|> in the vocab
FORMATS: dict[str, ChatFormat] = {f.name: f for f in (DEEPSEEK_R1, QWEN3)}


def single_token_id(tokenizer, text: str) -> int | None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


def _has_tokens(tokenizer, fmt: ChatFormat) -> bool:
    needed = (*fmt.think_tokens, *fmt.end_tokens[:1], *fmt.turn_tokens)
    return all(single_token_id(tokenizer, t) is not None for t in needed)


def detect_format(tokenizer) -> ChatFormat:
    for fmt in FORMATS.values():
        if _has_tokens(tokenizer, fmt):
            return fmt
    name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
    raise ChatFormatError(
        f"tokenizer {name!r} has no known thinking chat format (looked for "
        + "; ".join(f"{f.name}: {' '.join((*f.think_tokens, *f.turn_tokens))}" for f in FORMATS.values())
        + "). Use a reasoning model's tokenizer (Qwen3, QwQ, DeepSeek-R1 distills) or pass chat_format=..."
    )


def get_format(name_or_format: str | ChatFormat | None, tokenizer) -> ChatFormat:
    if name_or_format is None:
        return detect_format(tokenizer)
    if isinstance(name_or_format, ChatFormat):
        fmt = name_or_format
    elif name_or_format in FORMATS:
        fmt = FORMATS[name_or_format]
    else:
        raise ChatFormatError(f"unknown chat format {name_or_format!r}; known: {', '.join(FORMATS)}")
    if not _has_tokens(tokenizer, fmt):
        raise ChatFormatError(f"the tokenizer lacks the marker tokens of chat format {fmt.name!r}")
    return fmt
