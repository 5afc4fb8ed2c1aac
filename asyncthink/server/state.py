"""What the server holds for its lifetime: the model, the engine stepping in its thread, the step
signal, admission, and the completions now running (so input can be heard into them).

    ServerState.open_session(problem, options)
        ─▶ context checks (the prompt, then every view against the model's  400 naming the field
           context, and the session against the whole KV pool)              (max_tokens or messages)
        ─▶ Admission.admit ─▶ Engine.submit in a worker thread               429 / 503 when full
           (admitted when the pool has pages for the prompt; later pages come as it writes)
        ─▶ the running Session (the engine's thread steps it with all the others)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.adapter import model_shape
from ..engine import ArenaFull, Engine
from ..errors import ArenaTooSmall, ContextOverflow, SessionError
from ..events import Event
from ..reasoner import AsyncReasoner
from ..session import Session
from .admission import Admission
from .bridge import StepSignal
from .errors import APIError, invalid

log = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    model_name: str  # the id clients pass as `model` (GET /v1/models lists it)
    api_key: str | None = None
    capacity: int = 16384  # KV slots shared by all running sessions (Qwen3-0.6B fp32: 3.5 GiB), taken page by page
    page_size: int = 16  # KV slots per page
    max_waiting: int = 64  # requests that may wait for room; beyond: 429
    queue_timeout: float = 30.0  # seconds a request may wait for room; beyond: 503
    max_body_bytes: int = 1 << 20  # request bodies and WebSocket messages
    default_max_tokens: int = 512  # completion tokens (thinker + writer) when a request gives no max_tokens
    reasoning_field: str = "both"  # where thinker text goes: reasoning, reasoning_content, both, none
    listen_capacity: int = 256  # tokens of heard input a session may take (per target)
    prefill_chunk: int | None = 256  # prompt tokens per pass: a newcomer stalls running streams briefly, often
    drain_timeout: float = 10.0  # seconds running streams may finish in at shutdown; then they end with an error


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
    on_engine_failure: Callable[[], None] | None = None  # stops the server (uvicorn), so it exits non-zero
    longest_token: int = 1  # characters the longest vocabulary entry spells (bounds heard text before tokenizing)
    draining: bool = False  # shutting down: no new work
    drained: set[Session] = field(default_factory=set)  # sessions the shutdown ended (their streams say so)

    @classmethod
    def start(cls, reasoner: AsyncReasoner, config: ServerConfig,
              on_engine_failure: Callable[[], None] | None = None) -> ServerState:
        """Build the engine and start its thread; call from the event loop that serves requests.
        `on_engine_failure` runs on that loop if the engine itself fails (not one session)."""
        engine = Engine(reasoner, capacity=config.capacity, prefill_chunk=config.prefill_chunk,
                        page_size=config.page_size)
        loop = asyncio.get_running_loop()
        signal = StepSignal(loop)
        engine.add_step_listener(signal.notify)
        state = cls(reasoner, config, engine, signal, Admission(signal, config.max_waiting, config.queue_timeout),
                    on_engine_failure=on_engine_failure,
                    longest_token=max(map(len, reasoner.tokenizer.get_vocab()), default=1))
        engine.add_failure_listener(lambda: loop.call_soon_threadsafe(state._engine_failed))
        engine.start()
        return state

    def _engine_failed(self) -> None:
        log.critical("the engine cannot continue; the server stops admitting and shuts down for a restart")
        if self.on_engine_failure is not None:
            self.on_engine_failure()

    def check_engine(self) -> None:
        """Refuse new work once the engine has failed (/health says so) or the server is shutting down."""
        if self.engine.failure is not None:
            raise APIError(503, "the decoding engine failed and the server is restarting; retry later",
                           code="engine_failed", retry_after=5)
        if self.draining:
            raise APIError(503, "the server is shutting down; retry later", code="server_shutting_down",
                           retry_after=5)

    async def drain(self, forced: Callable[[], bool]) -> None:
        """At shutdown: refuse new work, give running sessions `drain_timeout` seconds to finish, then
        end the rest; their streams end with an error event and [DONE] (session_events below)."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.drain_timeout
        while self.engine.active and self.engine.failure is None and not forced() and loop.time() < deadline:
            await self.signal.wait(min(0.1, max(0.0, deadline - loop.time())))
        for session in list(self.engine.sessions.values()):
            self.drained.add(session)
            session.cancel()

    def stop(self) -> None:
        self.engine.stop()

    async def hear(self, session: Session, text: str, to: str | None, hold: str | None, param: str) -> None:
        """Hear `text` into a running session without stalling anybody: text that cannot fit the listening
        room is refused by its length alone (a token spells at most `longest_token` characters; x4 for a
        normalizer composing characters), and the rest is tokenized in a worker thread, off the loop."""
        limit = self.config.listen_capacity * self.longest_token * 4
        if len(text) > limit:
            raise invalid(f"the heard text is {len(text)} characters, more than the {self.config.listen_capacity} "
                          f"tokens of listening room could ever hold (at most {limit} characters); send less",
                          param, code="input_too_long")
        try:
            await asyncio.to_thread(session.listen, text, to=to, hold=hold)
        except SessionError as exc:
            raise invalid(" ".join(str(exc).split()), param) from None

    async def open_session(self, problem: str, options: dict[str, Any], tokens_param: str,
                           messages_param: str = "messages") -> OpenedSession:
        """Admit a session for `problem`; `tokens_param` is the request field that set options["max_tokens"]
        (or would have: the server's default), `messages_param` the one that holds the problem's text."""
        prompt_tokens = 0

        def start() -> Session:
            nonlocal prompt_tokens
            self.check_engine()
            prompt_tokens = self._check_prompt(problem, messages_param)
            try:
                return self.engine.submit(problem, listen_capacity=self.config.listen_capacity, **options)
            except ArenaFull:
                raise
            except SessionError as exc:  # options are validated, so what is left is context or pool room
                raise self._refusal(exc, options["max_tokens"], tokens_param, messages_param) from None

        self.check_engine()
        began = time.perf_counter()
        session = await self.admission.admit(start)
        return OpenedSession(session, prompt_tokens, time.perf_counter() - began)

    def _check_prompt(self, problem: str, param: str) -> int:
        """The prompt's tokens; a 400 when the prompt alone is beyond the model's context (every view holds it)."""
        context = getattr(self.reasoner.model.config, "max_position_embeddings", None)
        if context and len(problem) > context * self.longest_token * 4:  # (as in hear: no need to tokenize)
            raise invalid(f"the prompt is {len(problem)} characters, more than the model's context of {context} "
                          f"tokens could ever hold; shorten '{param}'", param, code="context_length_exceeded")
        prompt_tokens = len(self.reasoner.tokenizer.encode(problem, add_special_tokens=False))
        if context and prompt_tokens >= context:
            raise invalid(f"the prompt is {prompt_tokens} tokens, beyond the model's context of {context} tokens; "
                          f"shorten '{param}'", param, code="context_length_exceeded")
        return prompt_tokens

    def _refusal(self, exc: SessionError, max_tokens: int, tokens_param: str, messages_param: str) -> APIError:
        """The 400 for a session the model's context or the KV pool could never hold, naming the field
        to change: the token cap when lowering it is enough (with the largest value that fits), else the
        messages. A view holds both streams' tokens, at most `max_tokens` of them together; so does the
        pool, which the session fills page by page as it writes."""
        code = "context_length_exceeded"
        listen = (f" and the listening room this server allows ({self.config.listen_capacity} tokens per "
                  "target)") if self.config.listen_capacity else ""
        verb = "leave" if listen else "leaves"
        if isinstance(exc, ContextOverflow):
            if exc.room <= 0:
                return invalid(f"the prompt as the model reads it ({exc.text_positions} positions, with the chat "
                               f"template and the mode's own text){listen} {verb} no room for a completion in "
                               f"the model's context of {exc.limit} positions; shorten '{messages_param}'",
                               messages_param, code=code)
            return invalid(f"'{tokens_param}' is {max_tokens}, but with this prompt at most {exc.room} completion "
                           f"tokens (reasoning and answer together) fit the model's context of {exc.limit} "
                           f"positions; set '{tokens_param}' to {exc.room} or less, or shorten '{messages_param}'",
                           tokens_param, code=code)
        if isinstance(exc, ArenaTooSmall):
            if exc.room < 1:
                return invalid(f"the prompt as the model reads it{listen} {verb.replace('leave', 'need')} "
                               f"{exc.fixed} KV slots, more than this server's whole KV pool of {exc.capacity} "
                               f"slots; shorten '{messages_param}'", messages_param, code=code)
            return invalid(f"'{tokens_param}' is {max_tokens}: with this prompt the request may come to use "
                           f"{exc.needed} KV slots (the prompt and up to '{tokens_param}' completion tokens), more "
                           f"than this server's whole KV pool of {exc.capacity} slots; set '{tokens_param}' to "
                           f"{exc.room} or less", tokens_param, code=code)
        return invalid(" ".join(str(exc).split()))


def kv_arena_bytes(model, capacity: int) -> int:
    """What the shared KV pool of `capacity` slots will take: keys and values, every layer."""
    shape = model_shape(model)
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * capacity * model.dtype.itemsize


async def session_events(state: ServerState, session: Session) -> AsyncIterator[Event]:
    """The session's events as the engine produces them, ending with its `done` event; an APIError
    instead when the session failed in the engine, the engine failed, or the shutdown ended it."""
    engine, signal, seen = state.engine, state.signal, 0
    while True:
        events = engine.new_events(session, seen)
        seen += len(events)
        for event in events:
            if event.kind == "done" and event.text == "error":  # this session alone failed in the engine
                raise APIError(500, "decoding this request failed inside the engine (the server log says why); "
                               "other requests are not affected", code="session_failed")
            if event.kind == "done" and event.text == "cancelled" and session in state.drained:
                raise APIError(503, "the server is shutting down and ended this response; retry it later",
                               code="server_shutting_down", retry_after=5)
            yield event
            if event.kind == "done":
                return
        if not events:
            if engine.failure is not None:
                raise APIError(503, "the decoding engine failed and the server is restarting; retry later",
                               code="engine_failed", retry_after=5)
            await signal.wait()
