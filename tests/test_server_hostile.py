"""Malformed and hostile requests over real HTTP on 127.0.0.1: each gets a 4xx in OpenAI's error
schema with a message (and, for a bad field, `param` naming it); never a 500; the server stays up."""

import json
import socket

import httpx
import pytest

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"
KEY = "sk-hostile-test"
AUTH = {"Authorization": f"Bearer {KEY}"}
LIMIT = 64 * 1024
OK = {"model": MODEL, "messages": [{"role": "user", "content": "Hi?"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def url():
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    config = ServerConfig(model_name=MODEL, capacity=60_000, api_key=KEY, max_body_bytes=LIMIT)
    with serve_in_thread(create_app(reasoner, config), config) as base:
        yield base


def body(**changes) -> bytes:
    """The valid request with fields replaced (or DROPped), as ASCII JSON (lone surrogates escaped)."""
    out = {**OK, **changes}
    return json.dumps({k: v for k, v in out.items() if v is not DROP}).encode()


DROP = object()
USER = {"role": "user", "content": "Hi?"}

# (name, field values replacing the valid body's, expected param); expected status 400 unless noted
FIELD_CASES = [
    ("missing model", {"model": DROP}, "model"),
    ("missing messages", {"messages": DROP}, "messages"),
    ("model not a string", {"model": 3}, "model"),
    ("model null", {"model": None}, "model"),
    ("messages not a list", {"messages": "hi"}, "messages"),
    ("messages an object", {"messages": {"role": "user"}}, "messages"),
    ("empty messages", {"messages": []}, "messages"),
    ("message not an object", {"messages": ["hi"]}, "messages[0]"),
    ("message without role", {"messages": [{"content": "x"}]}, "messages[0].role"),
    ("unknown role", {"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ("tool role", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ("content a number", {"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
    ("content an object", {"messages": [{"role": "user", "content": {"a": 1}}]}, "messages[0].content"),
    ("image part", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0].type"),
    ("text part without text", {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text"),
    ("unknown message field", {"messages": [{"role": "user", "content": "x", "tool_calls": []}]},
     "messages[0].tool_calls"),
    ("last message from assistant", {"messages": [USER, {"role": "assistant", "content": "ok"}]}, "messages[1].role"),
    ("last message empty", {"messages": [{"role": "user", "content": "   "}]}, "messages[0].content"),
    ("last user content null", {"messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    ("lone surrogate", {"messages": [{"role": "user", "content": "a\ud800b"}]}, "messages[0].content"),
    ("max_tokens string", {"max_tokens": "10"}, "max_tokens"),
    ("max_tokens float", {"max_tokens": 10.5}, "max_tokens"),
    ("max_tokens bool", {"max_tokens": True}, "max_tokens"),
    ("max_tokens zero", {"max_tokens": 0}, "max_tokens"),
    ("max_tokens negative", {"max_tokens": -5}, "max_tokens"),
    ("max_tokens huge", {"max_tokens": 10**9}, "max_tokens"),
    ("max_tokens astronomically huge", {"max_tokens": 10**40}, "max_tokens"),
    ("max_tokens beyond context", {"max_tokens": 4000}, "max_tokens"),
    # async mode on the 4096-position model: at most 2889 completion tokens fit next to "Hi?", its
    # instructions and the listening room (test_server_tokens.py checks the boundary itself)
    ("max_tokens just past what fits", {"max_tokens": 2890}, "max_tokens"),
    ("max_completion_tokens huge", {"max_completion_tokens": 10**6}, "max_completion_tokens"),
    ("max_completion_tokens string", {"max_completion_tokens": "a lot"}, "max_completion_tokens"),
    ("temperature string", {"temperature": "hot"}, "temperature"),
    ("temperature numeric string", {"temperature": "0.5"}, "temperature"),
    ("temperature negative", {"temperature": -1}, "temperature"),
    ("temperature too high", {"temperature": 3}, "temperature"),
    ("temperature huge", {"temperature": 1e308}, "temperature"),
    ("top_p zero", {"top_p": 0}, "top_p"),
    ("top_p above one", {"top_p": 1.5}, "top_p"),
    ("top_p list", {"top_p": [0.5]}, "top_p"),
    ("seed string", {"seed": "42"}, "seed"),
    ("seed float", {"seed": 1.5}, "seed"),
    ("seed too large", {"seed": 2**70}, "seed"),
    ("stop number", {"stop": 5}, "stop"),
    ("stop list with number", {"stop": ["a", 5]}, "stop[1]"),
    ("stop empty string", {"stop": ""}, "stop"),
    ("too many stops", {"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ("stream string", {"stream": "yes"}, "stream"),
    ("stream number", {"stream": 1}, "stream"),
    ("stream_options without stream", {"stream_options": {"include_usage": True}}, "stream_options"),
    ("stream_options not an object", {"stream": True, "stream_options": "usage"}, "stream_options"),
    ("include_usage string", {"stream": True, "stream_options": {"include_usage": "yes"}},
     "stream_options.include_usage"),
    ("unknown stream option", {"stream": True, "stream_options": {"foo": 1}}, "stream_options.foo"),
    ("n = 2", {"n": 2}, "n"),
    ("n = 0", {"n": 0}, "n"),
    ("logprobs", {"logprobs": True}, "logprobs"),
    ("frequency penalty", {"frequency_penalty": 0.5}, "frequency_penalty"),
    ("presence penalty", {"presence_penalty": -1}, "presence_penalty"),
    ("tools", {"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
    ("response_format", {"response_format": {"type": "json_object"}}, "response_format"),
    ("unknown field", {"foo": "bar"}, "foo"),
    ("metadata with numbers", {"metadata": {"a": 1}}, "metadata.a"),
    ("mode unknown", {"mode": "fast"}, "mode"),
    ("mode number", {"mode": 1}, "mode"),
    ("layout unknown", {"layout": "sideways"}, "layout"),
    ("layout with think mode", {"mode": "think", "layout": "interleaved"}, "layout"),
    ("check_every zero", {"check_every": 0}, "check_every"),
    ("check_every string", {"check_every": "often"}, "check_every"),
    ("max_thinker_tokens negative", {"max_thinker_tokens": -1}, "max_thinker_tokens"),
    ("max_writer_tokens float", {"max_writer_tokens": 2.5}, "max_writer_tokens"),
    ("top_k negative", {"top_k": -3}, "top_k"),
    ("reasoning_field unknown", {"reasoning_field": "thoughts"}, "reasoning_field"),
    ("prompt beyond the context", {"messages": [{"role": "user", "content": "x" * 5000}]}, "messages"),
    # fits the context alone (3700 byte tokens < 4096), not with the layout's instructions around it
    ("prompt beyond the context with the layout", {"messages": [{"role": "user", "content": "x" * 3700}]}, "messages"),
    ("unknown model", {"model": "gpt-4o"}, "model"),
    ("empty model", {"model": ""}, "model"),
]

RAW_BODIES = [
    ("truncated JSON", b'{"model": "tiny'),
    ("trailing garbage", json.dumps(OK).encode() + b"}}"),
    ("single quotes", b"{'model': 'x'}"),
    ("bare word", b"hello"),
    ("empty body", b""),
    ("whitespace body", b"   \n"),
    ("JSON list", b"[1, 2, 3]"),
    ("JSON string", b'"a string"'),
    ("JSON number", b"42"),
    ("JSON null", b"null"),
    ("JSON true", b"true"),
    ("NaN temperature", json.dumps(OK).encode()[:-1] + b', "temperature": NaN}'),
    ("Infinity max_tokens", json.dumps({**OK, "max_tokens": 1}).encode().replace(b"1}", b"Infinity}")),
    ("invalid UTF-8", b'{"model": "tiny-qwen3", "messages": [{"role": "user", "content": "\xff\xfe"}]}'),
    ("overlong UTF-8", b'{"model": "\xc0\xaf"}'),
    ("UTF-16 body", json.dumps(OK).encode("utf-16")),
    ("deep nesting", b"[" * 30_000 + b"]" * 30_000),
    ("deep object nesting", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    ("NUL bytes", b"\x00" * 100),
    ("duplicate keys with bad last", b'{"model": "tiny-qwen3", "messages": [], "messages": 5}'),
]


def check_error(response, expected_param="any", status=None):
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert status is None or response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    if expected_param != "any":
        assert error["param"] == expected_param, error


def test_hostile_requests_get_4xx_with_messages_and_the_server_stays_up(url):
    sent = 0
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        for name, changes, param in FIELD_CASES:
            response = http.post("/v1/chat/completions", content=body(**changes))
            status = 404 if name in ("unknown model", "empty model") else 400
            check_error(response, param, status)
            sent += 1
        for name, raw in RAW_BODIES:
            response = http.post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})
            check_error(response, status=400)
            sent += 1
        for stream in (False, True):  # every field case again as a streaming request: refused before streaming
            for name, changes, param in FIELD_CASES[:10]:
                check_error(http.post("/v1/chat/completions", content=body(stream=stream, **changes)), param)
                sent += 1
        sent += _size_and_protocol_cases(http)
        sent += _auth_cases(url)
    assert sent >= 100
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["sessions"] == 0 and health["kv_slots"]["allocated"] == 0
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        good = http.post("/v1/chat/completions", json=OK)
    assert good.status_code == 200 and good.json()["choices"][0]["finish_reason"] in ("stop", "length")


def _size_and_protocol_cases(http) -> int:
    big = body(messages=[{"role": "user", "content": "x" * (LIMIT + 10)}])
    check_error(http.post("/v1/chat/completions", content=big), status=413)
    check_error(http.post("/v1/chat/completions", content=b"x" * (10 * LIMIT)), status=413)

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * (LIMIT // 8)

    check_error(http.post("/v1/chat/completions", content=chunks()), status=413)
    check_error(_declared_length_only(http.base_url, 10**12), status=413)
    check_error(http.get("/v1/chat/completions"), status=405)
    check_error(http.post("/v1/completions", json=OK), status=404)
    check_error(http.get("/v1/nothing/here"), status=404)
    check_error(http.get("/v1/models/gpt-4o"), "model_id", status=404)
    check_error(http.post("/v1/chat/completions/chatcmpl-x/input", json={"text": "hi"}), "completion_id", status=404)
    check_error(http.post("/v1/chat/completions/chatcmpl-x/input", json={"text": 5}), "text", status=400)
    check_error(http.post("/v1/chat/completions/chatcmpl-x/input", json={"text": "hi", "to": "moon"}), "to", status=400)
    check_error(http.post("/v1/chat/completions/chatcmpl-x/input", content=b"\xff"), status=400)
    return 12


def _declared_length_only(base_url, length: int) -> httpx.Response:
    """A request that declares a huge body and sends none: refused from the header, nothing is read."""
    host, port = base_url.host, base_url.port
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            piece = sock.recv(65536)
            if not piece:
                break
            reply += piece
    head, _, payload = reply.partition(b"\r\n\r\n")
    return httpx.Response(int(head.split()[1]), content=payload)


def _auth_cases(url) -> int:
    cases = [{}, {"Authorization": "Bearer wrong-key-123456"}, {"Authorization": KEY}, {"Authorization": "Basic abc"},
             {"Authorization": "Bearer"}, {"Authorization": b"Bearer \xc3\xa9\xff"}]
    for headers in cases:
        for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
            response = httpx.request(method, f"{url}{path}", headers=headers, json=OK, timeout=30)
            check_error(response, status=401)
            assert response.json()["error"]["code"] in ("missing_api_key", "invalid_api_key")
            assert KEY not in response.text
    return 2 * len(cases)
