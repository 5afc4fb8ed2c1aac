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
    """The shared KV pool has no pages for a new session right now; pages come back as sessions end."""


class ArenaTooSmall(SessionError):
    """A session may come to use `needed` KV slots, more than the whole pool's `capacity`: even alone it
    could outgrow it. `fixed` of them are its texts, listening room and each block's last, partly filled
    page (needed whatever its token caps); `room` is the largest max_tokens with which it would fit
    (0: none)."""

    def __init__(self, message: str, needed: int, capacity: int, fixed: int, room: int):
        super().__init__(message)
        self.needed, self.capacity, self.fixed, self.room = needed, capacity, fixed, room


def spelled(option: str) -> str:
    """A start() option as the library spells it in messages: `budget=`."""
    return f"{option}="


class ContextOverflow(SessionError):
    """A stream's view could outgrow the model's context of `limit` positions: the `stream` view could
    reach `positions`. `text_positions` of them are the input and the layout's own text (beyond `limit`
    alone: the input is too long); `room` is the most thought and answer tokens (both streams together)
    that fit next to the texts and the listening room (<= 0: none do).

    The message names the options to change as start() spells them (`budget=`); `explain(spell)` says
    the same in another spelling (the CLI's `--budget`)."""

    def __init__(self, stream: str, positions: int, limit: int, text_positions: int, room: int):
        self.stream, self.positions, self.limit = stream, positions, limit
        self.text_positions, self.room = text_positions, room
        super().__init__(self.explain())

    def explain(self, spell=spelled) -> str:
        """The message, with options spelled by `spell(option)`; None leaves an option out (a command
        that does not have it)."""
        head = (f"the {self.stream} view could reach {self.positions} positions, beyond the model's "
                f"max_position_embeddings={self.limit}")
        listen = spell("listen_capacity")
        if self.text_positions >= self.limit or (self.room <= 0 and not listen):
            return f"{head}; shorten the input"
        if self.room <= 0:
            return f"{head}; shorten the input or lower {listen} (the room reserved for heard input)"
        caps = [name for name in map(spell, ("budget", "max_thinker_tokens", "max_writer_tokens")) if name]
        if caps and caps[0] == spell("budget"):
            caps[0] += " (the default of the per-stream caps)"
        lower = ", ".join(caps[:-1]) + (" or " if len(caps) > 1 else "") + (caps[-1] if caps else "")
        head += f"; at most {self.room} thought and answer tokens fit next to the input"
        total = spell("max_tokens")
        if total:
            return (f"{head}: set {total} to {self.room} or less (both streams together)"
                    + (f", or lower {lower}" if lower else ""))
        return f"{head}: lower {lower} until the caps of the streams in that view add up to {self.room} or less"
