"""Spoken output for `asyncthink run`: `--speak` says the answer as it is written, `--speak-to` saves it.

    writer token events ─▶ Chunker (speakable.py) ─▶ queue ─▶ speaker thread: espeak-ng says each chunk
    all events at the end ─▶ realtime.play (espeak-ng, TTS in parallel) ─▶ write_wav: the answer as a
                             listener would have heard it, silence before the first word and stalls kept

Speaking happens in a thread so decoding never waits for the voice; when the session
ends, `finish()` waits until everything queued has been said.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from .realtime import delay_metrics
from .speakable import Chunker, speakable
from .tts import EspeakTTS, write_wav


class LiveSpeaker:
    """Says each writer chunk aloud as soon as it is complete (espeak-ng on the default audio device)."""

    def __init__(self, tts: EspeakTTS | None = None) -> None:
        self.tts = tts or EspeakTTS()
        self.chunker = Chunker()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.problem: str | None = None  # why the first chunk could not be played, if so (then nothing is)
        self._thread = threading.Thread(target=self._loop, name="asyncthink-speaker", daemon=True)
        self._thread.start()

    def add(self, event) -> None:
        if event.stream == "writer" and event.kind == "token":
            chunk = self.chunker.add(event.text, event.time, event.step)
            if chunk is not None:
                self._queue.put(speakable(chunk.text))

    def finish(self) -> str | None:
        """Wait until everything queued was said; a warning line when nothing could be played."""
        last = self.chunker.flush()
        if last is not None:
            self._queue.put(speakable(last.text))
        self._queue.put(None)
        self._thread.join()
        if self.problem is None:
            return None
        return (f"warning: the answer could not be spoken: no sound device? (espeak-ng: {self.problem}); "
                "--speak-to answer.wav saves it to a file instead")

    def _loop(self) -> None:
        while (words := self._queue.get()) is not None:
            if self.problem is None:  # after a failure the rest is skipped: one warning, not one per chunk
                self.problem = self.tts.say(words)


def save_speech(events, path: str | Path, tts: EspeakTTS | None = None) -> tuple[float, object]:
    """Write the answer's audio with its real-time stalls to `path`; returns (seconds, delay metrics)."""
    tts = tts or EspeakTTS()
    metrics, played = delay_metrics(events, tts)
    seconds = write_wav(path, [(p.start, p.speech) for p in played])
    return seconds, metrics


class SpeechTap:
    """What `run --speak` / `--speak-to` add to the command: checked before the model loads."""

    def __init__(self, speak: bool, speak_to: str | Path | None) -> None:
        self.tts = EspeakTTS() if speak or speak_to else None  # raises TTSError when espeak-ng is missing
        self.live = LiveSpeaker(self.tts) if speak else None
        self.path = speak_to

    def wrap(self, add):
        """`add` that also feeds the live speaker."""
        if self.live is None:
            return add

        def add_and_speak(event) -> None:
            add(event)
            self.live.add(event)

        return add_and_speak

    def finish(self, events) -> list[str]:
        """Wait for the voice; write the WAV. Returns lines for the user (a warning, where the WAV went)."""
        lines = []
        if self.live is not None and (warning := self.live.finish()):
            lines.append(warning)
        if self.path is None:
            return lines
        seconds, m = save_speech(events, self.path, self.tts)
        return lines + [f"spoken answer written to {self.path}: {seconds:.1f} s, first audio after {m.first_audio_delay:.2f} s, "
                f"stalls {m.total_stall:.2f} s"]
