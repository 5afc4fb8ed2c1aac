"""The tiny reasoner's tokenizer: a byte-level BPE trained on the task text and the layouts.

Byte-level, so any text (a user's arbitrary input) round-trips; Qwen2/3's pre-tokenizer
pattern except that a digit keeps at most its leading space (" 7"), so every number is
spelled digit by digit — the model computes column by column and must see each digit.
Qwen3's markers are single tokens: <|endoftext|>, <|im_start|>, <|im_end|> (special) and
<think>, </think> (ordinary added tokens, as in Qwen3, so decoding keeps them). The chat
template is Qwen3-style (written here): thoughts inside <think>...</think>, and
`enable_thinking=False` opens the reply with an empty thinking section.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    trainers,
)
from transformers import PreTrainedTokenizerFast

SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
THINK = ("<think>", "</think>")
PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
DEFAULT_VOCAB = 640

CHAT_TEMPLATE = """\
{%- for message in messages %}
{%- if message.role == 'assistant' %}
{%- set content = message.content %}
{%- set reasoning = message.reasoning_content if message.reasoning_content is defined and message.reasoning_content else '' %}
{%- if '</think>' in content %}
{%- set reasoning = content.split('</think>')[0].split('<think>')[-1] %}
{%- set content = content.split('</think>')[-1] %}
{%- endif %}
{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') + '<|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}
{{- '<think>\\n\\n</think>\\n\\n' }}
{%- endif %}
{%- endif %}
"""


def build_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB) -> PreTrainedTokenizerFast:
    """Train the BPE on `texts` (deterministic for the same texts) and wrap it for transformers."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(texts, trainer)
    backend.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False)  # exact round-trips: keep " ." as written
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
