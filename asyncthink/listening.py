"""Input heard while a session runs: a thread-safe queue and the rules for releasing it.

`Session.listen()` may be called from any thread at any time; it only tokenizes, checks
room and enqueues. The session's next step takes the ready items, oldest first, and
feeds them in the same forward pass as the streams' decode rows:

    to="thinker"  the text, wrapped in the layout's heard marker, goes into the thoughts
                  right after the thinker's last token (only the new tokens are computed)
    to="input"    the text is appended to the shared input block inside the user's turn,
                  so every stream's view holds the amended request from then on
    to="both"     both of the above

An item aimed at the thinker may be held until the thinker's text reaches a boundary
(hold="sentence" or "paragraph"), at most `max_hold` thinker tokens, so input does not
cut a word in half. An item that is not ready holds back the ones behind it: order is
always preserved.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TARGETS = ("thinker", "input", "both")
HOLDS = ("none", "sentence", "paragraph")
_SENTENCE_PUNCTUATION = frozenset(".!?;:")


@dataclass
class Heard:
    text: str
    to: str
    hold: str
    thinker_tokens: list[int]  # marker-wrapped ids for the thoughts ([] when not aimed there)
    input_tokens: list[int]  # ids for the input block (used when it goes there)
    queued_at: float  # session clock when listen() was called
    waited: int = 0  # thinker tokens emitted while it waited


def at_boundary(text: str, hold: str) -> bool:
    """Whether `text` ends at a boundary: for "sentence", a newline or one of .!?;: followed only
    by whitespace. Reads the tail only (called on the whole thoughts each step an item waits)."""
    if hold == "none" or not text:
        return True
    if hold == "paragraph":
        return text.endswith("\n\n")
    if text.endswith("\n"):
        return True
    end = len(text)
    while end and text[end - 1].isspace():
        end -= 1
    return end > 0 and text[end - 1] in _SENTENCE_PUNCTUATION


class Inbox:
    def __init__(self):
        self._items: deque[Heard] = deque()
        self._lock = threading.Lock()

    def put(self, item: Heard) -> None:
        with self._lock:
            self._items.append(item)

    def take_ready(self, ready: Callable[[Heard], bool]) -> list[Heard]:
        """Pop items from the front while they are ready (later ones wait behind)."""
        out = []
        with self._lock:
            while self._items and ready(self._items[0]):
                out.append(self._items.popleft())
        return out

    def tick(self) -> None:
        """One more thinker token went by."""
        with self._lock:
            for item in self._items:
                item.waited += 1

    def drain(self) -> list[Heard]:
        with self._lock:
            items, self._items = list(self._items), deque()
            return items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
