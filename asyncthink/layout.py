"""Layouts as data: which blocks exist, what text they start with, who sees what.

A layout names its blocks (in arena order) with their initial text, gives each stream
its view (ordered blocks read as one contiguous context) and the block it writes. Block
texts are templates over the problem and the chat format's markers: {problem}, {bos},
{user_open}, {turn_end}, {assistant_open}, {think_open}, {think_close}.

A block's initial text is fed lazily, the first time a stream whose view holds it
starts (the thinker at once, the writer at its first "yes", the control stream at its
first question), in that stream's context. The last text a stream is fed at its start
gives its first token.

The user's turn is split into the opening text ("prompt"), an "input" block where
input heard later is appended, and the turn's closing markers ("prompt_end"), so heard
input lands inside the user's request and everything after it shifts by rotation only.

Shipped layouts (T = thinker, W = writer, C = control question view; P = prompt, input,
prompt_end; WP = writer_prompt, input, writer_prompt_end):

  independent (default)
    T: [P, thoughts]
    W: [WP, thoughts, writer_split, answer]
    C: [P, thoughts, control_note, answer, question, scratch]
    S: [P, thoughts, control_note, answer, safety_question, safety_scratch]  (safety check, when enabled)
  interleaved (the paper's first code: the thinker sees the answer as an earlier turn)
    T: [P, answer, thinker_split, thoughts]
    W: [WP, thoughts, writer_split, answer]
    C: [P, answer, thinker_split, thoughts, question, scratch]
    S: [P, answer, thinker_split, thoughts, safety_question, safety_scratch]
  think     (baseline: think, then answer, one context)
    T: [P, thoughts]       W: [P, thoughts, answer]     answer starts "</think>\n\n"
  no_think  (baseline: answer at once)
    W: [P, answer]         answer starts "<think>\n\n</think>\n\n"
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SessionError
from .formats import ChatFormat

THINKER, WRITER, CONTROL, SAFETY = "thinker", "writer", "control", "safety"

THINKER_INSTRUCTIONS = (
    "You think and write at the same time. Your private thoughts are turned into a public answer "
    "by an automated writer that reads them while you keep thinking. From time to time the system "
    "asks whether your thoughts are far enough ahead of the written answer for it to write one more "
    "paragraph: answer \"yes\" if they are, \"no\" if you need to think more first. Think in short "
    "paragraphs and share partial progress early so the answer can start soon. Check your final result "
    "before you stop.\n\nProblem:\n{problem}"
)
WRITER_SPLIT = "\n\n[More thoughts may follow; the answer begins now.]\n{think_close}\n\n"
THINKER_SPLIT = "\n[The answer above is still being written.]{turn_end}{assistant_open}"
CONTROL_NOTE = "\n\n[Answer written to the user so far:]\n"
# The control question is split in two: the question text is a block of the control view,
# computed at the first check and afterwards only shifted (its keys are re-rotated like any
# block's), and a short cue after it is the only text recomputed at every check. So a check
# costs a few rows instead of the whole question (~30 tokens on Qwen3's tokenizer).
CONTROL_QUESTION = (
    "\n[End of the written answer.]\n\nAre my private thoughts far enough ahead of the written answer "
    "to write one more paragraph now?"
)
CONTROL_CUE = " (yes/no): "
# Asked every `safety_check_every` writer tokens when enabled (the paper's later code has such a
# check); a "no" pauses the writer. Same mechanics as the control question: a cached block + the cue.
SAFETY_QUESTION = (
    "\n[End of the written answer.]\n\nIs everything written to the user so far safe to say, with nothing "
    "harmful or dangerous in it?"
)


@dataclass(frozen=True)
class Layout:
    name: str
    blocks: dict[str, str]  # block name -> initial text template, in arena order
    views: dict[str, tuple[str, ...]]
    writes: dict[str, str]  # stream -> block it writes
    first_stream: str = THINKER  # THINKER: think first; WRITER: answer at once
    control_cue: str | None = None  # recomputed at every check in the control view's scratch block
    question_block: str = "question"  # control view block holding the (cached) question text
    safety_block: str = "safety_question"  # safety view block holding the (cached) safety question
    description: str = ""
    input_block: str = "input"  # where input heard for every stream is appended
    # how heard text is spelled: appended to the user's request / inserted into the thoughts
    input_template: str = "\n{text}"
    heard_template: str = "\n\n[New input from the user: {text}]\n\n"

    def __post_init__(self):
        for stream, view in self.views.items():
            missing = [b for b in view if b not in self.blocks]
            if missing:
                raise SessionError(f"layout {self.name!r}: view of {stream!r} names unknown blocks {missing}")
            written = self.writes.get(stream)
            if written is None or not view or view[-1] != written:
                raise SessionError(f"layout {self.name!r}: stream {stream!r} must write the last block of its view")
        if (CONTROL in self.views) != (self.control_cue is not None):
            raise SessionError(f"layout {self.name!r}: a control view needs a control cue and vice versa")
        for stream, block in ((CONTROL, self.question_block), (SAFETY, self.safety_block)):
            if stream in self.views and block not in self.views[stream][:-1]:
                raise SessionError(f"layout {self.name!r}: the question block {block!r} must be in the "
                                   f"{stream} view, before the block the {stream} stream writes")
        if SAFETY in self.views and CONTROL not in self.views:
            raise SessionError(f"layout {self.name!r}: a safety view needs the control question's cue")
        if WRITER not in self.views:
            raise SessionError(f"layout {self.name!r} has no writer view")
        if self.input_block not in self.views[self.listen_stream]:
            raise SessionError(f"layout {self.name!r}: input block {self.input_block!r} is not in the {self.listen_stream} view")

    @property
    def asks_control(self) -> bool:
        return self.control_cue is not None

    @property
    def asks_safety(self) -> bool:
        return SAFETY in self.views

    @property
    def listen_stream(self) -> str:
        """The stream in whose context input for every stream is prefilled."""
        return THINKER if THINKER in self.views else WRITER

    def texts(self, problem: str, fmt: ChatFormat) -> dict[str, str]:
        fields = fmt.fields()
        fields["problem"] = problem
        return {name: text.format(**fields) for name, text in self.blocks.items()}

    def cue(self, fmt: ChatFormat) -> str:
        return (self.control_cue or "").format(**fmt.fields())


def _user(text: str) -> str:
    return "{bos}{user_open}" + text


ASSISTANT = "{turn_end}{assistant_open}"

INDEPENDENT = Layout(
    name="independent",
    blocks={
        "prompt": _user(THINKER_INSTRUCTIONS),
        "input": "",
        "prompt_end": ASSISTANT,
        "thoughts": "{think_open}",
        "writer_prompt": _user("{problem}"),
        "writer_prompt_end": ASSISTANT + "{think_open}",
        "writer_split": WRITER_SPLIT,
        "control_note": CONTROL_NOTE,
        "answer": "",
        "question": CONTROL_QUESTION,
        "scratch": "",
        "safety_question": SAFETY_QUESTION,
        "safety_scratch": "",
    },
    views={
        THINKER: ("prompt", "input", "prompt_end", "thoughts"),
        WRITER: ("writer_prompt", "input", "writer_prompt_end", "thoughts", "writer_split", "answer"),
        CONTROL: ("prompt", "input", "prompt_end", "thoughts", "control_note", "answer", "question", "scratch"),
        SAFETY: ("prompt", "input", "prompt_end", "thoughts", "control_note", "answer", "safety_question",
                 "safety_scratch"),
    },
    writes={THINKER: "thoughts", WRITER: "answer", CONTROL: "scratch", SAFETY: "safety_scratch"},
    control_cue=CONTROL_CUE,
    description="thinker sees only the input and its own thoughts (exact sequential decoding); "
    "a separate view over thoughts and answer asks the control question",
)

INTERLEAVED = Layout(
    name="interleaved",
    blocks={
        "prompt": _user(THINKER_INSTRUCTIONS),
        "input": "",
        "prompt_end": ASSISTANT,
        "answer": "",
        "thinker_split": THINKER_SPLIT,
        "thoughts": "{think_open}",
        "writer_prompt": _user("{problem}"),
        "writer_prompt_end": ASSISTANT + "{think_open}",
        "writer_split": WRITER_SPLIT,
        "question": "\n\n" + CONTROL_QUESTION.lstrip("\n"),
        "scratch": "",
        "safety_question": "\n\n" + SAFETY_QUESTION.lstrip("\n"),
        "safety_scratch": "",
    },
    views={
        THINKER: ("prompt", "input", "prompt_end", "answer", "thinker_split", "thoughts"),
        WRITER: ("writer_prompt", "input", "writer_prompt_end", "thoughts", "writer_split", "answer"),
        CONTROL: ("prompt", "input", "prompt_end", "answer", "thinker_split", "thoughts", "question", "scratch"),
        SAFETY: ("prompt", "input", "prompt_end", "answer", "thinker_split", "thoughts", "safety_question",
                 "safety_scratch"),
    },
    writes={THINKER: "thoughts", WRITER: "answer", CONTROL: "scratch", SAFETY: "safety_scratch"},
    control_cue=CONTROL_CUE,
    description="thinker sees the writer's partial answer as an earlier assistant turn before its thoughts",
)

THINK = Layout(
    name="think",
    blocks={"prompt": _user("{problem}"), "input": "", "prompt_end": ASSISTANT, "thoughts": "{think_open}",
            "answer": "{think_close}\n\n"},
    views={THINKER: ("prompt", "input", "prompt_end", "thoughts"),
           WRITER: ("prompt", "input", "prompt_end", "thoughts", "answer")},
    writes={THINKER: "thoughts", WRITER: "answer"},
    description="baseline: ordinary think-then-answer decoding in one context",
)

NO_THINK = Layout(
    name="no_think",
    blocks={"prompt": _user("{problem}"), "input": "", "prompt_end": ASSISTANT,
            "answer": "{think_open}\n{think_close}\n\n"},
    views={WRITER: ("prompt", "input", "prompt_end", "answer")},
    writes={WRITER: "answer"},
    first_stream=WRITER,
    description="baseline: answer at once with an empty thinking section",
)

LAYOUTS: dict[str, Layout] = {l.name: l for l in (INDEPENDENT, INTERLEAVED, THINK, NO_THINK)}
ASYNC_LAYOUTS = ("independent", "interleaved")
MODES = ("async", "think", "no_think")
DEFAULT_LAYOUT = "independent"


def resolve_layout(mode: str, layout: str | Layout | None) -> Layout:
    if mode not in MODES:
        raise SessionError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode != "async":
        if layout is not None:
            raise SessionError(f"mode {mode!r} has a fixed layout; pass layout only with mode='async'")
        return LAYOUTS[mode]
    if isinstance(layout, Layout):
        return layout
    name = layout or DEFAULT_LAYOUT
    if name not in ASYNC_LAYOUTS:
        raise SessionError(f"unknown layout {name!r}; choose one of {', '.join(ASYNC_LAYOUTS)} or pass a Layout")
    return LAYOUTS[name]
