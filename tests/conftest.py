import os
import re
import signal
import subprocess
import sys
import threading
import time
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


@pytest.fixture(scope="session")
def served_tiny_reasoner():
    """A real `asyncthink serve -m tiny-reasoner` on 127.0.0.1 (a free port, an API key), shared by the voice
    adapter tests: yields (url, key); stopped with SIGINT (a draining shutdown) at the end of the session."""
    key = "sk-voice-test"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "ASYNCTHINK_API_KEY": key}
    asyncthink = str(Path(sys.executable).with_name("asyncthink"))
    proc = subprocess.Popen([asyncthink, "serve", "-m", "tiny-reasoner", "--port", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        address, log, deadline = None, [], time.monotonic() + 300
        while address is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            log.append(line)
            if match := re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line):
                address = match.group(1)
        assert address, "".join(log)
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # (keep its pipe from filling up)
        yield address, key
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
