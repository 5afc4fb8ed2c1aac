"""One asyncthink response over the server's `/v1/realtime` WebSocket, for the voice adapters.

    Response(messages) ─▶ a task of its own: connect, session.update (settings), one
    conversation.item.create per message, response.create, then the response's events onto a queue ─▶ events()
    Response.hear(text) ─▶ conversation.item.create while it runs: heard by it (response.asyncthink.heard)

The reader runs on its own, so a consumer that stops reading (a framework that closed its stream)
leaves the response running and its events waiting: another consumer can pick them up later
(`events()` again). Framework-free: only the `websockets` package (an asyncthink dependency).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

DEFAULT_URL = "http://127.0.0.1:8000"
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
SERVER_SIDE = ("session.created", "session.updated", "conversation.item.created")  # not the response's


class RealtimeError(Exception):
    """The server refused the response (its `error` event) or the connection failed."""

    def __init__(self, message: str, error: dict[str, Any] | None = None):
        super().__init__(message)
        self.error = error or {}


def realtime_url(url: str) -> str:
    """`http://host:port` (or ws://, or a full `.../v1/realtime` URL) to the WebSocket URL."""
    url = url.rstrip("/")
    if url.startswith("http"):
        url = "ws" + url[len("http"):]
    return url if url.endswith("/v1/realtime") else url + "/v1/realtime"


def user_item(text: str, role: str = "user") -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


class Response:
    """A running response: `events()` yields its server events up to `response.done`; `hear()` adds input.

    Attributes filled as events are read: `id`, `thoughts` and `answer` (lists of deltas), `heard`
    (the heard events), `result` (the `response.done` response object), `done`; `unheard()`: the
    texts sent with `hear()` that the response ended without hearing (they came too late).
    """

    def __init__(self, messages: Iterable[tuple[str, str]], *, url: str = DEFAULT_URL, api_key: str | None = None,
                 settings: dict[str, Any] | None = None, open_timeout: float = 10):
        """Start a response to the conversation (role, text): connecting, sending it and asking for the
        response happen in the background, so nothing here waits (or can be cut short by a caller's
        cancellation). `settings`: `session.update` fields (`max_response_output_tokens`, `mode`, ...).
        Must be created inside a running event loop."""
        self.url = realtime_url(url)
        self.ws: ClientConnection | None = None
        self.id: str | None = None
        self.thoughts: list[str] = []
        self.answer: list[str] = []
        self.heard: list[dict[str, Any]] = []
        self.sent: list[str] = []  # the texts given to hear()
        self.result: dict[str, Any] | None = None
        self.done = False
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._ours: dict[str, str] = {}  # event_id -> type of the client events this sent
        self._asked = asyncio.get_running_loop().create_future()  # set once response.create is sent (or failed)
        items = [(ROLES[role], text) for role, text in messages if role in ROLES and text]
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._reader = asyncio.create_task(self._run(items, headers, settings, open_timeout),
                                           name="asyncthink-realtime")

    async def _run(self, items: list[tuple[str, str]], headers: dict[str, str], settings: dict[str, Any] | None,
                   open_timeout: float) -> None:
        try:
            try:
                self.ws = await connect(self.url, additional_headers=headers, open_timeout=open_timeout,
                                        max_size=None)
            except (OSError, TimeoutError) as exc:
                raise RealtimeError(f"could not connect to asyncthink at {self.url}: {exc}") from exc
            first = json.loads(await asyncio.wait_for(self.ws.recv(), open_timeout))  # session.created, or a refusal
            if first.get("type") == "error":
                error = first.get("error") or {}
                raise RealtimeError(error.get("message", "asyncthink refused the connection"), error)
            if settings:
                await self._send("session.update", session=settings)
            for role, text in items:
                await self._send("conversation.item.create", item=user_item(text, role))
            await self._send("response.create")
            self._asked.set_result(True)
            await self._read()
        except (RealtimeError, ConnectionClosed, TimeoutError, ValueError) as exc:
            if not isinstance(exc, RealtimeError):
                exc = RealtimeError(f"the connection to asyncthink failed: {exc!r}")
            self._queue.put_nowait(exc)
        finally:
            self.done = True
            if not self._asked.done():
                self._asked.set_result(False)
            if self.ws is not None:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def _send(self, kind: str, label: str | None = None, **fields: Any) -> str:
        event_id = f"evt_{uuid.uuid4().hex[:20]}"
        self._ours[event_id] = label or kind
        await self.ws.send(json.dumps({"type": kind, "event_id": event_id, **fields}))
        return event_id

    async def _read(self) -> None:
        async for message in self.ws:
            event = json.loads(message)
            kind = event.get("type")
            if kind in SERVER_SIDE:
                continue
            if kind == "error" and self._fatal(event):
                error = event.get("error") or {}
                raise RealtimeError(error.get("message", "asyncthink refused the request"), error)
            self._note(event)
            self._queue.put_nowait(event)
            if kind == "response.done":
                return
        raise RealtimeError("the connection to asyncthink closed before the response was done")

    def _fatal(self, event: dict[str, Any]) -> bool:
        """An error about heard input, or one that a failed response's `response.done` follows, is not."""
        sent = self._ours.get(event.get("error", {}).get("event_id") or "")
        if sent is None:
            return self.id is None  # before response.created: the response was refused (no response.done)
        return sent in ("session.update", "conversation.item.create", "response.create")

    def _note(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "response.created":
            self.id = event["response"]["id"]
        elif kind == "response.reasoning_text.delta":
            self.thoughts.append(event["delta"])
        elif kind == "response.output_text.delta":
            self.answer.append(event["delta"])
        elif kind == "response.asyncthink.heard":
            self.heard.append(event)
        elif kind == "response.done":
            self.result = event["response"]

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The events not yet read, as they come: `response.created`, `response.reasoning_text.delta`,
        `response.output_text.delta`, `response.asyncthink.state`, `response.asyncthink.heard`,
        `error` (heard input refused, or the response failed), then `response.done`. Raises
        RealtimeError when the server refused the response or the connection failed."""
        while True:
            event = await self._queue.get()
            if isinstance(event, BaseException):
                self._queue.put_nowait(event)  # (again for a later reader)
                raise event
            yield event
            if event.get("type") == "response.done":
                return

    def unheard(self) -> list[str]:
        left, late = Counter(self.sent) - Counter(event.get("text") for event in self.heard), []
        for text in reversed(self.sent):  # (heard in the order sent: the last ones are the late ones)
            if left[text] > 0:
                left[text] -= 1
                late.append(text)
        return late[::-1]

    async def hear(self, text: str, *, to: str | None = None, hold: str | None = None) -> None:
        """Send user input to the running response (heard at one of its next steps, or, when it ends
        first, listed by `unheard()`). Sent once the response was asked for, so never part of its prompt."""
        options = {k: v for k, v in (("to", to), ("hold", hold)) if v is not None}
        self.sent.append(text)
        if await asyncio.shield(self._asked) and not self.done:
            with contextlib.suppress(ConnectionClosed):  # it ended meanwhile: nothing left to hear it
                await self._send("conversation.item.create", "hear", item=user_item(text),
                                 **({"asyncthink": options} if options else {}))

    async def cancel(self) -> None:
        """Stop the response at the engine's next step (`response.done`, status cancelled, follows)."""
        if await asyncio.shield(self._asked) and not self.done:
            with contextlib.suppress(ConnectionClosed):
                await self._send("response.cancel")

    async def close(self) -> None:
        """Stop: close the connection (the server cancels a response still running), whatever its stage."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        self.done = True
