"""Models shipped inside the package, loaded by name with no network.

    "tiny-reasoner"  ─▶  asyncthink/models/tiny_reasoner/   an ordinary Hugging Face model folder
                         (Qwen3 architecture, the project's BPE tokenizer with Qwen3's chat template),
                         trained by `python -m asyncthink.training` on the task family of tiny_tasks.py

`TINY_REASONER` is public API: `transformers.AutoModelForCausalLM.from_pretrained(TINY_REASONER)`
loads it as any model, and `AsyncReasoner.from_pretrained("tiny-reasoner")` resolves the name here.
"""

from __future__ import annotations

from pathlib import Path

TINY_REASONER = Path(__file__).parent / "tiny_reasoner"
SHIPPED: dict[str, Path] = {"tiny-reasoner": TINY_REASONER}


def shipped_path(name: str) -> Path | None:
    """The folder of a shipped model's name, or None for any other name (a Hub name, a path, ...)."""
    return SHIPPED.get(name)
