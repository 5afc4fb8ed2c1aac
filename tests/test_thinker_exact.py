"""The `independent` layout's thinker is exactly ordinary sequential decoding.

Its view holds only the input and its own thoughts, so with the writer running and
control questions asked along the way, its greedy tokens must equal `model.generate`
(greedy, same forbidden tokens) continued from the thinker's prompt, token for token.
"""

import pytest
import torch

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.sampling import forbidden_ids

ARCHS = {
    "qwen3": ("qwen3", {}),
    "llama-llama3": ("llama", {"rope_parameters": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 512}}),
    "mistral-sliding": ("mistral", {"sliding_window": 48}),
    "qwen2-yarn": ("qwen2", {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}}),
    "qwen3_moe": ("qwen3_moe", {}),
}


def run_and_compare(model, tokenizer):
    reasoner = AsyncReasoner(model, tokenizer)
    session = reasoner.start("What is 12 times 13? Think it through.", budget=240, check_every=7)
    result = session.result()
    thoughts = session.tokens["thinker"]
    view = session.view("thinker")
    fed_thoughts = session.runner.table["thoughts"].length - len(session.block_ids["thoughts"])
    prefix = len(view) - fed_thoughts
    prompt = view[:prefix]
    with torch.no_grad():
        generated = model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=len(thoughts),
            do_sample=False,
            suppress_tokens=forbidden_ids(tokenizer, reasoner.chat_format, "thinker"),
        )[0, len(prompt):].tolist()
    # the thinker may stop early (it wrote </think>); generate then continues past it
    assert thoughts == generated[: len(thoughts)]
    # its view is exactly the prompt and every thought fed back so far (the last one may be pending)
    assert view == prompt + thoughts[: len(view) - prefix]
    assert len(view) - prefix >= len(thoughts) - 1
    return result.metrics


@pytest.mark.parametrize("case", list(ARCHS))
def test_thinker_equals_generate(case):
    arch, overrides = ARCHS[case]
    for seed in range(8):
        metrics = run_and_compare(*tiny_model(arch, seed=seed, **overrides))
        if metrics.thinker_tokens >= 200 and metrics.writer_tokens >= 10 and metrics.control_checks >= 5:
            return
    pytest.fail(f"no seed gave >= 200 thinker tokens with the writer running: last {metrics}")
