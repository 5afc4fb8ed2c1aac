"""The live view as a person sees it: `asyncthink run` in a pseudo-terminal, read through a terminal emulator.

pyte plays the terminal (cursor moves, line clears, scrollback), so the test reads the screen a
person would: each chunk of output is fed to it and the status line is read after each one.
"""

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from asyncthink.models import TINY_REASONER

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
COLS, ROWS = 140, 30


def run_in_terminal(args: list[str], timeout: float = 180) -> tuple[list[list[str]], list[str]]:
    """(the screen after each chunk of output, every line of the final screen and its scrollback)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS), "HF_HUB_OFFLINE": "1"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([ASYNCTHINK, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    screen = pyte.HistoryScreen(COLS, ROWS, history=5000)
    stream = pyte.ByteStream(screen)
    frames, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            stream.feed(data)
            frames.append(list(screen.display))
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0, "\n".join(screen.display)
    history = ["".join(ch.data for ch in line.values()).rstrip() if isinstance(line, dict) else str(line)
               for line in screen.history.top]
    return frames, [*history, *(line.rstrip() for line in screen.display)]


def _json_run(args: list[str]) -> dict:
    out = subprocess.run([ASYNCTHINK, *args, "--json"], capture_output=True, text=True, timeout=180, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    events = [json.loads(line) for line in out.stdout.splitlines()]
    return {"thoughts": "".join(e["text"] for e in events if e["stream"] == "thinker" and e["kind"] == "token"),
            "answer": "".join(e["text"] for e in events if e["stream"] == "writer" and e["kind"] == "token")}


@pytest.mark.skipif(not (TINY_REASONER / "config.json").is_file(), reason="the shipped tiny reasoner is missing")
def test_live_view_states_texts_and_no_glued_spinner():
    # a four-step word problem: ~200 thinker tokens before the result, so the thinker runs alone for
    # many of the view's refreshes (10 a second) even on a fast machine (a two-digit sum gave it ~2)
    problem = "Zoe has 149 books. Zoe gives 9 away and buys 11 more. Then Zoe sells 93 and loses 24. " \
              "How many books does Zoe have now?"
    args = ["run", "-m", "tiny-reasoner", "--check-every", "4", problem]
    frames, final = run_in_terminal(args)
    statuses = [line for frame in frames for line in frame if " step " in line and " tok" in line]
    assert statuses, "no status line was drawn"
    # while the thinker runs alone the status says so (not "starting")
    alone = [s for s in statuses if "answer 0 tok" in s and "thoughts 0 tok" not in s]
    assert alone and all(s.lstrip().startswith("thinking") for s in alone), alone[:3]
    assert any(s.lstrip().startswith("thinking + writing") for s in statuses), "the writer never ran alongside"
    # both texts stay visible after the end, whole: the thoughts above the answer
    expected = _json_run(args)
    text = "\n".join(final)
    squeeze = lambda t: " ".join(t.split())  # noqa: E731  (the terminal wraps long lines)
    assert squeeze(expected["thoughts"]) in squeeze(text)
    assert squeeze(expected["answer"]) in squeeze(text)
    assert text.index(expected["thoughts"].split()[0]) < text.rindex(expected["answer"].split()[0])


def test_random_weights_warning_is_a_line_of_its_own():
    frames, final = run_in_terminal(["run", "-m", "random:Qwen/Qwen3-0.6B", "--layers", "1", "--budget", "6", "Hi"])
    warnings = [line for line in final if "warning:" in line]
    assert warnings and all(line.startswith("warning: random:Qwen/Qwen3-0.6B has random weights") for line in warnings)
    assert not any("loading" in line and "warning" in line for frame in frames for line in frame)
