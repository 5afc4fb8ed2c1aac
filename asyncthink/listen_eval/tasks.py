"""Task files: one task per JSON line, told in shards (see the package docstring for the format)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AsyncThinkError
from ..evaluation.checking import parse_number

CONDITIONS = ("upfront", "listen", "restart")
ANSWER_TYPES = ("number", "text")
DEFAULT_EVERY = 64
EXAMPLE_PATH = Path(__file__).parent.parent / "data" / "sharded_example.jsonl"
SHARD_SEPARATOR = "\n\n"
_REQUIRED = {"id": str, "shards": list, "answer": str}


class TaskFileError(AsyncThinkError):
    """The task file could not be read or a line does not describe a valid task."""


@dataclass(frozen=True)
class Task:
    id: str
    shards: tuple[str, ...]
    answer: str
    answer_type: str = "number"
    line: int = 0  # line number in the file it came from (1-based; 0 when built in code)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.shards:
            raise TaskFileError(f"task {self.id!r} has no shards")
        if self.answer_type not in ANSWER_TYPES:
            raise TaskFileError(f"task {self.id!r}: answer_type must be one of {', '.join(ANSWER_TYPES)}")

    @property
    def full_problem(self) -> str:
        return SHARD_SEPARATOR.join(self.shards)



def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__)


def parse_task(obj: Any, where: str = "task", line: int = 0) -> Task:
    """Validate one decoded JSON value as a task; errors start with `where`."""
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: expected a JSON object, got {_type_name(obj)}")
    for name, kind in _REQUIRED.items():
        if name not in obj:
            raise TaskFileError(f"{where}: missing field {name!r}")
        if not isinstance(obj[name], kind):
            expected = "a list of strings" if kind is list else "a string"
            raise TaskFileError(f"{where}: field {name!r} must be {expected}, got {_type_name(obj[name])}")
    if not obj["id"].strip():
        raise TaskFileError(f"{where}: field 'id' is empty")
    shards = obj["shards"]
    if not shards:
        raise TaskFileError(f"{where}: field 'shards' is empty; give at least the initial request")
    for i, shard in enumerate(shards):
        if not isinstance(shard, str):
            raise TaskFileError(f"{where}: field 'shards' item {i} must be a string, got {_type_name(shard)}")
        if not shard.strip():
            raise TaskFileError(f"{where}: field 'shards' item {i} is empty")
    answer_type = obj.get("answer_type", "number")
    if answer_type not in ANSWER_TYPES:
        raise TaskFileError(f"{where}: field 'answer_type' must be one of {', '.join(ANSWER_TYPES)}, "
                            f"got {answer_type!r}")
    answer = obj["answer"]
    if not answer.strip():
        raise TaskFileError(f"{where}: field 'answer' is empty")
    if answer_type == "number" and parse_number(answer, strict=True) is None:
        raise TaskFileError(f"{where}: field 'answer' must be a number for answer_type 'number', got {answer!r} "
                            "(set \"answer_type\": \"text\" for other answers)")
    meta = {k: v for k, v in obj.items() if k not in ("id", "shards", "answer", "answer_type")}
    return Task(obj["id"], tuple(shards), answer, answer_type, line, meta)


def load_tasks(path: str | Path) -> list[Task]:
    """Read and validate a JSONL task file (format in the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFileError(f"cannot read task file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    tasks: list[Task] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        task = parse_task(obj, where, number)
        if task.id in first_line:
            raise TaskFileError(f"{where}: field 'id': duplicate id {task.id!r} (first on line {first_line[task.id]})")
        first_line[task.id] = number
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{path}: no tasks (expected one JSON object per line)")
    return tasks
