"""Tiny deterministic byte-level tokenizers that mimic real chat formats.

Used together with randomly initialised models (see ``random_weights``) so that
the whole pipeline can run without downloading anything.  The vocabulary is the
256 byte-level symbols (id == byte value) with no merges, so *any* text
round-trips exactly through encode/decode; the chat format's marker tokens are
appended as added tokens right after the bytes, so they stay single tokens
even when they appear inside ordinary text.
"""

from __future__ import annotations

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

# Per format: added tokens in id order as (content, special), the tokenizer's
# named special tokens, and a chat template in the format's own style.
# `<think>`/`</think>` are non-special (as in Qwen3) so that
# decode(skip_special_tokens=True) keeps the reasoning delimiters.
_FORMATS: dict[str, dict] = {
    "qwen3": {
        "added": [
            ("<|endoftext|>", True),
            ("<|im_start|>", True),
            ("<|im_end|>", True),
            ("<think>", False),
            ("</think>", False),
        ],
        "named": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        "chat_template": (
            "{% for message in messages %}"
            "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
            "{% endfor %}"
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        ),
    },
    "deepseek_r1": {
        "added": [
            ("<｜begin▁of▁sentence｜>", True),
            ("<｜end▁of▁sentence｜>", True),
            ("<｜User｜>", True),
            ("<｜Assistant｜>", True),
            ("<think>", False),
            ("</think>", False),
        ],
        "named": {
            "bos_token": "<｜begin▁of▁sentence｜>",
            "eos_token": "<｜end▁of▁sentence｜>",
            "pad_token": "<｜end▁of▁sentence｜>",
        },
        "chat_template": (
            "{{ bos_token }}"
            "{% for message in messages %}"
            "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
            "{% elif message['role'] == 'assistant' %}"
            "{{ '<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}"
            "{% else %}{{ message['content'] }}"
            "{% endif %}"
            "{% endfor %}"
            "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"
        ),
    },
}


def known_formats() -> list[str]:
    """Names accepted by :func:`build_toy_tokenizer`."""
    return sorted(_FORMATS)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable-symbol table, the one ByteLevel uses.

    Kept here (rather than sorting ``ByteLevel.alphabet()`` by code point) so
    that token id == byte value, which makes ids easy to reason about.
    """
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


def build_toy_tokenizer(format_name: str) -> PreTrainedTokenizerFast:
    """Build the toy tokenizer for chat format ``format_name``.

    Ids 0..255 are the raw bytes; the format's marker tokens follow in the
    order listed in ``_FORMATS``.  ``len(tokenizer)`` is the full vocabulary.
    Raises ``ValueError`` for an unknown format name.
    """
    if format_name not in _FORMATS:
        raise ValueError(f"unknown toy chat format {format_name!r}; known formats: {', '.join(known_formats())}")
    spec = _FORMATS[format_name]

    symbols = _bytes_to_unicode()
    # Guard against drift between our table and the library's alphabet.
    assert set(symbols.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbols[b]: b for b in range(256)}

    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    # One call per token keeps ids in the declared order even though special
    # and non-special tokens are interleaved.
    for content, special in spec["added"]:
        token = AddedToken(content, special=special, normalized=False)
        if special:
            backend.add_special_tokens([token])
        else:
            backend.add_tokens([token])

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        # Default clean-up rewrites " ." to "." etc., which would break exact round-trips.
        clean_up_tokenization_spaces=False,
        **spec["named"],
    )
    tokenizer.chat_template = spec["chat_template"]
    tokenizer.name_or_path = f"asyncthink-toy-{format_name}"
    return tokenizer
