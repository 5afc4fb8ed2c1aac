"""Answer checking without a paid judge: math by math-verify, multiple choice by letter.

    writer answer ─▶ check_math(answer, reference)    math-verify: parse both, compare symbolically
                 └─▶ check_choice(answer, "C")        the chosen letter, compared exactly

Math: the reference is parsed as `$<reference>$`; the prediction is the last `\\boxed{}`
of the answer, or without one math-verify's own extraction from the whole answer (other
LaTeX or plain expressions). "0.5" == "\\frac{1}{2}", "90^\\circ" == "90", sets/intervals/tuples compare
as such. math-verify guards its sympy work with SIGALRM timeouts, which only work on
the main thread; elsewhere it runs without them.

Multiple choice: the letter in the last `\\boxed{}` (also `\\boxed{\\text{C}}`, `\\boxed{(C)}`),
else the last "answer is (C)" / "Answer: C", else a lone letter at the end of the answer.
"""

from __future__ import annotations

import logging
import re
import threading

from ..answers import extract_boxed

_TIMEOUT_SECONDS = 5


def _timeouts() -> int | None:
    if threading.current_thread() is threading.main_thread():
        return _TIMEOUT_SECONDS
    for name in ("math_verify.parser", "math_verify.grader"):  # its "timeout is disabled" warning: known, said above
        logging.getLogger(name).setLevel(logging.ERROR)
    return None


def check_math(answer: str, reference: str) -> tuple[str | None, bool]:
    """(what math-verify extracted from the answer, equivalent to the reference)."""
    # imports sympy: slow, so only when math is checked
    from math_verify import parse, verify

    timeout = _timeouts()
    gold = parse(f"${reference}$", parsing_timeout=timeout)
    boxed = extract_boxed(answer)
    # the last \boxed{} is the answer (a writer may correct itself); math-verify alone would join all of them
    predicted = parse(answer if boxed is None else f"$\\boxed{{{boxed}}}$", parsing_timeout=timeout)
    if not gold or not predicted:
        return (predicted[-1] if predicted else None), False
    return predicted[-1], bool(verify(gold, predicted, timeout_seconds=timeout))


_LETTER = r"\(?([A-Z])\)?"
_STATED = re.compile(r"answer(?:\s+is)?\s*[:：]?\s*(?:option\s+)?\**" + _LETTER + r"(?![A-Za-z])",
                     re.IGNORECASE)
_TRAILING = re.compile(r"(?<![A-Za-z])" + _LETTER + r"[.)\s*]*$")
_BOXED_LETTER = re.compile(r"^\s*(?:\\text\{)?\s*\(?([A-Z])\)?\s*\}?\s*$")


def extract_choice(answer: str, letters: str) -> str | None:
    """The option letter the answer chose (see the module docstring), restricted to `letters`."""
    boxed = extract_boxed(answer)
    if boxed is not None:
        match = _BOXED_LETTER.match(boxed)
        if match and match.group(1) in letters:
            return match.group(1)
    stated = [m.group(1).upper() for m in _STATED.finditer(answer) if m.group(1).upper() in letters]
    if stated:
        return stated[-1]
    match = _TRAILING.search(answer.strip())
    return match.group(1) if match and match.group(1) in letters else None


def check_choice(answer: str, reference: str, letters: str) -> tuple[str | None, bool]:
    choice = extract_choice(answer, letters)
    return choice, choice == reference
