"""The command line: stdout/stderr split, --json events, one-line user errors, the live panes,
input heard while a session runs (`run --listen-after`, `chat`).

Two end-to-end runs of the installed command (`run --json` and `chat` fed through a
pipe) go through subprocesses, so stdout and stdin are pipes, not a terminal; they start
together in one fixture because each pays seconds of torch/transformers imports and the
random model's 151936-row embedding. Everything else runs in this process through
typer's CliRunner with the loader patched to return a tiny model. Nothing touches the
network: subprocesses get HF_HUB_OFFLINE=1, in-process loads patch the flag it sets.
"""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import huggingface_hub.constants
import pytest
from rich.console import Console
from typer.testing import CliRunner

from asyncthink import AsyncReasoner
from asyncthink.cli import app, common
from asyncthink.cli.chat import HELP, Chat, ChatJsonOutput, ChatOutput
from asyncthink.cli.run import _drive
from asyncthink.cli.view import LivePanes
from asyncthink.events import Event

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
RANDOM = ["-m", "random:Qwen/Qwen3-0.6B", "--layers", "1"]
# sampled (seeded) so thoughts and answer differ; think mode so both streams speak within the budget
SMOKE = [*RANDOM, "--mode", "think", "--max-thinker-tokens", "8", "--budget", "20", "--temperature", "1",
         "--seed", "0"]
RUNS = {  # name: (arguments, stdin)
    "json": (["run", "What is 2+2?", *SMOKE, "--json"], None),
    "chat": (["chat", *SMOKE, "--listen-hold", "none"], "What is 2+2?\n\nextra info\n/quit\n"),
}
# the same for the tiny model, in this process
TINY_SMOKE = ["What is 2+2?", *SMOKE[len(RANDOM):]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    # one torch thread each: the runs share the cores and spend their time in small ops
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    procs = {}
    for name, (args, stdin) in RUNS.items():
        path = tmp_path_factory.mktemp("stdin") / name
        path.write_text(stdin or "")
        with path.open() as stdin_file:
            procs[name] = subprocess.Popen([ASYNCTHINK, *args], stdin=stdin_file, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True, env=env)
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.fixture
def tiny(monkeypatch, tiny_reasoner) -> AsyncReasoner:
    """Commands run in this process load the tiny model, whatever --model says."""
    monkeypatch.setattr(common, "load_model", lambda *args, **kwargs: tiny_reasoner)
    return tiny_reasoner


def invoke(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def events_of(run) -> list[dict]:
    # split on newlines only: JSON leaves characters such as U+2028 unescaped, splitlines() breaks on them
    return [json.loads(line) for line in run.stdout.split("\n") if line]


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


def test_plain_mode_sends_answer_to_stdout_and_thoughts_to_stderr(tiny):
    run, events = invoke("run", *TINY_SMOKE), events_of(invoke("run", *TINY_SMOKE, "--json"))  # same seeds
    answer, thoughts = token_text(events, "writer"), token_text(events, "thinker")
    assert run.exit_code == 0, run.stderr
    assert answer.strip() and thoughts.strip() and answer != thoughts
    assert run.stdout == answer + ("" if answer.endswith("\n") else "\n")
    assert run.stderr.startswith(thoughts)
    summary = run.stderr[len(thoughts):].lstrip("\n")
    assert summary.startswith("[budget] 20 steps, 8 thought and ") and summary.count("\n") == 1


def test_chat_from_a_pipe_hears_the_later_lines(runs):
    run = runs["chat"]
    assert run.returncode == 0, run.stderr
    assert "\n[heard -> thinker] extra info\n" in run.stderr
    assert run.stderr.count("[heard") == 1  # the empty line was ignored
    assert run.stderr.splitlines()[-1].startswith("[budget] 20 steps, 8 thought and ")
    assert run.stdout.strip()  # the answer
    assert not any(line.startswith("> ") for line in run.stderr.splitlines())  # prompts only on a terminal


@pytest.mark.parametrize("model", ["/nonexistent/model", "no-such-org/no-such-model-xyz", "random:no-such/model"])
def test_unloadable_model_is_one_error_line(model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once, at import
    result = invoke("run", "Hi", "-m", model)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.parametrize("args, option", [(["--mode", "bogus"], "--mode"), (["--layout", "bogus"], "--layout"),
                                          (["--mode", "think", "--layout", "interleaved"], "--mode")])
def test_bad_mode_or_layout_fails_before_loading(args, option):
    # the default model is never loaded: mode and layout are checked first, as every option value (exit 2)
    result = invoke("run", "Hi", *args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # not an escaped exception
    assert result.stdout == ""
    assert f"Invalid value for '{option}'" in " ".join(result.stderr.replace("│", " ").split())


def test_layers_only_for_random_models():
    result = invoke("run", "Hi", "-m", "Qwen/Qwen3-0.6B", "--layers", "1")
    assert result.exit_code == 2
    assert "--layers" in result.stderr and "random:" in result.stderr


@pytest.mark.parametrize("command", ["run", "chat"])
@pytest.mark.parametrize("option, value", [("--listen-to", "bogus"), ("--listen-hold", "word"),
                                           ("--on-input", "stop")])
def test_bad_listening_choice_is_a_usage_error(command, option, value):
    result = invoke(command, *(["Hi"] if command == "run" else []), option, value)
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}': Value error, '{value}' is not one of" in message


@pytest.mark.parametrize("value", ["five apples", "-1:five apples", "3:", "x:five apples"])
def test_bad_listen_after_is_a_usage_error(value):
    result = invoke("run", "Hi", "--listen-after", value)
    assert result.exit_code == 2
    assert "Invalid value for '--listen-after': expected N:TEXT" in " ".join(result.stderr.replace("│", " ").split())


def test_chat_help_says_there_is_no_memory_between_questions():
    result = invoke("chat", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "earlier questions and answers are not remembered" in text and "--listen-to" in text


def test_models_lists_random_specs():
    result = invoke("models")
    assert result.exit_code == 0
    assert "  random:Qwen/Qwen3-0.6B\n" in result.stdout and "DeepSeek-R1" in result.stdout


LISTEN_RUN = ["What is 2+2?", "--mode", "think", "--max-thinker-tokens", "12", "--budget", "30",
              "--listen-hold", "none", "--listen-after", "5:second", "--listen-after", "3:five apples"]


def test_listen_after_is_heard_once_the_thinker_has_written_n_tokens(tiny):
    result = invoke("run", *LISTEN_RUN, "--json")
    assert result.exit_code == 0, result.stderr
    events = events_of(result)
    heard = [(i, e) for i, e in enumerate(events) if e["kind"] == "heard"]
    assert [e["text"] for _, e in heard] == ["five apples", "second"]  # in order of N
    for n, (i, e) in zip([3, 5], heard):
        thought = sum(1 for x in events[:i] if x["stream"] == "thinker" and x["kind"] == "token")
        assert thought == n  # with --listen-hold none it goes in at once
        assert e["stream"] == "input"
        assert e["data"]["to"] == e["data"]["requested"] == "thinker" and e["data"]["waited_tokens"] == 0
    assert events[-1]["kind"] == "done" and events[-1]["data"]["unheard"] == []


def test_listen_after_marks_heard_input_in_the_thoughts(tiny):
    events = events_of(invoke("run", *LISTEN_RUN, "--json"))
    result = invoke("run", *LISTEN_RUN)
    assert result.exit_code == 0, result.stderr
    thought = [e["text"] for e in events if e["stream"] == "thinker" and e["kind"] == "token"]
    before, rest = result.stderr.split("[heard -> thinker] five apples\n")
    assert before.rstrip("\n") == "".join(thought[:3]).rstrip("\n")
    between, after = rest.split("[heard -> thinker] second\n")
    assert between.rstrip("\n") == "".join(thought[3:5])
    assert after.splitlines()[-1].startswith("[budget] 30 steps, ")


def test_listen_after_beyond_the_thoughts_is_reported(tiny):
    result = invoke("run", "What is 2+2?", "--mode", "think", "--max-thinker-tokens", "4", "--budget", "10",
                    "--listen-after", "50:too late")
    assert result.exit_code == 0
    assert "warning: not heard: 'too late': the thinker wrote 4 of the 50 tokens to wait for" in result.stderr


# long enough that the session is still running when the later lines are read
CHAT = ["chat", "--mode", "think", "--max-thinker-tokens", "100", "--budget", "200", "--listen-hold", "none"]


def test_chat_hears_lines_typed_while_the_session_runs(tiny):
    result = invoke(*CHAT, "--json", input="What is 2+2?\n\nextra info\n  \nand more\n")  # EOF ends it
    assert result.exit_code == 0, result.stderr
    events = events_of(result)
    assert [(e["text"], e["data"]["to"]) for e in events if e["kind"] == "heard"] == [
        ("extra info", "thinker"), ("and more", "thinker")]
    assert [e["kind"] for e in events].count("done") == 1 and events[-1]["kind"] == "done"


class Typing:
    """A stdin for `Chat.loop`: each item is a line, or a function called to produce one."""

    def __init__(self, *items):
        self.items = list(items)

    def readline(self) -> str:
        item = self.items.pop(0) if self.items else ""
        return item() if callable(item) else item


def after_the_session(chat, line):
    """Type `line` once the running session has ended and printed its summary."""

    def wait():
        chat.thread.join()
        return line

    return wait


def test_chat_starts_a_new_session_for_a_question_asked_after_the_last_ended(tiny_reasoner):
    events = []
    output = ChatJsonOutput()
    output.add = events.append
    chat = Chat(lambda q: tiny_reasoner.start(q, mode="think", budget=20), output, interactive=False)
    assert chat.loop(Typing("first question\n", after_the_session(chat, "second question\n"), "/quit\n")) == 0
    done = [e for e in events if e.kind == "done"]
    assert len(done) == 2 and not any(e.kind == "heard" for e in events)


def test_chat_on_a_terminal_prompts_and_prints_answer_and_summary(tiny_reasoner, capsys):
    chat = Chat(lambda q: tiny_reasoner.start(q, mode="think", budget=20), ChatOutput(), interactive=True)
    assert chat.loop(Typing("question\n", after_the_session(chat, "/quit\n"))) == 0
    out, err = capsys.readouterr()
    assert err.startswith(HELP + "\n> ")
    assert err.endswith("\n> ")  # the prompt for the next question; none after /quit
    assert err.splitlines()[-2].startswith("[budget] 20 steps, ") and out.strip()


def test_chat_ctrl_c_cancels_the_running_session_then_exits_when_idle(tiny_reasoner):
    events = []
    output = ChatJsonOutput()
    output.add = events.append
    chat = Chat(lambda q: tiny_reasoner.start(q, budget=1000), output, interactive=False)

    def ctrl_c():
        raise KeyboardInterrupt

    def ctrl_c_when_idle():
        chat.thread.join()
        raise KeyboardInterrupt

    assert chat.loop(Typing("question\n", ctrl_c, ctrl_c_when_idle)) == 130
    assert [(e.kind, e.text) for e in events if e.kind == "done"] == [("done", "cancelled")]
    assert events[-1].step < 1000


def test_ctrl_c_cancels_and_ends_with_the_done_event(tiny_reasoner):
    session = tiny_reasoner.start("What is 2+2?", budget=50)
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
        assert panes.status().plain.startswith("thinking  step")  # no state event yet: the thinker runs alone
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
    # the status line says what the session does (the JSON events keep the state names)
    assert lines[-1].startswith("thinking + writing  step 32  thoughts 30 tok  answer 2 tok")
    assert "first answer 3.25 s  elapsed 3.5 s" in lines[-1]

    panes.add(event("control", "state", "done", 32))
    panes.add(event("control", "done", "writer_eos", 32, time=3.6, data={"steps": 32}))
    console.print(panes)
    assert console.export_text().splitlines()[-1].startswith("done  step 32")


def test_live_panes_highlight_heard_input():
    panes = LivePanes()
    for i in range(3):
        panes.add(event("thinker", "token", f"step{i} ", i, time=0.1 * i))
    panes.add(event("input", "heard", "five apples", 3, time=0.3, data={"to": "thinker"}))
    panes.add(event("thinker", "token", "after", 3, time=0.3))

    console = Console(file=StringIO(), width=150, height=12, record=True)
    console.print(panes)
    lines = console.export_text(styles=False).splitlines()
    body = "\n".join(lines[1:-1])
    assert body.index("step2") < body.index("[heard -> thinker: five apples]") < body.index("after")
    assert lines[-1].startswith("thinking  step 4  thoughts 4 tok")
    assert lines[-1].endswith("heard 1, last -> thinker: five apples")
    assert "bold magenta" in {str(s.style) for s in panes.status().spans}
