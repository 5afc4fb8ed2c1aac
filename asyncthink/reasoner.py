"""AsyncReasoner: a model + tokenizer + chat format, and the sessions run on them."""

from __future__ import annotations

import os

import torch

from .core import adapter
from .core.cpu_linears import can_pack, pack_linears
from .defaults import DECODE_MODES, DEFAULT_MODEL, device_problem
from .errors import ModelLoadError, SessionError
from .events import Result
from .formats import ChatFormat, get_format
from .layout import Layout, resolve_layout
from .sampling import SamplingParams
from .session import Session
from .session.fitting import fit_room
from .session.options import check_max_tokens


def resolve_device(device: str) -> str:
    if (problem := device_problem(device)) is not None:
        raise ModelLoadError(problem)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    return device


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose auto, {', '.join(names)}")
    return names[dtype]


class AsyncReasoner:
    def __init__(self, model, tokenizer, chat_format: str | ChatFormat | None = None,
                 pack_cpu_linears: bool | None = None, decode: str = "auto"):
        """`pack_cpu_linears` (default: on for CPU float32) prepacks linear weights for oneDNN so a
        two-row step costs what a one-row step does (cpu_linears.py); it doubles linear-weight memory.
        `decode`: auto (eager; CUDA graphs are opt-in until they have run on a GPU), eager, static or
        graphs (runner.py)."""
        if decode not in DECODE_MODES:
            raise SessionError(f"decode must be one of {', '.join(DECODE_MODES)}, got {decode!r}")
        self.decode = decode
        adapter.attach(model)
        model.eval()
        if pack_cpu_linears or (pack_cpu_linears is None and can_pack(model)):
            pack_linears(model)
        self.model = model
        self.tokenizer = tokenizer
        self.chat_format = get_format(chat_format, tokenizer)

    @classmethod
    def from_pretrained(cls, name_or_path: str = DEFAULT_MODEL, device: str = "auto", dtype: str | torch.dtype = "auto",
                        chat_format: str | ChatFormat | None = None, decode: str = "auto",
                        **model_kwargs) -> AsyncReasoner:
        """Load a Hub name or local path; `random:<hub name>` builds random weights of that shape; a shipped
        model's name (`tiny-reasoner`, models/catalog.py) loads its folder from the package, offline."""
        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device)
        from .models.random_weights import is_random_spec, load_random

        if is_random_spec(name_or_path):
            try:
                model, tokenizer = load_random(name_or_path, dtype=torch_dtype, device=device, **model_kwargs)
            except ValueError as exc:
                raise ModelLoadError(str(exc)) from exc
            return cls(model, tokenizer, chat_format, decode=decode)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .models.hub import resolve_source

        source, local_only = resolve_source(name_or_path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=local_only,
                                                         **model_kwargs)
        except (OSError, ValueError, KeyError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
            offline = "" if os.environ.get("HF_HUB_OFFLINE") else " (or set HF_HUB_OFFLINE=1 to use the local cache)"
            raise ModelLoadError(
                f"could not load model {name_or_path!r}: {first_line}. Check the name or local path; without "
                f"network access, download it elsewhere and pass the local folder{offline}; "
                "`tiny-reasoner` ships with asyncthink and runs offline."
            ) from exc
        return cls(model.to(device), tokenizer, chat_format, decode=decode)

    def start(
        self,
        problem: str,
        mode: str = "async",
        layout: str | Layout | None = None,
        *,
        budget: int | None = None,
        max_tokens: int | None = None,
        max_thinker_tokens: int | None = None,
        max_writer_tokens: int | None = None,
        thinker: SamplingParams | None = None,
        writer: SamplingParams | None = None,
        sampling: SamplingParams | None = None,
        listen_capacity: int | None = None,
        **options,
    ) -> Session:
        """Start a session. `budget` caps forward steps (default 4096, or with `max_tokens` enough steps
        to write them all); `max_tokens` caps the thinker's and the writer's tokens together (default: no
        cap; OpenAI's max_tokens); the per-stream caps `max_thinker_tokens` / `max_writer_tokens`
        default to the budget, and to no more than `max_tokens`; `listen_capacity` (default 256) is
        the room for heard input per target. What is left out is fitted to the model's context
        (fitting.py); what is given is kept, and refused with ContextOverflow when it cannot fit.

        `sampling` sets both streams; `thinker` / `writer` override per stream. Every other option
        goes to Session with its default there (session.py): `check_every`, `listen_to`,
        `listen_hold`, `max_hold`, `on_input` (listening), `cache_question`, the safety controls
        `hold_writer_steps`, `safety_check_every`, `entropy_pause`, `prefill_chunk`,
        `naive_attention`, `page_size` (of the session's own KV pool), and `runner`, `name` (used by
        Engine to place the session in its shared pool).
        """
        base = sampling or SamplingParams()
        for option, params in (("sampling", base), ("thinker", thinker), ("writer", writer)):
            if params is not None and not isinstance(params, SamplingParams):
                raise SessionError(f"{option} must be a SamplingParams, got {type(params).__name__}")
        resolved = resolve_layout(mode, layout)
        check_max_tokens(max_tokens)  # before the defaults derived from it
        room = fit_room(self, problem, resolved, budget, max_thinker_tokens, max_writer_tokens, listen_capacity,
                        max_tokens)
        return Session(
            self,
            problem,
            resolved,
            budget=room.budget,
            max_tokens=max_tokens,
            max_thinker_tokens=room.max_thinker_tokens,
            max_writer_tokens=room.max_writer_tokens,
            listen_capacity=room.listen_capacity,
            thinker=thinker or base,
            writer=writer or base,
            **options,
        )

    def solve(self, problem: str, **kwargs) -> Result:
        """Run a session to the end: answer, thoughts, events and metrics."""
        return self.start(problem, **kwargs).result()
