"""asyncthink: think, listen and write at the same time with an unmodified reasoning LLM."""

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
from .reasoner import AsyncReasoner
from .sampling import SamplingParams
from .session import Session

__all__ = [
    "DEEPSEEK_R1",
    "LAYOUTS",
    "QWEN3",
    "ArenaFull",
    "AsyncReasoner",
    "AsyncThinkError",
    "ChatFormat",
    "ChatFormatError",
    "Engine",
    "Event",
    "Layout",
    "Metrics",
    "ModelLoadError",
    "Result",
    "SamplingParams",
    "Session",
    "SessionError",
    "UnsupportedModelError",
]
__version__ = "0.1.0"
