"""The tiny reasoner's task family: a grammar, reference thoughts, and seeded generators.

Grammar (numbers written in decimal, no separators):

    arithmetic  "What is A + B?"   A, B in 10..999
                "What is A - B?"   A, B in 10..999, A >= B (no negative results)
                "What is A * D?"   A in 10..999, D in 2..9 (one-digit second factor, so a
                                   ~1M-parameter model can reach 95 % with digit steps)
    word        "NAME has S ITEMS. NAME OP1 and OP2. How many ITEMS does NAME have now?"
                with 2 to 4 operations ("OP1, OP2 and OP3." / "OP1 and OP2. Then NAME OP3
                and OP4."); S in 10..299; OP is "gets N more", "finds N more", "buys N more",
                "gives N away", "loses N" or "sells N" (N in 1..99, each verb at most once,
                the count stays in 0..999)
    correction  "Actually, NAME OP." (the same verb with a new N): a later shard of a
                listening task, or text appended to the request

Reference thoughts are two paragraphs (a paragraph ends with a blank line). The first
computes column by column ("Ones: 7 + 6 = 13.", carries and borrows spelled out) and
ends with "So the answer is N." — the point where an early writer may start. The second
verifies another way (the inverse operation, multiplication by parts, or the word
problem undone step by step) and is about as long as the first, so think-then-answer
pays for it before its first answer token while the async writer does not. The answer
is one sentence with `\\boxed{N}`.

Thoughts that take a correction into account open with two lines, then compute the
corrected problem from its start:

    The user changed it: Mira gives 9 away, not 5.
    Now: Mira has 23 shells. Mira gets 14 more and gives 9 away.

The second line restates the corrected problem (its text without the question), so the
recomputation reads its numbers from nearby thoughts instead of patching the far-away
request in its head (corpus version 2; version 1, the first two training stages, had the
first line only).

Splits are disjoint by construction: a problem belongs to "heldout" exactly when the
SHA-1 of its text is 0 mod 10, so any seed of one split never yields a problem of the
other (`assert_disjoint` checks a pair of sets explicitly).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace

from ..errors import AsyncThinkError

SPLITS = ("train", "heldout")
KINDS = ("add", "sub", "mul", "word")
KIND_WEIGHTS = (0.25, 0.2, 0.2, 0.35)
COLUMNS = ("Ones", "Tens", "Hundreds", "Thousands")
NAMES = ("Mira", "Tom", "Ana", "Leo", "Sam", "Ivy", "Ben", "Zoe", "Max", "Eva", "Omar", "Lily")
ITEMS = ("shells", "stamps", "marbles", "apples", "cards", "coins", "books", "pencils", "stickers", "beads")
GAINS = ("gets {n} more", "finds {n} more", "buys {n} more")
LOSSES = ("gives {n} away", "loses {n}", "sells {n}")
VERBS = GAINS + LOSSES
MAX_COUNT = 999
RESULT_SENTENCE = "So the answer is {n}."
CHANGE_LINE = "The user changed it: {name} {phrase}, not {old}.\n"
RESTATED_LINE = "Now: {statement}\n"


class TaskError(AsyncThinkError):
    """Bad arguments to a task generator."""


@dataclass(frozen=True)
class WordSpec:
    name: str
    item: str
    start: int
    ops: tuple[tuple[int, int], ...]  # (index into VERBS, N)

    def phrase(self, i: int) -> str:
        verb, n = self.ops[i]
        return VERBS[verb].format(n=n)

    def counts(self) -> list[int]:
        """The running count: start, then after each operation."""
        out = [self.start]
        for verb, n in self.ops:
            out.append(out[-1] + (n if VERBS[verb] in GAINS else -n))
        return out

    def valid(self) -> bool:
        return all(0 <= c <= MAX_COUNT for c in self.counts())


@dataclass(frozen=True)
class Problem:
    kind: str
    text: str
    answer: int
    computation: str  # first paragraph: ends with "So the answer is N.\n\n"
    verification: str  # second paragraph: ends with "\n" (then </think>)
    reply: str  # the answer sentence with \boxed{N}
    spec: WordSpec | None = None  # word problems only

    @property
    def thoughts(self) -> str:
        return self.computation + self.verification

    def to_dict(self) -> dict:
        return {"kind": self.kind, "problem": self.text, "answer": str(self.answer), "thoughts": self.thoughts,
                "reply": self.reply}


@dataclass(frozen=True)
class Correction:
    """A later change to one operation of a word problem."""

    original: Problem
    corrected: Problem
    sentence: str  # what the user says: "Actually, Mira gives 9 away."
    change_line: str  # first line of the thoughts that take it into account
    restated: str  # second line: "Now: " + the corrected problem without its question

    @property
    def thoughts(self) -> str:
        """Thoughts for a request that already holds the correction (or after hearing it)."""
        return self.change_line + self.restated + self.corrected.thoughts


# ---- digit-level steps -------------------------------------------------------------

def _digits(n: int) -> list[int]:
    return [int(c) for c in reversed(str(n))]


def add_steps(a: int, b: int) -> str:
    """Column addition, ones first; the last column's line holds its full sum (a carry in front)."""
    da, db = _digits(a), _digits(b)
    lines, carry = [], 0
    for i in range(max(len(da), len(db))):
        x, y = (da[i] if i < len(da) else 0), (db[i] if i < len(db) else 0)
        s = x + y + carry
        lines.append(f"{COLUMNS[i]}: {x} + {y}{' + 1' if carry else ''} = {s}.\n")
        carry = s // 10
    return "".join(lines)


def sub_steps(a: int, b: int) -> str:
    """Column subtraction (a >= b), ones first, with each borrow spelled out."""
    da, db = _digits(a), _digits(b)
    lines, borrow = [], 0
    for i in range(len(da)):
        x, y = da[i], (db[i] if i < len(db) else 0)
        left = f"{x} - {y}{' - 1' if borrow else ''}"
        if x - y - borrow < 0:
            lines.append(f"{COLUMNS[i]}: {left}, borrow: 1{left} = {10 + x - y - borrow}.\n")
            borrow = 1
        else:
            lines.append(f"{COLUMNS[i]}: {left} = {x - y - borrow}.\n")
            borrow = 0
    return "".join(lines)


def mul_steps(a: int, d: int) -> str:
    """Column multiplication by one digit, ones first, adding each carry explicitly."""
    lines, carry = [], 0
    for i, x in enumerate(_digits(a)):
        p = x * d
        if carry:
            lines.append(f"{COLUMNS[i]}: {x} * {d} = {p}, + {carry} = {p + carry}.\n")
        else:
            lines.append(f"{COLUMNS[i]}: {x} * {d} = {p}.\n")
        carry = (p + carry) // 10
    return "".join(lines)


def _result(n: int) -> str:
    return RESULT_SENTENCE.format(n=n) + "\n\n"


def _matches(n: int) -> str:
    return f"It matches, so the answer {n} is right.\n"


# ---- problems ------------------------------------------------------------------------

def arithmetic(kind: str, a: int, b: int) -> Problem:
    """One arithmetic problem with its reference thoughts and reply."""
    if kind == "add":
        r = a + b
        comp = f"Add {a} + {b} by columns.\n" + add_steps(a, b) + _result(r)
        check = f"Check: {r} - {b} should be {a}.\n" + sub_steps(r, b) + f"So {r} - {b} = {a}.\n" + _matches(r)
        sign = "+"
    elif kind == "sub":
        if a < b:
            raise TaskError(f"subtraction problems need A >= B, got {a} - {b}")
        r = a - b
        comp = f"Subtract {a} - {b} by columns.\n" + sub_steps(a, b) + _result(r)
        check = f"Check: {r} + {b} should be {a}.\n" + add_steps(r, b) + f"So {r} + {b} = {a}.\n" + _matches(r)
        sign = "-"
    elif kind == "mul":
        if not 2 <= b <= 9:
            raise TaskError(f"multiplication problems need a one-digit second factor 2..9, got {b}")
        r = a * b
        comp = f"Multiply {a} * {b} by columns.\n" + mul_steps(a, b) + _result(r)
        parts = [x * 10**i for i, x in reversed(list(enumerate(_digits(a)))) if x]
        check = f"Check by parts: {a} = {' + '.join(map(str, parts))}.\n"
        check += "".join(f"{p} * {b} = {p * b}.\n" for p in parts)
        total = parts[0] * b
        for p in parts[1:]:
            check += f"{total} + {p * b} = {total + p * b}.\n"
            total += p * b
        check += _matches(r)
        sign = "*"
    else:
        raise TaskError(f"unknown arithmetic kind {kind!r}; choose add, sub or mul")
    return Problem(kind, f"What is {a} {sign} {b}?", r, comp, check, f"{a} {sign} {b} = \\boxed{{{r}}}.")


def _word_statement(spec: WordSpec) -> str:
    """The problem's facts: "NAME has S ITEMS. NAME OP1 and OP2." (no question)."""
    p = [spec.phrase(i) for i in range(len(spec.ops))]
    n = spec.name
    if len(p) == 2:
        middle = f"{n} {p[0]} and {p[1]}."
    elif len(p) == 3:
        middle = f"{n} {p[0]}, {p[1]} and {p[2]}."
    else:
        middle = f"{n} {p[0]} and {p[1]}. Then {n} {p[2]} and {p[3]}."
    return f"{n} has {spec.start} {spec.item}. {middle}"


def _word_text(spec: WordSpec) -> str:
    return f"{_word_statement(spec)} How many {spec.item} does {spec.name} have now?"


def _op_steps(total: int, gain: bool, n: int) -> tuple[str, int]:
    if gain:
        return f"{total} + {n}.\n" + add_steps(total, n), total + n
    return f"{total} - {n}.\n" + sub_steps(total, n), total - n


def word(spec: WordSpec) -> Problem:
    """One word problem: the count followed operation by operation (each operation restates the
    count it starts from), then undone to check."""
    if not 2 <= len(spec.ops) <= 4 or not spec.valid():
        raise TaskError("a word problem needs 2 to 4 operations keeping the count in 0..999")
    counts = spec.counts()
    comp = f"Start: {spec.start} {spec.item}.\n"
    for i, (verb, n) in enumerate(spec.ops):
        steps, _ = _op_steps(counts[i], VERBS[verb] in GAINS, n)
        comp += f"{spec.phrase(i).capitalize()}: {steps}"
    r = counts[-1]
    comp += _result(r)
    check = f"Check backwards from {r}.\n"
    for i in reversed(range(len(spec.ops))):
        verb, n = spec.ops[i]
        steps, back = _op_steps(counts[i + 1], VERBS[verb] not in GAINS, n)
        check += f"Undo {spec.phrase(i)}: {steps}Back to {back}.\n"
    check += f"The counts were {', '.join(map(str, counts[:-1]))} and {r}.\n"
    check += f"That is the start, so the answer {r} is right.\n"
    return Problem("word", _word_text(spec), r, comp, check,
                   f"{spec.name} has \\boxed{{{r}}} {spec.item} now.", spec)


def correct(problem: Problem, op: int, n: int) -> Correction:
    """The correction "Actually, NAME <operation op with N>." of a word problem."""
    spec = problem.spec
    if spec is None:
        raise TaskError("only word problems can be corrected")
    if not 0 <= op < len(spec.ops) or spec.ops[op][1] == n:
        raise TaskError(f"a correction must change operation 0..{len(spec.ops) - 1} to a new number")
    ops = list(spec.ops)
    old = ops[op][1]
    ops[op] = (ops[op][0], n)
    fixed = replace(spec, ops=tuple(ops))
    if not fixed.valid():
        raise TaskError("the corrected problem leaves the count outside 0..999")
    corrected = word(fixed)
    corrected = replace(corrected, text=problem.text)  # the request as first told
    phrase = fixed.phrase(op)
    return Correction(problem, corrected, f"Actually, {spec.name} {phrase}.",
                      CHANGE_LINE.format(name=spec.name, phrase=phrase, old=old),
                      RESTATED_LINE.format(statement=_word_statement(fixed)))


# ---- seeded generation -----------------------------------------------------------------

def split_of(text: str) -> str:
    """The split a problem text belongs to (fixed by its SHA-1, whatever the seed)."""
    return "heldout" if int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 10 == 0 else "train"


def _number(rng: random.Random) -> int:
    """A number in 10..999, two- and three-digit equally often."""
    digits = rng.choice((2, 3))
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _random_spec(rng: random.Random) -> WordSpec:
    while True:
        steps = rng.randint(2, 4)
        verbs = rng.sample(range(len(VERBS)), steps)
        start = rng.randint(10, 299)
        total, ops = start, []
        for v in verbs:
            gain = VERBS[v] in GAINS
            high = MAX_COUNT - total if gain else total
            if high < 1:
                break
            n = rng.randint(1, min(99, high))
            ops.append((v, n))
            total += n if gain else -n
        if len(ops) == steps:
            return WordSpec(rng.choice(NAMES), rng.choice(ITEMS), start, tuple(ops))


def random_problem(rng: random.Random, kind: str | None = None) -> Problem:
    kind = kind or rng.choices(KINDS, KIND_WEIGHTS)[0]
    if kind == "add":
        return arithmetic("add", _number(rng), _number(rng))
    if kind == "sub":
        a, b = _number(rng), _number(rng)
        return arithmetic("sub", max(a, b), min(a, b))
    if kind == "mul":
        return arithmetic("mul", _number(rng), rng.randint(2, 9))
    if kind == "word":
        return word(_random_spec(rng))
    raise TaskError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


def _check_args(n: int, seed: int, split: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise TaskError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TaskError(f"seed must be an integer, got {seed!r}")
    if split not in SPLITS:
        raise TaskError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def problems(n: int, seed: int, split: str = "train", kinds: tuple[str, ...] | None = None) -> list[Problem]:
    """`n` distinct problems of `split` from `seed` (the same arguments give the same list)."""
    _check_args(n, seed, split)
    rng, out, seen = random.Random(f"tiny-tasks/{split}/{seed}"), [], set()
    while len(out) < n:
        p = random_problem(rng, rng.choice(kinds) if kinds else None)
        if p.text not in seen and split_of(p.text) == split:
            seen.add(p.text)
            out.append(p)
    return out


def generate(n: int, seed: int, split: str = "heldout") -> list[dict]:
    """`n` problems as dicts: kind, problem, answer (str), thoughts, reply."""
    return [p.to_dict() for p in problems(n, seed, split)]


def random_correction(rng: random.Random, problem: Problem) -> Correction:
    while True:
        op = rng.randrange(len(problem.spec.ops))
        n = rng.randint(1, 99)
        try:
            return correct(problem, op, n)
        except TaskError:
            continue


def corrections(n: int, seed: int, split: str = "train") -> list[Correction]:
    """`n` word problems of `split` with one correction each (distinct problem texts)."""
    _check_args(n, seed, split)
    rng = random.Random(f"tiny-corrections/{split}/{seed}")
    base = problems(n, seed, split, kinds=("word",))
    return [random_correction(rng, p) for p in base]


def listening_tasks(n: int, seed: int, split: str = "heldout") -> list[dict]:
    """Tasks in `asyncthink.listen_eval`'s format: shard 0 the word problem, shard 1 a correction.

    `answer` is the corrected result; `original_answer` (kept in Task.meta) the one before it."""
    return [{"id": f"tiny-listen-{split}-{seed}-{i}", "shards": [c.original.text, c.sentence],
             "answer": str(c.corrected.answer), "answer_type": "number",
             "original_answer": str(c.original.answer)}
            for i, c in enumerate(corrections(n, seed, split))]


def assert_disjoint(a, b) -> None:
    """Raise TaskError if two collections of problems (dicts, Problems or texts) share a text."""
    def texts(items):
        out = set()
        for x in items:
            out.add(x if isinstance(x, str) else x.text if isinstance(x, Problem) else
                    x["problem"] if "problem" in x else x["shards"][0])
        return out
    shared = texts(a) & texts(b)
    if shared:
        raise TaskError(f"{len(shared)} problems are in both sets, e.g. {sorted(shared)[0]!r}")
