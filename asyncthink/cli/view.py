"""What the command line shows: plain text, JSON lines, or live Thoughts | Answer panes.

An `Output` receives a session's events one at a time and the `Result` at the end:

    PlainOutput  answer text to stdout, thoughts and heard-input markers to stderr
    JsonOutput   one JSON event per line on stdout
    LiveOutput   `LivePanes` under a `rich.live.Live`, then the answer printed normally

`LivePanes` is a rich renderable fed with session events. It reads its state each time
it is drawn, so a `rich.live.Live` around it refreshes on its own timer while the
session loop only calls `add`. Each pane shows the tail of its text, sized to the
console, so the newest tokens stay in view however long the text grows. Input heard
while the session runs shows up highlighted in the Thoughts pane, where the thinker
was when it heard it, and in the status line.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..events import Event, Metrics, Result

STATE_STYLES = {"thinker_only": "yellow", "thinker_and_writer": "green", "writer_only": "cyan", "done": "bold"}
# what the status line says for each session state (the JSON events keep the state names)
STATE_LABELS = {"thinker_only": "thinking", "thinker_and_writer": "thinking + writing", "writer_only": "writing",
                "done": "done"}
HEARD_STYLE = "bold magenta"


def summary(m: Metrics) -> str:
    first = "none" if m.time_to_first_writer_token is None else f"{m.time_to_first_writer_token:.2f} s"
    return (f"[{m.stop_reason}] {m.steps} steps, {m.thinker_tokens} thought and {m.writer_tokens} answer tokens, "
            f"first answer token {first}, total {m.total_time:.2f} s")


def heard_marker(event: Event) -> str:
    """`[heard -> thinker] text`: where a `heard` event's input went."""
    return f"[heard -> {event.data.get('to', '?')}] {event.text}"


def unheard_warnings(result: Result) -> list[str]:
    """A warning per input that was queued but never fed before the session ended."""
    done = next((e for e in reversed(result.events) if e.kind == "done"), None)
    unheard = done.data.get("unheard", []) if done else []
    return [f"warning: not heard before the session ended: {text!r}" for text in unheard]


class Output:
    """Where a session's events go; a context manager so a live display can clean up."""

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def add(self, event: Event) -> None:
        raise NotImplementedError

    def finish(self, result: Result) -> None:
        pass


def _styled(file) -> bool:
    return file.isatty() and "NO_COLOR" not in os.environ


class PlainOutput(Output):
    """Answer text to stdout and thoughts to stderr as they arrive; a summary line at the end.

    Heard input is a line of its own on stderr: `[heard -> thinker] text`. With
    `styled`, text going to a terminal is styled with ANSI codes (thoughts dim, heard
    input highlighted, the answer bold). Thread-safe, so another thread may call `note`.
    """

    STYLES = {"thinker": "2", "writer": "1", "heard": "1;35"}  # dim, bold, bold magenta

    def __init__(self, styled: bool = False) -> None:
        self.files = {"writer": sys.stdout, "thinker": sys.stderr}
        self.last_char = {"writer": "\n", "thinker": "\n"}
        self.styled = {name: styled and _styled(f) for name, f in self.files.items()}
        self.lock = threading.RLock()

    def _write(self, stream: str, text: str, style: str | None = None) -> None:
        if not text:
            return
        with self.lock:
            out = self.files[stream]
            code = self.STYLES.get(style or stream) if self.styled[stream] and text != "\n" else None
            out.write(f"\x1b[{code}m{text}\x1b[0m" if code else text)
            out.flush()
            self.last_char[stream] = text[-1]

    def _line(self, stream: str, text: str, style: str | None = None) -> None:
        """`text` on a line of its own."""
        with self.lock:
            if self.last_char[stream] != "\n":
                self._write(stream, "\n")
            self._write(stream, text, style)
            self._write(stream, "\n")

    def add(self, event: Event) -> None:
        if event.kind == "token" and event.text:
            self._write(event.stream, event.text)
        elif event.kind == "heard":
            self._line("thinker", heard_marker(event), "heard")

    def note(self, text: str) -> None:
        """A line of its own on stderr (warnings, errors, notices), unstyled."""
        self._line("thinker", text, "note")

    def finish(self, result: Result) -> None:
        with self.lock:
            for stream in self.files:
                if self.last_char[stream] != "\n":
                    self._write(stream, "\n")
            for warning in unheard_warnings(result):
                self.note(warning)
            self.note(summary(result.metrics))


class JsonOutput(Output):
    def __init__(self) -> None:
        self.lock = threading.Lock()

    def add(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), ensure_ascii=False)
        with self.lock:
            typer.echo(line)

    def note(self, text: str) -> None:
        with self.lock:
            typer.echo(text, err=True)


class LiveOutput(Output):
    """Live Thoughts | Answer panes on the terminal; the answer printed normally at the end."""

    def __init__(self) -> None:
        self.panes = LivePanes()
        # transient: the panes give way to the plain answer, which then stays in the scrollback
        self.live = Live(self.panes, console=Console(), transient=True, refresh_per_second=10)

    def __enter__(self) -> LiveOutput:
        self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        self.live.stop()

    def add(self, event: Event) -> None:
        self.panes.add(event)

    def note(self, text: str) -> None:
        typer.echo(text, err=True)  # Live redirects it above the panes

    def finish(self, result: Result) -> None:
        # the panes were transient: both texts stay in the scrollback whole, the thoughts (dim, stderr) first
        if result.thoughts:
            Console(stderr=True, highlight=False).print(Text(result.thoughts.rstrip("\n"), style="dim"))
        typer.echo(result.answer)
        for warning in unheard_warnings(result):
            typer.echo(warning, err=True)
        typer.echo(summary(result.metrics), err=True)


class LivePanes:
    def __init__(self) -> None:
        # (text, style) pieces and token texts: appends are atomic, so the refresh thread
        # may draw mid-update
        self.thoughts: list[tuple[str, str]] = []
        self.answer: list[str] = []
        self.thought_tokens = 0
        self.heard: list[Event] = []
        self.state = "starting"
        self.steps = 0
        self.elapsed = 0.0
        self.first_answer_time: float | None = None

    def add(self, event: Event) -> None:
        self.elapsed = event.time
        if event.kind in ("token", "decision", "heard"):
            self.steps = max(self.steps, event.step + 1)  # step is the 0-based pass that produced it
        if event.kind == "done":
            self.steps = event.data["steps"]
        elif event.kind == "token" and event.stream == "thinker":
            if self.state == "starting":  # a session starts thinking without a state event
                self.state = "thinker_only"
            self.thoughts.append((event.text, ""))
            self.thought_tokens += 1
        elif event.kind == "token" and event.stream == "writer":
            if self.state == "starting":  # no_think: the writer starts at once
                self.state = "writer_only"
            if self.first_answer_time is None:
                self.first_answer_time = event.time
            self.answer.append(event.text)
        elif event.kind == "heard":
            self.heard.append(event)
            self.thoughts.append((f"\n[heard -> {event.data.get('to', '?')}: {event.text}]\n", HEARD_STYLE))
        elif event.kind == "state":
            self.state = event.text

    def status(self) -> Text:
        first = "-" if self.first_answer_time is None else f"{self.first_answer_time:.2f} s"
        parts = [
            (STATE_LABELS.get(self.state, self.state), STATE_STYLES.get(self.state, "")),
            f"  step {self.steps}  thoughts {self.thought_tokens} tok  answer {len(self.answer)} tok",
        ]
        parts.append(f"  first answer {first}  elapsed {self.elapsed:.1f} s")
        if self.heard:  # last, so a narrow terminal crops the heard text first
            last = self.heard[-1]
            parts.append((f"  heard {len(self.heard)}, last -> {last.data.get('to', '?')}: {last.text}", HEARD_STYLE))
        return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # two lines below the panes: the status line and the cursor's line, so Live never crops
        pane_height = max(3, (options.height or console.height) - 2)
        text_width = max(1, options.max_width // 2 - 4)  # half the width less border and padding
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(
            Panel(_tail(console, self.thoughts, text_width, pane_height - 2),
                  title="Thoughts", border_style="dim", height=pane_height),
            Panel(_tail(console, [(t, "") for t in self.answer], text_width, pane_height - 2),
                  title="Answer", border_style="blue", height=pane_height),
        )
        yield grid
        yield self.status()


def _tail(console: Console, pieces: list[tuple[str, str]], width: int, height: int) -> Text:
    """The last `height` lines of the (text, style) pieces, joined and wrapped to `width`."""
    # a wrapped line holds at most width + 1 characters, so this suffix fills the pane;
    # wrapping only it keeps each redraw cheap on long texts
    need = (height + 1) * (width + 1)
    picked, length = [], 0
    for piece in reversed(pieces[:]):  # a snapshot: the session may append meanwhile
        picked.append(piece)
        length += len(piece[0])
        if length >= need:
            break
    text = Text.assemble(*reversed(picked))
    lines = text[-need:].wrap(console, width) if len(text) > need else text.wrap(console, width)
    return Text("\n").join(lines[-height:])
