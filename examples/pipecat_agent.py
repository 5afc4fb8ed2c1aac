"""asyncthink as the LLM of a Pipecat pipeline, in a terminal: ask, then type again while it thinks.

    asyncthink serve -m tiny-reasoner                 # in another terminal
    pip install "asyncthink[pipecat]"
    python examples/pipecat_agent.py

Each line you type goes into the pipeline as a user transcription, as an STT service sends it. A line
typed while the answer is still being thought out is heard by it (`[heard]`), not answered separately:
try "Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?" and
then, quickly, "Actually, Mira gives 9 away." (the tiny reasoner answers in about a second).
Thoughts are printed dim as they come (LLMThoughtTextFrame: no TTS would speak them); the answer
(LLMTextFrame, written while the thoughts go on) after them.

In a voice bot the printer is a TTS service and the lines come from speech:
    Pipeline([transport.input(), stt, user, llm, tts, transport.output(), assistant])
"""

import asyncio
import os
import sys

from loguru import logger
from pipecat.frames.frames import (EndFrame, LLMFullResponseEndFrame, LLMTextFrame, LLMThoughtTextFrame,
                                   ProposedUserStartedSpeakingFrame, ProposedUserStoppedSpeakingFrame,
                                   TranscriptionFrame)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair, LLMUserAggregatorParams
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from asyncthink.voice.pipecat import AsyncThinkLLMService


class Printer(FrameProcessor):
    """Thoughts as they come (dim); the answer, which a TTS service would speak as it comes, at the end."""

    answer = ""

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMThoughtTextFrame):
            print(f"\033[2m{frame.text}\033[0m", end="", flush=True)
        elif isinstance(frame, LLMTextFrame):
            self.answer += frame.text
        elif isinstance(frame, LLMFullResponseEndFrame):
            print(f"\n> {self.answer.strip()}\n", flush=True)
            self.answer = ""
        await self.push_frame(frame, direction)


async def main():
    logger.remove()
    logger.add(sys.stderr, level="WARNING")  # (Pipecat logs every frame at DEBUG)
    llm = AsyncThinkLLMService(url=os.environ.get("ASYNCTHINK_URL", "http://127.0.0.1:8000"),
                               api_key=os.environ.get("ASYNCTHINK_API_KEY"), on_user_input="hear",
                               session={"max_response_output_tokens": 512})

    @llm.event_handler("on_heard")
    async def on_heard(service, event):
        print(f"\n[heard -> {event['to']}] {event['text']}", flush=True)

    # turns come from the "STT" (here: each typed line); the user does not interrupt the bot: the bot hears
    user, assistant = LLMContextAggregatorPair(LLMContext(), user_params=LLMUserAggregatorParams(
        user_turn_strategies=ExternalUserTurnStrategies(enable_interruptions=False)))
    worker = PipelineWorker(Pipeline([user, llm, Printer(), assistant]), cancel_on_idle_timeout=False)

    async def typed_lines():
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip():
                await worker.queue_frames([ProposedUserStartedSpeakingFrame(),
                                           TranscriptionFrame(line.strip(), "user", ""),
                                           ProposedUserStoppedSpeakingFrame()])
        await worker.queue_frame(EndFrame())  # end of input: the last answer finishes, then it stops

    runner = WorkerRunner(handle_sigint=True)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), typed_lines())


if __name__ == "__main__":
    asyncio.run(main())
