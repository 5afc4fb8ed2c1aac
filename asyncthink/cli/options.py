"""Options shared by `run` and `chat`: each group is a dataclass whose fields are typer options.

`with_options` turns a command parameter annotated with such a dataclass into those
options (and back into one instance), so the groups are declared once.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ..defaults import DECODE_MODES, DEFAULT_MODEL, DTYPES, ON_INPUT, device_problem
from ..errors import AsyncThinkError
from ..layout import resolve_layout
from ..listening import HOLDS, TARGETS
from ..models.catalog import is_random_spec
from . import common

if TYPE_CHECKING:
    from ..reasoner import AsyncReasoner

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
                                                  help="Maximum forward steps (with --max-tokens: by default "
                                                  "enough steps to write them all).")] = None
    max_tokens: Annotated[int | None, typer.Option(min=1, rich_help_panel=GENERATION, show_default="no cap",
                                                      help="Cap on thought and answer tokens together.")] = None
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
        """Every option value checked before a load that can take a while: a bad one is a usage error (exit 2)."""
        bad = lambda option, why: typer.BadParameter(why, param_hint=f"'--{option}'")  # noqa: E731
        if self.layers is not None and not is_random_spec(self.model):
            raise bad("layers", f"only applies to random: models, not {self.model!r}")
        if (problem := device_problem(self.device)) is not None:
            raise bad("device", problem)
        if self.dtype not in DTYPES:
            raise bad("dtype", f"unknown dtype {self.dtype!r}; choose {', '.join(DTYPES)}")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise bad("temperature", f"must be 0 (greedy) or a positive number, got {self.temperature}")
        if not math.isfinite(self.top_p) or not 0 < self.top_p <= 1:
            raise bad("top-p", f"must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise bad("top-k", f"must be 0 (off) or a positive number of tokens, got {self.top_k}")
        if self.entropy_pause is not None and (not math.isfinite(self.entropy_pause) or self.entropy_pause <= 0):
            raise bad("entropy-pause", f"must be a positive number of nats, got {self.entropy_pause}")
        try:
            resolve_layout(self.mode, self.layout)
        except AsyncThinkError as exc:
            raise bad("layout" if self.layout is not None and self.mode == "async" else "mode", str(exc)) from None

    def load(self, warn: bool = True) -> AsyncReasoner:
        return common.load_model(self.model, self.device, self.dtype, self.layers, self.decode, warn=warn)

    def start_kwargs(self) -> dict[str, Any]:
        from ..sampling import SamplingParams

        return {"mode": self.mode, "layout": self.layout, "budget": self.budget, "max_tokens": self.max_tokens,
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
                                                        help="Tokens of room for heard input, per target; "
                                                        "input beyond it is not heard.")] = None

    def start_kwargs(self) -> dict[str, Any]:
        return {"listen_to": self.listen_to, "listen_hold": self.listen_hold, "max_hold": self.max_hold,
                "on_input": self.on_input, "listen_capacity": self.listen_capacity}


def with_options(func: Callable) -> Callable:
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
