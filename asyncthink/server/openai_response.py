"""One completion's events -> OpenAI chat-completion chunks, the final response and usage.

    Event(thinker, token)   -> delta.reasoning and/or delta.reasoning_content   (request's reasoning_field)
    Event(writer, token)    -> delta.content              (after stop-sequence matching, stops.py)
    Event(control, state)   -> delta.asyncthink.state     {"state", "previous", "reason"}
    Event(input, heard)     -> delta.asyncthink.heard     {"text", "to", "tokens", "waited_tokens"}
    Event(control, done)    -> finish_reason, delta.asyncthink.stop_reason, usage

Standard clients ignore the `asyncthink` field. Token events whose text is still empty (a
character split over tokens) send nothing; their text arrives with the next token.
"""

from __future__ import annotations

import time
from typing import Any

from ..events import Event
from ..session import Session
from .stops import StopMatcher

FINISH_REASONS = {"writer_eos": "stop", "stop_sequence": "stop", "max_tokens": "length", "budget": "length",
                  "writer_budget": "length", "cancelled": "stop"}


class CompletionRun:
    """Follows one session for one chat completion; streaming and non-streaming share it."""

    def __init__(self, session: Session, *, completion_id: str, model: str, prompt_tokens: int,
                 reasoning_field: str, stops: list[str], queue_time: float):
        self.session = session
        self.id = completion_id
        self.model = model
        self.created = int(time.time())
        self.prompt_tokens = prompt_tokens
        self.reasoning_field = reasoning_field
        self.queue_time = queue_time
        self.matcher = StopMatcher(stops)
        self.answer: list[str] = []
        self.thoughts: list[str] = []
        self.states: list[dict[str, Any]] = []
        self.heard: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] | None = None
        self.stop_reason: str | None = None

    @property
    def finish_reason(self) -> str | None:
        if self.stop_reason is None:
            return None
        return FINISH_REASONS.get(self.stop_reason, "stop")

    def deltas(self, event: Event) -> list[dict[str, Any]]:
        """The chunk deltas this event produces (often none)."""
        if event.kind == "token":
            if self.matcher.stopped or not event.text:
                return []  # after a stop sequence the response is over; the session ends at its next step
            if event.stream == "thinker":
                self.thoughts.append(event.text)
                return [self._reasoning(event.text)] if self.reasoning_field != "none" else []
            text = self.matcher.feed(event.text)
            if self.matcher.stopped:
                self.session.cancel()
            if text:
                self.answer.append(text)
            return [{"content": text}] if text else []
        if event.kind == "state":
            state = {"state": event.text, "previous": event.data.get("previous"), "reason": event.data.get("reason")}
            self.states.append(state)
            return [{"asyncthink": {"state": state}}]
        if event.kind == "heard":
            heard = {"text": event.text, "to": event.data.get("to"), "tokens": event.data.get("tokens"),
                     "waited_tokens": event.data.get("waited_tokens")}
            self.heard.append(heard)
            return [{"asyncthink": {"heard": heard}}]
        if event.kind == "done":
            # a stop sequence ends the answer by cancelling the session: that is why it stopped, not a cancel
            self.metrics, self.stop_reason = event.data, "stop_sequence" if self.matcher.stopped else event.text
            tail = self.matcher.flush()
            if tail:
                self.answer.append(tail)
            return [{"content": tail}] if tail else []
        return []  # control decisions are internal

    def _reasoning(self, text: str) -> dict[str, str]:
        fields = ("reasoning", "reasoning_content") if self.reasoning_field == "both" else (self.reasoning_field,)
        return dict.fromkeys(fields, text)

    # ---- OpenAI objects ---------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        m = self.metrics or {}
        thinker, writer = m.get("thinker_tokens", 0), m.get("writer_tokens", 0)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": thinker + writer,
                "total_tokens": self.prompt_tokens + thinker + writer,
                "completion_tokens_details": {"reasoning_tokens": thinker},
                # asyncthink extensions
                "thinker_tokens": thinker, "writer_tokens": writer,
                "time_to_first_writer_token": m.get("time_to_first_writer_token"),
                "queue_time": round(self.queue_time, 6), "steps": m.get("steps", 0)}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, with_usage: bool = False) -> dict[str, Any]:
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                 "system_fingerprint": None,
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if with_usage:
            chunk["usage"] = None  # OpenAI: null on every chunk but the last when include_usage is set
        return chunk

    def final_chunk(self, with_usage: bool) -> dict[str, Any]:
        return self.chunk({"asyncthink": {"stop_reason": self.stop_reason}}, self.finish_reason, with_usage)

    def usage_chunk(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "system_fingerprint": None, "choices": [], "usage": self.usage()}

    def response(self) -> dict[str, Any]:
        thoughts = "".join(self.thoughts)
        message = {"role": "assistant", "content": "".join(self.answer), "refusal": None}
        if self.reasoning_field != "none":
            message.update(self._reasoning(thoughts))
        message["asyncthink"] = {"stop_reason": self.stop_reason, "states": self.states, "heard": self.heard}
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}],
                "usage": self.usage()}
