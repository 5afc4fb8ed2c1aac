"""The LiveKit Agents adapter (asyncthink/voice/livekit.py) in a real `AgentSession` against a real
`asyncthink serve -m tiny-reasoner`: no room and no audio; the user's text comes in as LiveKit's own text
input does it (interrupt the agent, then `generate_reply(user_input=...)`), the agent's text goes out
through the session's text output (what would be spoken), and `llm_node` is wrapped to keep the chunks.
The correction comes as soon as the first thoughts do, while the response thinks.

Skips without LiveKit Agents (`pip install "asyncthink[livekit]"`).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytest.importorskip("livekit.agents", reason="LiveKit Agents is not installed (pip install 'asyncthink[livekit]')")

from livekit.agents import Agent, AgentSession  # noqa: E402
from livekit.agents.voice import io  # noqa: E402

from asyncthink.voice.client import Response  # noqa: E402
from asyncthink.voice.livekit import LLM  # noqa: E402

QUESTION = "Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?"
CORRECTION = "Actually, Mira gives 9 away."


class SpokenText(io.TextOutput):
    """The session's text output: the agent's words as it says them."""

    def __init__(self):
        super().__init__(label="spoken", next_in_chain=None)
        self.parts: list[str] = []

    async def capture_text(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass


class Recorder(Agent):
    """An agent that keeps every chunk its LLM streams (through the default llm_node)."""

    def __init__(self):
        super().__init__(instructions="")
        self.chunks = []

    async def llm_node(self, chat_ctx, tools, model_settings):
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            self.chunks.append(chunk)
            yield chunk


def _extras(chunks, key):
    return [c.delta.extra["asyncthink"][key] for c in chunks
            if c.delta and c.delta.extra and key in c.delta.extra.get("asyncthink", {})]


def converse(server, *, on_user_input):
    url, key = server
    agent, spoken = Recorder(), SpokenText()

    async def main():
        plugin = LLM(url=url, api_key=key, on_user_input=on_user_input, session={"max_response_output_tokens": 400})
        async with AgentSession(llm=plugin) as session:
            await session.start(agent)
            session.output.transcription = spoken
            session.generate_reply(user_input=QUESTION)
            async with asyncio.timeout(120):
                while not _extras(agent.chunks, "reasoning_delta"):
                    await asyncio.sleep(0.01)
                await session.interrupt()  # what LiveKit's text input does with a user's message
                await session.generate_reply(user_input=CORRECTION)
            history = [(m.role, m.text_content, m.extra) for m in session.history.messages()]
        return history

    history = asyncio.run(main())
    return agent.chunks, "".join(spoken.parts), history


def test_hear_the_running_response_hears_the_correction_and_goes_on(served_tiny_reasoner):
    chunks, spoken, history = converse(served_tiny_reasoner, on_user_input="hear")
    assert len({c.id for c in chunks}) == 1  # one response from start to end: not restarted
    heard = _extras(chunks, "heard")
    assert [h["text"] for h in heard] == [CORRECTION] and heard[0]["response_id"] == chunks[0].id
    answer = "".join(c.delta.content or "" for c in chunks if c.delta)
    thoughts = "".join(_extras(chunks, "reasoning_delta"))
    assert "\\boxed{" in answer and thoughts.strip()
    assert spoken == answer  # only the writer's text is said, all of it
    assert not any(line.strip() in spoken for line in thoughts.splitlines() if len(line.strip()) > 8)
    summary = chunks[-1].delta.extra["asyncthink"]["done"]
    assert summary["response_id"] == chunks[0].id and summary["status"] == "completed"
    assert summary["reasoning"] == thoughts and [h["text"] for h in summary["heard"]] == [CORRECTION]
    assert chunks[-1].usage is not None and chunks[-1].usage.reasoning_tokens > 0
    assert [(role, text) for role, text, _ in history] == [("user", QUESTION), ("user", CORRECTION),
                                                           ("assistant", answer)]
    assert history[-1][2]["asyncthink"]["done"] == summary  # the thoughts kept with the message


def test_interrupt_cancels_the_running_response_and_starts_a_new_one(served_tiny_reasoner):
    chunks, spoken, history = converse(served_tiny_reasoner, on_user_input="interrupt")
    ids = list(dict.fromkeys(c.id for c in chunks))
    assert len(ids) == 2 and _extras(chunks, "heard") == []
    answer = "".join(c.delta.content or "" for c in chunks if c.delta and c.id == ids[1])
    assert "\\boxed{" in answer and spoken.endswith(answer)
    assert history[-1][:2] == ("assistant", answer)


def test_a_correction_that_comes_too_late_is_answered_by_a_new_response(served_tiny_reasoner, monkeypatch):
    async def too_late(self, text, **options):  # as if the response had ended before it came
        self.sent.append(text)

    monkeypatch.setattr(Response, "hear", too_late)
    chunks, spoken, history = converse(served_tiny_reasoner, on_user_input="hear")
    ids = list(dict.fromkeys(c.id for c in chunks))
    assert len(ids) == 2 and _extras(chunks, "heard") == []  # the second response, in the same stream
    answers = ["".join(c.delta.content or "" for c in chunks if c.delta and c.id == i) for i in ids]
    assert all("\\boxed{" in a for a in answers) and spoken == "".join(answers)
    assert [role for role, _, _ in history] == ["user", "user", "assistant"]


def test_a_held_response_nobody_takes_up_is_cancelled_after_hold_seconds(served_tiny_reasoner):
    url, key = served_tiny_reasoner
    agent = Recorder()

    async def main():
        plugin = LLM(url=url, api_key=key, hold_seconds=0.2, session={"max_response_output_tokens": 4000})
        async with AgentSession(llm=plugin) as session:
            await session.start(agent)
            session.generate_reply(user_input=QUESTION)
            async with asyncio.timeout(120):
                while not _extras(agent.chunks, "reasoning_delta"):
                    await asyncio.sleep(0.01)
                await session.interrupt()  # the user spoke, and no turn follows
                held = plugin._live
                assert held is not None and not held.response.done  # kept for the next turn, still thinking
                while not held.response.done:
                    await asyncio.sleep(0.05)
            assert plugin._live is None
            return held.response

    response = asyncio.run(main())
    assert response.result is None  # closed: the server cancels it (it never reported response.done)

    async def idle():
        async with asyncio.timeout(30):
            while httpx.get(f"{url}/health").json()["sessions"]:
                await asyncio.sleep(0.05)
    asyncio.run(idle())


def test_the_example_runs_in_a_terminal(served_tiny_reasoner):
    url, key = served_tiny_reasoner
    example = Path(__file__).resolve().parents[1] / "examples" / "livekit_agent.py"
    out = subprocess.run([sys.executable, str(example)], input=QUESTION + "\n", capture_output=True, text=True,
                         timeout=300, env={**os.environ, "ASYNCTHINK_URL": url, "ASYNCTHINK_API_KEY": key})
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"^> .*\\boxed\{\d+\}", out.stdout, re.M), out.stdout[-2000:]
