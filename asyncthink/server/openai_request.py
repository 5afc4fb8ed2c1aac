"""Validation of `POST /v1/chat/completions` bodies: raw JSON -> a checked `ChatRequest`.

    body bytes ─▶ parse_json (UTF-8, no NaN, bounded nesting, no lone surrogate in any string) ─▶ ChatRequest (pydantic, strict types,
    unknown fields refused) ─▶ start_kwargs() for Engine.submit + render_conversation() for the problem

Every failure is a 400 in OpenAI's error schema whose `param` names the field in OpenAI's
spelling (`messages[0].content`, `stream_options.include_usage`). Limits that depend on the
model (context length, KV pool) are checked later, at admission (completions.py).

Parameters: the usual OpenAI ones (below) plus asyncthink extensions, documented in the
README: `mode`, `layout`, `check_every`, `max_steps`, `max_thinker_tokens`, `max_writer_tokens`,
`top_k`, `reasoning_field`; vLLM's `chat_template_kwargs.enable_thinking` (false: mode no_think).
`max_completion_tokens` (or the older `max_tokens`) caps the completion tokens as OpenAI counts
them: the thinker's and the writer's together (the session's `max_tokens`); `max_steps` caps the
session's forward steps (the library's `budget`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..sampling import SamplingParams
from .errors import APIError, invalid
from .prompts import render_conversation

MODES = ("async", "think", "no_think")
REASONING_FIELDS = ("reasoning", "reasoning_content", "both", "none")
MAX_STOP_SEQUENCES = 4
MAX_MESSAGES = 2048  # validating and rendering is work on the event loop: bounded, like the body's bytes


class _Strict(BaseModel):
    # strict: "0.5" is not a number and true is not an integer; unknown fields are refused, as OpenAI does
    model_config = ConfigDict(extra="forbid", strict=True)


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    # what OpenAI's and vLLM's clients send back with an assistant message they received
    # (`messages.append(response.choices[0].message)`): accepted, and nothing of it is rendered;
    # an earlier turn's reasoning is dropped, as chat templates do
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # null or []: no tools are offered
    function_call: None = None
    audio: None = None
    annotations: list[dict[str, Any]] | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    asyncthink: dict[str, Any] | None = None  # this server's own extension, in its responses

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatTemplateKwargs(_Strict):
    """vLLM's `chat_template_kwargs`; of these only `enable_thinking` (Qwen3's) means anything here."""

    enable_thinking: bool | None = None


class ChatRequest(_Strict):
    model: str
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)  # torch.Generator's range
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=1)
    # accepted for compatibility, with the only values this server honours
    frequency_penalty: float | None = Field(None, ge=0, le=0)
    presence_penalty: float | None = Field(None, ge=0, le=0)
    logprobs: Literal[False] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    reasoning_effort: str | None = None
    # asyncthink extensions
    mode: Literal[MODES] | None = None
    layout: Literal["independent", "interleaved"] | None = None
    check_every: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    max_thinker_tokens: int | None = Field(None, ge=1)
    max_writer_tokens: int | None = Field(None, ge=1)
    top_k: int | None = Field(None, ge=0)
    reasoning_field: Literal[REASONING_FIELDS] | None = None
    chat_template_kwargs: ChatTemplateKwargs | None = None  # enable_thinking false = mode no_think

    @property
    def tokens_param(self) -> str:
        """The field that sets the completion-token cap, as the request spells it."""
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"

    def stop_sequences(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def problem(self) -> str:
        return render_conversation([(m.role, m.text()) for m in self.messages])

    def start_kwargs(self, default_max_tokens: int) -> dict[str, Any]:
        """Engine.submit options; sampling defaults to greedy (temperature 0), as the library does.
        `max_tokens` caps both streams' tokens together; the step budget is the library's default for
        it (enough steps to write them all) unless `max_steps` sets it."""
        kwargs = {"max_tokens": self.max_completion_tokens or self.max_tokens or default_max_tokens,
                  "sampling": SamplingParams(temperature=self.temperature or 0.0, top_p=self.top_p or 1.0,
                                             top_k=self.top_k or 0, seed=self.seed)}
        for option in ("mode", "layout", "check_every", "max_thinker_tokens", "max_writer_tokens"):
            if getattr(self, option) is not None:
                kwargs[option] = getattr(self, option)
        if self.max_steps is not None:
            kwargs["budget"] = self.max_steps
        if self.chat_template_kwargs is not None and self.chat_template_kwargs.enable_thinking is False:
            kwargs["mode"] = "no_think"
        return kwargs


def parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(f"the request body is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON",
                      code="invalid_json") from None
    if not text.strip():
        raise invalid("the request body is empty; send a JSON object", code="invalid_json")

    def no_constants(name: str):
        raise ValueError(f"{name} is not valid JSON")

    try:
        value = json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise invalid("the request body is nested too deeply", code="invalid_json") from None
    except ValueError as exc:
        raise invalid(f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    """JSON escapes can spell lone surrogates (\\ud800) in any string, which nothing downstream can
    encode (a tokenizer, a JSON reply echoing it): every key and string is checked here, once."""
    stack = [(value, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, path, f"a field name in '{path}'" if path else "a field name")
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


def _check_text(text: str, param: str, what: str | None = None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        what = what or (f"'{param}'" if param else "the body")
        raise invalid(f"{what} contains an unpaired surrogate (not valid Unicode); send UTF-8 text",
                      param or None, code="invalid_unicode") from None


def field_name(loc: tuple) -> str:
    """pydantic's ('messages', 0, 'content', 'str') -> OpenAI's 'messages[0].content'."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part in ("str", "float", "int", "bool") or "[" in part or part.startswith(("literal", "function")):
            continue  # a union-branch label pydantic adds after the field itself
        else:
            name += f".{part}" if name else str(part)
    return name


def describe_validation_error(exc: ValidationError, prefix: str = "") -> APIError:
    """The 400 for a pydantic error, naming the field (under `prefix`, e.g. 'session')."""
    # union fields report one error per branch; the most specific (deepest) is the useful one
    error = max(exc.errors(include_url=False), key=lambda e: len(e["loc"]))
    param = ".".join(filter(None, [prefix, field_name(error["loc"])])) or None
    kind = error["type"]
    if kind == "missing":
        return invalid(f"Missing required parameter: '{param}'.", param, code="missing_required_parameter")
    if kind == "extra_forbidden":
        return invalid(f"Unrecognized request argument supplied: {param}", param, code="unknown_parameter")
    if kind == "too_short" and param == "messages":
        return invalid("'messages' must contain at least one message.", param, code="empty_array")
    return invalid(f"Invalid value for '{param}': {error['msg']}.", param,
                   code="invalid_type" if kind.endswith("_type") or kind == "model_type" else "invalid_value")


def validate_chat_request(payload: Any) -> ChatRequest:
    if not isinstance(payload, dict):
        raise invalid(f"the request body must be a JSON object, got {type(payload).__name__}", code="invalid_type")
    try:
        request = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        raise describe_validation_error(exc) from None
    stops = request.stop_sequences()
    if len(stops) > MAX_STOP_SEQUENCES:
        raise invalid(f"'stop' takes at most {MAX_STOP_SEQUENCES} sequences, got {len(stops)}", "stop")
    if any(not s for s in stops):
        raise invalid("'stop' sequences must be non-empty strings", "stop")
    if request.stream_options is not None and not request.stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if request.mode not in (None, "async") and request.layout is not None:
        raise invalid(f"'layout' applies to mode 'async' only, not {request.mode!r}", "layout")
    thinking = request.chat_template_kwargs.enable_thinking if request.chat_template_kwargs else None
    if thinking is not None and request.mode is not None and thinking != (request.mode != "no_think"):
        raise invalid(f"'chat_template_kwargs.enable_thinking' is {str(thinking).lower()} but 'mode' is "
                      f"{request.mode!r}; send one of them", "chat_template_kwargs.enable_thinking")
    if thinking is False and request.layout is not None:
        raise invalid("'layout' applies to mode 'async' only, not with thinking disabled", "layout")
    for i, message in enumerate(request.messages):
        if message.tool_calls:
            raise invalid("this server offers no tools, so no message can carry 'tool_calls'; send null or []",
                          f"messages[{i}].tool_calls", code="invalid_value")
        if message.role != "assistant":
            for field in ("refusal", "tool_calls", "function_call", "audio", "annotations", "reasoning",
                          "reasoning_content", "asyncthink"):
                if field in message.model_fields_set:
                    raise invalid(f"'{field}' belongs to assistant messages, not to a {message.role!r} one",
                                  f"messages[{i}].{field}", code="unknown_parameter")
    return request
