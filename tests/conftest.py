import sys
from pathlib import Path

import pytest
import torch

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model

sys.path.insert(0, str(Path(__file__).parent))
# tiny models: one thread avoids OpenMP wake-up costs that dominate small ops on a busy machine
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_reasoner():
    """A tiny random qwen3 reasoner shared by the CLI and evaluation tests (one thread: the tiny
    model gains nothing from two, and on a loaded machine two threads meeting at a barrier for
    every small op can make a step a hundred times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield AsyncReasoner(*tiny_model("qwen3"))
    torch.set_num_threads(threads)
