"""Pipecat: `AsyncThinkLLMService`, an `LLMService` whose responses hear the user while they run.

    LLMContextFrame ─▶ a new response over `/v1/realtime` (client.py) ─▶ LLMFullResponseStartFrame,
        LLMThoughtStartFrame / LLMThoughtTextFrame (the thinker: not TextFrames, so never spoken),
        LLMTextFrame (the writer: what TTS speaks), LLMThoughtEndFrame, LLMFullResponseEndFrame
    LLMContextFrame while a response runs ─▶ on_user_input="hear": the user messages added since are
        heard by the running response (`response.asyncthink.heard`), which goes on; "interrupt": answered
        after it, as Pipecat's own services do
    InterruptionFrame ─▶ "hear": the running response keeps thinking and its output is held (the
        interrupted part ends with LLMFullResponseEndFrame) until the user's turn ends (the next
        LLMContextFrame): heard, then its output goes on in a new Start ... End part; a response
        not taken up within `hold_seconds` is cancelled. "interrupt": cancelled, as usual

Event handlers: on_response_created(service, response_id), on_heard(service, event),
on_response_done(service, response) with the `response.done` object (usage, `asyncthink.heard`).
Needs `pip install "asyncthink[pipecat]"`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMThoughtEndFrame,
    LLMThoughtStartFrame,
    LLMThoughtTextFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings
from pipecat.utils.types import is_given

from .client import DEFAULT_URL, RealtimeError, Response

SETTINGS = {"max_tokens": "max_response_output_tokens", "temperature": "temperature", "top_p": "top_p",
            "top_k": "top_k", "seed": "seed"}  # Pipecat's LLMSettings -> session.update fields


def _text(message: Any) -> str | None:
    """The text of a context message (its text parts joined); None for tool calls, images, provider-specific."""
    if not isinstance(message, dict) or message.get("role") not in ("system", "developer", "user", "assistant"):
        return None
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict)
                          and part.get("type") == "text")
    return content if isinstance(content, str) and content.strip() else None


def _is_user_text(message: Any, texts: list[str]) -> bool:
    return isinstance(message, dict) and message.get("role") == "user" and _text(message) in texts


def context_messages(messages: list[Any]) -> list[tuple[str, str]]:
    """(role, text) of a Pipecat context's messages that have text."""
    return [(m["role"], text) for m in messages if (text := _text(m)) is not None]


class AsyncThinkLLMService(LLMService):
    """asyncthink behind Pipecat: the writer is spoken, the thinker is thought frames, and user speech
    that ends while a response runs is heard by it (`on_user_input="hear"`) or answered after it
    ("interrupt": Pipecat's usual behaviour). `session`: asyncthink's `session.update` fields
    (`mode`, `check_every`, `listen_hold`, ...); `hear_to` / `hear_hold`: how heard input is placed."""

    def __init__(self, *, url: str = DEFAULT_URL, api_key: str | None = None,
                 on_user_input: Literal["hear", "interrupt"] = "hear", session: dict[str, Any] | None = None,
                 hear_to: str | None = None, hear_hold: str | None = None, hold_seconds: float = 10.0,
                 settings: LLMSettings | None = None, **kwargs: Any):
        if on_user_input not in ("hear", "interrupt"):
            raise ValueError(f"on_user_input must be 'hear' or 'interrupt', got {on_user_input!r}")
        store = LLMSettings(model="asyncthink", system_instruction=None, temperature=None, max_tokens=None,
                            top_p=None, top_k=None, frequency_penalty=None, presence_penalty=None, seed=None,
                            filter_incomplete_user_turns=False, user_turn_completion_config=None, extra={})
        if settings is not None:
            store.apply_update(settings)
        super().__init__(settings=store, **kwargs)
        self._url, self._api_key, self._mode = url, api_key, on_user_input
        self._session = dict(session or {})
        self._hear = {"to": hear_to, "hold": hear_hold}
        self._hold_seconds = hold_seconds
        self.response: Response | None = None  # the running (or last) response
        self._context: Any = None  # the last LLMContext (heard input that came too late is answered anew)
        self._task: asyncio.Task | None = None
        self._seen = 0  # the context messages the running response knows (given or heard)
        self._released = asyncio.Event()  # cleared while the output is held (after an interruption)
        self._released.set()
        self._expiry: asyncio.TimerHandle | None = None
        self._part_open = self._thought_open = self._first_answer = False
        self._push_lock = asyncio.Lock()
        for name in ("on_response_created", "on_heard", "on_response_done"):
            self._register_event_handler(name)

    def can_generate_metrics(self) -> bool:
        return True

    def _responding(self) -> bool:
        return self._task is not None and not self._task.done() and self.response is not None \
            and not self.response.done

    # ---- frames -------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._on_context(frame)
        elif isinstance(frame, InterruptionFrame):
            await self._on_interruption()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def _on_context(self, frame: LLMContextFrame) -> None:
        self._context = frame.context
        messages = frame.context.get_messages()
        if self._mode == "hear" and self._responding():
            await self._hear_new(messages)
            return
        if self._task is not None and not self._task.done():
            if not self._released.is_set():  # it ended while held: what it wrote predates this turn
                await self._drop_response()
            else:  # answered after the running one (it hears nothing more), as usual
                await asyncio.gather(self._task, return_exceptions=True)
        await self._open_response(messages)
        if self._mode == "interrupt":
            await asyncio.gather(self._task, return_exceptions=True)  # (an interruption cancels it)

    async def _hear_new(self, messages: list[Any]) -> None:
        """The user messages added since the running response started: heard by it; held output goes on."""
        for role, text in context_messages(messages[self._seen:]):
            if role == "user":
                await self.response.hear(text, **{k: v for k, v in self._hear.items() if v})
        self._seen = len(messages)
        if not self._released.is_set():  # the user's turn ended after an interruption: go on
            self._cancel_expiry()
            async with self._push_lock:
                await self._open_part()
            self._released.set()

    async def _open_response(self, messages: list[Any]) -> None:
        conversation = context_messages(messages)
        instruction = self._settings.system_instruction
        if isinstance(instruction, str) and instruction:
            conversation.insert(0, ("system", instruction))
        self._seen = len(messages)
        self._released.set()
        self._first_answer = False
        await self.start_processing_metrics()
        await self.start_ttfb_metrics()
        async with self._push_lock:
            await self._open_part()
        self.response = Response(conversation, url=self._url, api_key=self._api_key,
                                 settings=self._session_settings())  # (it connects in the background)
        self._task = self.create_task(self._relay(self.response), "asyncthink-response")

    def _session_settings(self) -> dict[str, Any]:
        settings = dict(self._session)
        for ours, theirs in SETTINGS.items():
            value = getattr(self._settings, ours, None)
            if is_given(value) and value is not None:
                settings.setdefault(theirs, value)
        return settings

    async def _on_interruption(self) -> None:
        if self._task is None or self._task.done():  # (one whose events are still being pushed counts)
            return
        if self._mode == "interrupt":
            await self._drop_response()
            return
        self._released.clear()  # hold what it writes until the user's turn ends
        async with self._push_lock:
            await self._close_part()
        self._cancel_expiry()
        self._expiry = asyncio.get_running_loop().call_later(
            self._hold_seconds, lambda: self.create_task(self._drop_response(), "asyncthink-expire"))

    def _cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def _drop_response(self) -> None:
        task, response = self._task, self.response
        self._task = None
        if response is not None:
            await response.close()  # the server cancels it at the engine's next step
        if task is not None and not task.done():
            await self.cancel_task(task)
        self._released.set()
        await self._end_output()

    # ---- one response ---------------------------------------------------------------------------

    async def _relay(self, response: Response) -> None:
        try:
            async for event in response.events():
                while True:  # (an interruption may hold the output between the wait and the lock)
                    await self._released.wait()
                    async with self._push_lock:
                        if self._released.is_set():
                            await self._relay_event(event)
                            break
        except RealtimeError as exc:
            await self.push_error(error_msg=f"asyncthink: {exc}", exception=exc)
        finally:
            self._cancel_expiry()
            if self._released.is_set():
                await self._end_output()
        late = response.unheard()
        if late and response.result and response.result.get("status") != "cancelled":
            # the user spoke as it ended, too late to be heard: a new response answers, as for a new turn
            known = [m for m in self._context.get_messages()[:self._seen] if not _is_user_text(m, late)]
            messages = known + [{"role": "assistant", "content": "".join(response.answer)}] + [
                {"role": "user", "content": text} for text in late]
            await self.queue_frame(LLMContextFrame(context=LLMContext(messages=messages)))

    async def _relay_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "response.created":
            await self._call_event_handler("on_response_created", event["response"]["id"])
        elif kind == "response.reasoning_text.delta":
            if not self._thought_open:
                self._thought_open = True
                await self.push_frame(LLMThoughtStartFrame())
            await self.push_frame(LLMThoughtTextFrame(text=event["delta"]))
        elif kind == "response.output_text.delta":
            if not self._first_answer:
                self._first_answer = True
                await self.stop_ttfb_metrics()
            await self._push_llm_text(event["delta"])
        elif kind == "response.asyncthink.heard":
            await self._call_event_handler("on_heard", event)
        elif kind == "error":
            logger.warning(f"{self}: asyncthink: {event.get('error', {}).get('message')}")
        elif kind == "response.done":
            usage = event["response"].get("usage") or {}
            if usage:
                await self.start_llm_usage_metrics(LLMTokenUsage(
                    prompt_tokens=usage["input_tokens"], completion_tokens=usage["output_tokens"],
                    total_tokens=usage["total_tokens"], reasoning_tokens=usage.get("thinker_tokens")))
            await self._call_event_handler("on_response_done", event["response"])

    async def _open_part(self) -> None:
        if not self._part_open:
            self._part_open, self._thought_open = True, False
            await self.push_frame(LLMFullResponseStartFrame())

    async def _close_part(self) -> None:
        if self._thought_open:
            self._thought_open = False
            await self.push_frame(LLMThoughtEndFrame())
        if self._part_open:
            self._part_open = False
            await self.push_frame(LLMFullResponseEndFrame())

    async def _end_output(self) -> None:
        async with self._push_lock:
            await self._close_part()
        await self.stop_ttfb_metrics()
        await self.stop_processing_metrics()

    # ---- lifetime -------------------------------------------------------------------------------

    async def stop(self, frame: EndFrame) -> None:
        """A graceful end: a response still running finishes first (one held is cancelled)."""
        while self._task is not None and not self._task.done() and self._released.is_set():
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_response()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        await self._drop_response()
        await super().cancel(frame)
