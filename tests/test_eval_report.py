"""The report's figures against hand computations: every audio figure over the same answers."""

import statistics

from asyncthink.evaluation.report import HEADER, format_table, summarize


def record(config, first_audio, stall, over, steps=10):
    spoken = first_audio is not None
    delay = {"time_to_first_writer_token": 0.5 if spoken else None, "first_audio_delay": first_audio,
             "total_stall": stall, "stall_over_1s": over, "total_delay": first_audio + stall if spoken else None,
             "steps_to_first_writer_token": 3 if spoken else None, "writer_idle_steps": 0, "tts": "rate"}
    return {"dataset": "math500", "config": config, "correct": False, "delay": delay, "delay_steps": None,
            "session": {"steps": steps}, "stop_reason": "budget"}


def test_stall_first_audio_and_total_delay_count_the_same_answers():
    # two spoken answers and one cut off before any audio (its file says total_stall 0)
    records = [record("think", 4.0, 2.0, 1.0), record("think", 6.0, 1.0, 0.0), record("think", None, 0.0, 0.0)]
    (row,) = summarize(records)
    assert row["n"] == 3 and row["spoken"] == 2
    assert [row[k]["n"] for k in ("first_audio", "total_stall", "stall_over_1s", "total_delay")] == [2, 2, 2, 2]
    assert row["first_audio"]["mean"] == statistics.fmean([4.0, 6.0])
    assert row["total_stall"]["mean"] == statistics.fmean([2.0, 1.0])  # not (2 + 1 + 0) / 3
    assert row["stall_over_1s"]["mean"] == 0.5
    assert row["total_delay"]["mean"] == statistics.fmean([6.0, 7.0])
    line = next(line for line in format_table([row]).splitlines() if line.startswith("math500"))
    cells = dict(zip(HEADER, (c.strip() for c in line.split("|"))))
    assert cells["spoken"] == "2" and cells["total stall s"] == "1.50 / 1.50" and cells["total delay s"] == "6.50 / 6.50"


def test_a_configuration_that_never_spoke_has_no_audio_figures():
    (row,) = summarize([record("no_think", None, 0.0, 0.0), record("no_think", None, 0.0, 0.0)])
    assert row["spoken"] == 0 and row["total_stall"] == {"mean": None, "median": None, "n": 0}
