"""Safety controls of the paper's later code, as session options: writer hold, safety check, entropy pause."""

import math

import pytest
import torch
from oracle import StepRecorder, materialised_logits

from asyncthink import AsyncReasoner, SessionError
from asyncthink.models.random_weights import tiny_model

YES, NO = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


def _start(reasoner, **kwargs):
    session = reasoner.start("Add 17 and 25.", budget=60, check_every=3, max_thinker_tokens=200, **kwargs)
    session.yes_no = lambda logits: YES  # the writer may always go on: the policy under test decides
    return session


def _writer_steps(session):
    return [e.step for e in session.events if e.stream == "writer" and e.kind == "token"]


def test_hold_writer_steps(reasoner):
    free = _start(reasoner)
    free.result()
    assert _writer_steps(free)[0] < 20  # without a hold the writer starts at the first check
    held = _start(reasoner, hold_writer_steps=20)
    held.result()
    assert _writer_steps(held)[0] >= 20
    overruled = [e for e in held.events if e.kind == "decision" and "held_until_step" in e.data]
    assert overruled and all(e.step < 20 for e in overruled)


def test_unsafe_answer_pauses_the_writer(reasoner):
    session = _start(reasoner, safety_check_every=4)
    session.is_safe = lambda logits: NO
    session.result()
    pauses = [e for e in session.events if e.kind == "state" and e.data.get("reason") == "unsafe"]
    verdicts = [e for e in session.events if e.kind == "decision" and e.data.get("question") == "safety"]
    assert pauses and verdicts and all(v.text == "unsafe" for v in verdicts)
    assert session.metrics().safety_checks == len(verdicts)
    # between two pauses the writer says at most 4 tokens (+1 written in the step the check ran)
    runs, run = [], 0
    for e in session.events:
        if e.stream == "writer" and e.kind == "token":
            run += 1
        elif e in pauses:
            runs.append(run)
            run = 0
    assert runs and max(runs) <= 5


def test_unsafe_after_thinking_ends_the_session(reasoner):
    session = reasoner.start("Add 17 and 25.", budget=60, max_thinker_tokens=5, safety_check_every=3)
    session.is_safe = lambda logits: NO
    session.result()
    assert session.stop_reason == "unsafe" and len(session.tokens["writer"]) <= 4


def test_safe_answers_change_nothing(reasoner):
    plain = _start(reasoner)
    plain.result()
    checked = _start(reasoner, safety_check_every=4)
    checked.is_safe = lambda logits: YES
    checked.result()
    assert checked.tokens == plain.tokens and checked.safety_checks > 2


def test_safety_question_rows_match_the_oracle():
    model, tokenizer = tiny_model("qwen3", seed=1)
    session = _start(AsyncReasoner(model, tokenizer), safety_check_every=3)
    recorder = StepRecorder(session, max_steps=60)
    session.result()
    checked = 0
    for plan, logits, keys, values in recorder.records:
        assert float((logits - materialised_logits(model, plan, keys, values)).abs().max()) <= 1e-4
        checked += any(c.chunk.stream == "safety" for c in plan.chunks)
    assert checked >= 2


def test_entropy_pause(reasoner):
    never = _start(reasoner, entropy_pause=1e9)
    never.result()
    always = _start(reasoner, entropy_pause=1e-6)
    recorder = StepRecorder(always, max_steps=60)
    always.result()
    assert len(never.tokens["writer"]) > 5
    pauses = [e for e in always.events if e.kind == "state" and e.data.get("reason") == "thinker_uncertain"]
    # every "yes" is undone in the same step, before the writer's first row: it never speaks while thinking
    assert pauses and always.tokens["writer"] == [] and always.stop_reason == "budget"
    for pause in pauses:  # the recorded entropy is the thinker row's next-token entropy at that step
        plan, logits, _, _ = recorder.records[pause.step]
        row = next(i for i, c in enumerate(c for c in plan.chunks if c.chunk.want_logits) if c.chunk.stream == "thinker")
        p = logits[row].softmax(-1)
        expected = float(-(p * p.clamp_min(1e-45).log()).sum())
        assert math.isclose(pause.data["entropy"], expected, rel_tol=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"hold_writer_steps": -1}, "hold_writer_steps must be a non-negative integer"),
    ({"safety_check_every": 2.5}, "safety_check_every must be a non-negative integer"),
    ({"entropy_pause": 0}, "entropy_pause must be a positive number"),
    ({"safety_check_every": 3, "mode": "think"}, "has no safety view"),
])
def test_bad_safety_options(reasoner, kwargs, message):
    with pytest.raises(SessionError, match=message):
        reasoner.start("Add 17 and 25.", **kwargs)
