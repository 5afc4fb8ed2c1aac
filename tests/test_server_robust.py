"""Issue 10's service items, each over real HTTP/WebSocket on 127.0.0.1: lone surrogates in any field,
heard input checked by size before it is tokenized (off the event loop), the openai client's
conversation round trip, `chat_template_kwargs`, a queued Realtime response that can be cancelled
and hears items, HEAD /health, and a SIGTERM-style shutdown that drains the streams."""

import json
import threading
import time

import httpx
import openai
import pytest
from websockets.sync.client import connect

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread
from asyncthink.server.background import start_in_thread

MODEL = "tiny-qwen3"
USER = {"role": "user", "content": "What is 2 + 3?"}
BODY = {"model": MODEL, "messages": [USER], "max_tokens": 12, "check_every": 4}


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3", num_hidden_layers=1))


@pytest.fixture(scope="module")
def server(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=60_000)
    app = create_app(reasoner, config)
    with serve_in_thread(app, config) as url:
        yield url, app


def ws_connect(url):
    ws = connect(url.replace("http://", "ws://") + "/v1/realtime", open_timeout=10)
    assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
    return ws


def events_until(ws, kind, timeout=60):
    events = []
    while not events or events[-1]["type"] != kind:
        events.append(json.loads(ws.recv(timeout=timeout)))
    return events


def item(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@pytest.mark.parametrize("field", ["model", "user", "mode", "reasoning_effort", "\ud800"])
def test_lone_surrogate_in_any_http_field_is_a_400_naming_it(server, field):
    url, _ = server
    response = httpx.post(f"{url}/v1/chat/completions", content=json.dumps({**BODY, field: "a\ud800"}), timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_unicode"
    assert response.json()["error"]["param"] == (None if field == "\ud800" else field)


def test_lone_surrogates_in_realtime_events_get_error_events(server):
    url, _ = server
    with ws_connect(url) as ws:
        for event, param in [({"type": "session.update", "session": {"instructions": "\ud800"}}, "session.instructions"),
                             ({"type": "session.update", "session": {}, "event_id": "\ud800"}, "event_id"),
                             ({"type": "\ud800"}, "type"),
                             ({"type": "response.create", "response": {"instructions": "x\udfff"}},
                              "response.instructions")]:
            ws.send(json.dumps(event))
            error = json.loads(ws.recv(timeout=10))
            assert error["type"] == "error" and error["error"]["param"] == param, error
        ws.send(json.dumps({"type": "session.update", "session": {}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "session.updated"  # the connection lives on


def test_heard_input_is_bounded_by_size_before_tokenizing_and_tokenized_off_the_loop(server):
    url, app = server
    state = app.state.server
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=60,
                      json={**BODY, "max_tokens": 400, "stream": True}) as response:
        lines = response.iter_lines()
        completion = json.loads(next(lines)[6:])["id"]
        session = state.running[completion]
        listened = []
        listen = session.listen
        session.listen = lambda text, **kw: (listened.append((len(text), threading.current_thread().name)),
                                             listen(text, **kw))
        big = httpx.post(f"{url}/v1/chat/completions/{completion}/input", json={"text": "z" * 1_000_000}, timeout=30)
        assert big.status_code == 400 and big.json()["error"]["code"] == "input_too_long"
        assert not listened  # refused by its length: never tokenized
        ok = httpx.post(f"{url}/v1/chat/completions/{completion}/input", json={"text": "Also 4?"}, timeout=30)
        assert ok.status_code == 200
        assert listened and listened[0][1] != "asyncthink-uvicorn"  # tokenized in a worker thread
        session.cancel()
        for _ in lines:
            pass


def test_the_openai_client_conversation_round_trip(server):
    url, _ = server
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
    messages = [USER]
    first = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, extra_body={"check_every": 4})
    messages.append(first.choices[0].message)  # refusal, reasoning, reasoning_content, asyncthink, ...
    messages.append({"role": "user", "content": "And 3 + 4?"})
    second = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12)
    assert second.choices[0].message.content is not None
    # what vLLM's clients send back; the earlier turn's reasoning is dropped, as chat templates do
    vllm = {"role": "assistant", "content": first.choices[0].message.content, "tool_calls": [],
            "reasoning_content": "long thoughts " * 20, "refusal": None, "function_call": None, "annotations": []}
    plain = {"role": "assistant", "content": first.choices[0].message.content}
    usage = [httpx.post(f"{url}/v1/chat/completions", timeout=60,
                        json={**BODY, "messages": [USER, assistant, messages[-1]]}).json()["usage"]["prompt_tokens"]
             for assistant in (vllm, plain)]
    assert usage[0] == usage[1]
    for assistant, param in [({**plain, "tool_calls": [{"id": "x"}]}, "messages[1].tool_calls"),
                             ({**plain, "sparkles": 1}, "messages[1].sparkles")]:
        refused = httpx.post(f"{url}/v1/chat/completions", json={**BODY, "messages": [USER, assistant, USER]})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param


def test_chat_template_kwargs_enable_thinking_false_is_no_think(server):
    url, _ = server
    no_think = httpx.post(f"{url}/v1/chat/completions", json={**BODY, "mode": "no_think"}, timeout=60).json()
    kwargs = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                        json={**BODY, "chat_template_kwargs": {"enable_thinking": False}}).json()
    assert kwargs["choices"][0]["message"]["content"] == no_think["choices"][0]["message"]["content"]
    assert kwargs["usage"]["thinker_tokens"] == 0
    for extra, param in [({"chat_template_kwargs": {"enable_thinking": False}, "mode": "think"},
                          "chat_template_kwargs.enable_thinking"),
                         ({"chat_template_kwargs": {"add_generation_prompt": True}},
                          "chat_template_kwargs.add_generation_prompt")]:
        refused = httpx.post(f"{url}/v1/chat/completions", json={**BODY, **extra}, timeout=30)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param


def test_a_queued_realtime_response_can_be_cancelled_and_hears_items(server):
    url, app = server
    engine = app.state.server.engine
    with engine._lock:  # occupy the pool, as long-running sessions would
        hog = engine.runner.table.free_slots - 10
        engine.runner.table.allocate("test/hog", hog)
        engine.runner.table.append("test/hog", [0] * hog)
    try:
        with ws_connect(url) as ws:
            ws.send(json.dumps({"type": "conversation.item.create", "item": item("What is 2 + 3?")}))
            events_until(ws, "conversation.item.created")
            ws.send(json.dumps({"type": "response.create", "response": {"max_response_output_tokens": 40}}))
            time.sleep(0.3)  # (it waits for room: nothing to wait for in the test but the request's arrival)
            ws.send(json.dumps({"type": "conversation.item.create", "item": item("Actually 2 + 4."),
                                "asyncthink": {"hold": "none"}}))
            created = events_until(ws, "conversation.item.created")[-1]
            queued = created["item"]["asyncthink"]["heard_by"]
            assert queued and queued.startswith("resp_")
            ws.send(json.dumps({"type": "response.cancel"}))
            done = events_until(ws, "response.done")[-1]["response"]
            assert done["id"] == queued and done["status"] == "cancelled"
            assert app.state.server.admission.waiting == 0
            # queued again, then room comes back: the response runs and hears the item sent meanwhile
            ws.send(json.dumps({"type": "response.create", "response": {"max_response_output_tokens": 40}}))
            time.sleep(0.3)
            ws.send(json.dumps({"type": "conversation.item.create", "item": item("Or 2 + 5."),
                                "asyncthink": {"hold": "none"}}))
            queued = events_until(ws, "conversation.item.created")[-1]["item"]["asyncthink"]["heard_by"]
            with engine._lock:
                engine.runner.table.free("test/hog")
            events = events_until(ws, "response.done")
            assert events[0]["type"] == "response.created" and events[0]["response"]["id"] == queued
            assert [e["text"] for e in events if e["type"] == "response.asyncthink.heard"] == ["Or 2 + 5."]
    finally:
        if "test/hog" in engine.runner.table.blocks:
            with engine._lock:
                engine.runner.table.free("test/hog")


def test_head_health(server):
    url, _ = server
    response = httpx.head(f"{url}/health")
    assert response.status_code == 200 and response.content == b""


def test_shutdown_drains_streams_each_ending_with_done(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=60_000, drain_timeout=2.0)
    app = create_app(reasoner, config)
    server, thread, url = start_in_thread(app, config)
    run = app.state.server.engine.runner.run
    app.state.server.engine.runner.run = lambda chunks: (time.sleep(0.005), run(chunks))[1]  # long takes > 5 s
    tails = {}

    def client(name, max_tokens):
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=60,
                          json={**BODY, "max_tokens": max_tokens, "stream": True}) as response:
            tails[name] = [line for line in response.iter_lines() if line][-2:]

    clients = [threading.Thread(target=client, args=("long", 1000)), threading.Thread(target=client, args=("short", 6))]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 30
    while app.state.server.engine.active < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.should_exit = True  # what uvicorn's SIGTERM handler does
    for c in clients:
        c.join(timeout=60)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert tails["short"][-1] == "data: [DONE]" and "finish_reason" in tails["short"][0]
    assert tails["long"][-1] == "data: [DONE]"
    assert json.loads(tails["long"][0][6:])["error"]["code"] == "server_shutting_down"
