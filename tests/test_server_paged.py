"""The server over a paged KV pool: admission by what sessions use, preemption under load, /health.

Before the paged pool a session reserved room for 2 x max_tokens up front: on the default
16384-slot arena `max_tokens: 8192` was refused outright and only two sessions of 3000 ran at once.
"""

import json
import threading
import time

import httpx
import pytest

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3", max_position_embeddings=40960))  # Qwen3's context


def health(url):
    return httpx.get(f"{url}/health", timeout=10).json()


def wait_idle(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = health(url)
        if state["sessions"] == 0 and state["kv_slots"]["allocated"] == 0:
            return state
        time.sleep(0.05)
    raise AssertionError(f"server not idle: {health(url)}")


def test_sixteen_streams_of_max_tokens_8192_all_run_on_the_default_pool(reasoner):
    config = ServerConfig(model_name=MODEL)  # the defaults: 16384 slots in pages of 16
    app = create_app(reasoner, config)
    seen, stop = [], threading.Event()
    with serve_in_thread(app, config) as url:
        idle = health(url)
        assert idle["kv_pages"] == {"page_size": 16, "pages": 1024, "used": 0, "free": 1024, "preempted": 0,
                                    "preemptions": 0}
        assert idle["kv_slots"] == {"allocated": 0, "capacity": 16384}

        def client(i):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
                    "max_tokens": 8192, "stream": True, "mode": "think"}
            tokens = 0
            with httpx.Client(timeout=120) as http, http.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                assert r.status_code == 200, r.read()
                for line in r.iter_lines():
                    if line.startswith("data: {") and json.loads(line[6:])["choices"]:
                        tokens += 1
                    if stop.is_set():
                        break  # disconnect: the server cancels the session
            seen.append(tokens)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        deadline, running = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            state = health(url)
            if state["sessions"] == 16 and state["waiting"] == 0 and state["kv_pages"]["used"] >= 16 * 4:
                running = state
                break
            time.sleep(0.05)
        time.sleep(1.0)  # let them all decode a while
        stop.set()
        for t in threads:
            t.join(timeout=120)
        assert running is not None, health(url)
        # what they hold is what they wrote: a few pages each, nowhere near 2 x 8192 slots
        assert running["kv_slots"]["allocated"] < 16384 / 4 and running["kv_pages"]["preemptions"] == 0
        assert len(seen) == 16 and min(seen) >= 1  # every stream decoded
        assert wait_idle(url)["kv_pages"]["used"] == 0


def test_preemption_under_load_keeps_every_answer_and_is_reported(reasoner):
    """A small pool: eight concurrent requests outgrow it, the newest are preempted and resumed; every
    response equals the same request served alone, and /health counts the preemptions."""
    config = ServerConfig(model_name=MODEL, capacity=1600, listen_capacity=32, max_waiting=16)
    questions = [f"Question {i}: what is {i} + {2 * i + 1}?" for i in range(8)]
    alone = {q: reasoner.solve(q, mode="think", max_tokens=150, listen_capacity=32) for q in questions}
    app = create_app(reasoner, config)
    replies = {}
    with serve_in_thread(app, config) as url:

        def client(question):
            body = {"model": MODEL, "messages": [{"role": "user", "content": question}], "max_tokens": 150,
                    "mode": "think"}
            replies[question] = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300)

        threads = [threading.Thread(target=client, args=(q,)) for q in questions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        state = wait_idle(url)
    assert state["kv_pages"]["preemptions"] >= 1 and state["kv_pages"]["preempted"] == 0
    for question, result in alone.items():
        message = replies[question].json()["choices"][0]["message"]
        assert (message["reasoning"], message["content"]) == (result.thoughts, result.answer)
