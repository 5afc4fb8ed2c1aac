"""What a voice would say: the writer's tokens grouped into speakable chunks, LaTeX read as words.

    writer token events ─▶ Chunker.add(text, time, step) ─▶ Chunk(text, tokens, ready_time, steps)
                                                               │
                                               speakable(chunk.text) ─▶ "x squared plus one half"

Chunks follow the paper's evaluation code: a chunk closes once it holds `size` tokens (5)
and no `$…$` / `$$…$$` (or `\\(…\\)`, `\\[…\\]`) formula is open, so a formula is never
split between two chunks. The chunk is ready when its last token was produced.

Money is not math: a `$` followed by an amount (`5`, `3.50`, `10,000`) that is followed by
a word, by punctuation and a space, or by the end of the answer opens no formula, and is read
"5 dollars" ("$5 and $10" is two amounts, not the formula "5 and"); so is an escaped `\\$`
(`costs \\$5`). Whether a `$` is money is known a few characters after it: the chunker
holds the chunk open until then. `$5 + 3$` and `$5x$` stay formulas.

`speakable` turns Markdown with LaTeX into plain words: fractions ("a over b"), powers
("squared", "cubed", "to the power of"), roots, subscripts, `\\boxed{}` / `\\text{}`
unwrapped, Greek letters and common symbols named; unknown commands are read by name.
A small recursive reader, not a full TeX parser: good enough for a TTS engine to say
what a math answer means, which is all the delay metrics need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_CHUNK_TOKENS = 5


@dataclass
class Chunk:
    text: str  # the raw token texts joined
    tokens: int
    ready_time: float  # time of its last token
    steps: list[int] = field(default_factory=list)  # step of each token


_AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_AFTER_AMOUNT = ",.;:!?)"  # punctuation that may end a sentence after an amount


def money_amount(after: str, final: bool = True) -> str | None:
    """The amount when the text `after` a "$" makes that "$" money ("" when it is not; None when
    the text so far cannot tell, and more may come unless `final`)."""
    number = _AMOUNT.match(after)
    if number is None:
        return "" if after or final else None
    amount, rest = number.group(0), after[number.end():]
    if not rest:
        return amount if final else None
    if not final and re.fullmatch(r"[,.]\d*", rest):  # the number may go on ("10," then "000")
        return None
    if rest[0].isspace():
        word = rest.lstrip()
        if not word:
            return amount if final else None
        return amount if word[0].isalpha() else ""
    if rest[0] in _AFTER_AMOUNT:
        if len(rest) == 1:
            return amount if final else None
        return amount if rest[1].isspace() else ""
    return ""


class _MathScanner:
    """Tracks whether a formula is open in text fed piece by piece (a delimiter may span pieces)."""

    def __init__(self) -> None:
        self.closer: str | None = None  # the delimiter that closes the open formula
        self._held = ""  # a trailing "$" or "\\" whose meaning depends on the next character

    @property
    def open(self) -> bool:
        # a held "$" outside a formula opens one (unless it turns out to be money); inside "$$" it
        # may be the first half of the closer
        return self.closer is not None or self._held.startswith("$")

    def feed(self, text: str, final: bool = False) -> None:
        text, self._held = self._held + text, ""
        i = 0
        while i < len(text):
            ch = text[i]
            last = i == len(text) - 1
            # in an inline formula a "$" always closes it; elsewhere it may be half of "$$"
            if last and not final and (ch == "\\" or ch == "$" and self.closer != "$"):
                self._held = ch
                return
            pair = text[i:i + 2]
            if ch == "\\":
                if self.closer is None and pair in ("\\(", "\\["):
                    self.closer = "\\)" if pair == "\\(" else "\\]"
                elif pair == self.closer:
                    self.closer = None
                i += 2  # an escaped character (\$, \\, \{) is never a delimiter
                continue
            if ch == "$":
                if self.closer is None and pair != "$$":
                    amount = money_amount(text[i + 1:], final)
                    if amount is None:  # money or a formula: the next pieces tell
                        self._held = text[i:]
                        return
                    if amount:
                        i += 1 + len(amount)
                        continue
                if self.closer is None:
                    self.closer = "$$" if pair == "$$" else "$"
                    i += len(self.closer)
                    continue
                if self.closer == "$$" and pair == "$$" or self.closer == "$":
                    i += len(self.closer)
                    self.closer = None
                    continue
            i += 1


class Chunker:
    """Groups token texts into chunks of about `size` tokens without splitting a formula."""

    def __init__(self, size: int = DEFAULT_CHUNK_TOKENS) -> None:
        if size < 1:
            raise ValueError("chunk size must be at least one token")
        self.size = size
        self._math = _MathScanner()
        self._texts: list[str] = []
        self._steps: list[int] = []
        self._time = 0.0

    def add(self, text: str, time: float, step: int) -> Chunk | None:
        """Add one token; returns the chunk it completes, if any."""
        self._texts.append(text)
        self._steps.append(step)
        self._time = time
        self._math.feed(text)
        if len(self._texts) >= self.size and not self._math.open:
            return self._close()
        return None

    def flush(self) -> Chunk | None:
        """The last, possibly short (or formula-unclosed) chunk at the end of the answer."""
        self._math.feed("", final=True)
        return self._close() if self._texts else None

    def _close(self) -> Chunk:
        chunk = Chunk("".join(self._texts), len(self._texts), self._time, self._steps)
        self._texts, self._steps = [], []
        return chunk


def chunk_tokens(tokens: Iterable[tuple[str, float, int]], size: int = DEFAULT_CHUNK_TOKENS) -> list[Chunk]:
    """(text, time, step) per writer token, in order ─▶ chunks."""
    chunker = Chunker(size)
    chunks = [c for text, time, step in tokens if (c := chunker.add(text, time, step)) is not None]
    last = chunker.flush()
    return chunks + ([last] if last is not None else [])


# ---------------------------------------------------------------------------- LaTeX to words

_GREEK = (
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
)
SYMBOLS = {
    **{name: name.removeprefix("var").lower() for name in _GREEK},
    "times": "times", "cdot": "times", "div": "divided by", "pm": "plus or minus", "mp": "minus or plus",
    "le": "less than or equal to", "leq": "less than or equal to", "ge": "greater than or equal to",
    "geq": "greater than or equal to", "neq": "is not equal to", "ne": "is not equal to",
    "approx": "is approximately", "equiv": "is equivalent to", "sim": "is similar to", "infty": "infinity",
    "circ": "degrees", "degree": "degrees", "angle": "angle", "triangle": "triangle", "perp": "is perpendicular to",
    "parallel": "is parallel to", "in": "in", "notin": "not in", "subset": "subset of", "subseteq": "subset of",
    "cup": "union", "cap": "intersection", "emptyset": "the empty set", "varnothing": "the empty set",
    "to": "to", "rightarrow": "goes to", "Rightarrow": "implies", "implies": "implies", "iff": "if and only if",
    "sum": "the sum", "prod": "the product", "int": "the integral", "lim": "the limit", "log": "log", "ln": "ln",
    "sin": "sine", "cos": "cosine", "tan": "tangent", "cot": "cotangent", "sec": "secant", "csc": "cosecant",
    "dots": "and so on", "ldots": "and so on", "cdots": "and so on", "%": "percent", "$": "dollars",
    "mid": "divides", "binom": "choose", "choose": "choose", "max": "max", "min": "min", "gcd": "gcd",
    "lfloor": "floor of", "lceil": "ceiling of", "rfloor": "", "rceil": "", "prime": "prime",
    "partial": "partial", "nabla": "nabla", "forall": "for all", "exists": "there exists", "neg": "not",
    "land": "and", "lor": "or", "mod": "mod", "bmod": "mod", "pmod": "mod",
}
_SILENT = {"left", "right", "displaystyle", "textstyle", "big", "Big", "bigg", "Bigg", ",", ";", "!", " ", ":",
           "quad", "qquad", "limits", "nolimits", "rfloor", "rceil"}
_TEXT = {"text", "textbf", "textit", "textrm", "mathrm", "mbox", "hbox", "operatorname", "emph"}  # read as written
_UNWRAP = {"boxed", "mathbf", "mathit", "mathbb", "overline", "bar", "hat", "vec", "widehat", "tilde"}
_OPERATORS = {"+": "plus", "-": "minus", "=": "equals", "<": "is less than", ">": "is greater than", "*": "times",
              "/": "over", "!": "factorial", "|": "", "(": "", ")": "", "[": "", "]": "", "&": "", "'": "prime",
              "~": ""}
_ORDINALS = {"2": "square", "3": "cube", "4": "fourth", "5": "fifth", "n": "n-th"}
_MATH_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|\d+(?:\.\d+)?|\s+|.", re.DOTALL)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


class _MathReader:
    """Recursive reader over LaTeX math tokens: atoms, groups, and the commands above."""

    def __init__(self, latex: str) -> None:
        self.toks = [" " if t.isspace() else t for t in _MATH_TOKEN.findall(latex)]  # spaces matter in \text{}
        self.i = 0

    def _skip_spaces(self) -> None:
        while self.i < len(self.toks) and self.toks[self.i] == " ":
            self.i += 1

    def sequence(self, closer: str | None = None) -> list[str]:
        words: list[str] = []
        while True:
            self._skip_spaces()
            if self.i >= len(self.toks) or self.toks[self.i] == closer:
                break
            tok = self.toks[self.i]
            if tok in "^_":
                self.i += 1
                argument = self.atom()
                words += self._script(tok, argument)
            else:
                words += self.atom()
        self.i += 1  # the closer (or past the end)
        return words

    def atom(self) -> list[str]:
        self._skip_spaces()
        if self.i >= len(self.toks):
            return []
        tok = self.toks[self.i]
        self.i += 1
        if tok == "{":
            return self.sequence("}")
        if tok.startswith("\\"):
            return self._command(tok[1:])
        if tok in _OPERATORS:
            return [_OPERATORS[tok]] if _OPERATORS[tok] else []
        return [tok]

    def _raw_group(self) -> list[str]:
        """The text of a {...} group as written (\\text{cm} is "cm", not "c m")."""
        self._skip_spaces()
        if self.i >= len(self.toks) or self.toks[self.i] != "{":
            return self.atom()
        depth, start = 0, self.i
        while self.i < len(self.toks):
            depth += {"{": 1, "}": -1}.get(self.toks[self.i], 0)
            self.i += 1
            if depth == 0:
                break
        return ["".join(self.toks[start + 1:self.i - 1]).strip()]

    def _optional(self) -> list[str] | None:
        if self.i < len(self.toks) and self.toks[self.i] == "[":
            self.i += 1
            return self.sequence("]")
        return None

    def _command(self, name: str) -> list[str]:
        if name in ("frac", "dfrac", "tfrac"):
            top, bottom = self.atom(), self.atom()
            return [*top, "over", *bottom]
        if name == "sqrt":
            index = self._optional()
            radicand = self.atom()
            if index is None:
                return ["the square root of", *radicand]
            key = " ".join(index)
            root = _ORDINALS.get(key, f"{key}-th")
            return [f"the {root} root of", *radicand]
        if name in ("binom", "dbinom"):
            n, k = self.atom(), self.atom()
            return [*n, "choose", *k]
        if name in _TEXT:
            return self._raw_group()
        if name in _UNWRAP:
            return self.atom()
        if name in _SILENT:
            return []
        if name in SYMBOLS:
            return [SYMBOLS[name]] if SYMBOLS[name] else []
        return [name]

    @staticmethod
    def _script(kind: str, argument: list[str]) -> list[str]:
        if kind == "_":
            return ["sub", *argument]
        power = " ".join(argument)
        if power == "2":
            return ["squared"]
        if power == "3":
            return ["cubed"]
        if power in ("degrees", "prime"):
            return [power]
        return ["to the power of", *argument]


def math_to_words(latex: str) -> str:
    return _join(_MathReader(latex).sequence())


def _join(words: list[str]) -> str:
    text = " ".join(w for w in words if w)
    return re.sub(r"\s+([,.;:?])", r"\1", text).strip()


def speakable(text: str) -> str:
    """Markdown with LaTeX ─▶ the words a TTS engine should say (see the module docstring)."""

    def span(match: re.Match) -> str:
        return " " + math_to_words(next(g for g in match.groups() if g is not None)) + " "

    text = _money_to_words(text)
    text = _MATH_SPAN.sub(span, text)
    if "$" in text:  # an unclosed formula (answer cut off): read the rest as math
        head, _, tail = text.partition("$")
        text = head + " " + math_to_words(tail.replace("$", " "))
    # LaTeX outside $…$ (e.g. a bare \boxed{...}) is read as math too
    text = re.sub(r"\\[a-zA-Z]+(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})*", lambda m: math_to_words(m.group(0)), text)
    text = re.sub(r"[*#`_>|\\]+", " ", text)  # Markdown emphasis, headings, code, tables; stray backslashes
    return re.sub(r"\s+([,.;:?!])", r"\1", " ".join(text.split()))


def _money_to_words(text: str) -> str:
    """Amounts after "$" (not a formula's, see the module docstring) or an escaped "\\$" ─▶ "5 dollars"."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("\\$", i):
            amount = _AMOUNT.match(text, i + 2)
            out.append(f" {amount.group(0)} dollars" if amount else " dollars ")
            i = amount.end() if amount else i + 2
            continue
        if text[i] == "$" and not text.startswith("$$", i) and (amount := money_amount(text[i + 1:])):
            out.append(f"{amount} dollars")
            i += 1 + len(amount)
            continue
        if text.startswith("$$", i):
            out.append("$$")
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
