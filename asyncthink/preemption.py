"""Preemption: when the shared KV pool runs out mid-run, the newest sessions step aside.

An engine admits a session when the pool has pages for its texts (session/fitting.py admit());
its blocks then take pages as they grow. When a step needs more pages than are free, sessions
are served oldest first and the newest ones are preempted until the older ones fit:

    step ─▶ resume(): preempted sessions, oldest first, come back when the pool has pages for
    │       their tokens, the step they had prepared and the margin (FIFO: the first that does not
    │       fit stops the others); a cancelled one ends there
    ├─▶ every running session prepare()s its chunks
    └─▶ fit(): oldest first, the pages each session's chunks need are claimed; while they are not
            free, the newest running session newer than (or the same as) that one is preempted:

                keys, values of its tokens ──copy──▶ host memory  [layers, kv_heads, tokens, head_dim]
                its pages ──▶ the pool;  its block tokens and its prepared step stay with it

            and on resume the copy goes back into new pages, bit for bit (swap, not recompute:
            nothing is recomputed, so a preempted session ends with the same tokens it would have
            had alone). Older sessions are never preempted for a newer one.

A session alone in the pool always fits (fitting.py refuses one that could outgrow the whole
pool: ArenaTooSmall), so the oldest session always makes progress. Pages a preempted session
needs to come back are `promised`: newcomers are admitted only beyond them. Plain Python
bookkeeping; the copies are KVArena.take / put.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import torch

from .core.blocks import pages_for
from .core.runner import Runner
from .errors import ArenaFull
from .session import Session

log = logging.getLogger(__name__)


@dataclass
class Swapped:
    session: Session
    prepared: tuple  # (active streams, chunks): the step it had prepared, run when it resumes
    blocks: list[str]  # its arena block names, in the order of the copied slots
    keys: torch.Tensor  # [layers, kv_heads, tokens, head_dim] on the host
    values: torch.Tensor
    pages: int  # pages its tokens take when they come back


def new_tokens(chunks) -> Counter:
    """Tokens the chunks append, per block."""
    out: Counter[str] = Counter()
    for chunk in chunks:
        out[chunk.block] += len(chunk.tokens)
    return out


class Preemptions:
    def __init__(self, runner: Runner):
        self.runner = runner
        self.swapped: dict[str, Swapped] = {}  # session name -> its swapped state
        self.count = 0  # preemptions so far
        self.resumed = 0  # resumptions so far

    def holds(self, session: Session) -> bool:
        return session.name in self.swapped

    def resume(self, sessions: dict[str, Session]) -> dict[str, tuple]:
        """Bring preempted sessions back, oldest first, while they fit; returns their prepared steps by name.
        A preempted session that was cancelled ends now (stop reason "cancelled")."""
        table = self.runner.table
        out = {}
        for name in [n for n in sessions if n in self.swapped]:
            swapped = self.swapped[name]
            session = swapped.session
            if session._cancel.is_set():
                self._drop(name)
                with session._lock:
                    if not session.done:
                        session._finish("cancelled")
                continue
            growth = new_tokens(swapped.prepared[1])
            need = table.pages_needed({b: growth.get(b, 0) for b in swapped.blocks})
            running = any(n not in self.swapped for n in sessions)
            if need + (table.admit_margin if running else 0) > table.free_pages:
                break  # first come, first served: later ones wait behind it
            slots = [slot for block in swapped.blocks for slot in table.restore(block)]
            if slots:
                self.runner.arena.put(slots, swapped.keys, swapped.values)
            self._drop(name)
            self.resumed += 1
            out[name] = swapped.prepared
        return out

    def fit(self, prepared: list[tuple], sessions: dict[str, Session], fail) -> list[tuple]:
        """The prepared steps (session, active, chunks), oldest first, whose pages fit the pool once the
        newest sessions are preempted as needed; the preempted ones keep their steps for later. A session
        short of pages alone in the pool (which fitting.py's admission rules out) is `fail`ed."""
        table = self.runner.table
        order = list(sessions.values())
        kept, claimed = [], 0
        for entry in prepared:
            session, _, chunks = entry
            if self.holds(session):
                continue  # preempted below for an older session's sake
            need = table.pages_needed(dict(new_tokens(chunks)))
            while need > table.free_pages - claimed:
                victim = self._victim(order, session)
                if victim is None:  # alone in the pool and still short: fitting.py should have refused it
                    fail(session, ArenaFull(f"the KV pool of {table.pages} pages is too small for this session "
                                            "even alone; give the engine a larger capacity"), "short of KV pages")
                    break
                self._preempt(victim, next((e for e in prepared if e[0] is victim), (victim, [], [])))
                if victim is session:
                    break
            if not self.holds(session) and not session.done:
                claimed += need
                kept.append(entry)
        return kept

    def _victim(self, order: list[Session], session: Session) -> Session | None:
        """The newest running session holding pages, newer than `session`; else `session` itself, unless it
        is alone in the pool (nothing older runs: then preempting it frees nothing for anybody)."""
        newer = order[order.index(session) + 1 :]
        for candidate in reversed(newer):
            if not self.holds(candidate) and not candidate.done and self._pages(candidate):
                return candidate
        older = order[: order.index(session)]
        if any(not self.holds(s) and not s.done and self._pages(s) for s in older):
            return session
        return None

    def _pages(self, session: Session) -> int:
        table = self.runner.table
        return sum(len(table[b].pages) for b in session.block.values() if b in table.blocks)

    def _preempt(self, session: Session, entry: tuple) -> None:
        table = self.runner.table
        blocks = [b for b in session.block.values() if b in table.blocks]
        slots = [slot for b in blocks for slot in table.slots(b)]
        empty = torch.empty(0)
        keys, values = self.runner.arena.take(slots) if slots else (empty, empty)
        for b in blocks:
            table.evict(b)
        pages = sum(pages_for(table[b].length, table.page_size) for b in blocks)
        self.swapped[session.name] = Swapped(session, entry[1:], blocks, keys, values, pages)
        table.promised += pages
        self.count += 1
        log.info("session %s preempted: %d tokens (%d pages) swapped out to host memory", session.name,
                 len(slots), pages)

    def _drop(self, name: str) -> None:
        swapped = self.swapped.pop(name)
        self.runner.table.promised -= swapped.pages
