"""The voice adapters' framework-free part (asyncthink/voice/client.py) against a real `asyncthink serve
-m tiny-reasoner`: a response's events, input heard while it runs, refusals and connection failures as
RealtimeError; and the import boundaries (asyncthink never imports a voice framework, each adapter
imports only its own)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from asyncthink.voice.client import RealtimeError, Response, realtime_url

QUESTION = "Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?"
CORRECTION = "Actually, Mira gives 9 away."


def test_realtime_url():
    assert realtime_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1/realtime"
    assert realtime_url("https://host/") == "wss://host/v1/realtime"
    assert realtime_url("ws://h:1/v1/realtime") == "ws://h:1/v1/realtime"


def test_a_response_hears_input_sent_while_it_thinks(served_tiny_reasoner):
    url, key = served_tiny_reasoner

    async def run():
        response = Response([("user", QUESTION)], url=url, api_key=key, settings={"max_response_output_tokens": 400})
        kinds = []
        async for event in response.events():
            kinds.append(event["type"])
            if event["type"] == "response.reasoning_text.delta" and not response.sent:
                await response.hear(CORRECTION, hold="none")
        await response.close()
        return response, kinds

    response, kinds = asyncio.run(run())
    assert kinds[0] == "response.created" and kinds[-1] == "response.done"
    assert "response.reasoning_text.delta" in kinds and "response.output_text.delta" in kinds
    assert [event["text"] for event in response.heard] == [CORRECTION] and response.unheard() == []
    assert response.result["status"] == "completed" and response.result["asyncthink"]["heard"]
    assert "".join(response.answer) == response.result["output"][1]["content"][0]["text"]
    assert response.done


def test_refusals_and_connection_failures_are_realtime_errors(served_tiny_reasoner):
    url, key = served_tiny_reasoner

    async def events(**options):
        response = Response([("user", QUESTION)], **{"url": url, **options})
        try:
            return [event async for event in response.events()]
        finally:
            await response.close()

    with pytest.raises(RealtimeError) as refused:  # a bad setting: session.update's error ends it
        asyncio.run(events(api_key=key, settings={"mode": "loud"}))
    assert refused.value.error["param"].startswith("session")
    with pytest.raises(RealtimeError, match="Incorrect API key"):
        asyncio.run(events(api_key="sk-wrong"))
    with pytest.raises(RealtimeError, match="could not connect"):
        asyncio.run(events(url="http://127.0.0.1:9", api_key=key))


def test_a_text_that_came_too_late_is_listed_as_unheard(served_tiny_reasoner):
    url, key = served_tiny_reasoner

    async def run():
        response = Response([("user", "What is 48 + 37?")], url=url, api_key=key)
        async for event in response.events():
            if event["type"] == "response.done":
                break
        await response.hear("And add 1.")  # the response is over: nothing hears it
        await asyncio.sleep(0.2)
        await response.close()
        return response

    response = asyncio.run(run())
    assert response.unheard() == ["And add 1."] and response.heard == []


@pytest.mark.parametrize("module, absent", [("asyncthink", ("pipecat", "livekit")),
                                            ("asyncthink.voice.client", ("pipecat", "livekit")),
                                            ("asyncthink.voice.pipecat", ("livekit",)),
                                            ("asyncthink.voice.livekit", ("pipecat",))])
def test_import_boundaries(module, absent):
    """Each imports with the other framework (or both) made unimportable, and imports no voice module it
    does not need (`import asyncthink` not even asyncthink.voice)."""
    if module.endswith((".pipecat", ".livekit")):
        pytest.importorskip(module.rsplit(".", 1)[1] + (".agents" if module.endswith("livekit") else ""))
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in absent)  # (import of it raises ImportError)
    unwanted = absent + (("asyncthink.voice",) if module == "asyncthink" else ())
    code = (f"import sys; {blocked}; import {module}; print([m for m, v in sys.modules.items() "
            f"if v and (m.split('.')[0] in {absent!r} or m in {unwanted!r})])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
