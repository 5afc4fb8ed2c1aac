"""`asyncthink chat`: questions read from stdin, each answered by a session in a thread.

The main thread only reads lines; the running session steps in a worker thread and
prints its events as they come. A line read while a session runs goes to
`session.listen()` (thread-safe: it takes effect at one of the session's next steps,
with a `heard` event that the output shows); a line read while none runs starts a new
session. So from a pipe, where every line is read at once, the first line is the
question and all later ones are heard by that session, in order.

    empty line     ignored
    /quit, EOF     exit once the running session has ended: 0, or 1 from a pipe when a question failed
    Ctrl-C         cancel the running session; exit 130 when none is running

Output is plain streamed text (`ChatOutput`) rather than live panes: a live display
redraws the lines around the cursor and would overwrite what the user is typing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.console import Console

from ..errors import AsyncThinkError
from ..events import Result
from .common import error_line, random_weights_warning, user_errors
from .options import OUTPUT, ListenOptions, SessionOptions, with_options
from .view import JsonOutput, PlainOutput

PROMPT = "> "
HELP = ("Ask a question. While it is answered, type more lines to be heard at once. "
        "/quit or Ctrl-D exits, Ctrl-C cancels the running session.")

if TYPE_CHECKING:
    from ..session import Session


def _one_line(exc: AsyncThinkError) -> str:
    return error_line(exc)


class ChatOutput(PlainOutput):
    """Plain streamed text, styled on a terminal, with a prompt and the answer repeated at the end.

    On a terminal where thoughts and answer interleave (stdout and stderr both a
    terminal), the whole answer is printed again, in one piece, before the summary.
    """

    def __init__(self) -> None:
        super().__init__(styled=True)
        self.answer_again = all(f.isatty() for f in self.files.values())

    def prompt(self, text: str) -> None:
        with self.lock:
            self._write("thinker", text, "heard")
            self.last_char["thinker"] = "\n"  # the user's Enter ends the line

    def finish(self, result: Result) -> None:
        with self.lock:
            if self.answer_again and result.answer.strip():
                for stream in self.files:
                    if self.last_char[stream] != "\n":
                        self._write(stream, "\n")
                self._line("thinker", "── answer ──", "thinker")
                self._write("writer", result.answer.strip() + "\n")
            super().finish(result)


class ChatJsonOutput(JsonOutput):
    def prompt(self, text: str) -> None:
        with self.lock:
            sys.stderr.write(text)
            sys.stderr.flush()


class Chat:
    """The read-eval loop: `loop(stdin)` returns the exit code."""

    def __init__(self, start: Callable[[str], Session], output: ChatOutput | ChatJsonOutput,
                 interactive: bool) -> None:
        self.start = start
        self.out = output
        self.interactive = interactive  # prompts and hints only for a person at a terminal
        self.session: Session | None = None
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None  # a bug in the session thread, raised in the main one
        self.quitting = False  # no prompt once the user has asked to quit
        self.failures = 0  # questions that ended in an error (start refused or the session failed)

    def loop(self, stdin: TextIO) -> int:
        if self.interactive:
            self.out.note(HELP)
            self._prompt()
        while True:
            try:
                line = stdin.readline()
                self._raise_failure()
                if not line or line.strip() == "/quit":  # EOF (Ctrl-D) or /quit
                    self.quitting = True
                    if self.interactive and self._running():
                        self.out.note("(waiting for the session to end; Ctrl-C cancels it)")
                    self._wait()
                    # from a pipe a failed question must not look like success to the script that sent it
                    return 1 if self.failures and not self.interactive else 0
                line = line.rstrip("\r\n")
                if not line.strip():
                    if not self._running():
                        self._prompt()
                elif self._running():
                    self._hear(line)
                else:
                    self._ask(line)
            except KeyboardInterrupt:
                self._raise_failure()
                if self._running():
                    self.session.cancel()  # the session thread prints what it produced, then the prompt
                else:
                    self.out.note("")
                    return 130

    def _running(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self.session.done

    def _hear(self, line: str) -> None:
        try:
            self.session.listen(line)
        except AsyncThinkError as exc:
            if self.session.done:
                self.out.note(f"not heard, the session had just ended: {line!r}; type it again to ask it")
            else:
                self.out.note(f"not heard: {_one_line(exc)}")

    def _ask(self, question: str) -> None:
        self._wait()  # a session that has ended may still be printing its summary
        try:
            self.session = self.start(question)
        except AsyncThinkError as exc:
            self.failures += 1
            self.out.note(f"error: {_one_line(exc)}")
            self._prompt()
            return
        self.thread = threading.Thread(target=self._run, args=(self.session,), name="asyncthink-session",
                                       daemon=True)
        self.thread.start()

    def _run(self, session: Session) -> None:
        try:
            for event in session:
                self.out.add(event)
            self.out.finish(session.result())
        except AsyncThinkError as exc:
            self.failures += 1
            session.cancel()
            self.out.note(f"error: {_one_line(exc)}")
        except BaseException as exc:  # a bug: keep its traceback for the main thread to raise
            session.cancel()
            self.failure = exc
            self.out.note("error: the session failed unexpectedly; press Enter to see the traceback")
            return
        self._prompt()

    def _wait(self) -> None:
        """Wait for the session thread; Ctrl-C meanwhile cancels the session."""
        while self.thread is not None and self.thread.is_alive():
            try:
                self.thread.join(0.1)
            except KeyboardInterrupt:
                self.session.cancel()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def _prompt(self) -> None:
        if self.interactive and not self.quitting:
            self.out.prompt(PROMPT)


@with_options
def chat_command(
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
    with user_errors():
        with Console(stderr=True).status(f"loading {opts.model}") if interactive else nullcontext():
            reasoner = opts.load(warn=False)
        random_weights_warning(opts.model)  # after the spinner has cleared its line
        output = ChatJsonOutput() if as_json else ChatOutput()

        def start(question: str) -> Session:
            return reasoner.start(question, **opts.start_kwargs(), **listen.start_kwargs())

        code = Chat(start, output, interactive=interactive).loop(sys.stdin)
    raise typer.Exit(code)
