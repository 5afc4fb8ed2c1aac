"""A session: one problem decoded by a thinker and a writer over one shared block cache.

    session.py      Session: setup, public surface (iterate, listen, cancel, view, result),
                    the step's three phases (prepare, pick, consume); the states are drawn there
    feeding.py      what each stream feeds at a step (start texts, pending tokens, question cues)
    intake.py       heard input: listen() and the release of ready items at a step
    transitions.py  the state machine's transitions on each sampled token / answer
    options.py      checks of the options and texts
"""

from .options import ON_INPUT
from .session import Session

__all__ = ["ON_INPUT", "Session"]
