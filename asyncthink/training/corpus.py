"""Training sequences rendered through the project's own layouts: token ids + a loss mask.

Every sequence is what some stream of a real session reads: each block of the layout
(`asyncthink.layout`, chat format QWEN3) is tokenized on its own, exactly as
`Session` tokenizes block texts, and the stream's own tokens (the thoughts, the reply,
the control answer) follow. Only those are trained on (labels elsewhere are -100).

    think            think layout's writer view: prompt, <think>\\n thoughts </think>\\n\\n reply <|im_end|>
    no_think         prompt, <think>\\n\\n</think>\\n\\n reply <|im_end|>
    async_thinker    independent thinker view: instructions + problem, <think>\\n thoughts, </think>
    async_writer     independent writer view: problem, thoughts cut where the result is known (or
                     later), the writer split marker, reply <|im_end|>
    control          independent control view: thoughts cut anywhere, the control note, the answer
                     so far, the question and cue; target "yes" when the thoughts so far hold the
                     result (after any correction) and the answer does not yet, else "no"
    heard_*          the same three views with a correction heard mid-thought: the layout's
                     heard marker inserted at a sentence end (listening.at_boundary, the default
                     hold), followed by thoughts that restate the change and recompute
    corrected_request  the correction already in the request: after the problem in the text
                     (as restart and upfront send it) or in the input block (input_template)
    heard_restate    heard_thinker cut short: the thoughts end two lines after the restated
                     problem (the copy that a correction's misses get wrong), at a quarter of
                     the cost of the whole recomputation and its check
    request_restate  corrected_request's think or thinker view, cut short the same way

Corpus versions (`Renderer(tokenizer, version=...)`, `--corpus` of the training command)
fix the mix of kinds, the mix of problem kinds and the thoughts after a correction:

    1   stages 1 and 2 of the shipped model: MIX_1, tiny_tasks.KIND_WEIGHTS, a correction's
        thoughts open with the change line only
    2   stage 3: more heard corrections and corrected requests (MIX_2), more multiplication
        and word problems, and a correction's thoughts also restate the corrected problem
        (tiny_tasks.Correction.restated): the model's thought format from then on
    3   stage 4: the same format, practice at restating (MIX_3 with the two cut-short kinds;
        corrected problems of three and four operations drawn more often, CORRECTION_OPS_3)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..formats import QWEN3, ChatFormat
from ..layout import CONTROL, INDEPENDENT, NO_THINK, THINK, THINKER, WRITER, Layout
from ..listen_eval.tasks import SHARD_SEPARATOR
from ..listening import at_boundary
from ..models import tiny_tasks

IGNORE = -100
MIX_1 = {"think": 0.25, "no_think": 0.05, "async_thinker": 0.2, "async_writer": 0.14, "control": 0.12,
         "heard_thinker": 0.08, "heard_writer": 0.04, "heard_control": 0.06, "corrected_request": 0.06}
MIX_2 = {"think": 0.2, "no_think": 0.03, "async_thinker": 0.13, "async_writer": 0.1, "control": 0.1,
         "heard_thinker": 0.18, "heard_writer": 0.06, "heard_control": 0.08, "corrected_request": 0.12}
MIX_3 = {"think": 0.12, "no_think": 0.02, "async_thinker": 0.06, "async_writer": 0.06, "control": 0.06,
         "heard_thinker": 0.12, "heard_writer": 0.04, "heard_control": 0.06, "corrected_request": 0.1,
         "heard_restate": 0.2, "request_restate": 0.16}
MIX = MIX_3  # every kind of sequence (versions 1 and 2 use the first nine)
CORRECTION_OPS_3 = {2: 0.4, 3: 0.8, 4: 1.0}  # chance to keep a drawn corrected problem, by its operations
ANSWERS = ("yes", "no")
ENCODED_CACHE = 4096  # texts whose ids a Renderer keeps (the fixed ones are among the first seen)


@dataclass(frozen=True)
class CorpusVersion:
    mix: dict[str, float]  # kind of sequence -> share
    kind_weights: tuple[float, ...]  # problem kinds (tiny_tasks.KINDS) -> share
    restate: bool  # a correction's thoughts restate the corrected problem
    correction_ops: dict[int, float] | None = None  # keep-chance of a corrected problem by operations


VERSIONS = {1: CorpusVersion(MIX_1, tiny_tasks.KIND_WEIGHTS, restate=False),
            2: CorpusVersion(MIX_2, (0.15, 0.15, 0.3, 0.4), restate=True),
            3: CorpusVersion(MIX_3, (0.15, 0.15, 0.3, 0.4), restate=True, correction_ops=CORRECTION_OPS_3)}
LATEST = max(VERSIONS)


@dataclass
class Sequence:
    ids: list[int]
    labels: list[int]  # IGNORE where the token is not the stream's own


@dataclass
class Thoughts:
    """A thinker's tokens, the heard tokens among them, and where the final result is known."""

    ids: list[int]
    known: int  # tokens up to and including the final "So the answer is N." sentence
    heard: tuple[int, int] | None = None  # [start, end) of the heard marker's tokens
    early_known: int | None = None  # where the result before the correction was known
    lead: int | None = None  # after a correction: tokens up to two lines past the restated problem

    def labels(self) -> list[int]:
        out = list(self.ids)
        if self.heard:
            out[self.heard[0]:self.heard[1]] = [IGNORE] * (self.heard[1] - self.heard[0])
        return out

    def holds_result(self, cut: int) -> bool:
        """Whether the first `cut` tokens state the result the writer should give now."""
        if self.heard and self.early_known is not None and self.early_known <= cut <= self.heard[0]:
            return True  # before the correction arrived the old result was the one to give
        return cut >= self.known

    def cuts(self) -> list[int]:
        """Token counts a check can see (never inside the heard marker, never empty)."""
        inside = range(self.heard[0] + 1, self.heard[1]) if self.heard else range(0)
        return [c for c in range(1, len(self.ids) + 1) if c not in inside]


class Renderer:
    def __init__(self, tokenizer, fmt: ChatFormat = QWEN3, version: int = LATEST):
        if version not in VERSIONS:
            raise ValueError(f"unknown corpus version {version!r}; choose one of {sorted(VERSIONS)}")
        self.tok, self.fmt, self.version = tokenizer, fmt, version
        self._encoded: dict[str, tuple[int, ...]] = {}
        self.corpus = VERSIONS[version]
        self.end = [tokenizer.convert_tokens_to_ids(fmt.end_tokens[0])]
        self.close = [tokenizer.convert_tokens_to_ids(fmt.think_tokens[1])]
        self.cue = self.enc(INDEPENDENT.cue(fmt))
        self.answer_ids = {a: self.enc(a) for a in ANSWERS}
        self.pieces = [tokenizer.decode([i]) for i in range(len(tokenizer))]  # id -> its text

    def enc(self, text: str) -> list[int]:
        # the layouts' fixed texts (instructions, markers) come back every sequence: encode them once
        ids = self._encoded.get(text)
        if ids is None:
            ids = tuple(self.tok.encode(text, add_special_tokens=False))
            if len(self._encoded) < ENCODED_CACHE:
                self._encoded[text] = ids
        return list(ids)

    def blocks(self, layout: Layout, problem: str, heard_input: str = "") -> dict[str, list[int]]:
        ids = {n: self.enc(t) for n, t in layout.texts(problem, self.fmt).items()}
        if heard_input:
            ids[layout.input_block] = self.enc(layout.input_template.format(text=heard_input))
        return ids

    # ---- thoughts -------------------------------------------------------------------

    def thoughts(self, problem: tiny_tasks.Problem, prefix: str = "") -> Thoughts:
        head = self.enc(prefix + problem.computation)
        lead = None
        if prefix:  # the tokens of the prefix and two computation lines (no merge crosses their "\n")
            chars, lead = len(prefix) + sum(map(len, problem.computation.splitlines(keepends=True)[:2])), 0
            while chars > 0:
                chars -= len(self.pieces[head[lead]])
                lead += 1
            assert chars == 0, "a token crosses the end of the lead's last line"
        return Thoughts(head + self.enc(problem.verification), len(head), lead=lead)

    def corrected_prefix(self, correction: tiny_tasks.Correction) -> str:
        """What the thoughts say about a correction before recomputing (see the versions)."""
        return correction.change_line + (correction.restated if self.corpus.restate else "")

    def heard_thoughts(self, correction: tiny_tasks.Correction, rng: random.Random) -> Thoughts:
        """Original thoughts cut at a sentence end, the heard marker, then the recomputation."""
        first = self.thoughts(correction.original)
        pieces = [self.pieces[i] for i in first.ids]  # ASCII thoughts: pieces join to the text
        prefixes = [""]
        for piece in pieces:
            prefixes.append(prefixes[-1] + piece)
        ends = [i for i in range(1, len(first.ids)) if at_boundary(prefixes[i], "sentence")]
        cut = rng.choice(ends)
        marker = self.enc(INDEPENDENT.heard_template.format(text=correction.sentence))
        after = self.thoughts(correction.corrected, prefix=self.corrected_prefix(correction))
        start = cut + len(marker)
        return Thoughts(first.ids[:cut] + marker + after.ids, start + after.known, (cut, start),
                        first.known if first.known <= cut else None, start + after.lead)

    # ---- views ------------------------------------------------------------------------

    @staticmethod
    def _join(parts: list[tuple[list[int], bool | list[int]]]) -> Sequence:
        ids, labels = [], []
        for part, train in parts:
            ids += part
            labels += train if isinstance(train, list) else (list(part) if train else [IGNORE] * len(part))
        return Sequence(ids, labels)

    def _view(self, layout: Layout, stream: str, blocks: dict[str, list[int]], own: dict[str, list]) -> Sequence:
        """The stream's view: each block's initial ids, then (for blocks in `own`) appended parts."""
        parts = []
        for name in layout.views[stream]:
            parts.append((blocks[name], False))
            parts += own.get(name, [])
        return self._join(parts)

    def think(self, problem: str, t: Thoughts, reply: str, heard_input: str = "") -> Sequence:
        b = self.blocks(THINK, problem, heard_input)
        answer, b["answer"] = b["answer"], []
        # the answer block's text "</think>\n\n" is trained too (the engine feeds it, but plain
        # `generate()` on the model folder needs the model to write it)
        return self._view(THINK, WRITER, b, {"thoughts": [(t.ids, t.labels())],
                                             "answer": [(answer + self.enc(reply) + self.end, True)]})

    def no_think(self, problem: str, reply: str) -> Sequence:
        return self._view(NO_THINK, WRITER, self.blocks(NO_THINK, problem), {"answer": [(self.enc(reply) + self.end, True)]})

    def async_thinker(self, problem: str, t: Thoughts, heard_input: str = "") -> Sequence:
        b = self.blocks(INDEPENDENT, problem, heard_input)
        return self._view(INDEPENDENT, THINKER, b, {"thoughts": [(t.ids, t.labels()), (self.close, True)]})

    def lead(self, layout: Layout, problem: str, t: Thoughts, heard_input: str = "") -> Sequence:
        """The view that writes the thoughts (think: writer, independent: thinker), cut at t.lead."""
        blocks, parts = self.blocks(layout, problem, heard_input), []
        for name in layout.views[WRITER if layout is THINK else THINKER]:
            parts.append((blocks[name], False))
            if name == "thoughts":
                return self._join(parts + [(t.ids[:t.lead], t.labels()[:t.lead])])
        raise AssertionError(f"the layout's view has no thoughts block: {layout.views}")

    def async_writer(self, problem: str, t: Thoughts, cut: int, reply: str, heard_input: str = "") -> Sequence:
        b = self.blocks(INDEPENDENT, problem, heard_input)
        return self._view(INDEPENDENT, WRITER, b, {"thoughts": [(t.ids[:cut], False)],
                                                   "answer": [(self.enc(reply) + self.end, True)]})

    def control(self, problem: str, t: Thoughts, cut: int, answer_so_far: list[int], yes: bool,
                heard_input: str = "") -> Sequence:
        b = self.blocks(INDEPENDENT, problem, heard_input)
        target = self.answer_ids["yes" if yes else "no"][:1]
        return self._view(INDEPENDENT, CONTROL, b, {"thoughts": [(t.ids[:cut], False)],
                                                    "answer": [(answer_so_far, False)],
                                                    "scratch": [(self.cue, False), (target, True)]})


def _writer_cut(rng: random.Random, t: Thoughts) -> int:
    """Where a writer may start: soon after the result is known, sometimes much later."""
    if rng.random() < 0.7:
        return min(len(t.ids), t.known + rng.randint(0, 24))
    return rng.randint(t.known, len(t.ids))


def _control_case(rng: random.Random, r: Renderer, t: Thoughts, reply: str,
                  early_reply: str | None = None) -> tuple[int, list[int], bool]:
    """A cut (half near the point the answer flips), the answer written so far, the label.

    `early_reply`: the reply the writer would be giving before a heard correction."""
    cuts = t.cuts()
    if rng.random() < 0.5:
        near = [c for c in cuts if abs(c - t.known) <= 6 or (t.heard and abs(c - t.heard[1]) <= 3)]
        cut = rng.choice(near)
    else:
        cut = rng.choice(cuts)
    yes = t.holds_result(cut)
    reply_ids = r.enc(early_reply if t.heard and cut <= t.heard[0] else reply)
    written = []
    if yes and rng.random() < 0.4:  # the writer is part-way through: may it go on?
        written = reply_ids[: rng.randrange(len(reply_ids))]
    elif yes and rng.random() < 0.1:  # the answer is already complete: nothing more to write
        written, yes = reply_ids, False
    return cut, written, yes


def train_problem(rng: random.Random, kinds: tuple[str, ...] | None = None,
                  kind_weights: tuple[float, ...] = tiny_tasks.KIND_WEIGHTS) -> tiny_tasks.Problem:
    """A random problem of the training split (of one of `kinds`, else drawn by `kind_weights`)."""
    while True:
        kind = rng.choice(kinds) if kinds else rng.choices(tiny_tasks.KINDS, kind_weights)[0]
        p = tiny_tasks.random_problem(rng, kind)
        if tiny_tasks.split_of(p.text) == "train":
            return p


def _corrected_problem(r: Renderer, rng: random.Random) -> tiny_tasks.Problem:
    """A word problem to correct; from version 3, longer ones are kept more often."""
    keep = r.corpus.correction_ops
    while True:
        p = train_problem(rng, ("word",))
        if keep is None or rng.random() < keep[len(p.spec.ops)]:
            return p


def example(r: Renderer, rng: random.Random, kind: str) -> Sequence:
    """One training sequence of the given kind (see the module docstring), from `rng`."""
    if kind in ("think", "no_think", "async_thinker", "async_writer", "control"):
        p = train_problem(rng, kind_weights=r.corpus.kind_weights)
        t = r.thoughts(p)
        if kind == "think":
            return r.think(p.text, t, p.reply)
        if kind == "no_think":
            return r.no_think(p.text, p.reply)
        if kind == "async_thinker":
            return r.async_thinker(p.text, t)
        if kind == "async_writer":
            return r.async_writer(p.text, t, _writer_cut(rng, t), p.reply)
        cut, written, yes = _control_case(rng, r, t, p.reply)
        return r.control(p.text, t, cut, written, yes)
    c = tiny_tasks.random_correction(rng, _corrected_problem(r, rng))
    reply = c.corrected.reply
    if kind in ("corrected_request", "request_restate"):
        in_input = rng.random() < 0.3
        problem = c.original.text if in_input else c.original.text + SHARD_SEPARATOR + c.sentence
        heard_input = c.sentence if in_input else ""
        t = r.thoughts(c.corrected, prefix=r.corrected_prefix(c))
        if kind == "request_restate":
            return r.lead(rng.choice((THINK, INDEPENDENT)), problem, t, heard_input)
        view = rng.choice(("think", "async_thinker", "async_writer", "control"))
        if view == "think":
            return r.think(problem, t, reply, heard_input)
        if view == "async_thinker":
            return r.async_thinker(problem, t, heard_input)
        if view == "async_writer":
            return r.async_writer(problem, t, _writer_cut(rng, t), reply, heard_input)
        cut, written, yes = _control_case(rng, r, t, reply)
        return r.control(problem, t, cut, written, yes, heard_input)
    t = r.heard_thoughts(c, rng)
    if kind == "heard_restate":
        return r.lead(INDEPENDENT, c.original.text, t)
    if kind == "heard_thinker":
        return r.async_thinker(c.original.text, t)
    if kind == "heard_writer":
        return r.async_writer(c.original.text, t, _writer_cut(rng, t), reply)
    if kind == "heard_control":
        cut, written, yes = _control_case(rng, r, t, reply, c.original.reply)
        return r.control(c.original.text, t, cut, written, yes)
    raise ValueError(f"unknown example kind {kind!r}")


def tokenizer_texts(n: int, seed: int, r_fmt: ChatFormat = QWEN3) -> list[str]:
    """Texts the BPE is trained on: every layout's block texts, thoughts, replies, markers, answers."""
    rng = random.Random(f"tiny-tokenizer/{seed}")
    texts = [INDEPENDENT.cue(r_fmt), *ANSWERS] * 50
    for _ in range(n):
        p = train_problem(rng)
        for layout in (INDEPENDENT, THINK, NO_THINK):
            texts += layout.texts(p.text, r_fmt).values()
        texts += [p.thoughts, p.reply]
        if p.spec is not None:
            c = tiny_tasks.random_correction(rng, p)
            texts += [INDEPENDENT.heard_template.format(text=c.sentence),
                      INDEPENDENT.input_template.format(text=c.sentence), c.change_line]
    return texts
