"""Preemption: sessions growing past the shared pool; the newest are swapped out and come back.

Every session is admitted when the pool has pages for its texts, then grows page by page; a
pool far smaller than what they write together forces the engine to preempt its newest sessions
(their keys and values copied to host memory, their pages given back) and to resume them when
room returns. Every finished session's tokens must equal the same session run alone.
"""

import pytest

from asyncthink import AsyncReasoner, SamplingParams
from asyncthink.engine import ArenaFull, Engine
from asyncthink.models.random_weights import tiny_model

RUNS = [
    ("What is 2 + 3?", {"mode": "think", "max_tokens": 150}),
    ("Spell cat backwards.", {"mode": "think", "max_tokens": 120, "check_every": 4}),
    ("Say hello.", {"mode": "no_think", "max_tokens": 90}),
    ("Name a prime larger than 10.", {"max_tokens": 140, "check_every": 5}),
    ("Count to five.", {"mode": "think", "max_tokens": 130,
                        "sampling": SamplingParams(temperature=0.8, top_p=0.9, seed=11)}),
    ("What is 7 times 6?", {"mode": "think", "max_tokens": 150}),
    ("List three colours.", {"mode": "no_think", "max_tokens": 110}),
    ("Why is the sky blue?", {"layout": "interleaved", "max_tokens": 100, "check_every": 6}),
]
CAPACITY = 1600  # slots: more than any one session can use (so each fits alone), far less than all of them


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


def tokens(session):
    return session.tokens["thinker"], session.tokens["writer"], session.stop_reason


@pytest.fixture(scope="module")
def alone(reasoner):
    out = []
    for problem, kwargs in RUNS:
        session = reasoner.start(problem, listen_capacity=0, **kwargs)
        session.result()
        out.append(tokens(session))
    return out


def _serve(engine, runs, on_step=lambda step: None, listen_capacity=0):
    """Submit the runs in order as the pool admits them (as the server's queue does); step until done."""
    pending, sessions, steps = list(runs), [], 0
    while pending or engine.active:
        while pending:
            problem, kwargs = pending[0]
            try:
                sessions.append(engine.submit(problem, listen_capacity=listen_capacity, **kwargs))
            except ArenaFull:
                break
            pending.pop(0)
        engine.step()
        steps += 1
        on_step(steps)
        assert steps < 5000
    return sessions


@pytest.mark.parametrize("decode", ["eager", "static"])
def test_sessions_growing_past_the_pool_are_preempted_and_end_as_alone(reasoner, alone, decode):
    engine = Engine(AsyncReasoner(reasoner.model, reasoner.tokenizer, decode=decode), capacity=CAPACITY)
    table = engine.runner.table
    most, peak = [], []

    def watch(step):
        pool = engine.pool()
        assert pool["used"] + pool["free"] == pool["pages"] == table.pages
        most.append(sum(1 for s in engine.sessions.values() if not engine.preemption.holds(s)))
        peak.append(pool["preempted"])

    sessions = _serve(engine, RUNS, watch)
    assert [tokens(s) for s in sessions] == alone  # preempted and resumed, token for token
    held = sum(len(ids) for s in sessions for ids in s._final_blocks.values())
    assert held > 1.5 * table.capacity  # what they came to hold together, far more than the pool
    assert engine.preemption.count >= 3 and engine.preemption.resumed == engine.preemption.count
    assert max(peak) >= 1 and max(most) >= 3  # several ran at once; some waited swapped out
    assert table.free_pages == table.pages and table.promised == 0 and not table.blocks
    assert engine.pool()["preemptions"] == engine.preemption.count


def test_a_preempted_session_can_be_cancelled_and_heard(reasoner):
    engine = Engine(reasoner, capacity=CAPACITY)
    cancelled = {}

    def on_step(step):
        for session in engine.sessions.values():
            if engine.preemption.holds(session) and not cancelled:
                session.listen("Also, be brief.", to="input", hold="none")  # waits with it, heard on resume
                cancelled["heard"] = session
            elif engine.preemption.holds(session) and "cancel" not in cancelled and session is not cancelled["heard"]:
                session.cancel()
                cancelled["cancel"] = session

    sessions = _serve(engine, RUNS, on_step, listen_capacity=32)
    assert "heard" in cancelled and "cancel" in cancelled
    assert cancelled["cancel"].stop_reason == "cancelled"
    heard = cancelled["heard"]
    assert heard.stop_reason == "cancelled" or any(e.kind == "heard" for e in heard.events)
    assert all(s.done for s in sessions) and engine.runner.table.free_pages == engine.runner.table.pages
