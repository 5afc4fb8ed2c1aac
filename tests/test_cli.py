"""The command line: stdout/stderr split, --json events, one-line user errors, the live panes.

Runs that load a model go through subprocesses (so stdout is a pipe, not a terminal) and
start together in one fixture: each pays seconds of torch/transformers imports and the
random model's 151936-row embedding, so running them side by side keeps the file fast.
HF_HUB_OFFLINE=1 keeps every run off the network.
"""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from asyncthink import AsyncReasoner
from asyncthink.cli import _drive, app
from asyncthink.cli_view import LivePanes
from asyncthink.events import Event
from asyncthink.random_models import tiny_model

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
# sampled (seeded) so thoughts and answer differ; think mode so both streams speak within the budget
SMOKE = ["What is 2+2?", "-m", "random:Qwen/Qwen3-0.6B", "--layers", "1", "--mode", "think",
         "--max-thinker-tokens", "8", "--budget", "20", "--temperature", "1", "--seed", "0"]
RUNS = {
    "plain": SMOKE,
    "json": [*SMOKE, "--json"],
    "missing_path": ["Hi", "-m", "/nonexistent/model"],
    "unknown_hub_name": ["Hi", "-m", "no-such-org/no-such-model-xyz"],
    "unknown_random": ["Hi", "-m", "random:no-such/model"],
}


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = {name: subprocess.Popen([ASYNCTHINK, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env) for name, args in RUNS.items()}
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def events_of(run) -> list[dict]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def token_text(events: list[dict], stream: str) -> str:
    return "".join(e["text"] for e in events if e["stream"] == stream and e["kind"] == "token")


def test_json_prints_one_event_per_line_ending_with_done(runs):
    run = runs["json"]
    assert run.returncode == 0, run.stderr
    events = events_of(run)
    assert {e["kind"] for e in events} >= {"token", "state", "done"}
    done = events[-1]
    assert (done["stream"], done["kind"], done["text"]) == ("control", "done", "budget")
    assert done["data"]["steps"] == 20 and done["data"]["thinker_tokens"] == 8
    assert "random weights" in run.stderr


def test_plain_mode_sends_answer_to_stdout_and_thoughts_to_stderr(runs):
    run, events = runs["plain"], events_of(runs["json"])  # same seeds, so the same tokens
    answer, thoughts = token_text(events, "writer"), token_text(events, "thinker")
    assert run.returncode == 0, run.stderr
    assert answer.strip() and thoughts.strip() and answer != thoughts
    assert run.stdout == answer + ("" if answer.endswith("\n") else "\n")
    warning, *middle, summary = run.stderr.splitlines()
    assert warning.startswith("warning: random:Qwen/Qwen3-0.6B has random weights")
    assert "\n".join(middle).strip() == thoughts.strip()
    assert summary.startswith("[budget] 20 steps, 8 thought and ")


@pytest.mark.parametrize("name", ["missing_path", "unknown_hub_name", "unknown_random"])
def test_unloadable_model_is_one_error_line(runs, name):
    run = runs[name]
    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr


@pytest.mark.parametrize("args", [["--mode", "bogus"], ["--layout", "bogus"],
                                  ["--mode", "think", "--layout", "interleaved"]])
def test_bad_mode_or_layout_fails_before_loading(args):
    # the default model is never loaded: mode and layout are checked first
    result = CliRunner().invoke(app, ["run", "Hi", *args])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not an escaped exception
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_layers_only_for_random_models():
    result = CliRunner().invoke(app, ["run", "Hi", "-m", "Qwen/Qwen3-0.6B", "--layers", "1"])
    assert result.exit_code == 2
    assert "--layers" in result.stderr and "random:" in result.stderr


def test_models_lists_random_specs():
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "  random:Qwen/Qwen3-0.6B\n" in result.stdout and "DeepSeek-R1" in result.stdout


def test_ctrl_c_cancels_and_ends_with_the_done_event():
    session = AsyncReasoner(*tiny_model("qwen3")).start("What is 2+2?", budget=50)
    seen = []

    def add(event):
        seen.append(event)
        if len(seen) == 3:
            raise KeyboardInterrupt

    assert _drive(session, add) is True
    assert session.stop_reason == "cancelled"
    assert (seen[-1].kind, seen[-1].text) == ("done", "cancelled")
    assert session.steps < 50


def event(stream, kind, text, step, time=0.0, data=None):
    return Event(stream, kind, text, step, time, data=data or {})


def test_live_panes_show_tails_and_status():
    panes = LivePanes()
    for i in range(30):  # more lines than the pane holds: only the tail stays in view
        panes.add(event("thinker", "token", f"thought {i}\n", i, time=0.1 * i))
    panes.add(event("control", "state", "thinker_and_writer", 29, data={"previous": "thinker_only"}))
    panes.add(event("writer", "token", "The answer", 30, time=3.25))
    panes.add(event("writer", "token", " is 4.", 31, time=3.5))

    console = Console(file=StringIO(), width=100, height=12, record=True)
    console.print(panes)
    lines = console.export_text().splitlines()

    assert len(lines) <= 11  # fits the terminal with a line to spare, so Live never crops it
    assert "Thoughts" in lines[0] and "Answer" in lines[0]
    body = "\n".join(lines[1:-1])
    assert "thought 29" in body and "thought 3 " not in body
    assert "The answer is 4." in body
    assert lines[-1].startswith("thinker_and_writer  step 32  thoughts 30 tok  answer 2 tok")
    assert "first answer 3.25 s  elapsed 3.5 s" in lines[-1]

    panes.add(event("control", "state", "done", 32))
    panes.add(event("control", "done", "writer_eos", 32, time=3.6, data={"steps": 32}))
    console.print(panes)
    assert console.export_text().splitlines()[-1].startswith("done  step 32")
