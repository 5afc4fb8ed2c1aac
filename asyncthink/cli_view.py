"""The live terminal view of `asyncthink run`: Thoughts | Answer panes over a status line.

`LivePanes` is a rich renderable fed with session events. It reads its state each time
it is drawn, so a `rich.live.Live` around it refreshes on its own timer while the
session loop only calls `add`. Each pane shows the tail of its text, sized to the
console, so the newest tokens stay in view however long the text grows.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .events import Event

STATE_STYLES = {"thinker_only": "yellow", "thinker_and_writer": "green", "writer_only": "cyan", "done": "bold"}


class LivePanes:
    def __init__(self) -> None:
        # lists of token texts: appends are atomic, so the refresh thread may draw mid-update
        self.thoughts: list[str] = []
        self.answer: list[str] = []
        self.state = "starting"
        self.steps = 0
        self.elapsed = 0.0
        self.first_answer_time: float | None = None

    def add(self, event: Event) -> None:
        self.elapsed = event.time
        if event.kind in ("token", "decision"):
            self.steps = max(self.steps, event.step + 1)  # step is the 0-based pass that produced it
        if event.kind == "done":
            self.steps = event.data["steps"]
        elif event.kind == "token" and event.stream == "thinker":
            self.thoughts.append(event.text)
        elif event.kind == "token" and event.stream == "writer":
            if self.first_answer_time is None:
                self.first_answer_time = event.time
            self.answer.append(event.text)
        elif event.kind == "state":
            self.state = event.text

    def status(self) -> Text:
        first = "-" if self.first_answer_time is None else f"{self.first_answer_time:.2f} s"
        return Text.assemble(
            (self.state, STATE_STYLES.get(self.state, "")),
            f"  step {self.steps}  thoughts {len(self.thoughts)} tok  answer {len(self.answer)} tok"
            f"  first answer {first}  elapsed {self.elapsed:.1f} s",
            no_wrap=True,
            overflow="ellipsis",
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # two lines below the panes: the status line and the cursor's line, so Live never crops
        pane_height = max(3, (options.height or console.height) - 2)
        text_width = max(1, options.max_width // 2 - 4)  # half the width less border and padding
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(
            Panel(_tail(console, "".join(self.thoughts), text_width, pane_height - 2),
                  title="Thoughts", border_style="dim", height=pane_height),
            Panel(_tail(console, "".join(self.answer), text_width, pane_height - 2),
                  title="Answer", border_style="blue", height=pane_height),
        )
        yield grid
        yield self.status()


def _tail(console: Console, text: str, width: int, height: int) -> Text:
    """The last `height` lines of `text` wrapped to `width`."""
    # a wrapped line holds at most width + 1 characters, so this suffix fills the pane;
    # wrapping only it keeps each redraw cheap on long texts
    suffix = text[-(height + 1) * (width + 1):]
    lines = Text(suffix).wrap(console, width)
    return Text("\n").join(lines[-height:])
