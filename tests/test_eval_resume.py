"""What an output folder holds decides what may be added to it: a resume or a merge with other
settings or another plan is refused, and a failed start leaves the folder usable.

Each recorded setting gets its own refused resume: a first run with the defaults, then the
same command with that one option changed, which must exit 1 naming the setting and write
nothing.
"""

import json

import pytest
from test_eval_checking import stub_judge  # noqa: F401  (the fixture)
from typer.testing import CliRunner

from asyncthink.cli import app
from asyncthink.cli import eval as cli_eval
from asyncthink.evaluation.tts import espeak_available

FAST = ["--budget", "8", "--tts", "rate", "--no-warmup", "--quiet", "--mode", "no_think"]
MATH = '{"unique_id": "a", "problem": "1+1?", "answer": "2"}\n{"unique_id": "b", "problem": "2+2?", "answer": "4"}\n'
HARM = "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\nSay hi,standard,x,,,hi\n"


@pytest.fixture
def tiny(monkeypatch, tiny_reasoner):
    monkeypatch.setattr(cli_eval, "_load_reasoner", lambda *args: tiny_reasoner)
    return tiny_reasoner


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def files(out):
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


MODEL_AT_FIRST = {"layers": None, "dtype": "float32", "device": "cpu", "decode": "eager"}
OTHER = [  # (the option changed on resume, the setting named in the refusal)
    (["--layers", "2"], "layers"), (["--dtype", "bfloat16"], "dtype"), (["--device", "cuda", "--dtype", "float32"], "device"),
    (["--decode", "static"], "decode"), (["-m", "random:Qwen/Qwen3-1.7B"], "model"), (["--budget", "6"], "budget"),
    (["--max-thinker-tokens", "4"], "max_thinker_tokens"), (["--max-writer-tokens", "4"], "max_writer_tokens"),
    (["--check-every", "3"], "check_every"), (["--temperature", "0.5"], "temperature"), (["--top-p", "0.5"], "top_p"),
    (["--top-k", "3"], "top_k"), (["--seed", "1"], "seed"), (["--repeats", "2"], "repeats"),
    (["--data-seed", "1"], "data_seed"), (["--tts-sequential"], "tts_parallel"), (["--chunk-tokens", "3"], "chunk_size"),
    (["--step-time", "0.1"], "step_time"), (["--batch", "2"], "batch"), (["--hold-writer-steps", "2"], "hold_writer_steps"),
    (["--safety-check-every", "2"], "safety_check_every"), (["--entropy-pause", "2"], "entropy_pause"),
    pytest.param(["--tts", "espeak"], "tts", marks=pytest.mark.skipif(not espeak_available(), reason="no espeak-ng")),
]


@pytest.mark.parametrize("other, setting", OTHER)
def test_a_resume_with_any_other_recorded_setting_is_refused(tiny, tmp_path, monkeypatch, other, setting):
    data = tmp_path / "m.jsonl"
    data.write_text(MATH)
    base = ["eval", "math500", "--data", data, "--out", tmp_path / "o", "-m", "random:Qwen/Qwen3-0.6B", *FAST]
    run = invoke(*base)
    assert run.exit_code == 0, run.stderr
    before = files(tmp_path / "o")
    if setting == "device":  # another device than the first run's cpu: refused before anything would run on it
        monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    again = invoke(*base, *other)
    assert again.exit_code == 1 and f"other settings ({setting})" in again.stderr, again.stderr
    assert files(tmp_path / "o") == before
    record = json.loads((tmp_path / "o" / "math500" / "results.jsonl").read_text().splitlines()[0])
    assert record["settings"][setting] == MODEL_AT_FIRST.get(setting, record["settings"][setting])


def test_another_data_source_is_refused(tiny, tmp_path):
    for name in ("m.jsonl", "n.jsonl"):
        (tmp_path / name).write_text(MATH)
    base = ["eval", "math500", "--out", tmp_path / "o", *FAST]
    assert invoke(*base, "--data", tmp_path / "m.jsonl").exit_code == 0
    again = invoke(*base, "--data", tmp_path / "n.jsonl")
    assert again.exit_code == 1 and "other settings (source)" in again.stderr


@pytest.mark.parametrize("option, second", [
    ("--judge-url", "http://127.0.0.1:9/v1"), ("--judge-model", "other"), ("--judge-max-tokens", "64"),
    ("--judge-thinking", "default"),
])
def test_a_resume_with_another_judge_is_refused(tiny, tmp_path, stub_judge, option, second):  # noqa: F811
    url, _ = stub_judge
    data = tmp_path / "h.csv"
    data.write_text(HARM)
    base = ["eval", "harmbench", "--data", data, "--out", tmp_path / "o", *FAST]
    judge = {"--judge-url": url, "--judge-model": "stub", "--judge-max-tokens": "16", "--judge-thinking": "off"}
    run = invoke(*base, *[a for pair in judge.items() for a in pair])
    assert run.exit_code == 0, run.stderr
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "o" / "harmbench").glob("*/*.json")]
    assert record["settings"]["judge"] == {"url": url, "model": "stub", "max_tokens": 16, "thinking": "off"}
    before = files(tmp_path / "o")
    again = invoke(*base, *[a for o, v in judge.items() for a in (o, second if o == option else v)])
    assert again.exit_code == 1 and "other settings (judge)" in again.stderr, again.stderr
    assert files(tmp_path / "o") == before


def test_the_judge_is_not_recorded_where_it_decides_nothing(tiny, tmp_path, stub_judge):  # noqa: F811
    url, _ = stub_judge
    data = tmp_path / "m.jsonl"
    data.write_text(MATH)
    base = ["eval", "math500", "--data", data, "--out", tmp_path / "o", *FAST]
    assert invoke(*base, "--judge-url", url).exit_code == 0
    assert invoke(*base, "--judge-url", url + "/other").exit_code == 0  # math answers are checked without it


def test_a_model_that_does_not_load_leaves_the_folder_free(monkeypatch, tiny_reasoner, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "m.jsonl"
    data.write_text(MATH)
    base = ["eval", "math500", "--data", data, "--out", tmp_path / "o", *FAST]
    typo = invoke(*base, "-m", str(tmp_path / "no-such-model"))
    assert typo.exit_code == 1 and "error: no such folder: " in typo.stderr
    assert files(tmp_path / "o") == []
    monkeypatch.setattr(cli_eval, "_load_reasoner", lambda *args: tiny_reasoner)
    fixed = invoke(*base, "-m", "random:Qwen/Qwen3-0.6B")
    assert fixed.exit_code == 0, fixed.stderr
    assert json.loads((tmp_path / "o" / "math500" / "plan.json").read_text())["settings"]["model"] == (
        "random:Qwen/Qwen3-0.6B")


def _run(tmp_path, name, *extra):
    data = tmp_path / "m.jsonl"
    data.write_text(MATH)
    result = invoke("eval", "math500", "--data", data, "--out", tmp_path / name, *FAST, *extra)
    assert result.exit_code == 0, result.stderr
    return tmp_path / name


def test_merge_refuses_an_out_that_holds_another_run(tiny, tmp_path):
    run, other = _run(tmp_path, "run"), _run(tmp_path, "other", "--budget", "6")
    kept = {p: p.read_bytes() for p in (other / "math500").rglob("*") if p.is_file()}
    refused = invoke("merge", run, "--out", other)
    assert refused.exit_code == 1 and "holds another run (other settings)" in refused.stderr, refused.stderr
    assert {p: p.read_bytes() for p in (other / "math500").rglob("*") if p.is_file()} == kept
    fewer = _run(tmp_path, "fewer", "--limit", "1")
    refused = invoke("merge", run, "--out", fewer)
    assert refused.exit_code == 1 and "other list of results" in refused.stderr
    (tmp_path / "stray" / "math500").mkdir(parents=True)
    (tmp_path / "stray" / "math500" / "notes.txt").write_text("mine")
    refused = invoke("merge", run, "--out", tmp_path / "stray")
    assert refused.exit_code == 1 and "holds files but no plan.json" in refused.stderr


def test_merge_writes_into_a_new_or_empty_out_or_one_with_the_same_plan(tiny, tmp_path):
    run = _run(tmp_path, "run")
    (tmp_path / "empty" / "math500").mkdir(parents=True)
    for out in ("new", "empty", "new", "run"):  # "new" twice: a merge of the same run again
        merged = invoke("merge", run, "--out", tmp_path / out)
        assert merged.exit_code == 0, merged.stderr
        assert len((tmp_path / out / "math500" / "results.jsonl").read_text().splitlines()) == 2


def test_a_file_where_a_folder_belongs_is_one_error_line(tiny, tmp_path):
    run = _run(tmp_path, "run")
    afile = tmp_path / "a.txt"
    afile.write_text("not a folder")
    data = tmp_path / "m.jsonl"
    cases = {"eval": ["eval", "math500", "--data", data, "--out", afile, *FAST],
             "eval under": ["eval", "math500", "--data", data, "--out", afile / "sub", *FAST],
             "merge": ["merge", run, "--out", afile], "report": ["report", run, "--plots", afile]}
    for name, args in cases.items():
        result = invoke(*args)
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ") and "pass a folder" in line and str(afile) in line, (name, line)
    assert afile.read_text() == "not a folder"


def test_a_smaller_limit_on_resume_keeps_merge_and_report_on_the_same_results(tiny, tmp_path):
    out = _run(tmp_path, "run")  # two samples
    lower = invoke("eval", "math500", "--data", tmp_path / "m.jsonl", "--out", out, *FAST, "--limit", "1")
    assert lower.exit_code == 0, lower.stderr
    plan = json.loads((out / "math500" / "plan.json").read_text())
    assert plan["items"] == ["no_think/a.json", "no_think/b.json"]  # a plan only grows
    merged = (out / "math500" / "results.jsonl").read_text().splitlines()
    report = invoke("report", out, "--plots", tmp_path / "plots")
    n = lambda table: [line.split("|")[2].strip() for line in table.splitlines() if line.startswith("math500")]
    assert len(merged) == 2 and n(report.stdout) == n(lower.stdout) == ["2"]
    # more samples than planned adds them; a folder whose plan lists results not done yet says so
    bigger = tmp_path / "m3.jsonl"
    bigger.write_text(MATH + '{"unique_id": "c", "problem": "3+3?", "answer": "6"}\n')
    base = ["eval", "math500", "--data", bigger, "--out", tmp_path / "three", *FAST]
    assert invoke(*base, "--limit", "1").exit_code == 0
    assert invoke(*base, "--limit", "3", "--shard", "0/2").exit_code == 0  # runs a and c only
    again = CliRunner().invoke(app, [str(a) for a in base if a != "--quiet"] + ["--limit", "1"])
    assert again.exit_code == 0 and "1 results of" in again.stderr and "no_think/b.json" in again.stderr


def test_a_merge_into_one_of_its_sources_is_what_the_report_counts(tiny, tmp_path):
    a, b = _run(tmp_path, "a", "--shard", "0/2"), _run(tmp_path, "b", "--shard", "1/2")
    assert len(list((a / "math500").glob("*/*.json"))) == 1
    merged = invoke("merge", a, b, "--out", a)
    assert merged.exit_code == 0, merged.stderr
    report = invoke("report", a, "--plots", tmp_path / "plots")
    rows = [line.split("|") for line in report.stdout.splitlines() if line.startswith("math500")]
    assert [r[2].strip() for r in rows] == ["2"]
    assert len((a / "math500" / "results.jsonl").read_text().splitlines()) == 2
