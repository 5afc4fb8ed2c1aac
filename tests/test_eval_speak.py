"""`asyncthink run --speak` / `--speak-to`: espeak-ng required and checked before the model loads;
the WAV holds the answer as heard live. The live voice itself needs an audio device and is
exercised through LiveSpeaker with a recording stand-in for espeak-ng."""

import wave

import pytest
from typer.testing import CliRunner

from asyncthink.cli import app, common
from asyncthink.evaluation import tts
from asyncthink.evaluation.speaker import LiveSpeaker
from asyncthink.events import Event


def test_speaking_without_espeak_is_a_one_line_error_before_loading(monkeypatch, tmp_path):
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    monkeypatch.setattr(common, "load_model", lambda *a, **k: pytest.fail("the model must not load"))
    for option in (["--speak"], ["--speak-to", str(tmp_path / "a.wav")]):
        result = CliRunner().invoke(app, ["run", "hi", *option])
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [(
            "error: espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng); without it nothing can "
            "be spoken and delay metrics use the speaking-rate model")]


class RecordingVoice:
    engine = "recording"

    def __init__(self):
        self.said = []

    def say(self, text):
        self.said.append(text)


def test_live_speaker_says_each_chunk_in_order_and_the_rest_at_the_end():
    voice = RecordingVoice()
    speaker = LiveSpeaker(voice)
    texts = ["The", " sum", " is", " $", "x", "^", "2", "$", " and", " done"]
    for i, text in enumerate(texts):
        speaker.add(Event("writer", "token", text, i, 0.1 * i))
        speaker.add(Event("thinker", "token", "ignored", i, 0.1 * i))
    speaker.finish()
    assert voice.said == ["The sum is x squared", "and done"]


@pytest.mark.skipif(not tts.espeak_available(), reason="espeak-ng is not installed")
def test_speak_to_writes_the_answer_with_its_stalls(monkeypatch, tmp_path, tiny_reasoner):
    monkeypatch.setattr(common, "load_model", lambda *a, **k: tiny_reasoner)
    path = tmp_path / "answer.wav"
    result = CliRunner().invoke(app, ["run", "What is 2+2?", "--mode", "no_think", "--budget", "24", "--plain",
                                      "--speak-to", str(path)])
    assert result.exit_code == 0, result.stderr
    assert f"spoken answer written to {path}" in result.stderr
    with wave.open(str(path)) as w:
        seconds = w.getnframes() / w.getframerate()
        first = float(result.stderr.split("first audio after ")[1].split(" s")[0])
        lead = w.readframes(int((first - 0.01) * w.getframerate()))  # printed to 0.01 s
    assert seconds > first > 0
    assert set(lead) <= {0}  # silent until the first chunk could be heard


class NoSoundDevice(RecordingVoice):
    def say(self, text):
        super().say(text)
        return "ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default"


def test_live_speaker_warns_once_when_nothing_can_be_played():
    voice = NoSoundDevice()
    speaker = LiveSpeaker(voice)
    for i, text in enumerate(["One", " two", " three", " four", " five", " six.", " Seven", " eight"]):
        speaker.add(Event("writer", "token", text, i, 0.1 * i))
    warning = speaker.finish()
    assert warning.startswith("warning: the answer could not be spoken: no sound device? (espeak-ng: ALSA lib")
    assert len(voice.said) == 1  # after the first failure the rest is not tried
    assert LiveSpeaker(RecordingVoice()).finish() is None


@pytest.mark.skipif(not tts.espeak_available(), reason="espeak-ng is not installed")
def test_espeak_reports_a_missing_sound_device(monkeypatch):
    # espeak-ng exits 0 without a sound device; its stderr is what says so (here: no ALSA device at all)
    monkeypatch.setenv("ALSA_CONFIG_PATH", "/nonexistent/alsa.conf")
    assert tts.EspeakTTS().say("hello") is not None
