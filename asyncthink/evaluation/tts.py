"""Speech for the delay metrics: how long a chunk takes to say and to synthesize.

    chunk words ─▶ EspeakTTS   (espeak-ng subprocess: real audio, measured synthesis time)
               └─▶ RateModelTTS (no engine installed: duration from a speaking rate, no audio)
                         │
                         ▼
                 Speech(duration, synth_time, pcm) ─▶ realtime.py (playback) ─▶ write_wav (with stalls)

`get_tts("auto")` picks espeak-ng when it is on PATH, else the rate model, so metrics
can be computed anywhere; the choice is recorded with the metrics (`Speech.engine`).

Speaking-rate model (the documented fallback): 150 words per minute (0.4 s per word,
an ordinary conversational pace; espeak-ng's default is 175), words counted in the
speakable text, synthesis time 0 (TTS assumed much faster than speech).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from ..errors import AsyncThinkError

WORDS_PER_MINUTE = 150
ESPEAK_WORDS_PER_MINUTE = 175  # espeak-ng's own default (-s)
TTS_CHOICES = ("auto", "espeak", "rate")


class TTSError(AsyncThinkError):
    """No usable text-to-speech engine, or it failed."""


@dataclass(frozen=True)
class Speech:
    duration: float  # seconds of audio
    synth_time: float  # seconds the engine took to produce it
    pcm: bytes = b""  # 16-bit mono samples (empty for the rate model)
    sample_rate: int = 0


class RateModelTTS:
    engine = "rate"

    def __init__(self, words_per_minute: float = WORDS_PER_MINUTE) -> None:
        self.words_per_minute = words_per_minute

    def synthesize(self, text: str) -> Speech:
        return Speech(len(text.split()) * 60.0 / self.words_per_minute, 0.0)


class EspeakTTS:
    engine = "espeak-ng"

    def __init__(self, words_per_minute: int = ESPEAK_WORDS_PER_MINUTE, voice: str | None = None) -> None:
        self.binary = shutil.which("espeak-ng")
        if self.binary is None:
            raise TTSError("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng); without it "
                           "nothing can be spoken and delay metrics use the speaking-rate model")
        self.words_per_minute, self.voice = words_per_minute, voice

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-s", str(self.words_per_minute), *(["-v", self.voice] if self.voice else []), *extra]

    def synthesize(self, text: str) -> Speech:
        if not text.strip():
            return Speech(0.0, 0.0)
        start = time.perf_counter()
        # "--" so a chunk starting with "-" is read, not taken as an option
        done = subprocess.run(self._command("--stdout", "--", text), capture_output=True, check=False)
        synth_time = time.perf_counter() - start
        if done.returncode != 0:
            raise TTSError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
        pcm, rate = _wav_samples(done.stdout)
        return Speech(len(pcm) / 2 / rate, synth_time, pcm, rate)

    def say(self, text: str) -> str | None:
        """Play `text` on the default audio device; returns when it has been spoken, with None, or with
        why it could not be played (espeak-ng exits 0 even when there is no sound device: its stderr says)."""
        if not text.strip():
            return None
        done = subprocess.run(self._command("--", text), capture_output=True, check=False)
        errors = [line for line in done.stderr.decode(errors="replace").splitlines()
                  if "error" in line.lower() or line.startswith("ALSA lib") or "cannot" in line.lower()]
        if done.returncode != 0 or errors:
            return (errors or [f"exit status {done.returncode}"])[-1].strip()
        return None


def _wav_samples(data: bytes) -> tuple[bytes, int]:
    """PCM bytes and sample rate of espeak-ng's streamed WAV (its size fields are placeholders)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TTSError("espeak-ng did not produce WAV audio")
    rate = int.from_bytes(data[24:28], "little")
    at = data.find(b"data", 12)
    if at < 0 or rate <= 0:
        raise TTSError("espeak-ng produced a WAV without audio data")
    pcm = data[at + 8:]
    return pcm[: len(pcm) // 2 * 2], rate


class MemoTTS:
    """Synthesizes each distinct text once: the wall and step clocks of one answer hear the same speech."""

    def __init__(self, tts) -> None:
        self.tts, self.engine = tts, tts.engine
        self._said: dict[str, Speech] = {}

    def synthesize(self, text: str) -> Speech:
        if text not in self._said:
            self._said[text] = self.tts.synthesize(text)
        return self._said[text]


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def get_tts(choice: str = "auto"):
    """"auto": espeak-ng when installed, else the rate model; "espeak" insists; "rate" never speaks."""
    if choice not in TTS_CHOICES:
        raise TTSError(f"unknown TTS {choice!r}; choose from {', '.join(TTS_CHOICES)}")
    if choice == "rate" or choice == "auto" and not espeak_available():
        return RateModelTTS()
    return EspeakTTS()


def write_wav(path: str | Path, placed: list[tuple[float, Speech]]) -> float:
    """Write each (start time, speech) at its place on one track, silence in between; returns seconds.

    Times are seconds from when the question was asked, so the file starts with the
    silence before the first audio and keeps every stall.
    """
    rates = {s.sample_rate for _, s in placed if s.pcm}
    if not rates:
        raise TTSError("no audio to write: the answer was empty, or the TTS is the speaking-rate model "
                       "(install espeak-ng to write speech)")
    (rate,) = rates
    track = bytearray()
    for start, speech in placed:
        at = round(start * rate) * 2
        if len(track) < at:
            track += bytes(at - len(track))
        track[at:at + len(speech.pcm)] = speech.pcm  # a late-rounded start may overlap by one sample
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(track))
    return len(track) / 2 / rate
