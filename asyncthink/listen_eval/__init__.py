"""Listening evaluation in the style of "Lost in Conversation": a task told in shards.

    python -m asyncthink.listen_eval tasks.jsonl --model Qwen/Qwen3-0.6B --every 64 --budget 4096 --out rows.jsonl

Each task is split into shards: shard 0 is the initial request, later shards add
information or constraints, as a user who keeps talking would. Three conditions run
every task on the same reasoner (same engine, same clock):

    upfront   all shards joined with blank lines as the problem; no listening.
              The reference point: everything is known from the start.
    listen    shard 0 is the problem; each time `every` more thinker tokens have been
              produced, the next shard is heard with `session.listen(shard)` (the
              session's default target and hold), until all are given; the session
              then runs to its end.
    restart   the cancel-and-restart baseline: start with shard 0; each time `every`
              thinker tokens have been produced since the last (re)start and shards
              remain, cancel and start a new session on the shards so far (joined with
              blank lines, re-prefilled from scratch); the last one runs to its end.

Pace: the shard clock counts thinker tokens. Once the thinker has stopped (it closed its
thoughts or hit its token cap) while shards remain, each writer token counts instead, so
the rest of the shards still arrive at the same pace. A session that ends before all
shards reached it (writer end-of-turn, budget) answered early: its row says how many
shards the answer had (`shards_used`, `complete`); in `listen`, shards given but not
yet fed when it ended are listed in `unheard`.

Task file (JSON Lines, UTF-8; blank lines are skipped), one task per line:

    {"id": "apples", "shards": ["How many apples ...?", "She starts with 3.", "She buys 4 more."],
     "answer": "7", "answer_type": "number"}

    id           str, non-empty, unique in the file
    shards       list of non-empty str, at least one; shard 0 is the initial request
    answer       str, the reference final answer (for "number": a number such as
                 "7", "-2.5", "1,200" or "3/4")
    answer_type  optional, "number" (default) or "text"
    other fields are kept in `Task.meta` and otherwise ignored.

Errors name the file, the line number and the field (TaskFileError).

Answer checking needs no judge model: the prediction is the content of the last
`\\boxed{...}` in the final answer (nested braces allowed); without one, a "number"
task takes the last number in the answer text and a "text" task the whole text.
Numbers compare by value ("1,200" == "1200", "5" == "5.0", "0.5" == "1/2"); text
compares after lower-casing and collapsing whitespace.

Per task and condition a row records the final answer, the extracted prediction,
`correct`, times on the task clock (seconds from just before the first session was
created: `time_to_final_answer` until the final session's done event, across restarts
for `restart`; `time_to_first_writer_token` of the final session; `time_after_last_shard`
from the moment the last shard was given, None when the session ended before it was), thinker/writer tokens (over all sessions of
the task; `final_*` for the last one), steps, stop reason, shards given/heard/used and
restarts. `summarize()` aggregates them per condition and `format_summary()` prints a table.

Nothing here downloads anything; with `random:` models the answers are gibberish and
only the mechanics and timings mean something.
"""

from ..evaluation.checking import (
    answers_match,
    check_answer,
    extract_answer,
    extract_boxed,
    normalize_text,
    parse_number,
)
from .conditions import run_listen, run_listen_eval, run_restart, run_upfront, warm_up
from .main import build_parser, main
from .summary import format_summary, summarize
from .tasks import (
    CONDITIONS,
    DEFAULT_EVERY,
    EXAMPLE_PATH,
    Task,
    TaskFileError,
    load_tasks,
    parse_task,
)

__all__ = [
    "CONDITIONS", "DEFAULT_EVERY", "EXAMPLE_PATH", "Task", "TaskFileError", "answers_match", "build_parser",
    "check_answer", "extract_answer", "extract_boxed", "format_summary", "load_tasks", "main", "normalize_text",
    "parse_number", "parse_task", "run_listen", "run_listen_eval", "run_restart", "run_upfront", "summarize",
    "warm_up",
]
