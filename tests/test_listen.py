"""Listening: input heard while the model thinks and writes."""

import threading

import pytest
import torch
from oracle import StepRecorder
from test_session import ids, scripted, states

from asyncthink import AsyncReasoner, SessionError
from asyncthink.models.random_weights import tiny_model
from asyncthink.sampling import forbidden_ids

PROBLEM = "Anna has 3 apples and buys 4 more. How many apples does she have?"


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


def greedy_continuation(reasoner, context, n):
    with torch.no_grad():
        out = reasoner.model.generate(
            torch.tensor([context]), attention_mask=torch.ones(1, len(context), dtype=torch.long),
            max_new_tokens=n, do_sample=False,
            suppress_tokens=forbidden_ids(reasoner.tokenizer, reasoner.chat_format, "thinker"))
    return out[0, len(context):].tolist()


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_heard_into_thinker_is_exact_sequential_decoding(arch):
    for seed in range(6):
        reasoner = AsyncReasoner(*tiny_model(arch, seed=seed))
        session = reasoner.start(PROBLEM, budget=200, check_every=9)
        for _ in range(30):
            session.step()
        if session.state != "thinker_and_writer" and session.state != "thinker_only":
            continue  # random weights ended the thinking early; try the next seed
        before = len(session.tokens["thinker"])
        session.listen("Actually, make it five apples.", to="thinker", hold="none")
        heard = session.step()
        assert [e.kind for e in heard if e.stream == "input"] == ["heard"]
        context = session.view("thinker")
        marker = ids(reasoner, "\n\n[New input from the user: Actually, make it five apples.]\n\n")
        assert context[-len(marker):] == marker
        session.result()
        after = session.tokens["thinker"][before:]
        assert after == greedy_continuation(reasoner, context, len(after))[: len(after)]
        if len(after) >= 100:
            return
    pytest.fail("no seed kept the thinker going for 100 tokens after the input")


def test_heard_into_input_block_reaches_every_view(reasoner):
    session = reasoner.start(PROBLEM, budget=60, check_every=5, on_input="continue")
    for _ in range(20):
        session.step()
    blocks = {name: list(block.tokens) for name, block in session.runner.table.blocks.items()}
    session.listen("Also give the answer in words.", to="input")
    session.step()
    added = ids(reasoner, "\nAlso give the answer in words.")
    fed = {c.chunk.block: c.chunk.tokens for c in session.runner.last_plan.chunks}
    assert fed["input"] == added
    blocks["scratch"] = []  # the control question was asked and reset
    for stream in ("thinker", "writer", "control"):
        view = session.layout.views[stream]
        expected = [t for b in view for t in blocks[b] + (fed.get(b, []) if b != "scratch" else [])]
        assert session.view(stream) == expected, stream
        assert "input" in view and view.index("input") < view.index("thoughts")


def test_input_heard_before_start_is_computed_in_the_thinkers_own_context(reasoner):
    """A stream whose whole view it computed itself matches a plain forward exactly."""
    session = reasoner.start(PROBLEM, budget=40)
    session.listen("Use only integers.", to="input")
    recorder = StepRecorder(session, max_steps=40)
    session.result()
    view = session.view("thinker")
    assert reasoner.tokenizer.decode(view).count("Use only integers.") == 1
    thoughts = session.tokens["thinker"]
    fed = session.runner.table["thoughts"].length - len(session.block_ids["thoughts"])
    prompt = view[: len(view) - fed]
    with torch.no_grad():
        plain = reasoner.model(input_ids=torch.tensor([prompt + thoughts[:5]])).logits[0]
    engine_first = recorder.records[0][1][0]  # the thinker's logits at step 0
    assert torch.allclose(engine_first, plain[len(prompt) - 1], atol=1e-4)
    assert thoughts == greedy_continuation(reasoner, prompt, len(thoughts))[: len(thoughts)]


def test_only_new_tokens_are_computed(reasoner):
    session = reasoner.start(PROBLEM, budget=80, check_every=1000)
    for _ in range(10):
        session.step()
    rows_before = session.runner.rows_computed
    session.listen("One more thing.", to="both", hold="none")
    session.step()
    plan = session.runner.last_plan
    marker = ids(reasoner, "\n\n[New input from the user: One more thing.]\n\n")
    input_part = ids(reasoner, "\nOne more thing.")
    expected = 1 + len(marker) + len(input_part)  # the thinker's token, then only the heard text
    assert plan.rows == expected == session.runner.rows_computed - rows_before
    session.step()
    assert session.runner.last_plan.rows == 1  # and back to plain decoding


def test_listen_from_another_thread_in_bursts_keeps_order():
    reasoner = AsyncReasoner(*tiny_model("qwen3", max_position_embeddings=16384))
    session = reasoner.start(PROBLEM, budget=150, check_every=10, listen_capacity=4000, listen_to="both",
                             listen_hold="none")
    texts = [f"note {i}" for i in range(40)]

    def speak():
        for start in range(0, len(texts), 8):  # bursts of 8
            for text in texts[start:start + 8]:
                session.listen(text)
            threading.Event().wait(0.01)

    thread = None
    for event in session:
        if thread is None and event.kind == "token":
            thread = threading.Thread(target=speak)
            thread.start()
        if thread is not None and not thread.is_alive() and len([e for e in session.events if e.kind == "heard"]) == 40:
            session.cancel()
    thread.join()
    heard = [e.text for e in session.events if e.kind == "heard"]
    assert heard == texts
    decoded = reasoner.tokenizer.decode(session.view("thinker"))
    positions = [decoded.index(f"[New input from the user: {t}]") for t in texts]
    assert positions == sorted(positions)
    assert decoded.count("[New input from the user:") == 40


def test_hold_until_sentence_end(reasoner):
    session = scripted(reasoner, thinker=ids(reasoner, "abc def. gh"), check_every=1000)
    session.listen("wait", hold="sentence")
    for _ in range(12):
        session.step()
    heard = next(e for e in session.events if e.kind == "heard")
    # "abc def." ends at token 8 (step 7); it is fed with that token on step 8
    assert heard.step == 8 and heard.data["to"] == "thinker"


def test_max_hold_bounds_the_wait(reasoner):
    session = scripted(reasoner, check_every=1000, max_hold=5)
    session.listen("wait", hold="paragraph")
    for _ in range(10):
        session.step()
    heard = next(e for e in session.events if e.kind == "heard")
    assert heard.data["waited_tokens"] == 5


def test_heard_input_pauses_the_writer_by_default(reasoner):
    session = scripted(reasoner, control=[True] * 10, check_every=2)
    for _ in range(5):
        session.step()
    assert session.state == "thinker_and_writer"
    session.listen("stop", hold="none")
    session.step()
    assert states(session)[-1] == ("thinker_only", "heard_input")
    resumed = scripted(reasoner, control=[True] * 10, check_every=2, on_input="continue")
    for _ in range(5):
        resumed.step()
    resumed.listen("stop", hold="none")
    resumed.step()
    assert resumed.state == "thinker_and_writer"


def test_after_thinking_input_goes_to_the_request(reasoner):
    close = reasoner.tokenizer.convert_tokens_to_ids("</think>")
    session = scripted(reasoner, thinker=[close], budget=20)
    for _ in range(3):
        session.step()
    assert session.state == "writer_only"
    session.listen("in French please", to="thinker")
    session.step()
    heard = next(e for e in session.events if e.kind == "heard")
    assert heard.data == {**heard.data, "to": "input", "requested": "thinker"}
    assert "in French please" in reasoner.tokenizer.decode(session.view("writer"))


def test_bad_listen_input(reasoner):
    session = reasoner.start(PROBLEM, budget=5, listen_capacity=60)
    with pytest.raises(SessionError, match="non-empty"):
        session.listen("   ")
    with pytest.raises(SessionError, match="listen target"):
        session.listen("hi", to="writer")
    with pytest.raises(SessionError, match="listening room"):
        session.listen("x" * 100)
    session.listen("fits")  # the failed calls reserved nothing
    session.result()
    with pytest.raises(SessionError, match="finished"):
        session.listen("too late")
    assert session.view("thinker")  # the session is intact


def test_unheard_input_is_reported_not_lost(reasoner):
    session = scripted(reasoner, check_every=1000, budget=3, max_hold=100)
    session.listen("held", hold="paragraph")
    session.result()
    assert session.events[-1].data["unheard"] == ["held"]


def test_listen_from_an_asyncio_task_while_streaming(reasoner):
    import asyncio

    async def main():
        session = reasoner.start(PROBLEM, budget=40, listen_hold="none")
        seen = []

        async def speak():
            await asyncio.sleep(0)
            session.listen("from asyncio")

        task = None
        async for event in session.astream():
            seen.append(event)
            if task is None and event.kind == "token":
                task = asyncio.create_task(speak())
        await task
        return seen

    events = asyncio.run(main())
    assert [e.text for e in events if e.kind == "heard"] == ["from asyncio"]


def test_input_heard_during_chunked_prefill_waits_for_the_whole_prompt():
    """With the prompt fed in chunks, input aimed at the request waits until the prompt is complete,
    so its keys are computed over the whole prompt: the same keys as when it is fed together with an
    unchunked prompt (a partial prompt would give other keys)."""
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    runs = []
    for chunk in (None, 16):
        session = reasoner.start("What is 2 + 3?", budget=30, prefill_chunk=chunk)
        session.listen("Actually, make it 2 + 4.", to="input")
        passes = 0
        while not any(e.kind == "heard" for e in session.events):
            session.step()
            passes += 1
        slots = session.runner.table.slots(session.block["input"])
        keys = session.runner.arena.keys[:, :, slots].clone()
        runs.append((passes, keys, len(session.block_ids["prompt"])))
        session.cancel()
        session.result()
    (first, unchunked_keys, prompt), (later, chunked_keys, _) = runs
    assert first == 1 and later >= -(-prompt // 16)  # heard only once the chunked prompt was complete
    assert unchunked_keys.shape == chunked_keys.shape and unchunked_keys.shape[2] > 0
    torch.testing.assert_close(chunked_keys, unchunked_keys, atol=1e-5, rtol=1e-5)


def test_sentence_boundary_reads_the_tail_as_the_regular_expression_reads_the_whole_text():
    """at_boundary reads only the text's tail; a deliberately simple oracle (the regular expression
    it replaced, searched over the whole text) agrees on random texts, Unicode whitespace included."""
    import random
    import re

    from asyncthink.listening import at_boundary

    oracle = re.compile(r"([.!?;:]\s*|\n)$")
    alphabet = ["a", "7", " ", "\n", "\t", "\u00a0", "\u2003", ".", "!", "?", ";", ":", ",", "é"]
    rng = random.Random(0)
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(20000)]
    texts += ["x.\n\n", "Tens:", "so . ", "\n", " ", "a\u00a0", "done.\u2003\u2003", "a,\n b"]
    for text in texts:
        assert at_boundary(text, "sentence") == bool(oracle.search(text)), repr(text)
    assert at_boundary("", "sentence") and at_boundary("abc", "none")
    assert at_boundary("a.\n\n", "paragraph") and not at_boundary("a.\n", "paragraph")
