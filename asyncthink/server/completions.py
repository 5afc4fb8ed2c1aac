"""`POST /v1/chat/completions` (streaming and not) and the input extension.

    body (size-limited) ─▶ validate (openai_request.py) ─▶ ServerState.open_session (admission)
        ─▶ session_events (state.py) ─▶ CompletionRun.deltas (openai_response.py)
        ─▶ SSE `data: {chunk}` frames ... `data: [DONE]`, or one chat.completion JSON

A client that goes away is noticed by Starlette (it listens for `http.disconnect` while
streaming and cancels the stream), or, when not streaming, by a watcher on the request; in
both cases the session is cancelled, so the engine stops it at its next step and frees its
KV blocks. `POST /v1/chat/completions/{id}/input` hears new user input into a completion that
is still running (`session.listen`); the stream then carries `delta.asyncthink.heard`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.background import BackgroundTask

from ..listening import HOLDS, TARGETS
from .errors import APIError, invalid, shown
from .openai_request import describe_validation_error, parse_json, validate_chat_request
from .openai_response import CompletionRun
from .state import OpenedSession, ServerState, session_events


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past `limit` bytes: by Content-Length before reading, else while reading."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"the request body is {declared} bytes, more than this server's limit of {limit} bytes",
                       code="request_too_large")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise APIError(413, f"the request body is more than this server's limit of {limit} bytes",
                           code="request_too_large")
    return bytes(body)


def check_model(state: ServerState, model: str, param: str = "model") -> None:
    if model != state.config.model_name:
        raise APIError(404, f"The model {shown(model)} does not exist; this server serves `{state.config.model_name}`.",
                       param=param, code="model_not_found")


async def chat_completions(request: Request, state: ServerState):
    payload = parse_json(await read_body(request, state.config.max_body_bytes))
    chat = validate_chat_request(payload)
    check_model(state, chat.model)
    opened = await _open_unless_gone(request, state.open_session(
        chat.problem(), chat.start_kwargs(state.config.default_max_tokens), chat.tokens_param))
    if opened is None:  # the client left while waiting for room: nothing was started, nobody to answer
        return Response(status_code=499)
    run = CompletionRun(opened.session, completion_id=f"chatcmpl-{uuid.uuid4().hex}", model=chat.model,
                        prompt_tokens=opened.prompt_tokens, reasoning_field=chat.reasoning_field or state.config.reasoning_field,
                        stops=chat.stop_sequences(), queue_time=opened.queue_time)
    state.running[run.id] = run.session
    if chat.stream:
        include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
        # the background task also runs when the client left before the stream's first frame
        return StreamingResponse(_sse(state, run, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                                 background=BackgroundTask(_close, state, run))
    try:
        return JSONResponse(await _until_done_or_gone(request, state, run))
    finally:
        _close(state, run)


def _close(state: ServerState, run: CompletionRun) -> None:
    run.session.cancel()  # no effect on a finished session; stops one whose client left
    state.running.pop(run.id, None)


def _frame(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def _sse(state: ServerState, run: CompletionRun, include_usage: bool) -> AsyncIterator[str]:
    try:
        yield _frame(run.chunk({"role": "assistant", "content": ""}, with_usage=include_usage))
        async for event in session_events(state, run.session):
            for delta in run.deltas(event):
                yield _frame(run.chunk(delta, with_usage=include_usage))
        yield _frame(run.final_chunk(include_usage))
        if include_usage:
            yield _frame(run.usage_chunk())
    except APIError as exc:  # the engine failed mid-stream: the status line is gone, so say it in the stream
        yield _frame(exc.body())
    finally:  # also on cancellation, when the client disconnected
        _close(state, run)
    yield "data: [DONE]\n\n"


async def _collect(state: ServerState, run: CompletionRun) -> dict[str, Any]:
    async for event in session_events(state, run.session):
        run.deltas(event)
    return run.response()


async def _until_done_or_gone(request: Request, state: ServerState, run: CompletionRun) -> dict[str, Any]:
    collect = asyncio.ensure_future(_collect(state, run))
    if not await _finished_before_disconnect(request, collect):
        run.session.cancel()  # nobody is left to answer; the engine frees it at its next step
    return await collect


async def _open_unless_gone(request: Request, opening: Awaitable[OpenedSession]) -> OpenedSession | None:
    """Admission, abandoned (its queue place given up, a session it still started cancelled) when
    the client disconnects while waiting for room."""
    task = asyncio.ensure_future(opening)
    if await _finished_before_disconnect(request, task):
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


async def _finished_before_disconnect(request: Request, task: asyncio.Future) -> bool:
    """Wait for `task` or the client's disconnect, whichever comes first; True if the task finished."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        return task.done()
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class InputRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(min_length=1)
    to: str | None = None
    hold: str | None = None


async def hear_input(request: Request, state: ServerState, completion_id: str) -> dict[str, Any]:
    """`POST /v1/chat/completions/{id}/input` {"text", "to"?, "hold"?}: hear it into a running completion."""
    payload = parse_json(await read_body(request, state.config.max_body_bytes))
    if not isinstance(payload, dict):
        raise invalid("the request body must be a JSON object", code="invalid_type")
    try:
        heard = InputRequest.model_validate(payload)
    except ValidationError as exc:
        raise describe_validation_error(exc) from None
    for param, value, allowed in (("to", heard.to, TARGETS), ("hold", heard.hold, HOLDS)):
        if value is not None and value not in allowed:
            raise invalid(f"'{param}' must be one of {', '.join(allowed)}, got {shown(value)}", param)
    session = state.running.get(completion_id)
    if session is None:
        raise APIError(404, f"no running completion with id {shown(completion_id)} (it may have finished)",
                       param="completion_id", code="completion_not_found")
    await state.hear(session, heard.text, heard.to, heard.hold, "text")
    return {"object": "chat.completion.input", "id": completion_id, "queued": True}
