"""The session state machine, driven step by step with scripted token choices.

The forward passes are real (tiny random model); only the choice of each stream's next
token and the control answer are scripted, so every transition can be forced.
"""

import asyncio
import threading

import pytest
import torch

from asyncthink import (
    AsyncReasoner,
    SamplingParams,
    SessionError,
    UnsupportedModelError,
)
from asyncthink.models.random_weights import tiny_model


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


def ids(reasoner, text):
    return reasoner.tokenizer.encode(text, add_special_tokens=False)


class Script:
    """Replaces a stream's sampler: returns the scripted ids in order, then `rest` forever."""

    def __init__(self, tokens, rest):
        self.tokens, self.rest, self.calls = list(tokens), rest, 0

    def __call__(self, logits):
        self.calls += 1
        return torch.tensor(self.tokens.pop(0) if self.tokens else self.rest)


def scripted(reasoner, thinker=(), writer=(), control=(), **kwargs):
    kwargs.setdefault("budget", 200)
    session = reasoner.start("Count the apples.", **kwargs)
    a = ids(reasoner, "a")[0]
    session.samplers["thinker"] = Script(thinker, a)
    session.samplers["writer"] = Script(writer, a)
    answers = list(control)
    if session.yes_no is not None:
        session.yes_no = lambda logits: torch.tensor([0.9, 0.1] if (answers.pop(0) if answers else False) else [0.1, 0.9])
    return session


def states(session):
    return [(e.text, e.data["reason"]) for e in session.events if e.kind == "state"]


def test_control_yes_starts_writer_and_paragraph_end_pauses_it(reasoner):
    para = ids(reasoner, "\n\n")
    session = scripted(reasoner, thinker=ids(reasoner, "abc") + para, writer=ids(reasoner, "ok") + para,
                       control=[True, False], check_every=50)
    for _ in range(12):
        session.step()
    assert states(session)[:2] == [("thinker_and_writer", "control_yes"), ("thinker_only", "writer_paragraph_end")]
    writer_text = "".join(e.text for e in session.events if e.stream == "writer" and e.kind == "token")
    assert writer_text == "ok\n\n"
    # the check came right after the thinker's paragraph end (5 tokens), not after 50
    decision = next(e for e in session.events if e.kind == "decision")
    assert decision.step == 5


def test_control_no_pauses_writer_mid_paragraph(reasoner):
    session = scripted(reasoner, control=[True, False], check_every=3)
    for _ in range(12):
        session.step()
    assert states(session)[:2] == [("thinker_and_writer", "control_yes"), ("thinker_only", "control_no")]


def test_check_every_n_thinker_tokens(reasoner):
    session = scripted(reasoner, check_every=4, budget=21)
    session.result()
    decisions = [e.step for e in session.events if e.kind == "decision"]
    assert decisions == [4, 8, 12, 16, 20]
    assert session.control_checks == 5


def test_thinker_end_of_thinking_hands_over_to_writer(reasoner):
    close = reasoner.tokenizer.convert_tokens_to_ids("</think>")
    end = reasoner.tokenizer.convert_tokens_to_ids("<|im_end|>")
    session = scripted(reasoner, thinker=ids(reasoner, "xy") + [close], writer=ids(reasoner, "done") + [end])
    result = session.result()
    assert states(session) == [("writer_only", "thinker_closed"), ("done", "writer_eos")]
    assert result.thoughts == "xy" and result.answer == "done"
    assert result.stop_reason == "writer_eos"
    # </think> is not fed to the thoughts; the writer's view ends with its answer
    assert session.view("thinker")[-2:] == ids(reasoner, "xy")
    assert session.view("writer")[-4:] == ids(reasoner, "done")


def test_thinker_budget_hands_over_to_writer(reasoner):
    session = scripted(reasoner, max_thinker_tokens=6, budget=30)
    session.result()
    assert states(session)[0] == ("writer_only", "thinker_budget")
    assert len(session.tokens["thinker"]) == 6


def test_budget_ends_mid_paragraph(reasoner):
    session = scripted(reasoner, control=[True], check_every=2, budget=9)
    result = session.result()
    assert result.stop_reason == "budget" and result.metrics.steps == 9
    assert result.answer and "\n\n" not in result.answer
    assert session.events[-1].kind == "done" and session.events[-1].text == "budget"
    assert session.step() == []


def test_writer_budget(reasoner):
    close = reasoner.tokenizer.convert_tokens_to_ids("</think>")
    session = scripted(reasoner, thinker=[close], max_writer_tokens=5)
    result = session.result()
    assert result.stop_reason == "writer_budget" and result.metrics.writer_tokens == 5


def test_cancel_from_another_thread(reasoner):
    session = scripted(reasoner, budget=1000)
    seen = []
    for event in session:
        seen.append(event)
        if len(seen) == 5:
            threading.Thread(target=session.cancel).start()
    assert session.stop_reason == "cancelled"
    assert seen[-1].kind == "done"


def test_forbidden_tokens_are_never_chosen(reasoner):
    tok = reasoner.tokenizer
    forbidden = {"writer": ["<think>", "</think>", "<|im_start|>"], "thinker": ["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<think>"]}
    session = reasoner.start("Count the apples.", budget=50, check_every=3)
    for stream, names in forbidden.items():
        sampler = session.samplers[stream]
        for name in names:
            logits = torch.zeros(reasoner.model.config.vocab_size)
            logits[tok.convert_tokens_to_ids(name)] = 100.0
            assert int(sampler(logits)) != tok.convert_tokens_to_ids(name)
    # the thinker may close its thinking; the writer may end its turn
    assert not session.samplers["thinker"].forbidden[tok.convert_tokens_to_ids("</think>")]
    assert not session.samplers["writer"].forbidden[tok.convert_tokens_to_ids("<|im_end|>")]


def test_think_and_no_think_baselines(reasoner):
    close = reasoner.tokenizer.convert_tokens_to_ids("</think>")
    think = scripted(reasoner, mode="think", thinker=ids(reasoner, "hm") + [close], budget=12)
    think.result()
    assert think.control_checks == 0
    text = reasoner.tokenizer.decode(think.view("writer"))
    assert text.startswith("<|im_start|>user\nCount the apples.<|im_end|>\n<|im_start|>assistant\n<think>\nhm</think>\n\n")
    no_think = scripted(reasoner, mode="no_think", budget=5)
    result = no_think.result()
    assert result.thoughts == "" and result.metrics.steps_to_first_writer_token == 0
    assert reasoner.tokenizer.decode(no_think.view("writer")).endswith("<think>\n\n</think>\n\n" + result.answer[:-1])


def test_sampling_is_seeded_and_top_k_1_is_greedy(reasoner):
    run = lambda **kw: reasoner.solve("Count the apples.", budget=25, **kw).thoughts
    sampled = SamplingParams(temperature=1.0, top_p=0.9, seed=7)
    assert run(sampling=sampled) == run(sampling=sampled)
    assert run(sampling=SamplingParams(temperature=1.0, top_k=1, seed=3)) == run()


def test_events_are_typed_and_timestamped(reasoner):
    result = reasoner.solve("Count the apples.", budget=40, check_every=5)
    times = [e.time for e in result.events]
    assert times == sorted(times) and times[0] >= 0
    assert {e.stream for e in result.events} <= {"thinker", "writer", "control"}
    assert all(e.token_id is not None for e in result.events if e.kind == "token")
    done = result.events[-1]
    assert done.kind == "done" and done.data["steps"] == result.metrics.steps == 40


def test_astream_yields_the_same_events(reasoner):
    async def collect():
        session = reasoner.start("Count the apples.", budget=15)
        return [e async for e in session.astream()]

    events = asyncio.run(collect())
    assert events[-1].kind == "done"
    assert [e.text for e in events if e.stream == "thinker"] == [
        e.text for e in reasoner.solve("Count the apples.", budget=15).events if e.stream == "thinker"]


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "fast"}, "unknown mode"),
    ({"layout": "sideways"}, "unknown layout"),
    ({"mode": "think", "layout": "interleaved"}, "fixed layout"),
    ({"budget": 0}, "budget must be a positive integer"),
    ({"check_every": -1}, "check_every"),
    ({"thinker": "greedy"}, "thinker must be a SamplingParams"),
])
def test_bad_arguments_are_clear_errors(reasoner, kwargs, message):
    with pytest.raises(SessionError, match=message):
        reasoner.start("hi", **kwargs)


def test_empty_problem_and_context_overflow(reasoner):
    with pytest.raises(SessionError, match="empty"):
        reasoner.start("   ")
    with pytest.raises(SessionError, match="max_position_embeddings"):
        reasoner.start("hi", budget=10_000)


def test_bad_sampling_params():
    with pytest.raises(SessionError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(SessionError, match="temperature"):
        SamplingParams(temperature=-1)


@pytest.mark.parametrize("overrides, reason", [
    ({"rope_parameters": {"rope_type": "dynamic", "factor": 2.0}}, "dynamic NTK"),
    ({"rope_parameters": {"rope_type": "longrope", "short_factor": [1.0] * 8, "long_factor": [2.0] * 8,
                          "original_max_position_embeddings": 1024}}, "LongRoPE"),
])
def test_refused_models_name_the_reason(overrides, reason):
    with pytest.raises(UnsupportedModelError, match=reason):
        AsyncReasoner(*tiny_model("qwen3", **overrides))


def test_model_without_rope_is_refused():
    from transformers import GPT2Config, GPT2LMHeadModel

    from asyncthink.models.toy_tokenizer import build_toy_tokenizer

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=300))
    with pytest.raises(UnsupportedModelError, match="no rotary position embedding"):
        AsyncReasoner(model, build_toy_tokenizer("qwen3"))


def test_model_class_that_hides_attention_keywords_is_refused():
    from transformers import StableLmConfig, StableLmForCausalLM

    from asyncthink.models.toy_tokenizer import build_toy_tokenizer

    model = StableLmForCausalLM(StableLmConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                               num_attention_heads=4, num_key_value_heads=2))
    with pytest.raises(UnsupportedModelError, match="does not pass forward keywords"):
        AsyncReasoner(model, build_toy_tokenizer("qwen3"))


def test_invalid_unicode_and_huge_problem_are_clear_errors(reasoner):
    with pytest.raises(SessionError, match="not valid Unicode"):
        reasoner.start("bad \udcff bytes")
    with pytest.raises(SessionError, match="max_position_embeddings"):
        reasoner.start("word " * 5000, budget=10)
    session = reasoner.start("fine", budget=5)
    with pytest.raises(SessionError, match="not valid Unicode"):
        session.listen("bad \udcff")


def test_auto_decode_is_eager_until_graphs_have_passed_on_a_gpu(reasoner):
    from asyncthink.core.runner import resolve_decode

    # tests/test_gpu.py has not yet run on real hardware: CUDA graphs are opt-in, on every device
    assert resolve_decode("auto") == "eager"
    assert [resolve_decode(d) for d in ("eager", "static", "graphs")] == ["eager", "static", "graphs"]
    assert reasoner.start("hi", budget=3).runner.decode == "eager"
    with pytest.raises(SessionError, match="decode must be one of"):
        resolve_decode("fast")
