"""Many sessions in one forward pass: batched == alone, joining/leaving, slot reuse, no growth."""

import gc
import weakref

import pytest

from asyncthink import AsyncReasoner, SamplingParams, SessionError
from asyncthink.engine import Engine
from asyncthink.models.random_weights import tiny_model

RUNS = [
    ("What is 2 + 3?", {"budget": 40, "check_every": 5}),
    ("Name a prime larger than 10.", {"budget": 30, "layout": "interleaved", "check_every": 4}),
    ("Spell cat backwards.", {"budget": 25, "mode": "think"}),
    ("Say hello.", {"budget": 20, "mode": "no_think"}),
    ("Count to five.", {"budget": 35, "sampling": SamplingParams(temperature=0.8, top_p=0.9, seed=11)}),
]


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


def tokens(session):
    return session.tokens["thinker"], session.tokens["writer"], session.stop_reason


@pytest.fixture(scope="module")
def alone(reasoner):
    """Each run on its own (eager block attention): the oracle for batched runs."""
    out = []
    for problem, kwargs in RUNS:
        session = reasoner.start(problem, **kwargs)
        session.result()
        out.append(tokens(session))
    return out


def test_batched_sessions_equal_alone_and_join_mid_run(reasoner, alone):
    engine = Engine(reasoner, capacity=40_000)
    batched = []
    for problem, kwargs in RUNS:  # a new session joins every 3 steps while the others run
        batched.append(engine.submit(problem, **kwargs))
        for _ in range(3):
            engine.step()
    engine.run()
    assert [tokens(s) for s in batched] == alone
    assert max(engine.batch_sizes) == len(RUNS)
    _check_freed(engine, batched)


def test_static_decode_batched_equals_eager_alone(reasoner, alone):
    """The static-shape decode path (what CUDA graphs replay) over a shared arena: every row scores
    the whole extent, other sessions' slots masked out; tokens equal the eager single-session run."""
    static = AsyncReasoner(reasoner.model, reasoner.tokenizer, decode="static")
    engine = Engine(static, capacity=40_000)
    batched = []
    for problem, kwargs in RUNS:
        batched.append(engine.submit(problem, **kwargs))
        for _ in range(3):
            engine.step()
    engine.run()
    assert [tokens(s) for s in batched] == alone
    assert engine.runner.static.steps >= 25  # the decode steps; prefill steps ran eagerly
    _check_freed(engine, batched)


def _check_freed(engine, batched):
    assert engine.runner.table.free_slots == engine.runner.table.capacity  # every block was given back
    for session in batched:  # views stay readable after the blocks were freed
        assert session.view("writer")


def test_full_pool_refuses_then_reuses_freed_pages(reasoner):
    engine = Engine(reasoner, capacity=3000)
    table = engine.runner.table
    table.allocate("test/hog", 3000)
    table.append("test/hog", [0] * 2950)  # other sessions' pages: too few left for the prompt
    used = table.used_pages
    with pytest.raises(SessionError, match="no room for this session now"):
        engine.submit("What is 4 + 5?", budget=800, listen_capacity=0)
    assert engine.active == 0 and table.used_pages == used and list(table.blocks) == ["test/hog"]  # nothing left behind
    table.free("test/hog")
    first = engine.submit("What is 2 + 3?", budget=800, listen_capacity=0)
    for _ in range(3):
        engine.step()
    pages = list(table[f"{first.name}/prompt"].pages)
    first.cancel()
    events = engine.step()
    assert events[first.name][-1].kind == "done" and first.stop_reason == "cancelled"
    assert table.free_slots == table.capacity == 2992  # 187 whole pages of 16
    second = engine.submit("What is 4 + 5?", budget=800, listen_capacity=0)
    engine.step()
    assert table[f"{second.name}/prompt"].pages == pages  # the freed pages, taken again


def test_thousand_short_sessions_do_not_grow(reasoner):
    engine = Engine(reasoner, capacity=20_000)
    arena = engine.runner.arena.keys.data_ptr()
    refs = []
    for wave in range(125):
        for i in range(8):
            refs.append(weakref.ref(engine.submit(f"Q{wave}-{i}?", mode="no_think", budget=2, listen_capacity=0)))
        engine.run()
    assert len(refs) == 1000
    assert engine.runner.arena.keys.data_ptr() == arena  # the arena was never reallocated
    assert engine.runner.table.free_slots == engine.runner.table.capacity and not engine.runner.table.blocks
    assert engine.runner.table._free == [[0, engine.runner.table.pages]]  # freed pages coalesced back into one run
    gc.collect()
    assert sum(r() is not None for r in refs) == 0  # nothing keeps finished sessions alive
    assert engine.batch_sizes[8] >= 125


def test_background_engine_serves_iterating_clients(reasoner):
    import threading

    engine = Engine(reasoner, capacity=40_000)
    engine.start()
    try:
        results = {}

        def client(i):
            session = engine.submit(f"Question {i}?", budget=15 + i, check_every=4)
            results[i] = (list(session), session)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(results) == [0, 1, 2, 3]
        for i, (events, session) in results.items():
            assert events == session.events and events[-1].kind == "done"
            alone = reasoner.solve(f"Question {i}?", budget=15 + i, check_every=4)
            assert [e.token_id for e in events if e.kind == "token"] == [e.token_id for e in alone.events if e.kind == "token"]
        assert max(engine.batch_sizes) > 1
    finally:
        engine.stop()
    assert engine.runner.table.free_slots == engine.runner.table.capacity


def test_chunked_prefill_same_tokens_and_bounded_passes(reasoner, alone):
    """prefill_chunk=40: prompts are fed over several passes of at most 40 prompt rows in all, oldest
    newcomer first, while the other sessions keep decoding; every session's tokens equal its unchunked run."""
    engine = Engine(reasoner, capacity=40_000, prefill_chunk=40)
    batched, rows, prompt_rows = [], [], []

    def step():
        engine.step()
        rows.append(engine.runner.last_plan.rows)
        prompt_rows.append(sum(s.prompt_rows for s in batched))

    for problem, kwargs in RUNS:
        batched.append(engine.submit(problem, **kwargs))
        batched.append(engine.submit(problem + " Again.", **kwargs))  # two newcomers share the budget
        for _ in range(3):
            step()
    while engine.sessions:
        step()
    assert [tokens(s) for s in batched[::2]] == alone
    assert max(prompt_rows) == 40  # the engine's budget: 40 prompt rows per pass, for all newcomers together
    assert len(batched[0].block_ids["prompt"]) > 40 and rows[0] == 40  # the first pass: 40 prompt rows, no more


@pytest.mark.parametrize("bad", [0, -5, 2.5, "256"])
def test_bad_prefill_chunk_is_refused(reasoner, bad):
    with pytest.raises(SessionError, match="prefill_chunk must be a positive number"):
        Engine(reasoner, capacity=1000, prefill_chunk=bad)
    with pytest.raises(SessionError, match="prefill_chunk must be a positive integer"):
        reasoner.start("Hi?", prefill_chunk=bad)
