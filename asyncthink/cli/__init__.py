"""The command line: one module per command, assembled here into one typer app.

    asyncthink run QUESTION    run.py      one session, live panes or streamed (answer on stdout)
    asyncthink chat            chat.py     questions one at a time; typed lines are heard at once
    asyncthink serve           serve.py    the OpenAI-compatible server (server/)
    asyncthink eval|merge|report  eval.py  benchmarks (evaluation/)
    asyncthink models, bench, listen-eval, bench-server   tools.py

    common.py   loading a model and translating user errors, once, for every command
    options.py  the option groups `run` and `chat` share (dataclasses of typer options)
    view.py     how a session is shown: live panes, plain streams, JSON lines

Every module imports common/options/view, never this package, so there is no import cycle.
"""

from __future__ import annotations

import typer

from .chat import chat_command
from .eval import eval_command, merge_command, report_command
from .run import run
from .serve import serve
from .tools import PASS_THROUGH, bench, bench_server, listen_eval, models

app = typer.Typer(
    help="Think, listen and write at the same time: asynchronous reasoning with an unmodified reasoning LLM.",
    no_args_is_help=True,
    add_completion=False,
    # a bug's traceback should be plain: rich's would print locals, model tensors included
    pretty_exceptions_enable=False,
)
app.command("run")(run)
app.command("chat")(chat_command)
app.command("models")(models)
app.command("bench", context_settings=PASS_THROUGH, add_help_option=False)(bench)
app.command("listen-eval", context_settings=PASS_THROUGH, add_help_option=False)(listen_eval)
app.command("eval")(eval_command)
app.command("merge")(merge_command)
app.command("report")(report_command)
app.command("serve")(serve)
app.command("bench-server", context_settings=PASS_THROUGH, add_help_option=False)(bench_server)

__all__ = ["app"]
