"""What a newcomer meets first (#16): offline hub names, paths, option checks before loading, long input.

Subprocesses, as a user runs them: exit codes, the message, no traceback. The offline hub is
simulated by pointing HF_ENDPOINT at a closed local port with an empty cache.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asyncthink import AsyncReasoner, ModelLoadError

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
RANDOM = ["-m", "random:Qwen/Qwen3-0.6B", "--layers", "1"]


def asyncthink(*args, env=None, stdin=None, timeout=120):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([ASYNCTHINK, *args], capture_output=True, text=True, env=full_env, input=stdin,
                          timeout=timeout)


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_offline_hub_name_answers_in_one_line_within_seconds(tmp_path):
    offline = {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    started = time.monotonic()
    result = asyncthink("run", "What is 2 + 3?", env=offline)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and elapsed < 10, (result.returncode, elapsed)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Hugging Face Hub to download "
                                                   "'Qwen/Qwen3-0.6B'"), result.stderr
    assert "tiny-reasoner" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing", "error: no such folder: {p}"),
    (lambda d: d, "error: folder {p} has no config.json: it is not a Hugging Face model folder"),
    (lambda d: (d / "config.json").write_text("{}") and d, "error: folder {p} has no tokenizer"),
    (lambda d: (d / "a.txt").write_text("x") and d / "a.txt", "error: {p} is a file, not a model folder"),
])
def test_model_paths_say_what_is_wrong(tmp_path, make, message):
    path = make(tmp_path)
    result = asyncthink("run", "-m", str(path), "What is 2 + 3?")
    assert result.returncode == 1
    assert result.stderr.strip().startswith(message.format(p=path)), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value, message", [
    ("--temperature", "-1", "must be 0 (greedy) or a positive number, got -1.0"),
    ("--temperature", "nan", "must be 0 (greedy) or a positive number, got nan"),
    ("--top-p", "1.5", "must be in (0, 1], got 1.5"),
    ("--top-p", "0", "must be in (0, 1], got 0.0"),
    ("--top-k", "-1", "must be 0 (off) or a positive number of tokens, got -1"),
    ("--entropy-pause", "-1", "must be a positive number of nats, got -1.0"),
    ("--device", "bogus", "unknown device 'bogus'; choose auto, cpu, cuda or cuda:N"),
    ("--device", "mps", "device 'mps' is not supported"),
    ("--device", "meta", "device 'meta' is not supported"),
    ("--dtype", "int8", "unknown dtype 'int8'"),
    ("--layout", "nope", "unknown layout 'nope'"),
])
@pytest.mark.parametrize("command", ["run", "chat"])
def test_every_option_is_checked_before_loading(command, option, value, message):
    # a model that does not exist: reaching the load would be a different error (exit 1)
    args = [command, "-m", "/does/not/exist", option, value] + (["Hi"] if command == "run" else [])
    result = asyncthink(*args, stdin="")
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{option}': {message}" in flat(result.stderr)
    assert "Traceback" not in result.stderr


def test_an_empty_or_missing_question_is_a_usage_error():
    for args, message in ((["  "], "the question is empty"), ([], "missing: pass the question as an argument")):
        result = asyncthink("run", "-m", "/does/not/exist", *args)
        assert result.returncode == 2 and message in flat(result.stderr), result.stderr


def test_question_from_stdin_and_from_a_file(tmp_path):
    (tmp_path / "q.txt").write_text("What is 2 + 3?")
    for args, stdin in ((["-"], "What is 2 + 3?"), (["--file", str(tmp_path / "q.txt")], None)):
        result = asyncthink("run", *RANDOM, "--budget", "4", "--json", *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert '"kind": "done"' in result.stdout
    # more than Linux lets one argument hold (128 KiB): read whole (the toy tokenizer spells bytes, so the
    # session then refuses it for the random model's 40960 positions, counting every byte of it)
    long = "What is 2 + 3? " + "x" * (140 * 1024)
    (tmp_path / "long.txt").write_text(long)
    for args, stdin in ((["-"], long), (["--file", str(tmp_path / "long.txt")], None)):
        result = asyncthink("run", *RANDOM, *args, stdin=stdin)
        assert result.returncode == 1 and "max_position_embeddings=40960; shorten the input" in result.stderr
        positions = int(result.stderr.split("could reach ")[1].split()[0])
        assert positions > len(long), result.stderr
    both = asyncthink("run", *RANDOM, "--file", str(tmp_path / "q.txt"), "Hi")
    assert both.returncode == 2 and "not both" in flat(both.stderr)
    missing = asyncthink("run", *RANDOM, "--file", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read" in flat(missing.stderr)


def test_unknown_keywords_of_a_random_model_are_refused():
    with pytest.raises(ModelLoadError, match="unknown config field layers .* num_hidden_layers"):
        AsyncReasoner.from_pretrained("random:Qwen/Qwen3-0.6B", layers=2)
    reasoner = AsyncReasoner.from_pretrained("random:Qwen/Qwen3-0.6B", num_hidden_layers=1)
    assert reasoner.model.config.num_hidden_layers == 1


def test_library_refuses_an_unknown_device():
    with pytest.raises(ModelLoadError, match="unknown device 'bogus'"):
        AsyncReasoner.from_pretrained("random:Qwen/Qwen3-0.6B", device="bogus", num_hidden_layers=1)


def test_chat_from_a_pipe_exits_non_zero_when_its_question_failed():
    too_long = "x" * 50000 + "\n"  # the toy tokenizer spells bytes: beyond the random model's context
    result = asyncthink("chat", *RANDOM, "--budget", "4", stdin=too_long)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert re.search(r"error: the \w+ view could reach \d+ positions, beyond the model's max_position_embeddings",
                     result.stderr), result.stderr
    ok = asyncthink("chat", *RANDOM, "--budget", "4", stdin="What is 2 + 3?\n")
    assert ok.returncode == 0, ok.stderr


def test_every_option_of_every_command_says_what_it_does():
    import typer.main

    from asyncthink.cli import app

    group = typer.main.get_command(app)
    missing = {f"{name} {p.opts[0]}" for name, command in group.commands.items() for p in command.params
               if p.param_type_name == "option" and not p.help}
    assert not missing, sorted(missing)
