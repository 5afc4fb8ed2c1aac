"""Many clients at once over real HTTP on 127.0.0.1: batched decoding equal to single clients,
disconnects that cancel sessions and free their KV slots, and admission when the arena is full."""

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
    return AsyncReasoner(*tiny_model("qwen3"))


@pytest.fixture(scope="module")
def server(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=200_000, max_waiting=100)
    app = create_app(reasoner, config)
    with serve_in_thread(app, config) as url:
        yield url, app.state.server.engine


def request(question, max_tokens, **extra):
    return {"model": MODEL, "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "check_every": 4, "stream": True, **extra}


def stream_text(http, url, body):
    """(reasoning, content) of one streamed completion."""
    reasoning, content = [], []
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:])["choices"]
                delta = choices[0]["delta"] if choices else {}
                reasoning.append(delta.get("reasoning", ""))
                content.append(delta.get("content") or "")
    return "".join(reasoning), "".join(content)


def health(url):
    return httpx.get(f"{url}/health", timeout=10).json()


def wait_idle(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = health(url)
        if state["sessions"] == 0 and state["kv_slots"]["allocated"] == 0:
            return state
        time.sleep(0.05)
    raise AssertionError(f"not idle after {timeout} s: {state}")


def run_threads(target, n, timeout=120):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)


def test_sixteen_concurrent_clients_are_batched_and_equal_single_clients(server):
    url, engine = server
    questions = [f"What is {i} + {i + 3}?" for i in range(16)]
    with httpx.Client(timeout=120) as http:
        alone = [stream_text(http, url, request(q, 16)) for q in questions]
    assert any(content for _, content in alone) and all(reasoning for reasoning, _ in alone)
    before = dict(engine.batch_sizes)
    together = {}
    barrier = threading.Barrier(16)

    def client(i):
        with httpx.Client(timeout=120) as http:
            barrier.wait(timeout=30)
            together[i] = stream_text(http, url, request(questions[i], 16))

    run_threads(client, 16)
    assert [together[i] for i in range(16)] == alone
    batched = {size: n - before.get(size, 0) for size, n in engine.batch_sizes.items() if size > 1}
    assert sum(batched.values()) > 0 and max(batched) >= 4, batched
    wait_idle(url)


def test_fifty_clients_disconnecting_mid_stream_are_cancelled_and_freed(server):
    url, engine = server
    idle = wait_idle(url)["kv_slots"]["allocated"]
    sessions, submit = [], engine.submit

    def recording_submit(*args, **kwargs):  # remember each session and the step at which it was cancelled
        session = submit(*args, **kwargs)
        cancel = session.cancel

        def noting_cancel():
            if not hasattr(session, "steps_at_cancel"):
                session.steps_at_cancel = session.steps
            cancel()

        session.cancel = noting_cancel
        sessions.append(session)
        return session

    engine.submit = recording_submit
    try:
        def client(i):
            body = request(f"Count to {i}.", 300)
            with httpx.Client(timeout=120) as http, http.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                for line in r.iter_lines():
                    if '"reasoning"' in line:
                        break  # mid-stream: the client goes away

        run_threads(client, 50)
        assert wait_idle(url)["kv_slots"]["allocated"] == idle == 0
    finally:
        del engine.submit
    assert len(sessions) == 50
    assert all(s.stop_reason == "cancelled" for s in sessions)
    assert all(s.steps - s.steps_at_cancel <= 1 for s in sessions)  # stopped within one step of the cancel
    assert max(s.steps for s in sessions) < 300
    with httpx.Client(timeout=60) as http:
        reasoning, _ = stream_text(http, url, request("Still there?", 8))
    assert reasoning and health(url)["status"] == "ok"


def test_non_streaming_clients_that_give_up_are_cancelled(server):
    url, engine = server
    sessions, submit = [], engine.submit
    engine.submit = lambda *args, **kwargs: sessions.append(submit(*args, **kwargs)) or sessions[-1]
    try:
        def client(i):
            body = {**request(f"Spell {i} slowly.", 400), "stream": False}
            with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=httpx.Timeout(30, read=0.5)) as http:
                http.post(f"{url}/v1/chat/completions", json=body)

        run_threads(client, 5)
        wait_idle(url)
    finally:
        del engine.submit
    assert len(sessions) == 5 and all(s.stop_reason == "cancelled" and s.steps < 400 for s in sessions)


def test_full_arena_queues_then_429_503_and_admits_when_room_returns(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=3000, max_waiting=1, queue_timeout=1.0, listen_capacity=0)
    app = create_app(reasoner, config)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi?"}], "max_tokens": 8}
    with serve_in_thread(app, config) as url, httpx.Client(timeout=60) as http:
        engine = app.state.server.engine
        never = http.post(f"{url}/v1/chat/completions", json={**body, "max_tokens": 2990})
        assert never.status_code == 400 and never.json()["error"]["param"] == "max_tokens"
        assert "KV pool" in never.json()["error"]["message"]
        with engine._lock:  # occupy the pool as long-running sessions would
            engine.runner.table.allocate("test/hog", 2990)
            engine.runner.table.append("test/hog", [0] * 2990)
        replies = {}

        def waiting_client(key):
            replies[key] = http.post(f"{url}/v1/chat/completions", json=body)

        first = threading.Thread(target=waiting_client, args=("timed_out",))
        first.start()
        deadline = time.monotonic() + 10
        while health(url)["waiting"] != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        full = http.post(f"{url}/v1/chat/completions", json=body)
        assert full.status_code == 429 and full.json()["error"]["code"] == "queue_full"
        assert int(full.headers["Retry-After"]) >= 1
        first.join(timeout=30)
        assert replies["timed_out"].status_code == 503
        assert replies["timed_out"].json()["error"]["code"] == "queue_timeout"
        assert int(replies["timed_out"].headers["Retry-After"]) >= 1
        second = threading.Thread(target=waiting_client, args=("admitted",))
        second.start()
        while health(url)["waiting"] != 1 and time.monotonic() < deadline + 10:
            time.sleep(0.01)
        with engine._lock:
            engine.runner.table.free("test/hog")
        second.join(timeout=30)
        assert replies["admitted"].status_code == 200
        assert replies["admitted"].json()["usage"]["queue_time"] > 0
        assert wait_idle(url)["waiting"] == 0


def test_waiting_clients_that_leave_give_up_their_place(reasoner):
    """A client that disconnects while waiting for KV room leaves the queue at once (not at the timeout)."""
    config = ServerConfig(model_name=MODEL, capacity=3000, max_waiting=4, queue_timeout=60.0, listen_capacity=0)
    app = create_app(reasoner, config)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi?"}], "max_tokens": 8, "stream": True}
    with serve_in_thread(app, config) as url:
        engine = app.state.server.engine
        with engine._lock:
            engine.runner.table.allocate("test/hog", 2990)
            engine.runner.table.append("test/hog", [0] * 2990)

        def leaving_client(i):
            with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=httpx.Timeout(30, read=0.5)) as http:
                http.post(f"{url}/v1/chat/completions", json=body)

        run_threads(leaving_client, 3)
        deadline = time.monotonic() + 10
        while health(url)["waiting"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert health(url)["waiting"] == 0  # well before the 60 s queue timeout
        with engine._lock:
            engine.runner.table.free("test/hog")
        assert wait_idle(url)["sessions"] == 0 and engine.active == 0  # none of them was started later
