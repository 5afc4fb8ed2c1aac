"""Token accounting and context refusals of the server over real HTTP (and WebSocket) on 127.0.0.1.

`max_tokens` / `max_completion_tokens` / `max_response_output_tokens` cap the completion tokens as
OpenAI counts them (thinker + writer); `finish_reason` is `length` when the cap ended a response;
`max_steps` is the step budget. A request that could never fit is a 400 whose `param` names the
field to change, with a message free of internal block names. Oracle: the library session with the
same `max_tokens` (greedy), whose counts and texts the server must report.
"""

import json
import re

import httpx
import openai
import pytest
from websockets.sync.client import connect

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"
QUESTION = "What is 2 + 3?"
LENGTH = ("max_tokens", "budget", "writer_budget")  # stop reasons that are finish_reason "length"
BLOCK_NAME = re.compile(r"\bs\d+/|prompt_end|writer_split|writer_prompt|control_note|scratch|'answer'|'thoughts'")


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


@pytest.fixture(scope="module")
def url(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=30_000, default_max_tokens=6)
    with serve_in_thread(create_app(reasoner, config), config) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)


def ask(client, cap_field="max_tokens", cap=None, stream=False, **extra):
    """(usage, finish_reason, stop_reason, reasoning, content) of one chat completion."""
    kwargs = {cap_field: cap} if cap is not None else {}
    request = dict(model=MODEL, messages=[{"role": "user", "content": QUESTION}], extra_body=extra, **kwargs)
    if not stream:
        response = client.chat.completions.create(**request)
        message = response.choices[0].message
        return (response.usage, response.choices[0].finish_reason, message.model_extra["asyncthink"]["stop_reason"],
                message.model_extra["reasoning"], message.content)
    reasoning, content, finish, stop, usage = [], [], None, None, None
    for chunk in client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta, extension = chunk.choices[0].delta, chunk.choices[0].delta.model_extra or {}
        reasoning.append(extension.get("reasoning") or "")
        content.append(delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
        stop = extension.get("asyncthink", {}).get("stop_reason") or stop
    return usage, finish, stop, "".join(reasoning), "".join(content)


@pytest.mark.parametrize("mode", ["async", "think", "no_think"])
@pytest.mark.parametrize("stream", [False, True])
def test_completion_tokens_never_exceed_max_tokens(client, reasoner, mode, stream):
    capped = 0
    for cap, field in ((1, "max_tokens"), (2, "max_completion_tokens"), (5, "max_tokens"), (13, "max_tokens"),
                       (40, "max_completion_tokens"), (64, "max_tokens")):
        usage, finish, stop, reasoning, content = ask(client, field, cap, stream, mode=mode, check_every=4)
        oracle = reasoner.solve(QUESTION, mode=mode, max_tokens=cap, check_every=4)
        extra = usage.model_extra
        assert usage.completion_tokens <= cap, (mode, cap, usage)
        assert usage.completion_tokens == extra["thinker_tokens"] + extra["writer_tokens"]
        assert usage.completion_tokens_details.reasoning_tokens == extra["thinker_tokens"]
        assert (extra["thinker_tokens"], extra["writer_tokens"]) == (oracle.metrics.thinker_tokens,
                                                                     oracle.metrics.writer_tokens)
        assert (reasoning, content) == (oracle.thoughts, oracle.answer) and stop == oracle.metrics.stop_reason
        assert finish == ("length" if stop in LENGTH else "stop")
        if stop == "max_tokens":
            assert usage.completion_tokens == cap
            capped += 1
    assert capped >= 3  # random weights rarely end a turn: the cap is what ends most of these


def test_default_max_tokens_caps_completion_tokens(client):
    usage, finish, stop, _, _ = ask(client, check_every=4)  # no max_tokens: the server's default (6)
    assert usage.completion_tokens == 6 and finish == "length" and stop == "max_tokens"


def test_max_steps_is_the_step_budget(client):
    usage, finish, stop, _, _ = ask(client, "max_tokens", 64, max_steps=5, check_every=4)
    assert usage.model_extra["steps"] == 5 and stop == "budget" and finish == "length"
    assert usage.completion_tokens <= 64
    usage, _, stop, _, _ = ask(client, "max_tokens", 9, max_steps=500, check_every=4)
    assert stop == "max_tokens" and usage.completion_tokens == 9  # the token cap ends it first
    usage, _, _, _, _ = ask(client, "max_tokens", 30, mode="think", max_thinker_tokens=3)
    assert usage.model_extra["thinker_tokens"] == 3 and usage.completion_tokens <= 30


def check_refusal(response, param, *phrases):
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, "context_length_exceeded",
                                                                "invalid_request_error"), error
    assert not BLOCK_NAME.search(error["message"]) and "view" not in error["message"], error["message"]
    for phrase in phrases:
        assert phrase in error["message"], error["message"]
    return error["message"]


def post(url, **body):
    request = {"model": MODEL, "messages": [{"role": "user", "content": "Hi?"}], **body}
    return httpx.post(f"{url}/v1/chat/completions", json=request, timeout=120)


def test_a_request_is_refused_only_when_its_views_could_outgrow_the_context(url):
    message = check_refusal(post(url, max_tokens=4000), "max_tokens", "'max_tokens' is 4000", "4096")
    room = int(re.search(r"at most (\d+) completion tokens", message).group(1))
    check_refusal(post(url, max_tokens=room + 1), "max_tokens", f"set 'max_tokens' to {room} or less")
    fits = post(url, max_tokens=room, max_steps=1)  # exactly what the message said: admitted
    assert fits.status_code == 200 and fits.json()["usage"]["completion_tokens"] <= 1
    check_refusal(post(url, max_completion_tokens=10**6), "max_completion_tokens", "'max_completion_tokens'")
    # per-stream caps below the room fit, whatever max_tokens says: the views are what count
    small = post(url, max_tokens=10**6, max_thinker_tokens=3, max_writer_tokens=3, mode="think")
    assert small.status_code == 200 and small.json()["usage"]["completion_tokens"] <= 6
    # think mode reads no instructions: more room than async for the same prompt
    think = check_refusal(post(url, max_tokens=4000, mode="think"), "max_tokens")
    assert int(re.search(r"at most (\d+)", think).group(1)) > room


def test_a_prompt_too_long_names_the_messages(url):
    messages = [{"role": "user", "content": "word " * 1000}]
    check_refusal(post(url, messages=messages, max_tokens=4), "messages", "shorten 'messages'")
    # the prompt alone fits, but with the async instructions and the listening room nothing is left
    messages = [{"role": "user", "content": "w" * 3500}]
    check_refusal(post(url, messages=messages, max_tokens=4), "messages", "shorten 'messages'", "listening room")
    fits = post(url, messages=messages, max_tokens=4, mode="no_think", max_steps=1)
    assert fits.status_code == 200


def test_a_request_the_kv_pool_could_never_hold_names_max_tokens(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=3000, listen_capacity=0)
    with serve_in_thread(create_app(reasoner, config), config) as base:
        message = check_refusal(post(base, max_tokens=2990), "max_tokens", "KV pool of 2992 slots")
        room = int(re.search(r"set 'max_tokens' to (\d+) or less", message).group(1))
        assert room > 1500  # both streams' tokens count once: pages are taken as they are written
        fits = post(base, max_tokens=room, max_steps=1)
        assert fits.status_code == 200, fits.text
        # beyond the model's context too: the tighter of the two limits is the one named
        check_refusal(post(base, max_tokens=4000), "max_tokens", f"set 'max_tokens' to {room} or less")
        too_big = [{"role": "user", "content": "w" * 3100}]  # fits the model's context, not the pool
        check_refusal(post(base, messages=too_big, max_tokens=1, mode="no_think"), "messages", "shorten 'messages'")


def realtime(url):
    return connect(url.replace("http://", "ws://") + "/v1/realtime", open_timeout=10)


def respond(ws, settings, question=QUESTION):
    """The events of one response, up to response.done or an error event."""
    ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]}}))
    ws.send(json.dumps({"type": "response.create", "response": settings}))
    events = []
    while not events or events[-1]["type"] not in ("response.done", "error"):
        events.append(json.loads(ws.recv(timeout=120)))
    return events


def test_realtime_max_response_output_tokens_caps_output_tokens(url, reasoner):
    capped = 0
    with realtime(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        for mode in ("async", "think", "no_think"):
            for cap in (1, 4, 17, 50):
                settings = {"max_response_output_tokens": cap, "mode": mode, "check_every": 4}
                response = respond(ws, settings)[-1]["response"]
                usage = response["usage"]
                assert usage["output_tokens"] <= cap and usage["output_tokens"] == (
                    usage["thinker_tokens"] + usage["writer_tokens"])
                if response["asyncthink"]["stop_reason"] == "max_tokens":
                    capped += 1
                    assert usage["output_tokens"] == cap
                    assert (response["status"], response["status_details"]["reason"]) == (
                        "incomplete", "max_output_tokens")
        # a session default applies to later responses; max_steps is the step budget there too
        ws.send(json.dumps({"type": "session.update", "session": {"max_response_output_tokens": 3}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "session.updated"
        done = respond(ws, {"check_every": 4})[-1]["response"]
        assert done["usage"]["output_tokens"] == 3 and done["status"] == "incomplete"
        done = respond(ws, {"max_response_output_tokens": 40, "max_steps": 2})[-1]["response"]
        assert done["usage"]["steps"] == 2 and done["asyncthink"]["stop_reason"] == "budget"
    assert capped >= 6


def test_realtime_refusals_name_the_setting(url):
    with realtime(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
        error = respond(ws, {"max_response_output_tokens": 4000})[-1]
        assert error["type"] == "error" and error["error"]["param"] == "max_response_output_tokens"
        assert "'max_response_output_tokens' is 4000" in error["error"]["message"]
        assert not BLOCK_NAME.search(error["error"]["message"])
        error = respond(ws, {"max_response_output_tokens": 4}, "word " * 1000)[-1]
        assert error["type"] == "error" and error["error"]["param"] == "item.content"
