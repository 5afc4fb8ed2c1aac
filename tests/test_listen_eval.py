"""Listening evaluation: task files, answer checking, and the three conditions end to end."""

import json
from fractions import Fraction

import pytest
import torch

from asyncthink import AsyncReasoner, SessionError
from asyncthink import listen_eval as le
from asyncthink.models.random_weights import tiny_model

BUDGET, EVERY = 40, 8


@pytest.fixture(scope="module")
def one_thread():
    # several tiny forward passes per test: one thread avoids spin-waiting on a busy machine
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


@pytest.fixture(scope="module")
def tasks():
    return le.load_tasks(le.EXAMPLE_PATH)


@pytest.fixture(scope="module")
def rows(one_thread, reasoner, tasks):
    return le.run_listen_eval(reasoner, tasks, every=EVERY, budget=BUDGET)


def write(tmp_path, lines):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "a", "shards": ["How many?", "Three and four."], "answer": "7"})


# ---------------------------------------------------------------------------- loading


def test_example_file_loads():
    tasks = le.load_tasks(le.EXAMPLE_PATH)
    assert 4 <= len(tasks) <= 8
    assert all(2 <= len(t.shards) <= 4 and t.answer_type == "number" for t in tasks)
    assert len({t.id for t in tasks}) == len(tasks)
    assert [t.line for t in tasks] == list(range(1, len(tasks) + 1))


def test_load_fields_defaults_and_blank_lines(tmp_path):
    text = json.dumps({"id": "t", "shards": ["Name the colour."], "answer": "Dark Red", "answer_type": "text",
                       "source": "ours"})
    tasks = le.load_tasks(write(tmp_path, [GOOD, "", text]))
    assert [t.id for t in tasks] == ["a", "t"]
    assert tasks[0].shards == ("How many?", "Three and four.") and tasks[0].answer_type == "number"
    assert tasks[0].full_problem == "How many?\n\nThree and four."
    assert tasks[1].answer_type == "text" and tasks[1].meta == {"source": "ours"} and tasks[1].line == 3


@pytest.mark.parametrize("bad, message", [
    ("{not json", r"tasks.jsonl:2: invalid JSON"),
    ("[1, 2]", r":2: expected a JSON object, got list"),
    (json.dumps({"shards": ["x"], "answer": "1"}), r":2: missing field 'id'"),
    (json.dumps({"id": "b", "answer": "1"}), r":2: missing field 'shards'"),
    (json.dumps({"id": "b", "shards": ["x"]}), r":2: missing field 'answer'"),
    (json.dumps({"id": "b", "shards": [], "answer": "1"}), r":2: field 'shards' is empty"),
    (json.dumps({"id": "b", "shards": "x", "answer": "1"}), r":2: field 'shards' must be a list of strings, got string"),
    (json.dumps({"id": "b", "shards": ["x", 3], "answer": "1"}), r":2: field 'shards' item 1 must be a string"),
    (json.dumps({"id": "b", "shards": ["x", " "], "answer": "1"}), r":2: field 'shards' item 1 is empty"),
    (json.dumps({"id": 5, "shards": ["x"], "answer": "1"}), r":2: field 'id' must be a string, got int"),
    (json.dumps({"id": "b", "shards": ["x"], "answer": 7}), r":2: field 'answer' must be a string, got int"),
    (json.dumps({"id": "b", "shards": ["x"], "answer": "seven"}), r":2: field 'answer' must be a number"),
    (json.dumps({"id": "b", "shards": ["x"], "answer": "1", "answer_type": "float"}), r":2: field 'answer_type'"),
    (json.dumps({"id": "a", "shards": ["x"], "answer": "1"}), r":2: field 'id': duplicate id 'a' \(first on line 1\)"),
])
def test_validation_errors_name_line_and_field(tmp_path, bad, message):
    with pytest.raises(le.TaskFileError, match=message):
        le.load_tasks(write(tmp_path, [GOOD, bad]))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(le.TaskFileError, match="cannot read task file"):
        le.load_tasks(tmp_path / "nope.jsonl")
    with pytest.raises(le.TaskFileError, match="no tasks"):
        le.load_tasks(write(tmp_path, ["", "  "]))


# ---------------------------------------------------------------------------- answers


@pytest.mark.parametrize("text, expected", [
    (r"so \boxed{42}.", "42"),
    (r"\boxed{1} then \boxed{2}", "2"),
    (r"\boxed{\frac{3}{4}}", r"\frac{3}{4}"),
    (r"\boxed{a{b{c}}d} tail", "a{b{c}}d"),
    (r"\boxed {7}", "7"),
    (r"\boxed{5} and a cut-off \boxed{6", "5"),
    ("no box here 12", None),
])
def test_extract_boxed(text, expected):
    assert le.extract_boxed(text) == expected


@pytest.mark.parametrize("text, kind, expected", [
    (r"The answer is \boxed{7}.", "number", "7"),
    (r"First 3, then \boxed{\text{12 apples}}, then 99", "number", r"\text{12 apples}"),
    ("She has 3, buys 4, so 7 apples.", "number", "7"),
    ("It costs $1,234.50 in total.", "number", "1,234.50"),
    ("Change: -5 degrees", "number", "-5"),
    ("From 3-5 people", "number", "5"),
    ("nothing numeric", "number", None),
    ("", "number", None),
    ("  Dark Red ", "text", "Dark Red"),
    (r"colour \boxed{ Dark  Red }", "text", "Dark  Red"),
])
def test_extract_answer(text, kind, expected):
    assert le.extract_answer(text, kind) == expected


@pytest.mark.parametrize("prediction, reference, kind, correct", [
    ("5", "5.0", "number", True),
    ("1,200", "1200", "number", True),
    ("1200.00", "1,200", "number", True),
    (r"\frac{1}{2}", "0.5", "number", True),
    ("1/2", "0.5", "number", True),
    (r"\$15", "15", "number", True),
    ("50%", "50", "number", True),
    (r"\text{12 apples}", "12", "number", True),
    ("7", "8", "number", False),
    ("-3", "3", "number", False),
    (None, "3", "number", False),
    ("Dark  RED", "dark red", "text", True),
    ("dark red.", "dark red", "text", False),
])
def test_answers_match(prediction, reference, kind, correct):
    assert le.answers_match(prediction, reference, kind) is correct


def test_check_answer_and_parse_number():
    assert le.check_answer(r"Thinking 3 + 4 ... \boxed{7}", "7") == ("7", True)
    assert le.check_answer("so 3,000 apples, not 2", "2") == ("2", True)
    assert le.check_answer("gibberish", "7") == (None, False)
    assert le.parse_number("1,234,567") == 1234567
    assert le.parse_number("-2.5") == Fraction(-5, 2)
    assert le.parse_number("7 apples", strict=True) is None
    assert le.parse_number("7 apples") == 7
    assert le.parse_number("inf", strict=True) is None


# ---------------------------------------------------------------------------- end to end


def test_every_condition_gives_one_row_per_task(rows, tasks):
    assert [(r["id"], r["condition"]) for r in rows] == [(t.id, c) for t in tasks for c in le.CONDITIONS]
    for row in rows:
        assert isinstance(row["answer"], str) and isinstance(row["correct"], bool)
        assert row["time_to_final_answer"] > 0 and row["final_session_time"] > 0
        assert row["final_session_time"] <= row["time_to_final_answer"]
        if row["time_to_first_writer_token"] is not None:
            assert 0 < row["time_to_first_writer_token"] <= row["time_to_final_answer"]
        assert row["stop_reason"] in ("writer_eos", "budget", "writer_budget")
        assert row["thinker_tokens"] >= row["final_thinker_tokens"] > 0
        assert row["final_steps"] <= BUDGET
        json.dumps(row)  # rows go to JSONL as they are


def test_upfront_rows(rows, tasks):
    for row, task in zip((r for r in rows if r["condition"] == "upfront"), tasks):
        assert row["restarts"] == 0 and row["sessions"] == 1 and row["complete"]
        assert row["shards_used"] == len(task.shards)
        assert row["time_after_last_shard"] == row["time_to_final_answer"]


def test_listen_rows_account_for_every_shard(rows, tasks):
    for row, task in zip((r for r in rows if r["condition"] == "listen"), tasks):
        n = len(task.shards)
        assert row["restarts"] == 0 and row["sessions"] == 1
        assert 1 <= row["shards_given"] <= n
        assert row["shards_heard"] == len(row["heard_at"]) == row["shards_used"] - 1
        # given = heard + still queued when the session ended
        assert row["shards_heard"] + len(row["unheard"]) == row["shards_given"] - 1
        assert row["unheard"] == list(task.shards[1 + row["shards_heard"]: row["shards_given"]])
        if row["shards_heard"] < n - 1:
            assert not row["complete"]  # the session ended first; the row says how much it had
        assert all(0 < t <= row["time_to_final_answer"] for t in row["heard_at"])


def test_listen_without_hold_hears_every_shard(one_thread, reasoner, tasks):
    rows = le.run_listen_eval(reasoner, tasks, ("listen",), every=EVERY, warmup=False, budget=BUDGET,
                              listen_hold="none")
    assert len(rows) == len(tasks)
    for row, task in zip(rows, tasks):
        if row["stop_reason"] == "budget":  # ran its whole budget: every shard was due by then
            assert row["shards_heard"] == len(task.shards) - 1 and row["complete"] and row["unheard"] == []
            assert row["time_after_last_shard"] > 0
    assert any(r["complete"] for r in rows)


def test_restart_rows_report_restarts(rows, tasks):
    for row, task in zip((r for r in rows if r["condition"] == "restart"), tasks):
        assert row["restarts"] == row["sessions"] - 1 == row["shards_used"] - 1 == len(row["restarted_at"])
        assert row["shards_used"] == row["shards_given"]
        if row["complete"]:
            assert row["restarts"] == len(task.shards) - 1
        # every cancelled session produced EVERY thinker (or writer) tokens before its restart
        assert row["steps"] >= row["final_steps"] + EVERY * row["restarts"]
        assert all(0 < t < row["time_to_final_answer"] for t in row["restarted_at"])
    assert any(r["restarts"] > 0 for r in rows if r["condition"] == "restart")


def test_summary_and_table(rows, tasks):
    summary = le.summarize(rows)
    assert list(summary) == list(le.CONDITIONS)
    for condition, s in summary.items():
        assert s["n"] == len(tasks) and 0 <= s["accuracy"] <= 1
        assert s["mean_time_to_final_answer"] > 0 and s["median_time_to_final_answer"] > 0
        assert sum(s["stop_reasons"].values()) == len(tasks)
    assert summary["upfront"]["complete"] == 1.0 and summary["upfront"]["mean_restarts"] == 0
    table = le.format_summary(summary, {"model": "tiny", "every": EVERY, "budget": BUDGET})
    assert "model tiny" in table and "every 8" in table and "budget 40" in table
    for condition in le.CONDITIONS:
        assert f"\n{condition} " in table


def test_bad_arguments(reasoner, tasks):
    with pytest.raises(SessionError, match="unknown conditions"):
        le.run_listen_eval(reasoner, tasks, ("later",))
    with pytest.raises(SessionError, match="every must be a positive integer"):
        le.run_listen_eval(reasoner, tasks, every=0)


# ---------------------------------------------------------------------------- CLI


def test_cli_runs_and_writes_rows(one_thread, tmp_path, monkeypatch, capsys):
    tiny = AsyncReasoner(*tiny_model("qwen3"))
    # the CLI plumbing with a tiny model: a random Qwen3-0.6B shape would take seconds per session
    monkeypatch.setattr(AsyncReasoner, "from_pretrained", classmethod(lambda cls, *a, **k: tiny))
    out = tmp_path / "rows.jsonl"
    code = le.main([str(le.EXAMPLE_PATH), "--model", "random:Qwen/Qwen3-0.6B", "--device", "cpu", "--every", "4",
                    "--budget", "12", "--limit", "2", "--out", str(out), "--quiet"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "model random:Qwen/Qwen3-0.6B" in stdout and "dtype float32" in stdout and "device cpu" in stdout
    assert "every 4" in stdout and "budget 12" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["condition"] for r in rows] == list(le.CONDITIONS) * 2


def test_cli_reports_file_errors(tmp_path, capsys):
    path = write(tmp_path, [GOOD, json.dumps({"id": "b", "shards": [], "answer": "1"})])
    assert le.main([str(path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "tasks.jsonl:2: field 'shards' is empty" in err
