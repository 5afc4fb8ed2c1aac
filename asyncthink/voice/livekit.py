"""LiveKit Agents: `LLM`, an `llm.LLM` plugin whose responses hear the user while they run.

    chat(chat_ctx) ─▶ LLMStream ─▶ a response over `/v1/realtime` (client.py) ─▶ ChatChunks: the writer as
        `delta.content` (spoken), the thinker as `delta.extra["asyncthink"]["reasoning_delta"]` (never
        spoken), heard input as `extra["asyncthink"]["heard"]`; the last chunk has the usage and
        `extra["asyncthink"]["done"]` = {response_id, status, stop_reason, reasoning (all of it), heard}
        (LiveKit keeps the last `extra` with the assistant message)
    the user speaks over the agent ─▶ LiveKit interrupts the speech and closes the stream; with
        on_user_input="hear" the response keeps running, its output held
    the user's turn ends ─▶ chat(chat_ctx + the new user message) ─▶ the new message is heard by the
        running response, and the new stream goes on with its output (not restarted); a response not
        taken up within `hold_seconds` is cancelled. "interrupt": closing the stream cancels it, and
        the next chat() starts a new response, as LiveKit's own plugins do

A message heard too late (the response ended first) is answered by a new response in the same stream.
Needs `pip install "asyncthink[livekit]"`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit.agents import APIConnectionError, APIStatusError, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr

from .client import DEFAULT_URL, RealtimeError, Response


def chat_messages(chat_ctx: llm.ChatContext) -> list[llm.ChatMessage]:
    return [m for m in chat_ctx.messages() if m.role in ("system", "developer", "user", "assistant")
            and (m.text_content or "").strip()]


@dataclass
class _Live:
    """A response with the chat messages it knows (given at the start or heard), and the stream reading it."""

    response: Response
    known: set[str]
    owner: Any = None
    expiry: asyncio.TimerHandle | None = None
    reasoning: list[str] = field(default_factory=list)


class LLM(llm.LLM):
    """asyncthink behind LiveKit Agents. `session`: asyncthink's `session.update` fields
    (`max_response_output_tokens`, `mode`, `check_every`, `listen_hold`, ...); `hear_to` / `hear_hold`:
    how heard input is placed; `on_user_input`: "hear" (the default) or "interrupt"."""

    def __init__(self, *, url: str = DEFAULT_URL, api_key: str | None = None,
                 on_user_input: Literal["hear", "interrupt"] = "hear", session: dict[str, Any] | None = None,
                 hear_to: str | None = None, hear_hold: str | None = None, hold_seconds: float = 10.0,
                 model: str = "asyncthink") -> None:
        super().__init__()
        if on_user_input not in ("hear", "interrupt"):
            raise ValueError(f"on_user_input must be 'hear' or 'interrupt', got {on_user_input!r}")
        self.url, self.api_key, self.on_user_input = url, api_key, on_user_input
        self.session = dict(session or {})
        self.hear_options = {k: v for k, v in (("to", hear_to), ("hold", hear_hold)) if v}
        self.hold_seconds = hold_seconds
        self._model = model
        self._live: _Live | None = None
        self._closing: set[asyncio.Task] = set()  # (drops in flight, kept referenced)

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "asyncthink"

    def chat(self, *, chat_ctx: llm.ChatContext, tools: list[llm.Tool] | None = None,
             conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
             parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN, tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
             extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN) -> LLMStream:
        return LLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)

    async def aclose(self) -> None:
        await self._drop()
        await super().aclose()

    # ---- the running response ---------------------------------------------------------------------

    async def _take(self, stream: LLMStream, messages: list[llm.ChatMessage]) -> _Live:
        """The running response, hearing the new user messages, when this chat continues its conversation;
        else a new one (the old one cancelled)."""
        live, ids = self._live, {m.id for m in messages}
        if (self.on_user_input == "hear" and live is not None and not live.response.done
                and live.known & ids):
            for message in messages:
                if message.id not in live.known and message.role == "user":
                    await live.response.hear(message.text_content or "", **self.hear_options)
            live.known |= ids
            if live.expiry is not None:
                live.expiry.cancel()
                live.expiry = None
            previous, live.owner = live.owner, stream
            if previous is not None and previous is not stream and not previous._task.done():
                previous._task.cancel()  # the older stream ends here; this one goes on
            return live
        await self._drop()
        conversation = [("system" if m.role == "developer" else m.role, m.text_content or "") for m in messages]
        response = Response(conversation, url=self.url, api_key=self.api_key, settings=self.session)
        self._live = _Live(response, ids, owner=stream)  # (it connects in the background: nothing to cut short)
        return self._live

    def _release(self, stream: LLMStream, live: _Live) -> None:
        """The stream stopped reading: a finished response is forgotten; a running one is kept (hear) for
        `hold_seconds`, for the next chat to take up, or cancelled (interrupt)."""
        if live.owner is not stream:
            return  # a newer stream took it up
        live.owner = None
        if live.response.done or self.on_user_input == "interrupt":
            self._drop_soon(live)
        else:
            live.expiry = asyncio.get_running_loop().call_later(self.hold_seconds, self._drop_soon, live)

    def _drop_soon(self, live: _Live) -> None:
        task = asyncio.get_running_loop().create_task(self._drop(live))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _drop(self, live: _Live | None = None) -> None:
        live = live or self._live
        if live is None:
            return
        if self._live is live:
            self._live = None
        if live.expiry is not None:
            live.expiry.cancel()
        await live.response.close()


class LLMStream(llm.LLMStream):
    async def _run(self) -> None:
        plugin: LLM = self._llm  # type: ignore[assignment]
        messages = chat_messages(self._chat_ctx)
        live = None
        try:
            live = await plugin._take(self, messages)
            while True:
                await self._relay(live)
                late = live.response.unheard()
                if not late or (live.response.result or {}).get("status") == "cancelled":
                    return
                # the user's message came as it ended, too late to be heard: a new response answers it, after
                # the answer this one gave
                said = llm.ChatMessage(role="assistant", content=["".join(live.response.answer)])
                messages = [m for m in messages if not (m.role == "user" and m.text_content in late)] + [said] + [
                    m for m in messages if m.role == "user" and m.text_content in late]
                live = await plugin._take(self, messages)
        finally:
            if live is not None:
                plugin._release(self, live)

    async def _relay(self, live: _Live) -> None:
        response = live.response
        try:
            async for event in response.events():
                kind = event["type"]
                chunk_id = response.id or "asyncthink"
                if kind == "response.output_text.delta":
                    self._event_ch.send_nowait(llm.ChatChunk(
                        id=chunk_id, delta=llm.ChoiceDelta(role="assistant", content=event["delta"])))
                elif kind == "response.reasoning_text.delta":
                    live.reasoning.append(event["delta"])
                    self._event_ch.send_nowait(llm.ChatChunk(id=chunk_id, delta=llm.ChoiceDelta(
                        role="assistant", extra={"asyncthink": {"reasoning_delta": event["delta"]}})))
                elif kind == "response.asyncthink.heard":
                    self._event_ch.send_nowait(llm.ChatChunk(id=chunk_id, delta=llm.ChoiceDelta(
                        role="assistant", extra={"asyncthink": {"heard": event}})))
                elif kind == "response.done":
                    self._event_ch.send_nowait(self._last_chunk(live, event["response"]))
        except RealtimeError as exc:
            if not exc.error:  # no answer from the server: connecting again may work
                raise APIConnectionError(str(exc)) from exc
            raise APIStatusError(str(exc), status_code=400, body=exc.error, retryable=False) from exc

    @staticmethod
    def _last_chunk(live: _Live, result: dict[str, Any]) -> llm.ChatChunk:
        usage = result.get("usage") or {}
        summary = {"response_id": result.get("id"), "reasoning": "".join(live.reasoning),
                   "heard": live.response.heard, "status": result.get("status"),
                   "stop_reason": (result.get("asyncthink") or {}).get("stop_reason")}
        return llm.ChatChunk(
            id=result.get("id") or "asyncthink",
            delta=llm.ChoiceDelta(role="assistant", extra={"asyncthink": {"done": summary}}),
            usage=llm.CompletionUsage(completion_tokens=usage.get("output_tokens", 0),
                                      prompt_tokens=usage.get("input_tokens", 0),
                                      reasoning_tokens=usage.get("thinker_tokens", 0),
                                      total_tokens=usage.get("total_tokens", 0)) if usage else None)
