"""Answer checking in one place: no judge model needed.

Boxed answers, numbers by value, normalized text (the listening evaluation and the
shipped tasks):

    extract_answer("... so \\boxed{\\frac{1}{2}}", "number")  ->  "\\frac{1}{2}"
    answers_match("0.5", "1/2")                                ->  True

Numbers: the content of the last complete `\\boxed{...}` (nested braces handled), else the
last number in the text; commas, `$`, `%` and `\\text{}` wrappers are stripped and
`\\frac{a}{b}` is read; compared exactly as fractions. Text: case- and space-insensitive.

Math by math-verify, multiple choice by letter (the benchmarks):

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
from fractions import Fraction

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

_BOXED = re.compile(r"\\boxed\s*\{")
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])-?\.\d+")
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def extract_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` in `text` (nested braces kept), else None."""
    found = None
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    found = text[start:i]
                    break
    return found


def _clean(text: str) -> str:
    previous = None
    while previous != text:  # unwrap \text{...} and friends, innermost first
        previous, text = text, _WRAPPERS.sub(r"\1", text)
    for junk in ("\\$", "$", "\\%", "%", "\\!", "\\,", "\\;", "{,}"):
        text = text.replace(junk, "" if junk != "{,}" else ",")
    return text.strip()


def parse_number(text: str, strict: bool = False) -> Fraction | None:
    """The value of `text` as a number ("1,200", "-3.5", "3/4", "\\frac{3}{4}", "$5", "50%").

    strict: the whole text must be one number; otherwise the last number in it is taken.
    """
    cleaned = _clean(text)
    compact = _THOUSANDS.sub("", cleaned).replace(" ", "").rstrip(".")
    frac = _FRAC.match(compact)
    try:
        if frac:
            value = Fraction(frac.group(2)) / Fraction(frac.group(3))
            return -value if frac.group(1) else value
        if compact and not compact.lower().lstrip("-").startswith(("inf", "nan")):
            return Fraction(compact)
    except (ValueError, ZeroDivisionError):
        pass
    if strict:
        return None
    numbers = _NUMBER.findall(cleaned)
    return Fraction(numbers[-1].replace(",", "")) if numbers else None


def normalize_text(text: str) -> str:
    return " ".join(_clean(text).split()).lower()


def extract_answer(text: str, answer_type: str = "number") -> str | None:
    """The predicted final answer in a model's answer text, or None when there is none.

    The last `\\boxed{...}` if present; else for "number" the last number in the text
    and for "text" the whole (stripped) text.
    """
    boxed = extract_boxed(text)
    if boxed is not None:
        return boxed.strip()
    if answer_type == "number":
        numbers = _NUMBER.findall(_clean(text))
        return numbers[-1] if numbers else None
    return text.strip() or None


def answers_match(prediction: str | None, reference: str, answer_type: str = "number") -> bool:
    """Compare an extracted prediction with the reference answer (see the module docstring)."""
    if prediction is None:
        return False
    if answer_type == "number":
        got, want = parse_number(prediction), parse_number(reference)
        if got is None or want is None:
            return False
        return got == want or abs(got - want) <= Fraction(1, 10**6) * max(1, abs(want))
    return normalize_text(prediction) == normalize_text(reference)


def check_answer(text: str, reference: str, answer_type: str = "number") -> tuple[str | None, bool]:
    """(extracted prediction, correct) for a model's final answer text."""
    prediction = extract_answer(text, answer_type)
    return prediction, answers_match(prediction, reference, answer_type)
