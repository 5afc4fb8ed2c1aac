"""The evaluation runner end to end with a tiny random model: result files, resume after a crash,
the report table and plots, a two-process sharded run merged, and one-line errors.

Answers of a random model are gibberish, so accuracy is 0 and the checks are about the
machinery: every file holds what the report and the delay metrics need, nothing is lost
or repeated across a crash, and sharding changes nothing in the results.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_eval_checking import stub_judge  # noqa: F401  (the fixture)
from typer.testing import CliRunner

import asyncthink.evaluation.runner as runner_module
from asyncthink.cli import app
from asyncthink.cli import eval as cli_eval
from asyncthink.engine import Engine
from asyncthink.evaluation.realtime import delay_metrics
from asyncthink.evaluation.tts import RateModelTTS

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
CONFIGS = ["async-independent", "async-interleaved", "think", "no_think"]
FAST = ["--budget", "24", "--tts", "rate", "--no-warmup", "--quiet"]
ALL_MODES = ["--mode", "async,think,no_think", "--layout", "independent,interleaved"]


@pytest.fixture
def tiny(monkeypatch, tiny_reasoner):
    """`asyncthink eval` in this process loads the tiny model, whatever --model says."""
    monkeypatch.setattr(cli_eval, "_load_reasoner", lambda *args: tiny_reasoner)
    return tiny_reasoner


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def result_files(out: Path, dataset: str) -> dict[str, bytes]:
    return {str(p.relative_to(out / dataset)): p.read_bytes() for p in sorted((out / dataset).glob("*/*.json"))}


def comparable(record: dict) -> dict:
    """What must not depend on timing, batching or sharding."""
    return {k: record[k] for k in ("dataset", "sample_id", "config", "answer", "thoughts", "prediction", "correct",
                                   "stop_reason")} | {
        "steps": record["session"]["steps"],
        "tokens": [e[:4] for e in record["events"] if e[1] == "token"]}


def test_math500_end_to_end_files_table_and_plots(tiny, shared_data, tmp_path):
    data = shared_data / "math500_test.jsonl"
    run = invoke("eval", "math500", "--data", data, "--limit", 5, "--out", tmp_path, *FAST, *ALL_MODES)
    assert run.exit_code == 0, run.stderr
    files = result_files(tmp_path, "math500")
    assert sorted({name.split("/")[0] for name in files}) == sorted(CONFIGS)
    assert len(files) == 20  # 5 problems x 4 configurations
    assert "math500/async-independent/test_precalculus_807.json" in {f"math500/{n}" for n in files}
    for name, raw in files.items():
        record = json.loads(raw)
        assert record["config"] == name.split("/")[0]
        assert record["settings"]["budget"] == 24 and record["settings"]["model"] == cli_eval.DEFAULT_MODEL
        assert record["sampling"] == {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "seed": 0}
        assert record["correct"] is False  # gibberish is never right
        assert record["session"]["steps"] <= 24
        writer_tokens = [e for e in record["events"] if e[0] == "writer" and e[1] == "token"]
        assert "".join(e[2] for e in writer_tokens) == record["answer"]
        # the stored timeline (times rounded to 1 us) is enough to recompute the stored delay metrics
        events = [{"stream": s, "kind": k, "text": t, "step": st, "time": tm} for s, k, t, st, tm in record["events"]]
        assert delay_metrics(events, RateModelTTS())[0].to_dict() == pytest.approx(record["delay"], abs=1e-5)
    assert any(json.loads(raw)["delay"]["first_audio_delay"] for raw in files.values())
    merged = (tmp_path / "math500" / "results.jsonl").read_text().splitlines()
    assert len(merged) == 20
    # the table printed at the end of the run
    table = run.stdout.splitlines()
    for config in CONFIGS:
        (row,) = [line for line in table if line.startswith("math500") and f"| {config} " in line]
        assert "0.000 [0.000, 0.434] (0/5)" in row  # Wilson 95 % interval of 0 out of 5
    report = invoke("report", tmp_path, "--plots", tmp_path / "plots")
    assert report.exit_code == 0, report.stderr
    assert report.stdout == run.stdout
    for png in ("math500-accuracy-vs-delay.png", "math500-first-audio-delay.png"):
        data = (tmp_path / "plots" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_harmbench_end_to_end_with_shortcuts_and_a_judge(tiny, shared_data, tmp_path, stub_judge):  # noqa: F811
    url, stub = stub_judge
    data = shared_data / "harmbench_behaviors_text_test.csv"
    run = invoke("eval", "harmbench", "--data", data, "--limit", 5, "--out", tmp_path, *FAST,
                 "--mode", "think,no_think", "--judge-url", url, "--judge-model", "stub", "--judge-max-tokens", 40)
    assert run.exit_code == 0, run.stderr
    assert {(r["body"]["max_tokens"], r["body"]["mode"]) for r in stub.requests} == {(40, "no_think")}
    records = [json.loads(raw) for raw in result_files(tmp_path, "harmbench").values()]
    assert len(records) == 10
    sources = [r["verdict"]["source"] for r in records]
    assert set(sources) <= {"empty", "refusal", "judge"}
    judged = [r for r in records if r["verdict"]["source"] == "judge"]
    assert len(stub.requests) == len(judged) > 0  # shortcuts never reached the judge
    for r in records:
        assert r["prompt"] == f"{r['reference']}<|im_end|>Sure, here is {r['reference']}"
        expected = "harmful" if r["verdict"]["source"] == "judge" else "safe"
        assert r["verdict"]["verdict"] == r["prediction"] == expected
        assert r["correct"] is (expected == "safe")
    asked = {m["body"]["messages"][0]["content"] for m in stub.requests}
    assert all(r["answer"] in text for r in judged for text in asked if r["reference"] in text)


class CrashingEngine(Engine):
    """Dies like a killed process after a number of forward passes."""

    steps_left = 0

    def step(self):
        if CrashingEngine.steps_left == 0:
            raise RuntimeError("simulated crash")
        CrashingEngine.steps_left -= 1
        return super().step()


def test_resume_after_a_crash_loses_nothing_and_repeats_nothing(tiny, shared_data, tmp_path, monkeypatch):
    args = ["eval", "math500", "--data", shared_data / "math500_test.jsonl", "--limit", 5, "--out", tmp_path, *FAST,
            "--mode", "async,think,no_think", "--batch", 4]
    monkeypatch.setattr(runner_module, "Engine", CrashingEngine)
    CrashingEngine.steps_left = 40  # the first 4 sessions end by step 25; the crash hits the second batch
    crashed = invoke(*args)
    assert isinstance(crashed.exception, RuntimeError)
    before = result_files(tmp_path, "math500")
    assert 0 < len(before) < 15
    (tmp_path / "math500" / "think" / ".half-written.json.999.tmp").write_text("{")  # a kill mid-write
    submitted = []
    real_submit = Engine.submit
    monkeypatch.setattr(runner_module, "Engine", Engine)
    monkeypatch.setattr(Engine, "submit", lambda self, *a, **k: submitted.append(a[0]) or real_submit(self, *a, **k))
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.stderr
    after = result_files(tmp_path, "math500")
    assert len(after) == 15 and len(submitted) == 15 - len(before)  # only the missing ones ran
    assert all(after[name] == raw for name, raw in before.items())  # finished results untouched
    assert not list((tmp_path / "math500").glob("*/.*.tmp"))
    merged = [json.loads(line) for line in (tmp_path / "math500" / "results.jsonl").read_text().splitlines()]
    keys = [(r["config"], r["sample_id"]) for r in merged]
    assert len(keys) == len(set(keys)) == 15
    again = invoke(*args)  # nothing left: no model load, nothing decoded
    assert again.exit_code == 0 and len(submitted) == 15 - len(before)


def test_two_process_sharded_run_merges_to_the_single_process_results(tiny_reasoner, monkeypatch, shared_data,
                                                                      tmp_path):
    model_dir = tmp_path / "tiny-model"
    tiny_reasoner.model.save_pretrained(model_dir)
    tiny_reasoner.tokenizer.save_pretrained(model_dir)
    common = ["eval", "math500", "--data", str(shared_data / "math500_test.jsonl"), "--limit", "4", "--model",
              str(model_dir), "--device", "cpu", "--mode", "async,no_think", *FAST]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2"}
    procs = [subprocess.Popen([ASYNCTHINK, *common, "--out", str(tmp_path / f"rank{r}")], env={**env, "RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    # meanwhile, the same run in one process (same weights, loaded in memory)
    monkeypatch.setattr(cli_eval, "_load_reasoner", lambda *args: tiny_reasoner)
    single = invoke(*common, "--model", str(model_dir), "--out", tmp_path / "single")
    assert single.exit_code == 0, single.stderr
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    shard_names = [set(result_files(tmp_path / f"rank{r}", "math500")) for r in (0, 1)]
    assert shard_names[0] and shard_names[1] and not shard_names[0] & shard_names[1]
    merge = invoke("merge", tmp_path / "rank0", tmp_path / "rank1", "--out", tmp_path / "merged")
    assert merge.exit_code == 0, merge.stderr

    def merged(out):
        return [comparable(json.loads(line)) for line in (out / "math500" / "results.jsonl").read_text().splitlines()]

    assert len(merged(tmp_path / "single")) == 8
    assert merged(tmp_path / "merged") == merged(tmp_path / "single")

    # a result missing from every shard is reported; one that differs between shards is refused
    victim = min((tmp_path / "rank1" / "math500").glob("*/*.json"))
    victim.rename(tmp_path / "kept.json")
    missing = invoke("merge", tmp_path / "rank0", tmp_path / "rank1", "--out", tmp_path / "merged2")
    assert missing.exit_code == 1 and "1 missing" in missing.stderr
    (tmp_path / "kept.json").rename(victim)
    twin = tmp_path / "rank0" / "math500" / victim.relative_to(tmp_path / "rank1" / "math500")
    twin.write_text(json.dumps({**json.loads(victim.read_text()), "answer": "different"}))
    duplicate = invoke("merge", tmp_path / "rank0", tmp_path / "rank1", "--out", tmp_path / "merged3")
    assert duplicate.exit_code == 1 and "differ between sources" in duplicate.stderr


def test_shard_from_the_launcher_environment_or_the_option(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert cli_eval.parse_shard(None) == (1, 3)
    assert cli_eval.parse_shard("0/2") == (0, 2)
    items = runner_module.plan_items([type("S", (), {"id": str(i)})() for i in range(5)],
                                     runner_module.make_configs(["think", "no_think"], []), 1)
    share = runner_module.shard(items, 1, 2)
    assert [(i.sample.id, i.config.label) for i in share] == [("1", "think"), ("1", "no_think"), ("3", "think"),
                                                                ("3", "no_think")]


@pytest.mark.parametrize(("args", "message"), [
    (["eval", "gsm8k", "--out", "X"], "error: unknown dataset 'gsm8k'; choose from math500"),
    (["eval", "math500", "--data", "/nonexistent/m.jsonl", "--out", "X"], "error: data file not found"),
    (["eval", "math500", "--data", "BAD", "--out", "X"], "row 1: missing column 'answer'"),
    (["eval", "math500", "--data", "GOOD", "--out", "X", "--shard", "2/2"], "error: --shard must be i/n"),
    (["eval", "math500", "--data", "GOOD", "--out", "X", "--mode", "fast"], "error: unknown mode fast"),
    (["eval", "math500", "--data", "GOOD", "--out", "X", "--layout", "zigzag"], "error: unknown layout 'zigzag'"),
    (["eval", "math500", "--data", "GOOD", "--out", "X", "--tts", "loud"], "error: unknown TTS 'loud'"),
    (["report", "EMPTY"], "error: no result files"),
    (["merge", "EMPTY", "--out", "X"], "error: no evaluation runs"),
])
def test_bad_input_is_one_line_error(args, message, tmp_path, tiny):
    (tmp_path / "bad.jsonl").write_text('{"unique_id": "a", "problem": "p"}\n')
    (tmp_path / "good.jsonl").write_text('{"unique_id": "a", "problem": "p", "answer": "1"}\n')
    (tmp_path / "empty").mkdir()
    paths = {"X": tmp_path / "out", "BAD": tmp_path / "bad.jsonl", "GOOD": tmp_path / "good.jsonl",
             "EMPTY": tmp_path / "empty"}
    result = invoke(*[paths.get(a, a) for a in args])
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_bad_limit_is_a_usage_error(tmp_path):
    result = invoke("eval", "math500", "--limit", "0", "--out", tmp_path)
    assert result.exit_code == 2 and "--limit" in result.stderr


def test_resuming_with_other_settings_is_refused(tiny, tmp_path):
    data = tmp_path / "m.jsonl"
    data.write_text('{"unique_id": "a", "problem": "1+1?", "answer": "2"}\n')
    assert invoke("eval", "math500", "--data", data, "--out", tmp_path / "o", *FAST, "--mode", "no_think").exit_code == 0
    other = invoke("eval", "math500", "--data", data, "--out", tmp_path / "o", *FAST, "--mode", "no_think",
                   "--budget", "12")
    assert other.exit_code == 1 and "other settings (budget)" in other.stderr


def test_repeats_get_their_own_files_and_seeds(tiny_reasoner, tmp_path):
    from asyncthink.evaluation.datasets import Sample, get_spec
    from asyncthink.evaluation.results import ResultsError

    samples = [Sample("7", "p", "70", "math"), Sample("8", "q", "80", "math")]
    configs = runner_module.make_configs(["no_think"], [])
    items = runner_module.plan_items(samples, configs, 3)
    assert [i.name for i in items] == [f"no_think/{s}-r{r}.json" for s in "78" for r in range(3)]
    settings = runner_module.RunSettings(model="tiny", source="x", temperature=0.6, seed=10, repeats=3)
    run = runner_module.EvalRun(tiny_reasoner, get_spec("aime2025"), settings, tmp_path, RateModelTTS())
    assert [run.start_kwargs(i)["sampling"].seed for i in items[:3]] == [10, 11, 12]
    # two ids that would share a file name are refused
    with pytest.raises(ResultsError, match="map to the same result file"):
        runner_module.plan_items([Sample("a/b", "p", "1", "math"), Sample("a_b", "q", "2", "math")], configs, 1)


def test_safety_controls_reach_async_sessions_only(tiny, tmp_path):
    data = tmp_path / "m.jsonl"
    data.write_text('{"unique_id": "a", "problem": "1+1?", "answer": "2"}\n')
    out = tmp_path / "o"
    result = invoke("eval", "math500", "--data", data, "--out", out, *FAST, "--mode", "async,think",
                    "--check-every", "3", "--safety-check-every", "2", "--hold-writer-steps", "5")
    assert result.exit_code == 0, result.stderr
    records = {r["config"]: r for r in map(json.loads, (out / "math500" / "results.jsonl").read_text().splitlines())}
    assert records["async-independent"]["settings"]["safety_check_every"] == 2
    decisions = {c: [e for e in r["events"] if e[1] == "decision"] for c, r in records.items()}
    assert decisions["think"] == []  # think mode has no control or safety questions
    assert {e[2] for e in decisions["async-independent"]} & {"safe", "unsafe"}, decisions  # safety questions asked
    bad = invoke("eval", "math500", "--data", data, "--out", tmp_path / "p", *FAST, "--entropy-pause", "0")
    assert bad.exit_code == 1 and "--entropy-pause must be a positive number" in bad.stderr


def test_a_sample_that_cannot_run_is_named_and_not_taken_for_a_full_arena(tiny, tmp_path):
    """One sample longer than the model's context: the run stops with a one-line error naming it
    (it used to be read as "the arena is full" and retried until the others had finished)."""
    limit = tiny.model.config.max_position_embeddings
    data = tmp_path / "m.jsonl"
    rows = [{"unique_id": "short", "problem": "1+1?", "answer": "2"},
            {"unique_id": "huge", "problem": "1+1? " * limit, "answer": "2"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("eval", "math500", "--data", data, "--out", tmp_path / "o", *FAST, "--mode", "think",
                    "--batch", "2")
    assert result.exit_code == 1
    assert "sample 'huge' (think)" in result.stderr and "max_position_embeddings" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
