"""The duplex WebSocket session (`/v1/realtime`) over real HTTP on 127.0.0.1: heard input, cancel,
disconnect, conversation history, and bad client events (each an `error` event, the socket stays open)."""

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"


@pytest.fixture(scope="module")
def server():
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    config = ServerConfig(model_name=MODEL, capacity=30_000, api_key="sk-test-key")
    app = create_app(reasoner, config)
    with serve_in_thread(app, config) as url:
        yield url, app


def ws_url(url):
    return url.replace("http://", "ws://") + "/v1/realtime"


def session(url):
    return connect(ws_url(url), additional_headers={"Authorization": "Bearer sk-test-key"}, open_timeout=10)


def send(ws, kind, **fields):
    ws.send(json.dumps({"type": kind, **fields}))


def user_item(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def receive_until(ws, kind, limit=5000, timeout=60):
    """Events up to and including the first of `kind` (bounded in count and time)."""
    events, deadline = [], time.monotonic() + timeout
    for _ in range(limit):
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        events.append(event)
        if event["type"] == kind:
            return events
        assert event["type"] != "error", event
    raise AssertionError(f"no {kind} in {limit} events")


def wait_idle(url, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/health").json()
        if health["sessions"] == 0 and health["kv_slots"]["allocated"] == 0:
            return health
        time.sleep(0.05)
    raise AssertionError(f"server not idle: {health}")


def test_heard_input_then_cancel(server):
    url, _ = server
    with session(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        send(ws, "session.update", session={"check_every": 4, "max_response_output_tokens": 400})
        assert json.loads(ws.recv(timeout=10))["type"] == "session.updated"
        send(ws, "conversation.item.create", item=user_item("Anna has 3 apples. How many?"))
        assert json.loads(ws.recv(timeout=10))["type"] == "conversation.item.created"
        send(ws, "response.create")
        events = receive_until(ws, "response.reasoning_text.delta")
        assert events[0]["type"] == "response.created"
        send(ws, "conversation.item.create", item=user_item("Actually she has 5."), asyncthink={"hold": "none"})
        events = receive_until(ws, "response.asyncthink.heard")
        heard = events[-1]
        assert heard["text"] == "Actually she has 5." and heard["to"] == "thinker"
        created = next(e for e in events if e["type"] == "conversation.item.created")
        assert created["item"]["asyncthink"]["heard_by"] == heard["response_id"]
        send(ws, "response.cancel")
        done = receive_until(ws, "response.done")[-1]["response"]
        assert done["status"] == "cancelled" and done["asyncthink"]["stop_reason"] == "cancelled"
        assert done["usage"]["thinker_tokens"] < 400  # stopped long before its budget
        assert [h["text"] for h in done["asyncthink"]["heard"]] == ["Actually she has 5."]
        wait_idle(url)
        # the connection lives on: the next question is answered over the conversation so far
        send(ws, "conversation.item.create", item=user_item("And now?"))
        send(ws, "response.create", response={"max_response_output_tokens": 12})
        events = receive_until(ws, "response.done")
        done = events[-1]["response"]
        assert done["status"] in ("completed", "incomplete") and done["usage"]["output_tokens"] <= 12
        assert done["usage"]["input_tokens"] > len("Anna has 3 apples. How many?Actually she has 5.And now?")
        answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert done["output"][1]["content"][0]["text"] == answer


def test_disconnect_cancels_the_running_response(server):
    url, app = server
    with session(url) as ws:
        ws.recv(timeout=10)
        send(ws, "conversation.item.create", item=user_item("Count to a thousand."))
        send(ws, "response.create", response={"max_response_output_tokens": 1000, "check_every": 4})
        receive_until(ws, "response.reasoning_text.delta")
        running = list(app.state.server.engine.sessions.values())
        assert len(running) == 1
    wait_idle(url)
    assert running[0].stop_reason == "cancelled" and running[0].steps < 1000


def test_bad_client_events_get_error_events_and_the_socket_stays_open(server):
    url, _ = server
    with session(url) as ws:
        ws.recv(timeout=10)
        bad = [
            ("{not json", None, "invalid_json"),
            ("[1, 2]", None, "invalid_type"),
            (json.dumps({"type": "nope.nope"}), "type", "unknown_event"),
            (json.dumps({"type": "response.create"}), "conversation", "empty_array"),
            (json.dumps({"type": "response.cancel"}), None, "response_cancel_not_active"),
            (json.dumps({"type": "conversation.item.create", "item": {"role": "robot", "content": []}}),
             "item.role", "invalid_value"),
            (json.dumps({"type": "conversation.item.create", "item": user_item(7)}), "item.content[0].text",
             "invalid_type"),
            (json.dumps({"type": "session.update", "session": {"temperature": "hot"}}), "session.temperature",
             "invalid_type"),
            (json.dumps({"type": "session.update", "session": {"voice": "alloy"}}), "session.voice", "unknown_parameter"),
            (json.dumps({"type": "conversation.item.create", "item": user_item("\ud800")}), "item.content[0].text",
             "invalid_unicode"),
        ]
        for i, (message, param, code) in enumerate(bad):
            ws.send(message)
            error = json.loads(ws.recv(timeout=10))
            assert error["type"] == "error", message
            assert error["error"]["param"] == param and error["error"]["message"], (message, error)
            assert code is None or error["error"]["code"] == code, (message, error)
        send(ws, "conversation.item.create", item=user_item("Say hi."))
        ws.recv(timeout=10)
        send(ws, "response.create", response={"max_response_output_tokens": 200}, event_id="evt_1")
        receive_until(ws, "response.created")
        send(ws, "response.create", event_id="evt_2")
        error = receive_until(ws, "error")[-1]["error"]
        assert error["code"] == "conversation_already_has_active_response" and error["event_id"] == "evt_2"
        send(ws, "response.cancel")
        receive_until(ws, "response.done")
    wait_idle(url)


def test_wrong_key_or_model_is_refused(server):
    url, _ = server
    with connect(ws_url(url), open_timeout=10) as ws:
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["error"]["code"] == "missing_api_key"
    with connect(ws_url(url) + "?model=gpt-x", open_timeout=10,
                 subprotocols=["realtime", "openai-insecure-api-key.sk-test-key"]) as ws:
        error = json.loads(ws.recv(timeout=10))
        assert error["error"]["code"] == "model_not_found"


def test_oversized_message_closes_with_1009_and_the_server_stays_up(server):
    url, app = server
    with session(url) as ws:
        ws.recv(timeout=10)
        ws.send("x" * (app.state.server.config.max_body_bytes + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1009
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
