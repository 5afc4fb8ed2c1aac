"""asyncthink: think, listen and write at the same time with an unmodified reasoning LLM."""

from .errors import AsyncThinkError, ChatFormatError, ModelLoadError, SessionError, UnsupportedModelError
from .events import Event, Metrics, Result
from .formats import DEEPSEEK_R1, QWEN3, ChatFormat
from .layout import LAYOUTS, Layout
from .reasoner import AsyncReasoner
from .sampling import SamplingParams
from .session import Session

__all__ = [
    "AsyncReasoner", "Session", "Event", "Metrics", "Result", "Layout", "LAYOUTS", "ChatFormat", "QWEN3",
    "DEEPSEEK_R1", "SamplingParams", "AsyncThinkError", "ChatFormatError", "ModelLoadError", "SessionError",
    "UnsupportedModelError",
]
__version__ = "0.1.0"
