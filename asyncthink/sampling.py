"""Per-stream token choice: forbidden tokens, greedy or seeded sampling, yes/no reading.

Temperatures below `GREEDY_BELOW` sample greedily (as vLLM does): dividing logits by a tiny
temperature overflows to inf, and the softmax of that is NaN, which no sampler can draw from.

Forbidden tokens come from the chat format's marker tokens as the tokenizer spells them
(never hard-coded ids), plus ids the embedding has but the tokenizer does not (Qwen pads
its vocabulary to a multiple of 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import SessionError
from .formats import ChatFormat, single_token_id

YES_SPELLINGS = ("yes", " yes", "Yes", " Yes", "YES")
NO_SPELLINGS = ("no", " no", "No", " No", "NO")
GREEDY_BELOW = 1e-5  # vLLM's _SAMPLING_EPS: below it, logits / temperature overflows float32


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 (or below GREEDY_BELOW): greedy
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW

    def __post_init__(self):
        if not self.temperature >= 0:  # also NaN
            raise SessionError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:  # also NaN
            raise SessionError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise SessionError(f"top_k must be >= 0, got {self.top_k}")


def marker_ids(tokenizer, texts) -> list[int]:
    ids = {single_token_id(tokenizer, t) for t in texts}
    return sorted(i for i in ids if i is not None)


def forbidden_ids(tokenizer, fmt: ChatFormat, stream: str) -> list[int]:
    """The writer may not open/close thinking or start a turn; the thinker may not end its turn."""
    if stream == "writer":
        texts = (*fmt.think_tokens, *fmt.turn_tokens)
    else:
        texts = (fmt.think_tokens[0], *fmt.end_tokens, *fmt.turn_tokens)
    return marker_ids(tokenizer, texts)


class StreamSampler:
    def __init__(self, params: SamplingParams, forbidden: list[int], vocab_size: int, tokenizer_size: int, device):
        self.params = params
        mask = torch.zeros(vocab_size, dtype=torch.bool)
        mask[forbidden] = True
        mask[tokenizer_size:] = True
        self.forbidden = mask.to(device)
        self.generator = None
        if not params.greedy:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(params.seed if params.seed is not None else torch.seed())

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [vocab] float32 -> chosen id, a 0-d tensor left on the device."""
        logits = logits.masked_fill(self.forbidden, float("-inf"))
        p = self.params
        if p.greedy:
            return logits.argmax()
        logits = logits / p.temperature
        if p.top_k:
            kth = torch.topk(logits, min(p.top_k, logits.numel())).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if p.top_p < 1:
            sorted_logits, order = logits.sort(descending=True)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            drop = cumulative - sorted_logits.softmax(-1) > p.top_p  # keep the token that crosses top_p
            logits = logits.scatter(0, order, sorted_logits.masked_fill(drop, float("-inf")))
        return torch.multinomial(logits.softmax(-1), 1, generator=self.generator)[0]


class YesNoReader:
    """Reads the control answer as yes-like vs no-like next-token probability mass."""

    def __init__(self, tokenizer, device):
        first = lambda spellings: {tokenizer.encode(s, add_special_tokens=False)[0] for s in spellings}
        yes, no = first(YES_SPELLINGS), first(NO_SPELLINGS)
        both = yes & no
        yes, no = sorted(yes - both), sorted(no - both)
        if not yes or not no:
            raise SessionError("the tokenizer cannot tell 'yes' from 'no' by their first tokens")
        self.yes = torch.tensor(yes, device=device)
        self.no = torch.tensor(no, device=device)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [vocab] -> [p_yes, p_no] on the device."""
        probs = logits.softmax(-1)
        return torch.stack((probs[self.yes].sum(), probs[self.no].sum()))
