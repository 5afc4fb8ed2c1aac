"""Errors in OpenAI's schema: `{"error": {"message", "type", "param", "code"}}` with an HTTP status.

Every failure a client can cause is raised as an `APIError` where it is found (validation,
admission, auth, the engine refusing a session) and rendered once, by the app's exception
handler for HTTP or as an `error` event on a WebSocket. `param` names the offending field
in OpenAI's spelling (`messages[0].content`); `type` follows OpenAI's families.
"""

from __future__ import annotations

from typing import Any

# status -> OpenAI error type
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
          404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 503: "server_error"}


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type_: str | None = None, retry_after: int | None = None):
        """`retry_after`: seconds, sent as the Retry-After header (429s and 503s: when to come back)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_ or _TYPES.get(status, "invalid_request_error")
        self.headers = {"Retry-After": str(retry_after)} if retry_after is not None else None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, param: str | None = None, code: str = "invalid_value") -> APIError:
    """A 400 about one field of the request."""
    return APIError(400, message, param=param, code=code)


def shown(value: object, limit: int = 60) -> str:
    """`value` as an error message may echo it: repr'd, and cut short (a client may send megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
