"""Real-time delay metrics on any event log: what a listener of the writer would experience.

    events ─▶ writer tokens (text, time, step) ─▶ speakable chunks (speakable.py)
          ─▶ per chunk: text ready at its last token; TTS (tts.py) gives synth time + duration
          ─▶ simulated playback:
                 audio_ready[i] = ready[i] + synth[i]                          (TTS in parallel)
                                = max(ready[i], audio_ready[i-1]) + synth[i]   (TTS in sequence)
                 start[i]       = max(audio_ready[i], end[i-1])   end[i] = start[i] + duration[i]
                 wait[i]        = start[i] - end[i-1]   (wait[0] = start[0]: silence before audio)
          ─▶ figures (DelayMetrics)

Time zero is the session's start (events' `time`); with `step_time` the clock is
simulated instead: a token made in step s is ready at (s + 1) * step_time, which
compares modes without the noise (and the batching) of a shared machine.

Figures, all in seconds unless named steps:
    time_to_first_writer_token   time of the first writer token
    steps_to_first_writer_token  its step
    writer_idle_steps            steps between the first and last writer token without one
    first_audio_delay            start[0]: silence before the first audio
    total_stall                  sum of wait[i], i >= 1 (the waits between chunks)
    stall_over_1s                sum of max(wait[i] - 1, 0), i >= 1: short pauses are free
    total_delay                  first_audio_delay + total_stall (the paper's "total delay")
    audio_duration               sum of durations (speech alone)
    audio_duration_with_stalls   end[-1] - start[0]
Chunks without speakable words (whitespace, a lone `$`) make no audio and are skipped.
An answer with no words has no audio: first_audio_delay and total_delay are None.

Differences from the paper's evaluation code (evals/tts_evaluator.py), on purpose:
sequential TTS is a queue (above) rather than ready[i] + cumsum(synth), and the
over-1-s figure excludes the first wait (reported on its own as first_audio_delay).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .speakable import DEFAULT_CHUNK_TOKENS, chunk_tokens, speakable
from .tts import RateModelTTS, Speech

STALL_GRACE = 1.0  # seconds of pause a listener does not count as a stall


@dataclass(frozen=True)
class PlayedChunk:
    text: str
    words: str
    tokens: int
    ready: float  # text complete
    audio_ready: float  # synthesized
    start: float
    end: float
    wait: float  # silence just before it
    speech: Speech


@dataclass(frozen=True)
class DelayMetrics:
    time_to_first_writer_token: float | None
    steps_to_first_writer_token: int | None
    writer_idle_steps: int
    writer_tokens: int
    chunks: int
    first_audio_delay: float | None
    total_stall: float
    stall_over_1s: float
    total_delay: float | None
    audio_duration: float
    audio_duration_with_stalls: float
    tts: str
    tts_parallel: bool
    clock: str  # "wall" or "steps x <seconds>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _field(event: Any, name: str) -> Any:
    return event[name] if isinstance(event, dict) else getattr(event, name)


def writer_tokens(events: Iterable[Any]) -> list[tuple[str, float, int]]:
    """(text, time, step) of each writer token, from Event objects or their dicts."""
    return [(_field(e, "text"), _field(e, "time"), _field(e, "step")) for e in events
            if _field(e, "stream") == "writer" and _field(e, "kind") == "token"]


def play(tokens: list[tuple[str, float, int]], tts=None, parallel: bool = True,
         chunk_size: int = DEFAULT_CHUNK_TOKENS) -> list[PlayedChunk]:
    """Chunk, synthesize and play the writer's tokens (see the module docstring)."""
    tts = tts or RateModelTTS()
    played: list[PlayedChunk] = []
    end = audio_ready = 0.0
    for chunk in chunk_tokens(tokens, chunk_size):
        words = speakable(chunk.text)
        if not words:
            continue
        speech = tts.synthesize(words)
        audio_ready = (chunk.ready_time if parallel else max(chunk.ready_time, audio_ready)) + speech.synth_time
        start = max(audio_ready, end)
        wait = start - end
        end = start + speech.duration
        played.append(PlayedChunk(chunk.text, words, chunk.tokens, chunk.ready_time, audio_ready, start, end, wait,
                                  speech))
    return played


def delay_metrics(events: Iterable[Any], tts=None, parallel: bool = True, chunk_size: int = DEFAULT_CHUNK_TOKENS,
                  step_time: float | None = None) -> tuple[DelayMetrics, list[PlayedChunk]]:
    """The figures of the module docstring for one session's events, and the playback behind them."""
    tokens = writer_tokens(events)
    if step_time is not None:
        tokens = [(text, (step + 1) * step_time, step) for text, _, step in tokens]
    played = play(tokens, tts, parallel, chunk_size)
    steps = sorted({step for _, _, step in tokens})
    waits = [p.wait for p in played[1:]]
    first_audio = played[0].start if played else None
    stall = sum(waits)
    metrics = DelayMetrics(
        time_to_first_writer_token=tokens[0][1] if tokens else None,
        steps_to_first_writer_token=tokens[0][2] if tokens else None,
        writer_idle_steps=steps[-1] - steps[0] + 1 - len(steps) if steps else 0,
        writer_tokens=len(tokens),
        chunks=len(played),
        first_audio_delay=first_audio,
        total_stall=stall,
        stall_over_1s=sum(max(w - STALL_GRACE, 0.0) for w in waits),
        total_delay=None if first_audio is None else first_audio + stall,
        audio_duration=sum(p.speech.duration for p in played),
        audio_duration_with_stalls=played[-1].end - played[0].start if played else 0.0,
        tts=(tts or RateModelTTS()).engine,
        tts_parallel=parallel,
        clock="wall" if step_time is None else f"steps x {step_time:g} s",
    )
    return metrics, played
