"""A session: one problem decoded by a thinker and a writer over one shared block cache.

States (DESIGN.md section 2):

    thinker_only ──control "yes"──▶ thinker_and_writer
        ▲  ◀── writer paragraph end / control "no" / heard input ──┘
        │
        └─ thinker writes </think> or fills its budget ─▶ writer_only ─▶ done
                                                          (writer end-of-turn, writer
                                                           budget, step budget, max_tokens
                                                           of both streams, cancel)

Every step is one packed forward pass: the thinker's next token, the writer's next
token (when active) and, when due, the control question's cue in the scratch block. The
control question is due every `check_every` thinker tokens and after each thinker
paragraph end; its answer takes effect from the next step. A sampled token is emitted
as an event at once and fed to the cache on the stream's next step.

A step has three phases — prepare() (which chunks to feed), pick() (device-side token
choices), consume() (events and state changes from the host copies) — so an Engine can
pack many sessions into one forward pass; step() runs them for a session on its own.

This module holds the setup, the public surface and the step's phases; the seams are
mixins in their own modules: feeding.py (what each stream feeds), intake.py (heard input),
transitions.py (what follows from the sampled tokens), options.py (checks). Plain Python:
tensor work lives in core/ (runner, attention) and sampling.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import torch

from ..core.blocks import DEFAULT_PAGE_SIZE
from ..core.plan import Chunk
from ..core.runner import Runner
from ..detokenize import Detokenizer
from ..errors import SessionError
from ..events import Event, Metrics, Result
from ..layout import CONTROL, SAFETY, THINKER, WRITER, Layout
from ..listening import Inbox
from ..sampling import SamplingParams, StreamSampler, YesNoReader, forbidden_ids
from .feeding import Feeding
from .fitting import admit, check_room
from .intake import Intake
from .options import check_listen_args, check_options
from .transitions import Transitions


class Session(Feeding, Intake, Transitions):
    def __init__(
        self,
        reasoner,
        problem: str,
        layout: Layout,
        *,
        budget: int,
        max_tokens: int | None = None,
        max_thinker_tokens: int,
        max_writer_tokens: int,
        check_every: int = 20,
        thinker: SamplingParams,
        writer: SamplingParams,
        listen_capacity: int = 256,
        listen_to: str = "thinker",
        listen_hold: str = "sentence",
        max_hold: int = 32,
        on_input: str = "pause_writer",
        cache_question: bool = True,
        hold_writer_steps: int = 0,
        safety_check_every: int = 0,
        entropy_pause: float | None = None,
        prefill_chunk: int | None = None,
        naive_attention: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        runner: Runner | None = None,
        name: str = "",
    ):
        """`budget`: forward steps; `max_tokens`: thinker and writer tokens together (None: no cap but
        the per-stream caps and the budget), exact even when both streams write in the same step: when
        one token of room is left for two, the writer's is kept and the thinker's dropped (stop reason
        "max_tokens"). The streams' blocks hold no more than `max_tokens` positions each, and a view
        holding both counts at most `max_tokens` of them against the model's context.

        `cache_question`: the control question's text is computed at the first check and reused
        (shifted) afterwards, so a check recomputes only the short cue (layout.py); False recomputes
        the whole question at every check, so every question token sees the current context.

        Safety controls (off by default): `hold_writer_steps` keeps the writer silent for the first
        N steps (a "yes" before then is overruled, reason "hold"); `safety_check_every` asks, every N
        writer tokens, whether the answer so far is safe, and a "no" pauses the writer (ends the
        session, stop reason "unsafe", once thinking is over); `entropy_pause` pauses the writer
        whenever the thinker's next-token entropy (nats) exceeds it.

        `prefill_chunk`: feed the prompt at most this many tokens per pass (chunked prefill), so a
        long prompt does not stall the other sessions of an engine for one long pass.

        With `runner`, the session's blocks are allocated (as "<name>/<block>") in that shared
        runner's pool and an engine drives it (engine.py); otherwise it owns a runner whose pool (pages
        of `page_size` slots) holds all its blocks full."""
        check_options(problem, layout, budget=budget, max_tokens=max_tokens, max_thinker_tokens=max_thinker_tokens,
                      max_writer_tokens=max_writer_tokens, check_every=check_every, listen_capacity=listen_capacity,
                      hold_writer_steps=hold_writer_steps, safety_check_every=safety_check_every,
                      prefill_chunk=prefill_chunk, entropy_pause=entropy_pause, on_input=on_input)
        self.listen_to, self.listen_hold = check_listen_args(listen_to, listen_hold)
        self.max_hold, self.on_input, self.listen_capacity = max_hold, on_input, listen_capacity
        self.max_thinker_tokens, self.max_writer_tokens = max_thinker_tokens, max_writer_tokens
        tok, fmt = reasoner.tokenizer, reasoner.chat_format
        self.layout = layout
        self.tokenizer = tok
        self.budget, self.max_tokens, self.check_every = budget, max_tokens, check_every
        self.block_ids = {n: tok.encode(t, add_special_tokens=False) for n, t in layout.texts(problem, fmt).items()}
        self.cue_ids = tok.encode(layout.cue(fmt), add_special_tokens=False)
        self.cache_question = cache_question
        self.hold_writer_steps, self.safety_check_every, self.entropy_pause = (
            hold_writer_steps, safety_check_every, entropy_pause)
        capacities = check_room(layout, {n: len(ids) for n, ids in self.block_ids.items()}, len(self.cue_ids),
                                max_thinker_tokens, max_writer_tokens, listen_capacity, max_tokens,
                                getattr(reasoner.model.config, "max_position_embeddings", None),
                                None if runner is None else runner.table)
        self.shared = runner is not None
        prefix = f"{name}/" if self.shared else ""
        self.name = name
        self.block = {b: prefix + b for b in self.block_ids}  # layout name -> arena block name
        self.views = {s: tuple(self.block[b] for b in v) for s, v in layout.views.items()}
        self.writes = {s: self.block[b] for s, b in layout.writes.items()}
        if self.shared:
            admit(runner.table, {self.block[b]: size for b, size in capacities.items()},
                    {self.block[b]: len(ids) for b, ids in self.block_ids.items()})
            self.runner = runner
        else:
            if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
                raise SessionError(f"page_size must be a positive number of KV slots, got {page_size!r}")
            self.runner = Runner(reasoner.model, capacities, naive_attention=naive_attention, decode=reasoner.decode,
                                 page_size=page_size)
        self._final_blocks: dict[str, list[int]] | None = None  # kept when shared blocks are freed

        device, vocab = self.runner.device, reasoner.model.config.vocab_size
        sampler = lambda params, stream: StreamSampler(
            params, forbidden_ids(tok, fmt, stream), vocab, len(tok), device)
        self.samplers = {THINKER: sampler(thinker, THINKER), WRITER: sampler(writer, WRITER)}
        self.yes_no = YesNoReader(tok, device) if layout.asks_control else None
        self.is_safe = self.yes_no  # reads the safety question's answer (a seam for another judge)
        self.think_close_id = tok.convert_tokens_to_ids(fmt.think_tokens[1])
        self.end_ids = {tok.convert_tokens_to_ids(t) for t in fmt.end_tokens}

        self.state = "thinker_only" if layout.first_stream == THINKER else "writer_only"
        self.stop_reason: str | None = None
        self.unfed = [n for n, ids in self.block_ids.items() if ids]
        self._fed: dict[str, int] = {}  # initial tokens already fed of a block being prefilled in chunks
        self.prefill_chunk = prefill_chunk
        self._prefill_room: int | None = None
        self.prompt_rows = 0  # prompt tokens fed by the last prepare() (chunked prefill accounting)
        self.started: set[str] = set()
        self.pending: dict[str, int] = {}
        self.detok = {THINKER: Detokenizer(tok), WRITER: Detokenizer(tok)}
        self.tokens: dict[str, list[int]] = {THINKER: [], WRITER: []}
        self.steps = 0
        self.control_checks = 0
        self.safety_checks = 0
        self._since_check = 0
        self._check_due = False
        self._since_safety = 0  # writer tokens since the last safety check
        self._events: list[Event] = []
        self._inbox = Inbox()
        self._listen_lock = threading.Lock()  # guards _listen_used and _closed against listen()
        self._listen_used = {"thinker": 0, "input": 0}
        self._closed = False
        self._thinker_heard: list[int] = []  # heard ids to feed after the thinker's pending token
        self._lock = threading.RLock()
        self._new_events = threading.Condition(self._lock)
        self._cancel = threading.Event()
        self._t0: float | None = None

    # ---- public surface -------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def events(self) -> list[Event]:
        return list(self._events)

    def view(self, stream: str) -> list[int]:
        """Token ids the stream currently reads (its cached context), in order."""
        if stream not in self.layout.views:
            raise SessionError(f"no stream {stream!r} in layout {self.layout.name!r}; streams: {list(self.layout.views)}")
        with self._lock:
            if self._final_blocks is not None:
                return [t for b in self.views[stream] for t in self._final_blocks[b]]
            return self.runner.table.view_tokens(self.views[stream])

    def cancel(self) -> None:
        """Thread-safe; the session stops at its next step with stop reason 'cancelled'."""
        self._cancel.set()


    def __iter__(self) -> Iterator[Event]:
        """Events until done. A session of an engine running in the background (Engine.start)
        is stepped by the engine: iterating then waits for the events the engine produces."""
        if self.shared:
            seen = 0
            while events := self._wait_events(seen):
                seen += len(events)
                yield from events
            return
        while not self.done:
            yield from self.step()

    async def astream(self) -> AsyncIterator[Event]:
        """Async iteration; steps (or waits for the engine) in a worker thread so the event loop stays free."""
        if self.shared:
            seen = 0
            while events := await asyncio.to_thread(self._wait_events, seen):
                seen += len(events)
                for event in events:
                    yield event
            return
        while not self.done:
            for event in await asyncio.to_thread(self.step):
                yield event

    def _wait_events(self, seen: int) -> list[Event]:
        """Events after the first `seen`, waiting for at least one; [] once done and all were seen."""
        with self._new_events:
            self._new_events.wait_for(lambda: len(self._events) > seen or self.done)
            return self._events[seen:]

    def result(self) -> Result:
        for _ in self:
            pass
        return Result(self.detok[WRITER].text, self.detok[THINKER].text, self.events, self.metrics())

    def metrics(self) -> Metrics:
        first = next((e for e in self._events if e.stream == WRITER and e.kind == "token"), None)
        return Metrics(
            stop_reason=self.stop_reason or "running",
            total_time=self._now(),
            steps=self.steps,
            thinker_tokens=len(self.tokens[THINKER]),
            writer_tokens=len(self.tokens[WRITER]),
            control_checks=self.control_checks,
            safety_checks=self.safety_checks,
            time_to_first_writer_token=first.time if first else None,
            steps_to_first_writer_token=first.step if first else None,
        )

    # ---- one step -----------------------------------------------------------------

    def step(self) -> list[Event]:
        """Advance one forward pass; returns the events it produced ([] once done)."""
        with self._lock:
            first_event = len(self._events)
            prepared = self.prepare()
            if prepared is not None:
                active, chunks = prepared
                picks = self.pick(active, self.runner.run(chunks))
                # the step's one host sync: token ids (exact in float32 below 2**24) and p_yes/p_no
                self.consume(active, torch.cat(picks).tolist() if picks else [])
            return self._events[first_event:]

    # The three phases of a step, so an engine can pack many sessions into one forward pass.

    def prepare(self, prefill_room: int | None = None) -> tuple[list[str], list[Chunk]] | None:
        """Decide this step's rows: (active streams, chunks); None when the session is (now) done.

        `prefill_room`: prompt tokens the engine lets this session feed in this pass (its share of
        the engine's chunked-prefill budget); `prompt_rows` then says how many it took."""
        with self._lock:
            if self.done:
                return None
            if self._t0 is None:
                self._t0 = time.perf_counter()
            if self._cancel.is_set():
                self._finish("cancelled")
                return None
            # chunked prefill applies to the session's first start (the prompt, by far the longest
            # text): nothing before it is dynamic, so feeding it over several passes changes no value;
            # later starts (writer, questions) see the thoughts so far and are fed in one pass
            limits = [n for n in (self.prefill_chunk, prefill_room) if n is not None]
            room = self._prefill_room = min(limits) if limits and not self.started else None
            # heard input first: it may pause the writer before this step's rows are chosen; while the
            # prompt is fed in chunks it waits (the input block must see the whole prompt before it)
            heard_chunks = [] if room is not None else self._take_heard(
                self.state in ("thinker_only", "thinker_and_writer"))
            streams = []
            if self.state in ("thinker_only", "thinker_and_writer"):
                streams.append(THINKER)
            if self.state in ("thinker_and_writer", "writer_only"):
                streams.append(WRITER)
            if self.yes_no is not None and self._check_due and THINKER in streams:
                streams.append(CONTROL)
            if self.safety_check_every and WRITER in streams and self._since_safety >= self.safety_check_every:
                streams.append(SAFETY)
            # the streams with a logits row this step; one still prefilling (chunked) has none yet
            active, chunks = [], []
            for stream in streams:
                stream_chunks = self._chunks(stream)
                chunks += stream_chunks
                if stream_chunks and stream_chunks[-1].want_logits:
                    active.append(stream)
            self.prompt_rows = 0 if room is None else room - self._prefill_room
            return active, chunks + heard_chunks

    def pick(self, active: list[str], logits: torch.Tensor) -> list[torch.Tensor]:
        """Device-side choices for the active streams' logit rows: a token id per stream (+ the
        thinker's next-token entropy with `entropy_pause`), p_yes and p_no per question."""
        picks = []
        for row, stream in enumerate(active):
            if stream in (CONTROL, SAFETY):
                picks.append((self.yes_no if stream == CONTROL else self.is_safe)(logits[row]))
            else:
                picks.append(self.samplers[stream](logits[row]).float()[None])
                if stream == THINKER and self.entropy_pause is not None:
                    picks.append(torch.special.entr(logits[row].softmax(-1)).sum()[None])
        return picks

    def _unpack(self, active: list[str], values: list[float]) -> dict[str, list[float]]:
        """The host copies of pick()'s values, per stream."""
        out, at = {}, 0
        for stream in active:
            n = 2 if stream in (CONTROL, SAFETY) or (stream == THINKER and self.entropy_pause is not None) else 1
            out[stream], at = values[at : at + n], at + n
        return out

    def consume(self, active: list[str], values: list[float]) -> None:
        """Apply the host copies of this step's choices: events and state changes."""
        with self._lock:
            picked = self._unpack(active, values)
            for question in (CONTROL, SAFETY):
                if question in active:
                    self.runner.table.reset(self.writes[question])
            # questions first: their answers concern the context before this step's tokens
            if CONTROL in active:
                self._on_control(*picked[CONTROL])
            if SAFETY in active:
                self._on_safety(*picked[SAFETY])
            self._on_tokens(picked.get(THINKER), picked.get(WRITER))
            if active:  # a pass that only prefilled (chunked prefill) is not one of the session's steps
                self.steps += 1
            if not self.done and self._room() <= 0:
                self._finish("max_tokens")
            if not self.done and self.steps >= self.budget:
                self._finish("budget")

    def _finish(self, reason: str) -> None:
        with self._listen_lock:
            self._closed = True
        self.stop_reason = reason
        self._set_state("done", reason)
        data = self.metrics().to_dict()
        data["unheard"] = [item.text for item in self._inbox.drain()]  # queued input never fed: reported, not lost
        self._event(CONTROL, "done", reason, data=data)
        if self.shared:  # give the slots back to the engine at once; keep the tokens for view()
            self._final_blocks = {b: list(self.runner.table[b].tokens) for b in self.block.values()}
            for b in self.block.values():
                self.runner.table.free(b)
        else:
            self.runner.release()

    def _event(self, stream: str, kind: str, text: str, token_id: int | None = None, data: dict | None = None) -> None:
        with self._new_events:
            self._events.append(Event(stream, kind, text, self.steps, self._now(), token_id, data or {}))
            self._new_events.notify_all()

    def _now(self) -> float:
        return 0.0 if self._t0 is None else time.perf_counter() - self._t0
