"""One session's failure inside the engine is its own: it ends with stop reason "error" and the
others finish with the same tokens as alone; only a fault that concerns everybody stops the engine."""

import pytest
import torch

from asyncthink import AsyncReasoner, SamplingParams
from asyncthink.engine import Engine
from asyncthink.models.random_weights import tiny_model

RUNS = [
    ("What is 2 + 3?", {"budget": 30, "check_every": 5}),
    ("Name a prime larger than 10.", {"budget": 25, "layout": "interleaved", "check_every": 4}),
    ("Spell cat backwards.", {"budget": 20, "mode": "think"}),
    ("Count to five.", {"budget": 30, "sampling": SamplingParams(temperature=0.8, top_p=0.9, seed=11)}),
]
POISONED = "Say the forbidden word."


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3", num_hidden_layers=1))


def tokens(session):
    return session.tokens["thinker"], session.tokens["writer"], session.stop_reason


@pytest.fixture(scope="module")
def alone(reasoner):
    out = []
    for problem, kwargs in RUNS:
        session = reasoner.start(problem, **kwargs)
        session.result()
        out.append(tokens(session))
    return out


def _poison_forward(engine, name):
    """The runner raises for any pass that carries a row of session `name` (as a bad input would)."""
    run = engine.runner.run

    def failing(chunks):
        if any(c.block.startswith(f"{name}/") for c in chunks):
            raise RuntimeError("injected fault in the forward pass")
        return run(chunks)

    engine.runner.run = failing


def _poison_sampler(session):
    def failing(logits):
        raise RuntimeError("injected fault in sampling")

    session.samplers["thinker"] = failing


@pytest.mark.parametrize("where", ["forward", "pick", "consume"])
def test_one_failing_session_ends_alone_and_the_others_equal_alone(reasoner, alone, where):
    engine = Engine(reasoner, capacity=40_000)
    sessions = [engine.submit(problem, **kwargs) for problem, kwargs in RUNS[:2]]
    bad = engine.submit(POISONED, budget=30)
    sessions += [engine.submit(problem, **kwargs) for problem, kwargs in RUNS[2:]]
    for _ in range(3):  # the fault strikes mid-run, after every session has started
        engine.step()
    if where == "forward":
        _poison_forward(engine, bad.name)
    elif where == "pick":
        _poison_sampler(bad)
    else:
        bad.consume = lambda active, values: 1 / 0
    engine.run()
    assert bad.stop_reason == "error" and bad.events[-1].kind == "done" and bad.events[-1].text == "error"
    assert [tokens(s) for s in sessions] == alone
    assert engine.failure is None and engine.allocated_slots == 0
    again = engine.submit(RUNS[0][0], **RUNS[0][1])  # the engine still serves
    engine.run()
    assert tokens(again) == alone[0]


def test_a_device_error_stops_the_background_engine_and_tells_listeners(reasoner):
    engine = Engine(reasoner, capacity=40_000)
    told = []
    engine.add_failure_listener(lambda: told.append(engine.failure))

    def broken(chunks):
        raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")

    engine.runner.run = broken
    engine.start()
    session = engine.submit("Hi?", budget=5)
    engine._thread.join(timeout=30)
    assert not engine._thread.is_alive() and told and told[0] is engine.failure
    assert not session.done  # nothing steps after a failure: callers report it (the server: 503, exit)


def test_tiny_temperatures_sample_greedily(reasoner):
    greedy = reasoner.start("What is 2 + 3?", budget=15).result()
    for temperature in (1e-40, 5e-324, 1e-6):
        tiny = reasoner.start("What is 2 + 3?", budget=15, sampling=SamplingParams(temperature=temperature, seed=1))
        result = tiny.result()
        assert result.answer == greedy.answer and result.stop_reason != "error"
