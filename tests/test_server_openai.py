"""The server through the official `openai` client over real HTTP on 127.0.0.1.

Oracle: the same problem run directly on the engine-less library path (`reasoner.solve`,
greedy), which the server must reproduce token for token: reasoning = the thinker's text,
content = the writer's text.
"""

import threading
import time

import httpx
import openai
import pytest

from asyncthink import AsyncReasoner, SamplingParams
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

MODEL = "tiny-qwen3"
QUESTION = "What is 2 + 3?"
OPTIONS = {"max_tokens": 24, "extra_body": {"check_every": 4}}


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


@pytest.fixture(scope="module")
def base_url(reasoner):
    config = ServerConfig(model_name=MODEL, capacity=30_000)
    with serve_in_thread(create_app(reasoner, config), config) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def oracle(reasoner):
    return reasoner.solve(QUESTION, max_tokens=24, check_every=4, sampling=SamplingParams())


def stream_parts(client, **kwargs):
    reasoning, content, states, chunks = [], [], [], []
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}],
                                            stream=True, **OPTIONS, **kwargs)
    for chunk in stream:
        chunks.append(chunk)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        extra = delta.model_extra or {}
        if extra.get("reasoning"):
            assert extra["reasoning_content"] == extra["reasoning"]  # older clients read reasoning_content
            reasoning.append(extra["reasoning"])
        if delta.content:
            content.append(delta.content)
        if "asyncthink" in extra and "state" in extra["asyncthink"]:
            states.append(extra["asyncthink"]["state"]["state"])
    return "".join(reasoning), "".join(content), states, chunks


def test_streaming_client_sees_reasoning_and_content_equal_to_the_engine(client, oracle):
    assert oracle.answer and oracle.thoughts  # the oracle run speaks in both streams, so the check bites
    reasoning, content, states, chunks = stream_parts(client, stream_options={"include_usage": True})
    assert reasoning == oracle.thoughts
    assert content == oracle.answer
    assert states == [e.text for e in oracle.events if e.kind == "state"]
    assert chunks[-2].choices[0].finish_reason == {"writer_eos": "stop"}.get(oracle.stop_reason, "length")
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.model_extra["thinker_tokens"] == oracle.metrics.thinker_tokens
    assert usage.model_extra["writer_tokens"] == oracle.metrics.writer_tokens
    assert usage.completion_tokens == oracle.metrics.thinker_tokens + oracle.metrics.writer_tokens
    assert usage.completion_tokens_details.reasoning_tokens == oracle.metrics.thinker_tokens
    assert usage.model_extra["time_to_first_writer_token"] > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_non_streaming_response_has_reasoning_and_content(client, oracle):
    response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}],
                                              **OPTIONS)
    message = response.choices[0].message
    assert message.content == oracle.answer
    assert message.model_extra["reasoning"] == message.model_extra["reasoning_content"] == oracle.thoughts
    assert message.model_extra["asyncthink"]["stop_reason"] == oracle.stop_reason
    assert response.usage.model_extra["writer_tokens"] == oracle.metrics.writer_tokens
    assert response.usage.prompt_tokens > 0


def test_reasoning_field_is_switchable(client, oracle):
    response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTION}],
                                              max_tokens=24, extra_body={"check_every": 4,
                                                                         "reasoning_field": "reasoning_content"})
    extra = response.choices[0].message.model_extra
    assert extra["reasoning_content"] == oracle.thoughts and "reasoning" not in extra


def test_stop_sequence_cuts_the_answer(client, oracle):
    stop = oracle.answer[5:7]
    assert stop and stop not in oracle.answer[:6]  # the first occurrence is where the cut must be
    _, content, _, chunks = stream_parts(client, stop=[stop])
    assert content == oracle.answer[: oracle.answer.index(stop)]
    assert chunks[-1].choices[0].finish_reason == "stop"
    # the stop sequence is why it stopped (it ends the session by cancelling it: not "cancelled")
    assert chunks[-1].choices[0].delta.model_extra["asyncthink"]["stop_reason"] == "stop_sequence"


def test_models_and_health(client, base_url):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    health = httpx.get(f"{base_url}/health").json()
    assert health["status"] == "ok" and health["kv_slots"]["allocated"] == 0


def test_input_heard_into_a_running_completion(base_url):
    """The HTTP extension: POST .../{id}/input while the completion streams; the stream reports it heard."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 60,
            "check_every": 4, "stream": True}
    heard, reply = [], {}
    with httpx.Client(timeout=60) as http, http.stream("POST", f"{base_url}/v1/chat/completions", json=body) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = httpx.Response(200, content=line[6:]).json()
            if not reply:  # first chunk: hear the input now, from another thread, as a second client would
                def send(completion_id=chunk["id"]):
                    reply["r"] = http.post(f"{base_url}/v1/chat/completions/{completion_id}/input",
                                           json={"text": "Use five instead.", "hold": "none"})
                sender = threading.Thread(target=send)
                sender.start()
                reply["thread"] = sender
            extension = chunk["choices"][0]["delta"].get("asyncthink", {}) if chunk["choices"] else {}
            if "heard" in extension:
                heard.append(extension["heard"])
        reply["thread"].join(timeout=30)
    assert reply["r"].status_code == 200 and reply["r"].json()["queued"] is True
    assert [h["text"] for h in heard] == ["Use five instead."] and heard[0]["to"] == "thinker"
    deadline = time.monotonic() + 10
    while httpx.get(f"{base_url}/health").json()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.05)
    missing = httpx.post(f"{base_url}/v1/chat/completions/chatcmpl-nope/input", json={"text": "hi"})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "completion_id"
