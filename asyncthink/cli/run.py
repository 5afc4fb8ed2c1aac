"""`asyncthink run "question"`: one session, shown live or streamed.

As in simonw/llm, the answer goes to stdout and everything else (thoughts, warnings,
the summary line) to stderr, so `asyncthink run "..." > answer.txt` keeps only the
answer. When stdout is a terminal, `run` shows live Thoughts | Answer panes instead
(`--plain` turns them off) and prints the answer normally at the end; `--json` prints
one event per line. `--listen-after N:TEXT` has the session hear TEXT once the thinker
has written N tokens. Ctrl-C cancels the session, prints what it produced and exits 130.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ..errors import AsyncThinkError
from ..events import Event
from .common import random_weights_warning, user_errors
from .options import LISTENING, OUTPUT, ListenOptions, SessionOptions, with_options
from .view import JsonOutput, LiveOutput, PlainOutput

if TYPE_CHECKING:
    from ..session import Session


def _parse_listen_after(values: list[str] | None) -> list[tuple[int, str]]:
    pairs = []
    for value in values or []:
        n, sep, text = value.partition(":")
        if not sep or not n.strip().isdigit() or not text.strip():
            raise typer.BadParameter(f"expected N:TEXT with N a number of thought tokens, got {value!r}",
                                     param_hint="'--listen-after'")
        pairs.append((int(n), text))
    return sorted(pairs, key=lambda pair: pair[0])  # stable: ties keep their order


def _read_question(question: str | None, path: Path | None) -> str:
    """The question from the argument, stdin (-) or --file; exactly one of them, not empty (usage errors)."""
    if question is not None and path is not None:
        raise typer.BadParameter("give the question as an argument or with --file, not both", param_hint="QUESTION")
    if path is not None:
        try:
            question = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise typer.BadParameter(f"cannot read {path}: {why}", param_hint="'--file'") from None
    elif question == "-":
        question = sys.stdin.read()
    elif question is None:
        raise typer.BadParameter("missing: pass the question as an argument, - to read it from stdin, or --file PATH",
                                 param_hint="QUESTION")
    if not question.strip():
        raise typer.BadParameter("the question is empty", param_hint="QUESTION")
    return question


@with_options
def run(
    question: Annotated[str | None, typer.Argument(
        metavar="QUESTION", show_default=False,
        help="The question or problem to answer; - reads it from stdin.")] = None,
    opts: SessionOptions = None,
    listen: ListenOptions = None,
    question_file: Annotated[Path | None, typer.Option(
        "--file", metavar="PATH", show_default=False,
        help="Read the question from a file (UTF-8), e.g. one too long for a command-line argument.")] = None,
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
    question = _read_question(question, question_file)
    schedule = _parse_listen_after(listen_after)
    live = not (as_json or plain) and sys.stdout.isatty()
    with user_errors():
        from ..evaluation.speaker import SpeechTap

        speech = SpeechTap(speak, speak_to)  # fails here when espeak-ng is missing
        with Console(stderr=True).status(f"loading {opts.model}") if live else nullcontext():
            reasoner = opts.load(warn=False)
        random_weights_warning(opts.model)  # after the spinner has cleared its line
        session = reasoner.start(question, **opts.start_kwargs(), **listen.start_kwargs())
        output = JsonOutput() if as_json else LiveOutput() if live else PlainOutput()
        with output:
            cancelled = _drive(session, speech.wrap(output.add), schedule, output.note)
        output.finish(session.result())
        for line in speech.finish(session.result().events):
            typer.echo(line, err=True)
    if cancelled:
        raise typer.Exit(130)


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
