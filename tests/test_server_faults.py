"""A session that fails inside the engine, over real HTTP: its client gets an error (an error event
and [DONE] when streaming, a 500 otherwise), the other clients finish with the same text as alone,
and the server goes on. An engine that cannot go on: /health says so, new requests get 503 with
Retry-After, and the server stops (so `asyncthink serve` exits non-zero for a supervisor)."""

import json
import threading

import httpx
import pytest
import torch

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread
from asyncthink.server.background import start_in_thread

MODEL = "tiny-qwen3"
POISON = "Poisoned question"
QUESTIONS = ["What is 2 + 3?", "Name a prime.", "Spell cat backwards.", "Count to five."]


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3", num_hidden_layers=1))


def poison(engine):
    """The forward pass raises whenever it carries a row of a session asked the poisoned question."""
    poisoned, submit, run = set(), engine.submit, engine.runner.run

    def tracking_submit(problem, **kwargs):
        session = submit(problem, **kwargs)
        if POISON in problem:
            poisoned.add(session.name)
        return session

    def failing_run(chunks):
        if any(c.block.split("/")[0] in poisoned for c in chunks):
            raise RuntimeError("injected fault in the forward pass")
        return run(chunks)

    engine.submit, engine.runner.run = tracking_submit, failing_run


def body(question, stream=True, **extra):
    return {"model": MODEL, "messages": [{"role": "user", "content": question}], "max_tokens": 30,
            "check_every": 4, "stream": stream, **extra}


def stream(url, question):
    """(reasoning, content, error chunks, ended with [DONE])"""
    reasoning, content, errors, lines = [], [], [], []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body(question), timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    errors.append(chunk["error"])
                    continue
                delta = chunk["choices"][0]["delta"] if chunk["choices"] else {}
                reasoning.append(delta.get("reasoning") or "")
                content.append(delta.get("content") or "")
    return "".join(reasoning), "".join(content), errors, [l for l in lines if l][-1] == "data: [DONE]"


def test_a_failing_session_fails_alone_and_the_others_equal_alone(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=100_000)
    app = create_app(reasoner, config)
    with serve_in_thread(app, config) as url:
        alone = [stream(url, q) for q in QUESTIONS]
        poison(app.state.server.engine)
        together = [None] * (len(QUESTIONS) + 1)

        def client(i):
            together[i] = stream(url, QUESTIONS[i] if i < len(QUESTIONS) else f"{POISON} {i}?")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(together))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert together[:-1] == alone  # same text, no error, [DONE]
        *_, errors, done = together[-1]
        assert [e["code"] for e in errors] == ["session_failed"] and done
        refused = httpx.post(f"{url}/v1/chat/completions", json=body(f"{POISON}!", stream=False), timeout=60)
        assert refused.status_code == 500 and refused.json()["error"]["code"] == "session_failed"
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "ok"
        assert stream(url, QUESTIONS[0]) == alone[0]  # served afterwards as before
        print(f"\nfault: {len(QUESTIONS)} clients equal alone next to 1 failing session "
              f"(error event session_failed + [DONE]); non-streaming failing request: 500 session_failed")


def test_a_tiny_temperature_is_served_greedily(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=30_000)
    with serve_in_thread(create_app(reasoner, config), config) as url:
        greedy = httpx.post(f"{url}/v1/chat/completions", json=body(QUESTIONS[0], stream=False), timeout=60)
        for temperature in (1e-40, 5e-324):
            tiny = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                              json=body(QUESTIONS[0], stream=False, temperature=temperature))
            assert tiny.status_code == 200
            assert tiny.json()["choices"][0]["message"]["content"] == greedy.json()["choices"][0]["message"]["content"]
        assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_an_engine_that_cannot_go_on_stops_admitting_and_stops_the_server(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=30_000, drain_timeout=1.0)
    app = create_app(reasoner, config)
    server, thread, url = start_in_thread(app, config)
    state = app.state.server
    stopping = threading.Event()
    state.on_engine_failure = stopping.set  # hold the shutdown back to look at the server first

    def broken(chunks):
        raise torch.AcceleratorError("CUDA error: an illegal memory access was encountered")

    state.engine.runner.run = broken
    *_, errors, done = stream(url, QUESTIONS[0])
    assert [e["code"] for e in errors] == ["engine_failed"] and done
    assert stopping.wait(10)
    health = httpx.get(f"{url}/health")
    assert health.status_code == 503 and health.json()["status"] == "failed" and health.headers["Retry-After"]
    assert httpx.head(f"{url}/health").status_code == 503
    refused = httpx.post(f"{url}/v1/chat/completions", json=body(QUESTIONS[1], stream=False), timeout=30)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "engine_failed"
    assert refused.headers["Retry-After"]
    server.stop()  # what on_engine_failure does when not held back
    thread.join(timeout=30)
    assert not thread.is_alive() and server.engine_failed  # `asyncthink serve` then exits with status 1
