"""Small commands: `models` (what can be loaded) and the entries of commands with their own
argument parsers (`bench`, `listen-eval`, `bench-server`), which get their arguments untouched.
"""

from __future__ import annotations

import typer

from ..defaults import DEFAULT_MODEL
from ..models.catalog import SHIPPED, known_random_models
from .common import user_errors


def models() -> None:
    """List the models shipped with the package and the random: shapes; real checkpoints are named as on the Hub."""
    typer.echo("Shipped (offline, trained by the project on its arithmetic tasks; readable thoughts and answers):")
    for name, folder in SHIPPED.items():
        typer.echo(f"  {name}  ({folder})")
    typer.echo("Random-weight stand-ins (offline, gibberish output; for smoke tests, e.g. with --layers 1):")
    for spec in known_random_models():
        typer.echo(f"  {spec}")
    typer.echo(f"Real models: any Hugging Face Hub name or local path of a Qwen3, QwQ or DeepSeek-R1-distill "
               f"model, e.g. {DEFAULT_MODEL} (the default).")


PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def bench(ctx: typer.Context) -> None:
    """Speed figures: two-stream step vs HF decode vs naive, control overhead, listening, throughput (--help)."""
    from ..bench import main

    with user_errors():
        code = main(ctx.args)
    raise typer.Exit(code)


def listen_eval(ctx: typer.Context) -> None:
    """Listening evaluation on sharded tasks: up front vs heard vs cancel-and-restart (--help for options)."""
    from ..listen_eval import main

    raise typer.Exit(main(ctx.args))


def bench_server(ctx: typer.Context) -> None:
    """Load benchmark: N concurrent streaming clients against the server for a fixed time (--help for options)."""
    from ..bench.server_load import main

    raise typer.Exit(main(ctx.args))
