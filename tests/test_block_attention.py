"""Block attention == the materialised reference (keys re-rotated and concatenated per view).

Every logit the engine produced over the first steps of a session (multi-token prefill of
several blocks, the writer's start, control questions, single-token two-stream decode) is
compared with a plain transformers forward over the materialised context (tests/oracle.py).
"""

import pytest
import torch
from oracle import StepRecorder, materialised_logits

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model

CASES = {
    "qwen3": ("qwen3", {}),
    "qwen3-linear": ("qwen3", {"rope_parameters": {"rope_type": "linear", "factor": 4.0}}),
    "qwen3-yarn": ("qwen3", {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}}),
    "qwen3_moe": ("qwen3_moe", {}),
    "qwen2-sliding": ("qwen2", {"use_sliding_window": True, "sliding_window": 40, "max_window_layers": 1}),
    "llama": ("llama", {}),
    "llama-llama3": ("llama", {"rope_parameters": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 512}}),
    "mistral-sliding": ("mistral", {"sliding_window": 48}),
}


def _compare(model, tokenizer, layout, kinds, decode="eager", on_start=lambda session: None, **start_kwargs):
    session = AsyncReasoner(model, tokenizer, decode=decode).start("Add 17 and 25. Show the steps.", layout=layout,
                                                                   budget=60, check_every=5, **start_kwargs)
    on_start(session)
    recorder = StepRecorder(session, max_steps=60)
    for _ in session:
        pass
    worst = 0.0
    for plan, logits, keys, values in recorder.records:
        reference = materialised_logits(model, plan, keys, values)
        worst = max(worst, float((logits - reference).abs().max()))
        streams = [c.chunk.stream for c in plan.chunks]
        kinds["prefill"] += any(len(c.chunk.tokens) > 1 for c in plan.chunks)
        kinds["two_stream_decode"] += streams.count("thinker") == 1 and "writer" in streams
        kinds["control"] += "control" in streams
    return worst


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("layout", ["independent", "interleaved"])
def test_block_attention_matches_materialised_reference(case, layout):
    arch, overrides = CASES[case]
    kinds = {"prefill": 0, "two_stream_decode": 0, "control": 0}
    # random weights decide when the writer starts or the thinker stops: take seeds until
    # the runs together exercise every kind of step (deterministic, bounded)
    for seed in range(6):
        model, tokenizer = tiny_model(arch, seed=seed, **overrides)
        worst = _compare(model, tokenizer, layout, kinds)
        assert worst <= 1e-4, f"seed {seed}: max |block - materialised| = {worst}"
        if all(kinds.values()):
            break
    assert all(kinds.values()), f"the runs did not exercise every kind of step: {kinds}"


@pytest.mark.parametrize("case", ["qwen3", "qwen3-yarn", "qwen2-sliding", "mistral-sliding", "llama-llama3"])
@pytest.mark.parametrize("layout", ["independent", "interleaved"])
def test_static_arena_attention_matches_materialised_reference(case, layout):
    """decode="static": steps of <= 64 rows run the static-shape arena attention (padded rows,
    padded blocks, whole-extent scoring with per-block picked queries), as CUDA graphs replay it."""
    arch, overrides = CASES[case]
    kinds = {"prefill": 0, "two_stream_decode": 0, "control": 0}
    decoders = []
    for seed in range(6):  # seeds until the runs include two-stream decode and control steps (bounded)
        model, tokenizer = tiny_model(arch, seed=seed, **overrides)
        worst = _compare(model, tokenizer, layout, kinds, decode="static", on_start=lambda s: decoders.append(s.runner.static))
        assert worst <= 1e-4, f"seed {seed}: max |static - materialised| = {worst}"
        assert decoders[-1].replays == 0  # no CUDA graphs on CPU: the same static step, eagerly
        if kinds["two_stream_decode"] and kinds["control"]:
            break
    served = sum(d.steps for d in decoders)
    assert served >= 10 and kinds["two_stream_decode"] and kinds["control"], (served, kinds)


@pytest.mark.parametrize("layout", ["independent", "interleaved"])
def test_recomputed_control_question_matches_materialised_reference(layout):
    """cache_question=False resets and refeeds the question block at every check."""
    model, tokenizer = tiny_model("qwen3")
    kinds = {"prefill": 0, "two_stream_decode": 0, "control": 0}
    assert _compare(model, tokenizer, layout, kinds, cache_question=False) <= 1e-4
    assert kinds["control"] >= 2


@pytest.mark.parametrize("cache", [True, False])
def test_control_check_recomputes_only_the_cue(cache):
    """The cost a check adds: the cue's rows (cached question) or question + cue (recomputed)."""
    model, tokenizer = tiny_model("qwen3")
    session = AsyncReasoner(model, tokenizer).start("Add 17 and 25.", budget=60, check_every=5, cache_question=cache)
    recorder = StepRecorder(session, max_steps=60)
    session.result()
    control_rows = [sum(len(c.chunk.tokens) for c in plan.chunks if c.chunk.stream == "control")
                    for plan, *_ in recorder.records if any(c.chunk.stream == "control" for c in plan.chunks)]
    cue, question = len(session.cue_ids), len(session.block_ids["question"])
    assert cue < question
    assert len(control_rows) >= 3
    assert control_rows[0] >= question + cue  # the first check feeds the note and the question once
    per_check = cue if cache else question + cue
    assert control_rows[1:] == [per_check] * (len(control_rows) - 1)


def test_naive_backend_matches_block_attention():
    model, tokenizer = tiny_model("qwen3")
    reasoner = AsyncReasoner(model, tokenizer)
    runs = []
    for naive in (False, True):
        session = reasoner.start("Name three primes.", budget=40, check_every=5, naive_attention=naive)
        recorder = StepRecorder(session, max_steps=40)
        session.result()
        runs.append(recorder.records)
    assert len(runs[0]) == len(runs[1])
    for (_, a, _, _), (_, b, _, _) in zip(*runs):
        assert torch.allclose(a, b, atol=1e-4)


def test_partial_rotary_matches_materialised_reference():
    """Phi rotates only part of each head (partial_rotary_factor 0.5): the rest must pass through."""
    from transformers import PhiConfig, PhiForCausalLM

    from asyncthink.models.toy_tokenizer import build_toy_tokenizer

    tokenizer = build_toy_tokenizer("qwen3")
    torch.manual_seed(0)
    model = PhiForCausalLM(PhiConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, partial_rotary_factor=0.5, max_position_embeddings=4096, initializer_range=0.2)).eval()
    assert model.get_decoder().rotary_emb.inv_freq.numel() * 2 < model.config.hidden_size // 4
    kinds = {"prefill": 0, "two_stream_decode": 0, "control": 0}
    assert _compare(model, tokenizer, "independent", kinds) <= 1e-4
