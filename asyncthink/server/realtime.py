"""Duplex sessions over a WebSocket (`/v1/realtime`), with OpenAI Realtime-style event names.

    client ─▶ conversation.item.create ─▶ history (and, while a response runs, heard by it)
           ─▶ response.create ─▶ ServerState.open_session(transcript of the history) ─▶ engine
           ─▶ response.cancel ─▶ session.cancel() (stopped, KV freed at the engine's next step)
    engine ─▶ session_events (state.py) ─▶ CompletionRun.deltas ─▶ server events (below)

Client events: `session.update` {session: settings}, `conversation.item.create` {item: a
message}, `response.create` {response?: settings for this response}, `response.cancel`.
Server events: `session.created`, `session.updated`, `conversation.item.created`,
`response.created`, `response.reasoning_text.delta` (thinker), `response.output_text.delta`
(writer), `response.asyncthink.state`, `response.asyncthink.heard`, `response.done` (with
usage), `error` (OpenAI's error object plus the client's `event_id`). One response runs at a
time; bad events get an `error` event and the connection stays open. A disconnect cancels
the running response. A response waiting for KV room (between response.create and
response.created) is cancelled by response.cancel (response.done, status cancelled) and hears
the user items sent meanwhile once it runs. A response that fails (its session in the engine,
the engine, a shutdown) ends with an `error` event and response.done (status failed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import WebSocket
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ..listening import HOLDS, TARGETS
from ..sampling import SamplingParams
from ..session import ON_INPUT
from .auth import KEY_SUBPROTOCOL, check_bearer
from .errors import APIError, invalid, shown
from .openai_request import MODES, describe_validation_error, parse_json
from .openai_response import CompletionRun
from .prompts import render_conversation
from .state import ServerState, session_events

log = logging.getLogger(__name__)

STATUS = {"writer_eos": ("completed", None), "max_tokens": ("incomplete", "max_output_tokens"),
          "budget": ("incomplete", "max_output_tokens"), "writer_budget": ("incomplete", "max_output_tokens"),
          "cancelled": ("cancelled", "client_cancelled")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Settings(_Strict):
    """session.update `session` and response.create `response`: Realtime names plus asyncthink's."""

    instructions: str | None = None
    max_response_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0)
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)
    mode: Literal[MODES] | None = None
    layout: Literal["independent", "interleaved"] | None = None
    check_every: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    max_thinker_tokens: int | None = Field(None, ge=1)
    max_writer_tokens: int | None = Field(None, ge=1)
    listen_to: Literal[TARGETS] | None = None
    listen_hold: Literal[HOLDS] | None = None
    on_input: Literal[ON_INPUT] | None = None


class ContentPart(_Strict):
    type: Literal["input_text", "text", "output_text"]
    text: str


class Item(_Strict):
    type: Literal["message"] = "message"
    role: Literal["user", "system", "assistant"]
    content: list[ContentPart] = Field(min_length=1)
    id: str | None = None


class HearOptions(_Strict):
    """The `asyncthink` field of conversation.item.create: how a running response hears the item."""

    to: Literal[TARGETS] | None = None
    hold: Literal[HOLDS] | None = None


def _validated(model: type[BaseModel], value: Any, param: str) -> BaseModel:
    try:
        return model.model_validate({} if value is None else value)
    except ValidationError as exc:
        raise describe_validation_error(exc, param) from None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@dataclass
class Queued:
    """A response between response.create and response.created (waiting for KV room): a cancel ends
    it there, and user items sent meanwhile are heard by it once it runs."""

    id: str
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (text, to, hold)
    cancelled: bool = False


def _cancelled_while_queued(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "realtime.response", "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "client_cancelled"}, "output": [], "usage": None,
            "asyncthink": {"stop_reason": "cancelled", "heard": []}}


class RealtimeConnection:
    def __init__(self, websocket: WebSocket, state: ServerState):
        self.ws = websocket
        self.state = state
        self.settings = Settings()
        self.history: list[tuple[str, str]] = []
        self.task: asyncio.Task | None = None  # the running response
        self.queued: Queued | None = None  # a response.create waiting for room (admission)
        self.run: CompletionRun | None = None
        self._send_lock = asyncio.Lock()  # the reader and the response task both send

    async def serve(self) -> None:
        if not await self._accept():
            return
        await self.send("session.created", session=self._session_object())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message.get("text"), message.get("bytes"))
        except WebSocketDisconnect:
            return
        except Exception:  # a bug: this client gets a close frame (1011) saying so; nobody else is affected
            log.exception("realtime connection failed")
            await self._close(1011)
        finally:  # the client left: stop the response, whether it is waiting for room or decoding
            if self.task is not None:
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

    async def _close(self, code: int) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(code=code)
            except (RuntimeError, OSError):
                pass  # the transport is gone already

    async def _accept(self) -> bool:
        offered = list(self.ws.scope.get("subprotocols", []))
        # a browser offering its key as a subprotocol needs another of its offers echoed back
        chosen = next((p for p in offered if not p.startswith(KEY_SUBPROTOCOL)), None)
        await self.ws.accept(subprotocol=chosen)
        try:
            check_bearer(self.state.config.api_key, self.ws.headers.get("authorization"), offered)
            model = self.ws.query_params.get("model")
            if model is not None and model != self.state.config.model_name:
                raise APIError(404, f"The model {shown(model)} does not exist; this server serves "
                               f"`{self.state.config.model_name}`.", param="model", code="model_not_found")
        except APIError as exc:
            await self.send("error", error=exc.body()["error"])
            await self.ws.close(code=1008)
            return False
        return True

    # ---- client events ---------------------------------------------------------------

    async def _handle(self, text: str | None, data: bytes | None) -> None:
        event_id = None
        try:
            raw = data if text is None else text.encode("utf-8", "surrogatepass")
            if raw is not None and len(raw) > self.state.config.max_body_bytes:
                raise APIError(413, f"the message is more than this server's limit of "
                               f"{self.state.config.max_body_bytes} bytes", code="request_too_large")
            event = parse_json(raw or b"")
            if not isinstance(event, dict):
                raise invalid("a client event must be a JSON object", code="invalid_type")
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            kind = event.get("type")
            handlers = {"session.update": self._session_update, "conversation.item.create": self._item_create,
                        "response.create": self._response_create, "response.cancel": self._response_cancel}
            handler = handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise invalid(f"unknown client event type {shown(kind)}; expected session.update, "
                              "conversation.item.create, response.create or response.cancel", "type",
                              code="unknown_event")
            await handler(event)
        except APIError as exc:
            await self.send("error", error={**exc.body()["error"], "event_id": event_id})

    async def _session_update(self, event: dict) -> None:
        update = _validated(Settings, event.get("session"), "session")
        self.settings = self.settings.model_copy(update=update.model_dump(exclude_unset=True))
        await self.send("session.updated", session=self._session_object())

    async def _item_create(self, event: dict) -> None:
        item = _validated(Item, event.get("item"), "item")
        hear = _validated(HearOptions, event.get("asyncthink"), "asyncthink")
        text = "".join(part.text for part in item.content)
        to, hold = hear.to or self.settings.listen_to, hear.hold or self.settings.listen_hold
        heard_by = None
        if item.role == "user" and self._responding():
            # the extension: a running response hears it; a `response.asyncthink.heard` event follows
            await self.state.hear(self.run.session, text, to, hold, "item.content")
            heard_by = self.run.id
        elif item.role == "user" and self.queued is not None:  # heard by the response once it has room
            self.queued.items.append((text, to, hold))
            heard_by = self.queued.id
        self.history.append((item.role, text))
        await self.send("conversation.item.created",
                        item={"id": item.id or _new_id("item"), "object": "realtime.item", "type": "message",
                              "role": item.role, "content": [{"type": "input_text", "text": text}],
                              "asyncthink": {"heard_by": heard_by}})

    async def _response_create(self, event: dict) -> None:
        if self.task is not None and not self.task.done():
            raise invalid("a response is already in progress; cancel it or wait for response.done",
                          code="conversation_already_has_active_response")
        override = _validated(Settings, event.get("response"), "response")
        settings = self.settings.model_copy(update=override.model_dump(exclude_unset=True))
        messages = ([("system", settings.instructions)] if settings.instructions else []) + self.history
        problem = render_conversation(messages, "conversation")
        self.queued = Queued(_new_id("resp"))
        self.task = asyncio.create_task(self._respond(problem, settings, self.queued))

    async def _response_cancel(self, event: dict) -> None:
        if self.queued is not None:  # still waiting for room: it gives up its place (response.done follows)
            self.queued.cancelled = True
            self.task.cancel()
            return
        if not self._responding():
            raise invalid("there is no response in progress to cancel", code="response_cancel_not_active")
        self.run.session.cancel()  # response.done (status "cancelled") follows from the engine's next step

    def _responding(self) -> bool:
        return self.run is not None and not self.run.session.done

    # ---- one response ----------------------------------------------------------------

    async def _respond(self, problem: str, settings: Settings, queued: Queued) -> None:
        # max_response_output_tokens caps both streams' tokens together; max_steps (the library's budget) the steps
        options = {"max_tokens": settings.max_response_output_tokens or self.state.config.default_max_tokens,
                   "sampling": SamplingParams(temperature=settings.temperature or 0.0, top_p=settings.top_p or 1.0,
                                              top_k=settings.top_k or 0, seed=settings.seed)}
        for option in ("mode", "layout", "check_every", "max_thinker_tokens", "max_writer_tokens", "listen_to",
                       "listen_hold", "on_input"):
            if getattr(settings, option) is not None:
                options[option] = getattr(settings, option)
        if settings.max_steps is not None:
            options["budget"] = settings.max_steps
        try:
            opened = await self.state.open_session(problem, options, "max_response_output_tokens", "item.content")
        except asyncio.CancelledError:
            if not queued.cancelled:
                raise  # the connection is closing
            self.queued = None
            await self.send("response.done", response=_cancelled_while_queued(queued.id))
            return
        except APIError as exc:
            self.queued = None
            await self.send("error", error={**exc.body()["error"], "event_id": None})
            return
        self.queued = None  # (no await since admission: an item sent meanwhile is in queued.items)
        run = CompletionRun(opened.session, completion_id=queued.id, model=self.state.config.model_name,
                            prompt_tokens=opened.prompt_tokens, reasoning_field="reasoning", stops=[],
                            queue_time=opened.queue_time)
        self.run = run
        try:
            await self.send("response.created", response={"id": run.id, "object": "realtime.response",
                                                          "status": "in_progress", "output": []})
            for text, to, hold in queued.items:  # user items sent while it waited for room
                try:
                    await self.state.hear(run.session, text, to, hold, "item.content")
                except APIError as exc:
                    await self.send("error", error={**exc.body()["error"], "event_id": None})
            async for event in session_events(self.state, run.session):
                for delta in run.deltas(event):
                    await self._send_delta(run.id, delta)
            self.history.append(("assistant", "".join(run.answer)))
            await self.send("response.done", response=self._response_object(run))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client left mid-response: nobody to tell
        except APIError as exc:  # the session or the engine failed, or the server is shutting down
            error = exc.body()["error"]
            await self.send("error", error={**error, "event_id": None})
            await self.send("response.done", response={**self._response_object(run), "status": "failed",
                                                       "status_details": {"type": "failed", "error": error}})
        finally:
            run.session.cancel()

    async def _send_delta(self, response_id: str, delta: dict) -> None:
        if "reasoning" in delta:
            await self.send("response.reasoning_text.delta", response_id=response_id, delta=delta["reasoning"])
        if delta.get("content"):
            await self.send("response.output_text.delta", response_id=response_id, delta=delta["content"])
        extension = delta.get("asyncthink", {})
        if "state" in extension:
            await self.send("response.asyncthink.state", response_id=response_id, **extension["state"])
        if "heard" in extension:
            await self.send("response.asyncthink.heard", response_id=response_id, **extension["heard"])

    def _response_object(self, run: CompletionRun) -> dict[str, Any]:
        status, reason = STATUS.get(run.stop_reason, ("completed", None))
        usage = run.usage()
        return {"id": run.id, "object": "realtime.response", "status": status,
                "status_details": {"type": status, "reason": reason} if reason else None,
                "output": [{"type": "reasoning", "text": "".join(run.thoughts)},
                           {"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": "".join(run.answer)}]}],
                "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                          "total_tokens": usage["total_tokens"],
                          "output_token_details": {"reasoning_tokens": usage["thinker_tokens"]},
                          **{k: usage[k] for k in ("thinker_tokens", "writer_tokens", "time_to_first_writer_token",
                                                   "queue_time", "steps")}},
                "asyncthink": {"stop_reason": run.stop_reason, "heard": run.heard}}

    def _session_object(self) -> dict[str, Any]:
        return {"object": "realtime.session", "model": self.state.config.model_name, "modalities": ["text"],
                **self.settings.model_dump(exclude_none=True)}

    async def send(self, kind: str, **fields: Any) -> None:
        """Send one server event; raises WebSocketDisconnect when the connection is already closing
        (the client left, or uvicorn closed it for a bad frame: 1007, 1009) so callers just stop."""
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED:
                try:
                    await self.ws.send_text(json.dumps({"type": kind, "event_id": _new_id("event"), **fields},
                                                       ensure_ascii=False))
                except (RuntimeError, OSError) as exc:
                    raise WebSocketDisconnect(code=1006) from exc


async def realtime_endpoint(websocket: WebSocket, state: ServerState) -> None:
    await RealtimeConnection(websocket, state).serve()
