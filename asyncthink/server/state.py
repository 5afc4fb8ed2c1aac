"""What the server holds for its lifetime: the model, the engine stepping in its thread, the step
signal, admission, and the completions now running (so input can be heard into them).

    ServerState.open_session(problem, options)
        ─▶ context checks (prompt and budget against the model's context)   400 naming the field
        ─▶ Admission.admit ─▶ Engine.submit in a worker thread               429 / 503 when full
        ─▶ the running Session (the engine's thread steps it with all the others)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..core.adapter import model_shape
from ..engine import ArenaFull, Engine
from ..errors import ContextOverflow, SessionError
from ..reasoner import AsyncReasoner
from ..session import Session
from .admission import Admission
from .bridge import StepSignal
from .errors import invalid


@dataclass
class ServerConfig:
    model_name: str  # the id clients pass as `model` (GET /v1/models lists it)
    api_key: str | None = None
    capacity: int = 16384  # KV slots shared by all running sessions (Qwen3-0.6B fp32: 3.8 GiB)
    max_waiting: int = 64  # requests that may wait for room; beyond: 429
    queue_timeout: float = 30.0  # seconds a request may wait for room; beyond: 503
    max_body_bytes: int = 1 << 20  # request bodies and WebSocket messages
    default_max_tokens: int = 512  # forward steps when a request gives no max_tokens
    reasoning_field: str = "both"  # where thinker text goes: reasoning, reasoning_content, both, none
    listen_capacity: int = 256  # tokens reserved per session for heard input (per target)
    prefill_chunk: int | None = 256  # prompt tokens per pass: a newcomer stalls running streams briefly, often


@dataclass
class OpenedSession:
    session: Session
    prompt_tokens: int
    queue_time: float  # seconds spent waiting for room


@dataclass
class ServerState:
    reasoner: AsyncReasoner
    config: ServerConfig
    engine: Engine
    signal: StepSignal
    admission: Admission
    running: dict[str, Session] = field(default_factory=dict)  # completion id -> session, while it streams

    @classmethod
    def start(cls, reasoner: AsyncReasoner, config: ServerConfig) -> ServerState:
        """Build the engine and start its thread; call from the event loop that serves requests."""
        engine = Engine(reasoner, capacity=config.capacity, prefill_chunk=config.prefill_chunk)
        signal = StepSignal(asyncio.get_running_loop())
        engine.add_step_listener(signal.notify)
        engine.start()
        return cls(reasoner, config, engine, signal, Admission(signal, config.max_waiting, config.queue_timeout))

    def stop(self) -> None:
        self.engine.stop()


    async def open_session(self, problem: str, options: dict[str, Any], budget_param: str) -> OpenedSession:
        """Admit a session for `problem`; `budget_param` is the request field that set options["budget"]."""
        prompt_tokens = 0

        def start() -> Session:
            nonlocal prompt_tokens
            prompt_tokens = self._check_context(problem, options["budget"], budget_param)
            try:
                return self.engine.submit(problem, listen_capacity=self.config.listen_capacity, **options)
            except ArenaFull:
                raise
            except SessionError as exc:  # options are validated, so what is left is budget vs context or arena
                # the input with the layout's own text alone overflows: the messages are at fault, not the budget
                param = "messages" if isinstance(exc, ContextOverflow) and exc.text_positions >= exc.limit else budget_param
                raise invalid(" ".join(str(exc).split()), param, code="context_length_exceeded") from None

        began = time.perf_counter()
        session = await self.admission.admit(start)
        return OpenedSession(session, prompt_tokens, time.perf_counter() - began)

    def _check_context(self, problem: str, budget: int, budget_param: str) -> int:
        prompt_tokens = len(self.reasoner.tokenizer.encode(problem, add_special_tokens=False))
        context = getattr(self.reasoner.model.config, "max_position_embeddings", None)
        if context and prompt_tokens >= context:
            raise invalid(f"the prompt is {prompt_tokens} tokens, beyond the model's context of {context} tokens; "
                          "shorten the messages", "messages", code="context_length_exceeded")
        if context and prompt_tokens + budget > context:
            raise invalid(f"'{budget_param}' is {budget}: with the prompt's {prompt_tokens} tokens that can never fit "
                          f"the model's context of {context} tokens; lower it", budget_param,
                          code="context_length_exceeded")
        return prompt_tokens


def kv_arena_bytes(model, capacity: int) -> int:
    """What the shared KV arena of `capacity` slots will take: keys and values, every layer."""
    shape = model_shape(model)
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * capacity * model.dtype.itemsize
