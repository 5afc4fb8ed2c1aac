"""Command line interface: `asyncthink run "question"` and `asyncthink models`.

As in simonw/llm, the answer goes to stdout and everything else (thoughts, warnings,
the summary line) to stderr, so `asyncthink run "..." > answer.txt` keeps only the
answer. When stdout is a terminal, `run` shows live Thoughts | Answer panes instead
(`--plain` turns them off) and prints the answer normally at the end; `--json` prints
one event per line.

User errors (`AsyncThinkError`) are translated here, once, into one `error: ...` line
on stderr and exit code 1; anything else is a bug and keeps its traceback. Ctrl-C
cancels the session, prints what it produced and exits 130.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager, nullcontext
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.live import Live

from .cli_view import LivePanes
from .errors import AsyncThinkError, ModelLoadError
from .events import Event, Metrics, Result
from .layout import resolve_layout
from .random_models import is_random_spec, known_random_models
from .reasoner import DEFAULT_MODEL, AsyncReasoner
from .sampling import SamplingParams
from .session import Session

app = typer.Typer(
    help="Think, listen and write at the same time: asynchronous reasoning with an unmodified reasoning LLM.",
    no_args_is_help=True,
    add_completion=False,
    # a bug's traceback should be plain: rich's would print locals, model tensors included
    pretty_exceptions_enable=False,
)


@app.command()
def run(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="The question or problem to answer.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Hub name, local path, or random:<hub name> "
                                       "(see `asyncthink models`).")] = DEFAULT_MODEL,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16.")] = "auto",
    mode: Annotated[str, typer.Option(help="async (think and write at once), think (think, then answer) "
                                      "or no_think (answer at once).")] = "async",
    layout: Annotated[Optional[str], typer.Option(show_default="independent",
                                                  help="independent or interleaved; async mode only.")] = None,
    budget: Annotated[int, typer.Option(min=1, help="Maximum forward steps.")] = 4096,
    max_thinker_tokens: Annotated[Optional[int], typer.Option(min=1, show_default="budget",
                                                              help="Cap on thought tokens.")] = None,
    max_writer_tokens: Annotated[Optional[int], typer.Option(min=1, show_default="budget",
                                                             help="Cap on answer tokens.")] = None,
    check_every: Annotated[int, typer.Option(min=1, help="Ask whether to write every N thought tokens "
                                             "(and at each paragraph end).")] = 20,
    temperature: Annotated[float, typer.Option(help="Sampling temperature for both streams; 0 is greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling threshold.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Keep the k most likely tokens; 0 is off.")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Sampling seed (with --temperature > 0).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line on stdout; the last is the "
                                          "done event with the metrics.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Stream plain text even when stdout is a terminal.")] = False,
    layers: Annotated[Optional[int], typer.Option(min=1, help="random: models only: number of hidden layers "
                                                  "(quick smoke tests).")] = None,
) -> None:
    """Answer QUESTION, thinking and writing at the same time."""
    if layers is not None and not is_random_spec(model):
        raise typer.BadParameter(f"only applies to random: models, not {model!r}", param_hint="'--layers'")
    live = not (as_json or plain) and sys.stdout.isatty()
    with _user_errors():
        # checked before the model load, which can take a while
        resolve_layout(mode, layout)
        sampling = SamplingParams(temperature=temperature, top_p=top_p, top_k=top_k, seed=seed)
        with Console(stderr=True).status(f"loading {model}") if live else nullcontext():
            reasoner = _load(model, device, dtype, layers)
        session = reasoner.start(question, mode, layout, budget=budget, max_thinker_tokens=max_thinker_tokens,
                                 max_writer_tokens=max_writer_tokens, check_every=check_every, sampling=sampling)
        output = JsonOutput() if as_json else LiveOutput() if live else PlainOutput()
        with output:
            cancelled = _drive(session, output.add)
        output.finish(session.result())
    if cancelled:
        raise typer.Exit(130)


@app.command()
def models() -> None:
    """List the built-in random: models; real checkpoints are named as on the Hub or by path."""
    typer.echo("Random-weight stand-ins (offline, gibberish output; for smoke tests, e.g. with --layers 1):")
    for spec in known_random_models():
        typer.echo(f"  {spec}")
    typer.echo(f"Real models: any Hugging Face Hub name or local path of a Qwen3, QwQ or DeepSeek-R1-distill "
               f"model, e.g. {DEFAULT_MODEL} (the default).")


@contextmanager
def _user_errors():
    """Translate user errors into one line and an exit code; bugs keep their traceback."""
    try:
        yield
    except AsyncThinkError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        # Ctrl-C outside the session loop (e.g. while loading): click would say "Aborted!" and exit 1
        raise typer.Exit(130) from None


def _load(model: str, device: str, dtype: str, layers: int | None) -> AsyncReasoner:
    if is_random_spec(model):
        # the random branch raises a bare ValueError for unknown specs; say it as a user error
        if model not in known_random_models():
            raise ModelLoadError(f"unknown random model {model!r}; `asyncthink models` lists them")
        typer.echo(f"warning: {model} has random weights: its output is gibberish", err=True)
    kwargs = {} if layers is None else {"num_hidden_layers": layers}
    return AsyncReasoner.from_pretrained(model, device=device, dtype=dtype, **kwargs)


def _drive(session: Session, add) -> bool:
    """Pass each event to `add` until the session ends; Ctrl-C cancels it. True if cancelled."""
    cancelled = False
    while not session.done:
        try:
            for event in session.step():
                add(event)
        except KeyboardInterrupt:
            # the next step ends the session without a forward pass and emits its done event
            session.cancel()
            cancelled = True
    return cancelled


def _summary(m: Metrics) -> str:
    first = "none" if m.time_to_first_writer_token is None else f"{m.time_to_first_writer_token:.2f} s"
    return (f"[{m.stop_reason}] {m.steps} steps, {m.thinker_tokens} thought and {m.writer_tokens} answer tokens, "
            f"first answer token {first}, total {m.total_time:.2f} s")


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


class PlainOutput(Output):
    """Answer text to stdout and thoughts to stderr as they arrive; a summary line at the end."""

    def __init__(self) -> None:
        self.files = {"writer": sys.stdout, "thinker": sys.stderr}
        self.last_char = {"writer": "\n", "thinker": "\n"}

    def add(self, event: Event) -> None:
        if event.kind == "token" and event.text:
            out = self.files[event.stream]
            out.write(event.text)
            out.flush()
            self.last_char[event.stream] = event.text[-1]

    def finish(self, result: Result) -> None:
        for stream, out in self.files.items():
            if self.last_char[stream] != "\n":
                out.write("\n")
                out.flush()
        typer.echo(_summary(result.metrics), err=True)


class JsonOutput(Output):
    def add(self, event: Event) -> None:
        typer.echo(json.dumps(event.to_dict(), ensure_ascii=False))


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

    def finish(self, result: Result) -> None:
        typer.echo(result.answer)
        typer.echo(_summary(result.metrics), err=True)
