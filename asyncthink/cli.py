"""Command line interface: `asyncthink run "question"`, `chat` and `models` live here; `bench`,
`listen-eval`, `serve`, `bench-server`, `eval`, `merge` and `report` are thin entries into
their own modules (bench/, listen_eval.py, cli_serve.py, cli_eval.py).

As in simonw/llm, the answer goes to stdout and everything else (thoughts, warnings,
the summary line) to stderr, so `asyncthink run "..." > answer.txt` keeps only the
answer. When stdout is a terminal, `run` shows live Thoughts | Answer panes instead
(`--plain` turns them off) and prints the answer normally at the end; `--json` prints
one event per line. `run --listen-after N:TEXT` has the session hear TEXT once the
thinker has written N tokens; `chat` (cli_chat.py) hears what the user types.

`run` and `chat` share their model, generation and listening options: each group is a
dataclass whose fields are typer options, and `_with_options` turns a command parameter
annotated with such a dataclass into those options (and back into one instance).

User errors (`AsyncThinkError`) are translated here, once, into one `error: ...` line
on stderr and exit code 1; anything else is a bug and keeps its traceback. Ctrl-C
cancels the session, prints what it produced and exits 130.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from .cli_chat import Chat, ChatJsonOutput, ChatOutput
from .cli_view import JsonOutput, LiveOutput, PlainOutput
from .errors import AsyncThinkError
from .events import Event
from .layout import resolve_layout
from .listening import HOLDS, TARGETS
from .random_models import is_random_spec, known_random_models
from .reasoner import DEFAULT_MODEL, AsyncReasoner
from .runner import DECODE_MODES
from .sampling import SamplingParams
from .session import ON_INPUT, Session

app = typer.Typer(
    help="Think, listen and write at the same time: asynchronous reasoning with an unmodified reasoning LLM.",
    no_args_is_help=True,
    add_completion=False,
    # a bug's traceback should be plain: rich's would print locals, model tensors included
    pretty_exceptions_enable=False,
)

MODEL, GENERATION, SAFETY, LISTENING, OUTPUT = "Model", "Generation", "Safety", "Listening", "Output"


@dataclass
class SessionOptions:
    """Which model to load and how a session decodes: shared by `run` and `chat`."""

    model: Annotated[str, typer.Option("--model", "-m", rich_help_panel=MODEL,
                                       help="Hub name, local path, or random:<hub name> "
                                       "(see `asyncthink models`).")] = DEFAULT_MODEL
    device: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto, cpu, cuda, cuda:1, ...")] = "auto"
    dtype: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto, float32, bfloat16 or float16.")] = "auto"
    decode: Annotated[Literal[DECODE_MODES], typer.Option(rich_help_panel=MODEL,
                                                         help="auto (eager; CUDA graphs are opt-in until they have "
                                                         "run on a GPU), eager, static or graphs.")] = "auto"
    layers: Annotated[int | None, typer.Option(min=1, rich_help_panel=MODEL,
                                                  help="random: models only: number of hidden layers "
                                                  "(quick smoke tests).")] = None
    mode: Annotated[str, typer.Option(rich_help_panel=GENERATION,
                                      help="async (think and write at once), think (think, then answer) "
                                      "or no_think (answer at once).")] = "async"
    layout: Annotated[str | None, typer.Option(show_default="independent", rich_help_panel=GENERATION,
                                                  help="independent or interleaved; async mode only.")] = None
    budget: Annotated[int | None, typer.Option(min=1, rich_help_panel=GENERATION, show_default="4096",
                                                  help="Maximum forward steps.")] = None
    max_thinker_tokens: Annotated[int | None, typer.Option(min=1, show_default="budget", rich_help_panel=GENERATION,
                                                              help="Cap on thought tokens.")] = None
    max_writer_tokens: Annotated[int | None, typer.Option(min=1, show_default="budget", rich_help_panel=GENERATION,
                                                             help="Cap on answer tokens.")] = None
    check_every: Annotated[int, typer.Option(min=1, rich_help_panel=GENERATION,
                                             help="Ask whether to write every N thought tokens "
                                             "(and at each paragraph end).")] = 20
    temperature: Annotated[float, typer.Option(rich_help_panel=GENERATION,
                                               help="Sampling temperature for both streams; 0 is greedy.")] = 0.0
    top_p: Annotated[float, typer.Option(rich_help_panel=GENERATION, help="Nucleus sampling threshold.")] = 1.0
    top_k: Annotated[int, typer.Option(rich_help_panel=GENERATION,
                                       help="Keep the k most likely tokens; 0 is off.")] = 0
    seed: Annotated[int | None, typer.Option(rich_help_panel=GENERATION,
                                                help="Sampling seed (with --temperature > 0).")] = None
    hold_writer_steps: Annotated[int, typer.Option(min=0, rich_help_panel=SAFETY,
                                                   help="Keep the writer silent for the first N steps.")] = 0
    safety_check_every: Annotated[int, typer.Option(min=0, rich_help_panel=SAFETY,
                                                    help="Ask every N answer tokens whether the answer so far is "
                                                    "safe; 'no' pauses the writer (0: off).")] = 0
    entropy_pause: Annotated[float | None, typer.Option(rich_help_panel=SAFETY,
                                                           help="Pause the writer while the thinker's next-token "
                                                           "entropy (nats) is above this.")] = None

    def check(self) -> None:
        """Checks that need no model: fail fast, before a load that can take a while."""
        if self.layers is not None and not is_random_spec(self.model):
            raise typer.BadParameter(f"only applies to random: models, not {self.model!r}", param_hint="'--layers'")

    def check_layout(self) -> None:
        resolve_layout(self.mode, self.layout)  # raises a user error (exit 1)

    def load(self) -> AsyncReasoner:
        return _load(self.model, self.device, self.dtype, self.layers, self.decode)

    def start_kwargs(self) -> dict[str, Any]:
        return {"mode": self.mode, "layout": self.layout, "budget": self.budget,
                "max_thinker_tokens": self.max_thinker_tokens, "max_writer_tokens": self.max_writer_tokens,
                "check_every": self.check_every, "hold_writer_steps": self.hold_writer_steps,
                "safety_check_every": self.safety_check_every, "entropy_pause": self.entropy_pause,
                "sampling": SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                                           seed=self.seed)}


@dataclass
class ListenOptions:
    """Where and when input heard while a session runs goes (listening.py)."""

    listen_to: Annotated[Literal[TARGETS], typer.Option(rich_help_panel=LISTENING,
                                           help="Where heard input goes: into the thoughts (thinker), appended "
                                           "to the question (input), or both.")] = "thinker"
    listen_hold: Annotated[Literal[HOLDS], typer.Option(rich_help_panel=LISTENING,
                                             help="Hold input for the thinker until its text reaches a sentence "
                                             "or paragraph end (none: at once).")] = "sentence"
    max_hold: Annotated[int, typer.Option(min=0, rich_help_panel=LISTENING,
                                          help="Hold input at most this many thought tokens.")] = 32
    on_input: Annotated[Literal[ON_INPUT], typer.Option(rich_help_panel=LISTENING,
                                          help="When input is heard while the answer is being written: pause "
                                          "the writer until the thinker says to go on, or continue.")] = "pause_writer"
    listen_capacity: Annotated[int | None, typer.Option(min=0, rich_help_panel=LISTENING, show_default="256",
                                                        help="Tokens of room reserved for heard input, per target; "
                                                        "input beyond it is not heard.")] = None

    def start_kwargs(self) -> dict[str, Any]:
        return {"listen_to": self.listen_to, "listen_hold": self.listen_hold, "max_hold": self.max_hold,
                "on_input": self.on_input, "listen_capacity": self.listen_capacity}


def _with_options(func: Callable) -> Callable:
    """Expand each parameter annotated with an options dataclass into its fields' options.

    Typer sees the fields as ordinary options, in place of the parameter; the command
    receives one instance of the dataclass built from them.
    """
    hints = typing.get_type_hints(func, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, type] = {}
    for param in inspect.signature(func).parameters.values():
        cls = hints[param.name]
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            groups[param.name] = cls
            field_hints = typing.get_type_hints(cls, include_extras=True)
            params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                         annotation=field_hints[f.name]) for f in dataclasses.fields(cls)]
        else:
            params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=cls))
    names = [p.name for p in params]
    assert len(names) == len(set(names)), f"option names clash in {func.__name__}: {names}"

    @functools.wraps(func)
    def command(**kwargs):
        for name, cls in groups.items():
            kwargs[name] = cls(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(cls)})
        return func(**kwargs)

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def _parse_listen_after(values: list[str] | None) -> list[tuple[int, str]]:
    pairs = []
    for value in values or []:
        n, sep, text = value.partition(":")
        if not sep or not n.strip().isdigit() or not text.strip():
            raise typer.BadParameter(f"expected N:TEXT with N a number of thought tokens, got {value!r}",
                                     param_hint="'--listen-after'")
        pairs.append((int(n), text))
    return sorted(pairs, key=lambda pair: pair[0])  # stable: ties keep their order


@app.command()
@_with_options
def run(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="The question or problem to answer.")],
    opts: SessionOptions,
    listen: ListenOptions,
    listen_after: Annotated[list[str] | None, typer.Option(
        metavar="N:TEXT", rich_help_panel=LISTENING,
        help="Have the session hear TEXT once the thinker has written N tokens (0: from the start). "
        "Repeatable; applied in order of N.")] = None,
    as_json: Annotated[bool, typer.Option("--json", rich_help_panel=OUTPUT,
                                          help="One JSON event per line on stdout; the last is the "
                                          "done event with the metrics.")] = False,
    plain: Annotated[bool, typer.Option("--plain", rich_help_panel=OUTPUT,
                                        help="Stream plain text even when stdout is a terminal.")] = False,
    speak: Annotated[bool, typer.Option("--speak", rich_help_panel=OUTPUT,
                                        help="Say the answer aloud as it is written (espeak-ng).")] = False,
    speak_to: Annotated[str | None, typer.Option("--speak-to", metavar="WAV", rich_help_panel=OUTPUT,
                                                    help="Write the spoken answer to a WAV file, with the silence "
                                                    "before it and its stalls, as heard live (espeak-ng).")] = None,
) -> None:
    """Answer QUESTION, thinking and writing at the same time.

    Plain output: the answer on stdout; thoughts, heard input (a line like
    "\\[heard -> thinker] TEXT") and a summary on stderr.
    """
    opts.check()
    schedule = _parse_listen_after(listen_after)
    live = not (as_json or plain) and sys.stdout.isatty()
    with _user_errors():
        # checked before the model load, which can take a while
        opts.check_layout()
        from .evaluation.speaker import SpeechTap

        speech = SpeechTap(speak, speak_to)  # fails here when espeak-ng is missing
        with Console(stderr=True).status(f"loading {opts.model}") if live else nullcontext():
            reasoner = opts.load()
        session = reasoner.start(question, **opts.start_kwargs(), **listen.start_kwargs())
        output = JsonOutput() if as_json else LiveOutput() if live else PlainOutput()
        with output:
            cancelled = _drive(session, speech.wrap(output.add), schedule, output.note)
        output.finish(session.result())
        if spoken := speech.finish(session.result().events):
            typer.echo(spoken, err=True)
    if cancelled:
        raise typer.Exit(130)


@app.command()
@_with_options
def chat(
    opts: SessionOptions,
    listen: ListenOptions,
    as_json: Annotated[bool, typer.Option("--json", rich_help_panel=OUTPUT,
                                          help="One JSON event per line on stdout instead of text.")] = False,
) -> None:
    """Ask questions one at a time; what you type while a session runs is heard at once.

    Type a question and press Enter: a session starts. While it thinks and writes,
    each further line you type is passed to it as new input (see --listen-to and
    --listen-hold), and a line "\\[heard -> thinker] TEXT" shows where and when it
    landed. When the session ends, the answer and a summary are printed and the prompt
    returns. Each question is a new session: earlier questions and answers are not
    remembered.

    Output is streamed plain text, not the panes of `run` (a live display would
    overwrite what you type): thoughts go to stderr (dimmed on a terminal), the answer
    to stdout, and on a terminal the whole answer is printed again at the end. What you
    type may mix with the streamed text on screen, but each line is read intact.

    Empty lines are ignored. /quit or Ctrl-D exits once the running session ends;
    Ctrl-C cancels the running session, or exits when none is running. From a pipe,
    the first line is the question and every later line is heard by that session, in
    order.
    """
    opts.check()
    interactive = sys.stdin.isatty()
    with _user_errors():
        opts.check_layout()
        with Console(stderr=True).status(f"loading {opts.model}") if interactive else nullcontext():
            reasoner = opts.load()
        output = ChatJsonOutput() if as_json else ChatOutput()

        def start(question: str) -> Session:
            return reasoner.start(question, **opts.start_kwargs(), **listen.start_kwargs())

        code = Chat(start, output, interactive=interactive).loop(sys.stdin)
    raise typer.Exit(code)


@app.command()
def models() -> None:
    """List the built-in random: models; real checkpoints are named as on the Hub or by path."""
    typer.echo("Random-weight stand-ins (offline, gibberish output; for smoke tests, e.g. with --layers 1):")
    for spec in known_random_models():
        typer.echo(f"  {spec}")
    typer.echo(f"Real models: any Hugging Face Hub name or local path of a Qwen3, QwQ or DeepSeek-R1-distill "
               f"model, e.g. {DEFAULT_MODEL} (the default).")


_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=_PASS_THROUGH, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Speed figures: two-stream step vs HF decode vs naive, control overhead, listening, throughput (--help)."""
    from .bench import main

    with _user_errors():
        code = main(ctx.args)
    raise typer.Exit(code)


@app.command("listen-eval", context_settings=_PASS_THROUGH, add_help_option=False)
def listen_eval(ctx: typer.Context) -> None:
    """Listening evaluation on sharded tasks: up front vs heard vs cancel-and-restart (--help for options)."""
    from .listen_eval import main

    raise typer.Exit(main(ctx.args))


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


def _load(model: str, device: str, dtype: str, layers: int | None, decode: str = "auto") -> AsyncReasoner:
    kwargs = {} if layers is None else {"num_hidden_layers": layers}
    reasoner = AsyncReasoner.from_pretrained(model, device=device, dtype=dtype, decode=decode, **kwargs)
    if is_random_spec(model):
        typer.echo(f"warning: {model} has random weights: its output is gibberish", err=True)
    return reasoner


def _drive(session: Session, add: Callable[[Event], None], listen_after: Iterable[tuple[int, str]] = (),
           note: Callable[[str], None] | None = None) -> bool:
    """Pass each event to `add` until the session ends; Ctrl-C cancels it. True if cancelled.

    Each (N, text) of `listen_after` is passed to `session.listen` once the thinker has
    emitted N token events (before the first step for N = 0), in order.
    """
    note = note or (lambda text: typer.echo(text, err=True))
    pending = deque(listen_after)
    thought = 0
    cancelled = False
    while not session.done:
        try:
            while pending and pending[0][0] <= thought and not cancelled:
                _, text = pending.popleft()
                try:
                    session.listen(text)
                except AsyncThinkError as exc:
                    note(f"warning: not heard: {text!r}: {' '.join(str(exc).split())}")
            for event in session.step():
                if event.kind == "token" and event.stream == "thinker":
                    thought += 1
                add(event)
        except KeyboardInterrupt:
            # the next step ends the session without a forward pass and emits its done event
            session.cancel()
            cancelled = True
    for n, text in pending:
        why = "the session was cancelled" if cancelled else f"the thinker wrote {thought} of the {n} tokens to wait for"
        note(f"warning: not heard: {text!r}: {why}")
    return cancelled


# registered last: cli_eval imports this module lazily
from .cli_eval import eval_command, merge_command, report_command

app.command("eval")(eval_command)
app.command("merge")(merge_command)
app.command("report")(report_command)

# the server (issue #5): registered last, like the commands above; cli_serve imports this module lazily
from .cli_serve import bench_server, serve

app.command("serve")(serve)
app.command("bench-server", context_settings=_PASS_THROUGH, add_help_option=False)(bench_server)
