"""Optional API key: `Authorization: Bearer <key>` on HTTP; on a WebSocket also the browser-friendly
subprotocol `openai-insecure-api-key.<key>` (what OpenAI's Realtime API accepts), since browsers
cannot set headers on a WebSocket. Failures are 401s with OpenAI's messages and codes."""

from __future__ import annotations

import hmac

from .errors import APIError

KEY_SUBPROTOCOL = "openai-insecure-api-key."


def _redacted(key: str) -> str:
    return f"{key[:3]}...{key[-4:]}" if len(key) > 8 else "***"


def check_bearer(expected: str | None, authorization: str | None, subprotocols: list[str] = ()) -> None:
    """Raise a 401 APIError unless no key is configured or the request carries the right one."""
    if expected is None:
        return
    given = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
    for protocol in subprotocols:
        if given is None and protocol.startswith(KEY_SUBPROTOCOL):
            given = protocol[len(KEY_SUBPROTOCOL):]
    if not given:
        raise APIError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                       "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", code="missing_api_key")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise APIError(401, f"Incorrect API key provided: {_redacted(given)}.", code="invalid_api_key")
