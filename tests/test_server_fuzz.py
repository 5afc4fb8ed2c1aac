"""A bounded fuzz of the server over real HTTP and WebSocket on 127.0.0.1, while a reference client
streams: malformed JSON, wrong types, huge strings, lone surrogates, invalid numbers, aborted
bodies. Asserted: no 5xx, no connection dropped without a response or a close frame, a normal
request served afterwards, and the reference stream never stalled by more than a second beyond
its own worst gap when alone (measured first, so a slow machine does not fail the test)."""

import json
import logging
import random
import socket
import threading
import time
from collections import Counter

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"
OK = {"model": MODEL, "messages": [{"role": "user", "content": "Hi?"}], "max_tokens": 2}
HUGE = "x" * 200_000
STRANGE = [None, True, 0, -1, 2**70, 1.5, 1e-40, 5e-324, float("inf"), "", "a", HUGE, "\ud800", "a\udfffb",
           [], [1, "a"], {}, {"a": "\ud800"}, {"\ud800": 1}, [[[[[]]]]], "0.5", "null", "é\u0000"]
FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop",
          "stream", "stream_options", "user", "metadata", "mode", "layout", "check_every", "top_k", "n",
          "reasoning_field", "chat_template_kwargs", "max_thinker_tokens", "max_writer_tokens", "logprobs",
          "unknown_field", "\ud800"]
MESSAGE_FIELDS = ["role", "content", "name", "refusal", "tool_calls", "reasoning_content", "extra"]
HTTP_CASES, WS_CASES = 320, 100


@pytest.fixture(scope="module")
def server():
    reasoner = AsyncReasoner(*tiny_model("qwen3", num_hidden_layers=1))
    config = ServerConfig(model_name=MODEL, capacity=200_000, max_waiting=100)
    app = create_app(reasoner, config)
    with serve_in_thread(app, config) as url:
        yield url, app


class Reference:
    """Streams completions back to back; records the longest gap between two chunks of one stream
    (after its first) and the id of the completion now running (a target for /input cases)."""

    def __init__(self, url):
        self.url, self.stop, self.gaps, self.current, self.errors = url, threading.Event(), [], None, []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        body = {**OK, "max_tokens": 120, "check_every": 4, "stream": True}
        with httpx.Client(timeout=60) as http:
            while not self.stop.is_set():
                last = None
                with http.stream("POST", f"{self.url}/v1/chat/completions", json=body) as response:
                    for line in response.iter_lines():
                        now = time.monotonic()
                        if line.startswith("data: {"):
                            chunk = json.loads(line[6:])
                            self.current = chunk.get("id")
                            if "error" in chunk:
                                self.errors.append(chunk)
                        if last is not None and line:
                            self.gaps.append(now - last)
                        last = now if line else last

    def alone(self, gaps: int = 600) -> float:
        """The worst gap over the first `gaps` chunk gaps with nothing else running: the baseline."""
        self.thread.start()
        deadline = time.monotonic() + 60
        while len(self.gaps) < gaps and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stop.set()
        self.thread.join(timeout=60)
        return max(self.gaps)


def hostile_bodies(rng: random.Random):
    """(description, body bytes): every field with a lone surrogate and a few other strange values,
    random multi-field mutations of a valid request, then raw-byte garbage."""
    for field in FIELDS:
        for value in ["\ud800", *rng.sample(STRANGE, 5)]:
            yield f"{field}={value!r:.20}", json.dumps({**OK, field: value}).encode()
    for field in MESSAGE_FIELDS:
        for value in ["\ud800", *rng.sample(STRANGE, 3)]:
            yield f"messages[0].{field}", json.dumps({**OK, "messages": [{**OK["messages"][0], field: value}]}).encode()
    for _ in range(60):
        body = json.loads(json.dumps(OK))
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.3:
                message = body["messages"][0] if isinstance(body.get("messages"), list) and body["messages"] and \
                    isinstance(body["messages"][0], dict) else None
                if message is not None:
                    message[rng.choice(MESSAGE_FIELDS)] = rng.choice(STRANGE)
                    continue
            body[rng.choice(FIELDS)] = rng.choice(STRANGE)
        text = json.dumps(body)  # ASCII: lone surrogates escaped as \ud800, inf spelled Infinity
        yield "mutated", text.encode()
    valid = json.dumps(OK).encode()
    for _ in range(40):
        yield "truncated", valid[: rng.randrange(len(valid))]
    for _ in range(20):
        yield "random bytes", bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    yield "invalid UTF-8", valid.replace(b"Hi?", b"\xff\xfe")
    yield "NaN", valid.replace(b"2}", b"NaN}")
    yield "1e400", valid.replace(b"2}", b"1e400}")
    yield "-0", valid.replace(b"2}", b"-0}")
    yield "deep nesting", b"[" * 50_000 + b"]" * 50_000
    yield "huge content", json.dumps({**OK, "messages": [{"role": "user", "content": "y" * 900_000}]}).encode()
    yield "many messages", json.dumps({**OK, "messages": [{"role": "user", "content": "a"}] * 20_000}).encode()


def aborted_body(url, path: str) -> None:
    """A request that declares a body, sends part of it and goes away."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: 100000\r\n\r\n{{\"model\": ".encode())


def http_fuzz(url, reference, rng, statuses: Counter) -> int:
    sent = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        for name, content in hostile_bodies(rng):
            stream = b'"stream": true' in content
            response = http.post("/v1/chat/completions", content=content)
            if stream and response.status_code == 200:
                assert response.text.rstrip().endswith("data: [DONE]"), (name, response.text[-300:])
            statuses[response.status_code // 100 * 100] += 1
            assert response.status_code < 500, (name, content[:200], response.text[:500])
            sent += 1
        target = reference.current or "chatcmpl-none"
        for text in ("z" * 1_000_000, "\ud800", 5, "", "ok", "w" * 50_000):
            for extra in ({}, {"to": "moon"}, {"hold": 7}):
                body = json.dumps({"text": text, **extra})  # (1 MB of text still fits the body limit)
                response = http.post(f"/v1/chat/completions/{target}/input", content=body)
                statuses[response.status_code // 100 * 100] += 1
                assert response.status_code < 500, response.text[:500]
                sent += 1
        for method, path in [("HEAD", "/health"), ("GET", "/health"), ("DELETE", "/v1/chat/completions"),
                             ("GET", "/v1/models/\udc80"), ("PUT", "/v1/realtime"), ("GET", "/%ff%fe")]:
            try:
                response = http.request(method, path)
            except UnicodeEncodeError:
                response = http.request(method, "/v1/models/%ED%A0%80")
            statuses[response.status_code // 100 * 100] += 1
            assert response.status_code < 500, (method, path, response.status_code)
            sent += 1
    for path in ("/v1/chat/completions", "/v1/chat/completions/x/input") * 5:
        aborted_body(url, path)
        statuses["aborted"] += 1
        sent += 1
    return sent


def ws_messages(rng: random.Random):
    """(message, closes): text or bytes frames; `closes` when the server must close (with a frame)."""
    events = ["session.update", "conversation.item.create", "response.create", "response.cancel"]
    fields = ["session", "item", "response", "event_id", "asyncthink", "type"]
    for _ in range(80):
        event = {"type": rng.choice([*events, *STRANGE[:14]])}
        for _ in range(rng.randint(0, 3)):
            value = rng.choice(STRANGE)
            if rng.random() < 0.5:
                value = {rng.choice(["instructions", "temperature", "role", "content", "mode", "voice", "\ud800",
                                     "max_response_output_tokens", "to"]): value}
            event[rng.choice(fields)] = value
        yield json.dumps(event), False
    for garbage in ("{not json", "[1]", "", "null", '"s"', "\"\\ud800\"", '{"type": "x", "type": 5}'):
        yield garbage, False
    yield b"\x00\x01 binary", False
    yield b'{"type": "response.cancel"}', False
    yield b"\xff\xfe not UTF-8", True  # a text frame that is not UTF-8: closed with 1007
    yield "q" * (1 << 20) + "q", True  # beyond max_body_bytes: closed with 1009


def ws_fuzz(url, rng, outcomes: Counter) -> int:
    ws_url = url.replace("http://", "ws://") + "/v1/realtime"
    cases, ws = 0, None
    try:
        for message, closes in ws_messages(rng):
            if ws is None:
                ws = connect(ws_url, open_timeout=10, max_size=None)
                assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
            if isinstance(message, bytes) and closes:
                ws.send(message, text=True)
            else:
                ws.send(message)
            cases += 1
            if closes:
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        ws.recv(timeout=10)
                assert closed.value.rcvd is not None, f"closed without a close frame after {message[:80]!r}"
                outcomes[f"closed {closed.value.rcvd.code}"] += 1
                ws = None
                continue
            # whatever the message did, the connection answers the next one
            ws.send(json.dumps({"type": "session.update", "session": {}, "event_id": "probe"}))
            replies = []
            while not replies or replies[-1]["type"] != "session.updated":
                replies.append(json.loads(ws.recv(timeout=30)))
            outcomes["error event" if any(r["type"] == "error" for r in replies) else "accepted"] += 1
            if any(r["type"] == "response.created" for r in replies) or rng.random() < 0.1:
                ws.send(json.dumps({"type": "response.cancel"}))
    finally:
        if ws is not None:
            ws.close()
    return cases


class Tracebacks(logging.Handler):
    """Log records that carry a traceback, from the app's and uvicorn's loggers."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        if record.exc_info:
            self.records.append(f"{record.name}: {record.getMessage()}")


def test_fuzz_no_5xx_no_dropped_connection_no_stall(server):
    url, app = server
    tracebacks = Tracebacks()
    for name in ("asyncthink", "uvicorn.error"):
        logging.getLogger(name).addHandler(tracebacks)
    rng = random.Random(10)
    alone = Reference(url).alone()
    reference = Reference(url)
    reference.thread.start()
    while reference.current is None:
        time.sleep(0.01)
    started = time.monotonic()
    statuses, outcomes = Counter(), Counter()
    sent = http_fuzz(url, reference, rng, statuses)
    cases = ws_fuzz(url, rng, outcomes)
    took = time.monotonic() - started
    reference.stop.set()
    reference.thread.join(timeout=60)
    print(f"\nfuzz: {sent} HTTP requests {dict(statuses)}, {cases} WebSocket cases {dict(outcomes)}, "
          f"{took:.1f} s; reference stream worst gap {max(reference.gaps):.3f} s (alone {alone:.3f} s)")
    for name in ("asyncthink", "uvicorn.error"):
        logging.getLogger(name).removeHandler(tracebacks)
    assert sent >= 300 and cases >= 90
    assert not tracebacks.records
    assert not reference.errors
    assert max(reference.gaps) < alone + 1.0, (max(reference.gaps), alone)
    good = httpx.post(f"{url}/v1/chat/completions", json=OK, timeout=60)
    assert good.status_code == 200 and good.json()["choices"][0]["message"]["content"] is not None
    deadline = time.monotonic() + 30
    while (health := httpx.get(f"{url}/health").json())["sessions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert health["status"] == "ok" and health["kv_slots"]["allocated"] == 0
