"""asyncthink: think, listen and write at the same time with an unmodified reasoning LLM.

The public names below are imported on first use (PEP 562), so `import asyncthink` and the
command line's `--help` do not pay for torch and transformers until a model is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {  # name -> module that defines it
    "Engine": "engine",
    "ArenaFull": "errors", "AsyncThinkError": "errors", "ChatFormatError": "errors", "ModelLoadError": "errors",
    "SessionError": "errors", "UnsupportedModelError": "errors",
    "Event": "events", "Metrics": "events", "Result": "events",
    "DEEPSEEK_R1": "formats", "QWEN3": "formats", "ChatFormat": "formats",
    "LAYOUTS": "layout", "Layout": "layout",
    "AsyncReasoner": "reasoner",
    "SamplingParams": "sampling",
    "Session": "session",
    "TINY_REASONER": "models",
}

if TYPE_CHECKING:
    from .engine import Engine
    from .errors import (
        ArenaFull,
        AsyncThinkError,
        ChatFormatError,
        ModelLoadError,
        SessionError,
        UnsupportedModelError,
    )
    from .events import Event, Metrics, Result
    from .formats import DEEPSEEK_R1, QWEN3, ChatFormat
    from .layout import LAYOUTS, Layout
    from .models import TINY_REASONER
    from .reasoner import AsyncReasoner
    from .sampling import SamplingParams
    from .session import Session


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'asyncthink' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "ArenaFull",
    "AsyncReasoner",
    "AsyncThinkError",
    "ChatFormat",
    "ChatFormatError",
    "DEEPSEEK_R1",
    "Engine",
    "Event",
    "LAYOUTS",
    "Layout",
    "Metrics",
    "ModelLoadError",
    "QWEN3",
    "Result",
    "SamplingParams",
    "Session",
    "SessionError",
    "TINY_REASONER",
    "UnsupportedModelError",
]
__version__ = "0.1.0"
