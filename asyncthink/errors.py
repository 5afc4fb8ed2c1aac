"""Errors a user can act on. Each message says what was wrong and what to do.

The CLI translates these (and only these) into one line on stderr and a non-zero exit
code; anything else escaping is a bug and keeps its traceback.
"""


class AsyncThinkError(Exception):
    """Base class for errors caused by input, configuration or environment."""


class UnsupportedModelError(AsyncThinkError):
    """The model's architecture or positional scheme cannot be placed by rotating queries."""


class ChatFormatError(AsyncThinkError):
    """The tokenizer has no known thinking chat format."""


class ModelLoadError(AsyncThinkError):
    """Weights or tokenizer could not be loaded (bad path, no network, ...)."""


class SessionError(AsyncThinkError):
    """A session was used wrongly (bad mode or layout, finished session, context overflow)."""


class ArenaFull(SessionError):
    """The KV arena has no free run for a block right now; room comes back as sessions end."""


class ContextOverflow(SessionError):
    """A stream's view could outgrow the model's context; `text_positions` of it are the input and
    the layout's own text (beyond `limit` even with no budget: the input is too long)."""

    def __init__(self, message: str, text_positions: int, limit: int):
        super().__init__(message)
        self.text_positions, self.limit = text_positions, limit
