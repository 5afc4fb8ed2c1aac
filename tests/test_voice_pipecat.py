"""The Pipecat adapter (asyncthink/voice/pipecat.py) in a real Pipecat pipeline against a real `asyncthink
serve -m tiny-reasoner`: Pipecat's own user and assistant context aggregators, the service, a TTS service
(a TTSService that records the text it is asked to speak), with no audio: transcriptions in (as an STT
with its own turn detection sends them), frames out. The correction is spoken as soon as the first
thought frame comes out, while the response thinks.

Skips without Pipecat (`pip install "asyncthink[pipecat]"`).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
import time

import pytest

pytest.importorskip("pipecat", reason="Pipecat is not installed (pip install 'asyncthink[pipecat]')")

from pipecat.frames.frames import (  # noqa: E402
    EndFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    LLMThoughtEndFrame,
    LLMThoughtStartFrame,
    LLMThoughtTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.services.settings import TTSSettings  # noqa: E402
from pipecat.services.tts_service import TTSService  # noqa: E402
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from asyncthink.voice.client import Response  # noqa: E402
from asyncthink.voice.pipecat import AsyncThinkLLMService  # noqa: E402

QUESTION = "Mira has 23 shells. Mira gets 14 more and gives 5 away. How many shells does Mira have now?"
CORRECTION = "Actually, Mira gives 9 away."
OUTPUT = (LLMFullResponseStartFrame, LLMThoughtStartFrame, LLMThoughtTextFrame, LLMThoughtEndFrame, LLMTextFrame,
          LLMFullResponseEndFrame, InterruptionFrame)


class RecordingTTS(TTSService):
    """A TTS service that speaks silence and remembers what it was asked to say."""

    def __init__(self):
        super().__init__(settings=TTSSettings(model=None, voice=None, language=None), sample_rate=16000)
        self.spoken: list[str] = []

    async def run_tts(self, text, context_id):
        self.spoken.append(text)
        yield TTSAudioRawFrame(b"\0\0" * 160, 16000, 1, context_id=context_id)


class Tap(FrameProcessor):
    """Keeps the frames that pass downstream, and when they passed."""

    def __init__(self):
        super().__init__()
        self.frames, self.times = [], []

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            self.times.append(time.monotonic())
        await self.push_frame(frame, direction)


async def _until(condition, timeout=120):
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def converse(server, *, on_user_input, interruptions, answers=1):
    """Ask, then correct while the first thoughts come out; returns what each part of the pipeline saw."""
    url, key = server
    context = LLMContext()
    user, assistant = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        user_turn_strategies=ExternalUserTurnStrategies(enable_interruptions=interruptions)))
    llm = AsyncThinkLLMService(url=url, api_key=key, on_user_input=on_user_input,
                               session={"max_response_output_tokens": 400})
    before, tap, tts = Tap(), Tap(), RecordingTTS()
    seen = {"created": [], "heard": [], "done": []}
    for name, kind in (("on_response_created", "created"), ("on_heard", "heard"), ("on_response_done", "done")):
        llm.add_event_handler(name, lambda _service, item, kind=kind: seen[kind].append(item))
    worker = PipelineWorker(Pipeline([user, before, llm, tap, tts, assistant]), cancel_on_idle_timeout=False)
    started = asyncio.Event()
    worker.add_event_handler("on_pipeline_started", lambda *_: started.set())

    async def say(text):  # an STT with its own turn detection: proposed turn start, the transcript, turn stop
        await worker.queue_frames([ProposedUserStartedSpeakingFrame(), TranscriptionFrame(text, "user", "now"),
                                   ProposedUserStoppedSpeakingFrame()])

    async def drive():
        try:
            await _until(started.is_set, 60)
            await say(QUESTION)
            await _until(lambda: any(isinstance(f, LLMThoughtTextFrame) for f in tap.frames))
            await say(CORRECTION)
            await _until(lambda: sum(r["status"] == "completed" for r in seen["done"]) >= answers)
            await _until(lambda: isinstance([f for f in tap.frames if isinstance(f, OUTPUT)][-1],
                                            LLMFullResponseEndFrame))
            await _until(lambda: assistant.messages and assistant.messages[-1]["role"] == "assistant", 30)
        finally:
            await worker.queue_frame(EndFrame())

    async def main():
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await asyncio.gather(runner.run(), drive())

    asyncio.run(main())
    output = [(t, f) for t, f in zip(tap.times, tap.frames) if isinstance(f, OUTPUT)]
    turns = [t for t, f in zip(before.times, before.frames) if isinstance(f, LLMContextFrame)]  # each turn's end
    return [f for _, f in output], tts.spoken, seen, context.get_messages(), ([t for t, _ in output], turns)


def _kinds(frames):
    return [type(f).__name__.removeprefix("LLM").removesuffix("Frame") for f in frames]


def _texts(frames, kind):
    return "".join(f.text for f in frames if type(f) is kind)


def _assert_one_part(part):
    """Start, the thought opened before its text, writer text, the thought closed, End: in this order."""
    kinds = _kinds(part)
    assert kinds[0] == "FullResponseStart" and kinds[-2:] == ["ThoughtEnd", "FullResponseEnd"], kinds
    assert kinds.count("FullResponseStart") == kinds.count("FullResponseEnd") == 1, kinds
    assert kinds.count("ThoughtStart") == kinds.count("ThoughtEnd") == 1, kinds
    assert kinds.index("ThoughtStart") < kinds.index("ThoughtText"), kinds


def _assert_spoken_is_the_answer(spoken, output, context):
    answer = _texts(output, LLMTextFrame)
    thoughts = _texts(output, LLMThoughtTextFrame)
    assert "\\boxed{" in answer and thoughts.strip()
    assert " ".join(spoken).split() == answer.split()  # the TTS got the writer's text, all of it, and only it
    assert not any(line.strip() in " ".join(spoken) for line in thoughts.splitlines() if len(line.strip()) > 8)
    assert context[-1] == {"role": "assistant", "content": answer.strip()}


def test_hear_without_interruptions_the_running_response_hears_the_correction(served_tiny_reasoner):
    output, spoken, seen, context, _ = converse(served_tiny_reasoner, on_user_input="hear", interruptions=False)
    _assert_one_part(output)  # one response, not restarted
    assert len(seen["created"]) == 1 and len(seen["done"]) == 1
    heard = seen["heard"]
    assert [h["text"] for h in heard] == [CORRECTION] and heard[0]["response_id"] == seen["created"][0]
    assert [h["text"] for h in seen["done"][0]["asyncthink"]["heard"]] == [CORRECTION]
    _assert_spoken_is_the_answer(spoken, output, context)
    assert [m["content"] for m in context[:2]] == [QUESTION, CORRECTION]


def test_hear_with_interruptions_holds_the_output_until_the_turn_ends(served_tiny_reasoner):
    output, spoken, seen, context, (times, turns) = converse(served_tiny_reasoner, on_user_input="hear",
                                                            interruptions=True)
    assert len(seen["created"]) == 1 and len(seen["done"]) == 1  # the same response goes on
    assert [h["text"] for h in seen["heard"]] == [CORRECTION]
    assert sum(isinstance(f, InterruptionFrame) for f in output) == 2  # (the user began each turn)
    # (an InterruptionFrame is a system frame: it overtakes the frames queued before it downstream)
    parts = [i for i, f in enumerate(output) if isinstance(f, LLMFullResponseStartFrame)]
    assert len(parts) == 2 and len(turns) == 2
    first = [f for f in output[parts[0]:parts[1]] if not isinstance(f, InterruptionFrame)]
    _assert_one_part(first)  # the part the user spoke over, ended
    _assert_one_part(output[parts[1]:])  # the same response going on once the user's turn ended
    assert times[parts[1]] >= turns[1]  # it goes on once the correction's turn has ended, not before
    result = seen["done"][0]["output"]  # and nothing it wrote meanwhile was lost: it comes out then
    assert _texts(output, LLMThoughtTextFrame) == result[0]["text"]
    assert _texts(output, LLMTextFrame) == result[1]["content"][0]["text"]
    _assert_spoken_is_the_answer(spoken, output, context)


def test_interrupt_cancels_the_running_response_and_starts_a_new_one(served_tiny_reasoner):
    output, spoken, seen, context, _ = converse(served_tiny_reasoner, on_user_input="interrupt", interruptions=True)
    assert len(seen["created"]) == 2 and seen["heard"] == []  # the first was closed (cancelled by the server)
    assert [r["id"] for r in seen["done"]] == seen["created"][1:]
    kinds = _kinds(output)
    second = len(kinds) - kinds[::-1].index("FullResponseStart") - 1
    _assert_one_part(output[second:])
    _assert_spoken_is_the_answer(spoken, output[second:], context)


def test_a_correction_that_comes_too_late_is_answered_by_a_new_response(served_tiny_reasoner, monkeypatch):
    async def too_late(self, text, **options):  # as if the response had ended before it came
        self.sent.append(text)

    monkeypatch.setattr(Response, "hear", too_late)
    output, spoken, seen, context, _ = converse(served_tiny_reasoner, on_user_input="hear", interruptions=False,
                                                answers=2)
    assert len(seen["created"]) == 2 and seen["heard"] == []
    parts = [i for i, f in enumerate(output) if isinstance(f, LLMFullResponseStartFrame)]
    assert len(parts) == 2
    _assert_one_part(output[:parts[1]])
    _assert_one_part(output[parts[1]:])
    answers = [_texts(output[:parts[1]], LLMTextFrame), _texts(output[parts[1]:], LLMTextFrame)]
    assert all("\\boxed{" in a for a in answers)
    assert " ".join(spoken).split() == " ".join(answers).split()


def test_the_example_runs_in_a_terminal(served_tiny_reasoner):
    url, key = served_tiny_reasoner
    example = Path(__file__).resolve().parents[1] / "examples" / "pipecat_agent.py"
    out = subprocess.run([sys.executable, str(example)], input=QUESTION + "\n", capture_output=True, text=True,
                         timeout=300, env={**os.environ, "ASYNCTHINK_URL": url, "ASYNCTHINK_API_KEY": key})
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"^> .*\\boxed\{\d+\}", out.stdout, re.M), out.stdout[-2000:]
