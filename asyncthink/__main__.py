"""`python -m asyncthink ...` runs the CLI (e.g. under launchers: `torchrun -m asyncthink eval ...`)."""

from .cli import app

app(prog_name="asyncthink")
