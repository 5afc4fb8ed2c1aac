"""Real-time delay metrics on hand-computed timelines; chunking; LaTeX read aloud; WAV with stalls.

Every expected number below is worked out by hand in the comments from the rules in
asyncthink/evaluation/realtime.py (chunk ready at its last token; audio ready after
synthesis; playback starts when the audio is ready and the previous chunk has ended).
"""

import wave

import pytest

from asyncthink.evaluation.realtime import delay_metrics, play, writer_tokens
from asyncthink.evaluation.speakable import chunk_tokens, speakable
from asyncthink.evaluation.tts import (
    EspeakTTS,
    RateModelTTS,
    Speech,
    espeak_available,
    write_wav,
)
from asyncthink.events import Event


class FixedTTS:
    """Each word takes `per_word` seconds to say; each chunk `synth` seconds to synthesize."""

    engine = "fixed"

    def __init__(self, per_word: float = 1.0, synth: float = 0.0, rate: int = 0):
        self.per_word, self.synth, self.rate = per_word, synth, rate

    def synthesize(self, text: str) -> Speech:
        duration = len(text.split()) * self.per_word
        pcm = b"\x01\x00" * round(duration * self.rate) if self.rate else b""
        return Speech(duration, self.synth, pcm, self.rate)


def writer(text, time, step):
    return Event("writer", "token", text, step, time)


def thinker(text, time, step):
    return Event("thinker", "token", text, step, time)


# The main timeline: chunks of 2 tokens, 1 s per word, 0.5 s synthesis, TTS in parallel.
#   chunk A "Hello world"  ready 2.0  audio 2.5  start 2.5  (first audio 2.5)  end 4.5
#   chunk B " how are"     ready 7.0  audio 7.5  start 7.5  wait 3.0           end 9.5
#   chunk C " you today"   ready 8.5  audio 9.0  start 9.5  wait 0.0           end 11.5
#   chunk D " friend"      ready 12.0 audio 12.5 start 12.5 wait 1.0 (exactly) end 13.5
MAIN = [thinker("hm", 0.5, 0), writer("Hello", 1.0, 3), writer(" world", 2.0, 4), writer(" how", 3.0, 5),
        writer(" are", 7.0, 9), writer(" you", 8.0, 10), writer(" today", 8.5, 11), writer(" friend", 12.0, 14)]


def test_hand_computed_timeline_with_stalls():
    m, played = delay_metrics(MAIN, FixedTTS(1.0, 0.5), parallel=True, chunk_size=2)
    assert [p.text for p in played] == ["Hello world", " how are", " you today", " friend"]
    assert [p.start for p in played] == [2.5, 7.5, 9.5, 12.5]
    assert [p.wait for p in played] == [2.5, 3.0, 0.0, 1.0]
    assert m.time_to_first_writer_token == 1.0
    assert m.steps_to_first_writer_token == 3
    # writer steps 3,4,5,9,10,11,14: from 3 to 14 are 12 steps, 7 with a token
    assert m.writer_idle_steps == 5
    assert m.first_audio_delay == 2.5
    assert m.total_stall == 4.0  # 3.0 + 0.0 + 1.0
    assert m.stall_over_1s == 2.0  # 3.0 - 1; the stall of exactly 1 s counts nothing
    assert m.total_delay == 6.5
    assert m.audio_duration == 7.0  # 2 + 2 + 2 + 1 words
    assert m.audio_duration_with_stalls == 11.0  # 13.5 - 2.5
    assert m.chunks == 4 and m.writer_tokens == 7
    assert m.tts == "fixed" and m.clock == "wall"


def test_a_stall_of_exactly_one_second_is_a_stall_but_not_over_one_second():
    # chunks of 1 token, 1 word = 1 s, no synthesis: "a" plays 0-1, "b" ready at 2 -> wait exactly 1.0
    m, _ = delay_metrics([writer("a", 0.0, 0), writer(" b", 2.0, 1)], FixedTTS(1.0), chunk_size=1)
    assert m.total_stall == 1.0
    assert m.stall_over_1s == 0.0
    m, _ = delay_metrics([writer("a", 0.0, 0), writer(" b", 2.25, 1)], FixedTTS(1.0), chunk_size=1)
    assert m.total_stall == 1.25 and m.stall_over_1s == 0.25


def test_sequential_tts_queues_synthesis_where_parallel_does_not():
    # 1-token chunks ready at 0, 0.5, 1.0; synthesis 3 s each; 1 s of speech each
    tokens = [writer("a", 0.0, 0), writer(" b", 0.5, 1), writer(" c", 1.0, 2)]
    # parallel: audio ready 3.0, 3.5, 4.0 -> plays 3-4, 4-5, 5-6: no stall
    m, played = delay_metrics(tokens, FixedTTS(1.0, 3.0), parallel=True, chunk_size=1)
    assert [p.start for p in played] == [3.0, 4.0, 5.0]
    assert (m.first_audio_delay, m.total_stall) == (3.0, 0.0)
    # in sequence: audio ready 3, max(0.5, 3) + 3 = 6, max(1, 6) + 3 = 9 -> plays 3-4, 6-7, 9-10
    m, played = delay_metrics(tokens, FixedTTS(1.0, 3.0), parallel=False, chunk_size=1)
    assert [p.start for p in played] == [3.0, 6.0, 9.0]
    assert (m.first_audio_delay, m.total_stall, m.stall_over_1s, m.total_delay) == (3.0, 4.0, 2.0, 7.0)
    assert m.audio_duration == 3.0 and m.audio_duration_with_stalls == 7.0
    assert not m.tts_parallel


def test_formula_spanning_a_chunk_boundary_stays_in_one_chunk():
    texts = ["The", " answer", " is", " $", "\\frac", "{1}", "{2}", "$", ".", " Done"]
    tokens = [(t, 0.1 * i, i) for i, t in enumerate(texts)]
    chunks = chunk_tokens(tokens, size=5)
    # 5 tokens would end inside the formula: the chunk runs on to its closing "$"
    assert [c.text for c in chunks] == ["The answer is $\\frac{1}{2}$", ". Done"]
    assert [c.tokens for c in chunks] == [8, 2]
    assert chunks[0].ready_time == pytest.approx(0.7) and chunks[0].steps == list(range(8))
    assert speakable(chunks[0].text) == "The answer is 1 over 2"


def test_display_formula_delimiters_split_over_tokens():
    # "$$" arrives as "$" + "$"; so does its closer: the display formula x^2 is one chunk
    texts = ["so", " $", "$", "x", "^", "2", "$", "$", " ok", " yes"]
    chunks = chunk_tokens([(t, float(i), i) for i, t in enumerate(texts)], size=2)
    assert [c.text for c in chunks] == ["so $$x^2$$", " ok yes"]
    assert speakable(chunks[0].text) == "so x squared"


def test_escaped_dollar_is_not_a_formula():
    chunks = chunk_tokens([(t, float(i), i) for i, t in enumerate(["costs", " \\$", "5", " now"])], size=2)
    assert [c.text for c in chunks] == ["costs \\$", "5 now"]


def test_empty_answer_has_no_audio():
    m, played = delay_metrics([thinker("x", 0.1, 0), Event("control", "done", "budget", 3, 0.4)], FixedTTS())
    assert played == []
    assert m.time_to_first_writer_token is None and m.steps_to_first_writer_token is None
    assert m.first_audio_delay is None and m.total_delay is None
    assert (m.total_stall, m.stall_over_1s, m.audio_duration, m.audio_duration_with_stalls) == (0, 0, 0, 0)
    assert (m.chunks, m.writer_tokens, m.writer_idle_steps) == (0, 0, 0)


def test_tokens_without_words_make_no_audio_but_count_as_written():
    m, played = delay_metrics([writer("\n\n", 1.0, 2), writer("  ", 1.5, 3)], FixedTTS(), chunk_size=1)
    assert played == [] and m.first_audio_delay is None
    assert m.time_to_first_writer_token == 1.0 and m.writer_tokens == 2


def test_step_clock_replaces_wall_times():
    # token of step s is ready at (s + 1) * 0.25 whatever its wall time
    events = [writer("a", 99.0, 3), writer(" b", 99.5, 7)]
    m, played = delay_metrics(events, FixedTTS(1.0), chunk_size=1, step_time=0.25)
    assert m.time_to_first_writer_token == 1.0 and m.first_audio_delay == 1.0
    # "a" plays 1-2; " b" ready at 2.0: no stall
    assert [p.start for p in played] == [1.0, 2.0] and m.total_stall == 0.0
    assert m.clock == "steps x 0.25 s"


def test_metrics_read_event_dicts_as_well_as_events():
    assert writer_tokens([e.to_dict() for e in MAIN]) == writer_tokens(MAIN)


def test_rate_model_is_150_words_per_minute():
    speech = RateModelTTS().synthesize("one two three four five")
    assert speech.duration == pytest.approx(2.0) and speech.synth_time == 0.0 and speech.pcm == b""


@pytest.mark.parametrize(("latex", "words"), [
    ("$\\frac{3}{4}$", "3 over 4"),
    ("$x^2 + y^3 = z^{10}$", "x squared plus y cubed equals z to the power of 10"),
    ("$\\sqrt{2}$ and $\\sqrt[3]{27}$", "the square root of 2 and the cube root of 27"),
    ("$\\sqrt{\\frac{a}{b}}$", "the square root of a over b"),
    ("The answer is $\\boxed{\\pi r^2}$.", "The answer is pi r squared."),
    ("\\boxed{42}", "42"),
    ("$2 \\times 3 \\le 7$, $a \\neq b$", "2 times 3 less than or equal to 7, a is not equal to b"),
    ("$a_1$ and $90^\\circ$", "a sub 1 and 90 degrees"),
    ("$\\left( 3, \\frac{\\pi}{2} \\right)$", "3, pi over 2"),
    ("$\\text{cm}^2$", "cm squared"),
    ("**Step 1:** add", "Step 1: add"),
    ("cut off $x +", "cut off x plus"),
])
def test_latex_is_read_as_words(latex, words):
    assert speakable(latex) == words


def test_wav_keeps_the_silence_before_the_first_audio_and_the_stalls(tmp_path):
    # 100 Hz fake audio: "a" (1 s) starts at 2.0; " b" (1 s) is ready at 4.5 -> starts 4.5 after a 1.5 s stall
    tts = FixedTTS(1.0, 0.0, rate=100)
    _, played = delay_metrics([writer("a", 2.0, 0), writer(" b", 4.5, 1)], tts, chunk_size=1)
    seconds = write_wav(tmp_path / "a.wav", [(p.start, p.speech) for p in played])
    assert seconds == pytest.approx(5.5)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (100, 1, 2)
        samples = w.readframes(w.getnframes())
    frames = [samples[i:i + 2] for i in range(0, len(samples), 2)]
    assert len(frames) == 550
    assert set(frames[:200]) == {b"\x00\x00"}  # 2 s of silence
    assert set(frames[200:300]) == {b"\x01\x00"}  # "a"
    assert set(frames[300:450]) == {b"\x00\x00"}  # the 1.5 s stall
    assert set(frames[450:]) == {b"\x01\x00"}  # " b"


espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@espeak
def test_espeak_speaks_a_chunk_with_a_plausible_duration():
    speech = EspeakTTS().synthesize("the answer is one over two")
    # 6 words at espeak-ng's 175 words per minute: about 2 s
    assert 1.0 < speech.duration < 4.0
    assert speech.sample_rate > 8000 and len(speech.pcm) == round(speech.duration * speech.sample_rate) * 2
    assert speech.synth_time > 0


@espeak
def test_espeak_timeline_and_wav(tmp_path):
    from asyncthink.evaluation.speaker import save_speech

    events = [writer("Hello", 1.0, 0), writer(" there", 1.2, 1), writer(",", 1.3, 2), writer(" friend", 1.4, 3),
              writer(" of", 1.5, 4), writer(" mine", 9.0, 5)]
    seconds, m = save_speech(events, tmp_path / "s.wav")
    played = play(writer_tokens(events), EspeakTTS())
    assert m.tts == "espeak-ng" and m.chunks == 2
    assert m.first_audio_delay >= 1.5  # the first chunk is complete at 1.5 s, then synthesized
    assert m.total_stall > 5.0  # "mine" is only written at 9 s, long after the first chunk was said
    with wave.open(str(tmp_path / "s.wav")) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(seconds)
        lead = w.readframes(int(1.5 * w.getframerate()))
    assert set(lead) == {0}  # silence until the first chunk could be heard
    assert seconds >= 9.0 + played[-1].speech.duration - 0.01


@pytest.mark.parametrize("text, words", [
    ("It costs \\$5.", "It costs 5 dollars."),
    ("costs \\$5 and \\$10", "costs 5 dollars and 10 dollars"),
    ("It costs $5 and $10 in total.", "It costs 5 dollars and 10 dollars in total."),
    ("$3.50 each, $2 off", "3.50 dollars each, 2 dollars off"),
    ("a $10,000 prize", "a 10,000 dollars prize"),
    ("pay $5", "pay 5 dollars"),
    ("$x^2$ and $5", "x squared and 5 dollars"),
    ("$5 + 3 = 8$", "5 plus 3 equals 8"),  # a formula that starts with a number
    ("so $5$ apples", "so 5 apples"),
    ("a \\$ sign", "a dollars sign"),
])
def test_money_is_read_as_money_and_no_backslash_is_spoken(text, words):
    assert speakable(text) == words
    assert "\\" not in speakable(text)


def test_an_amount_opens_no_formula_so_chunks_keep_their_size():
    texts = ["It", " costs", " $", "5", " and", " $", "1", "0", " in", " total", ".", " Then", " more"]
    chunks = chunk_tokens([(t, float(i), i) for i, t in enumerate(texts)], size=5)
    assert [c.text for c in chunks] == ["It costs $5 and", " $10 in total", ". Then more"]
    texts = ["So", " $", "5", " +", " 3", "$", " is", " 8"]  # a formula starting with a number
    assert [c.text for c in chunk_tokens([(t, float(i), i) for i, t in enumerate(texts)], size=2)] == [
        "So $5 + 3$", " is 8"]
