"""asyncthink as the LLM of a LiveKit Agents session, in a terminal: ask, then type again while it thinks.

    asyncthink serve -m tiny-reasoner                 # in another terminal
    pip install "asyncthink[livekit]"
    python examples/livekit_agent.py

An `AgentSession` without a room: each line you type is a user message, handled as LiveKit's own text
input handles one (interrupt the agent, then `generate_reply(user_input=...)`). A line typed while the
answer is still being thought out is heard by the running response (`[heard]`), which goes on: try
"Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?" and then,
quickly, "Actually, Mira gives 9 away." (the tiny reasoner answers in about a second). Thoughts (in the
chunks' `extra`, never spoken) are printed dim; the answer (what TTS would speak) after them.

In a voice agent the same LLM goes into a session with speech on both sides:
    session = AgentSession(stt=..., tts=..., vad=..., llm=LLM(url=...))
    await session.start(agent=Agent(instructions=...), room=ctx.room)
"""

import asyncio
import os
import sys

from livekit.agents import Agent, AgentSession
from livekit.agents.voice import io

from asyncthink.voice.livekit import LLM


class Printer(io.TextOutput):
    """The session's text output: what the agent says (a TTS would speak it)."""

    def __init__(self):
        super().__init__(label="terminal", next_in_chain=None)
        self.answer = ""

    async def capture_text(self, text: str) -> None:
        self.answer += text

    def flush(self) -> None:
        print(f"\n> {self.answer.strip()}\n", flush=True)
        self.answer = ""


class Thinker(Agent):
    """Prints the thoughts and what was heard as they stream (the default llm_node, watched)."""

    def __init__(self):
        super().__init__(instructions="")

    async def llm_node(self, chat_ctx, tools, model_settings):
        async for chunk in Agent.default.llm_node(self, chat_ctx, tools, model_settings):
            extra = (chunk.delta.extra or {}).get("asyncthink", {}) if chunk.delta else {}
            if "reasoning_delta" in extra:
                print(f"\033[2m{extra['reasoning_delta']}\033[0m", end="", flush=True)
            if "heard" in extra:
                print(f"\n[heard -> {extra['heard']['to']}] {extra['heard']['text']}", flush=True)
            yield chunk


async def main():
    llm = LLM(url=os.environ.get("ASYNCTHINK_URL", "http://127.0.0.1:8000"),
              api_key=os.environ.get("ASYNCTHINK_API_KEY"), on_user_input="hear",
              session={"max_response_output_tokens": 512})
    async with AgentSession(llm=llm) as session:
        await session.start(Thinker())
        session.output.transcription = Printer()
        loop, reply = asyncio.get_running_loop(), None
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip():
                await session.interrupt()  # LiveKit's text input does this; the running response goes on
                reply = session.generate_reply(user_input=line.strip())
        if reply is not None:
            await reply  # end of input: the last answer finishes first


if __name__ == "__main__":
    asyncio.run(main())
