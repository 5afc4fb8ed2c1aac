"""`asyncthink serve` as a real process (default bind, API key from the environment, one streamed
completion) and the load benchmark's client loop against an in-process server."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from asyncthink import AsyncReasoner
from asyncthink.bench.server_load import _load, _memory, _summary
from asyncthink.models.random_weights import tiny_model
from asyncthink.server import ServerConfig, create_app, serve_in_thread

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEC = "random:Qwen/Qwen3-0.6B"


@pytest.fixture(scope="module")
def served():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "ASYNCTHINK_API_KEY": "sk-from-env"}
    proc = subprocess.Popen([ASYNCTHINK, "serve", "-m", SPEC, "--layers", "1", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address, log = None, []
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            log.append(line)
            if match := re.search(r"Uvicorn running on (http://[\d.]+:\d+)", line):
                address = match.group(1)
        assert address, "".join(log)
        yield address, log, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_binds_localhost_requires_the_key_and_streams(served):
    url, log, _ = served
    assert url.startswith("http://127.0.0.1:")
    assert "random weights" in "".join(log)
    assert httpx.get(f"{url}/v1/models", timeout=30).status_code == 401
    key = {"Authorization": "Bearer sk-from-env"}
    assert httpx.get(f"{url}/v1/models", headers=key, timeout=30).json()["data"][0]["id"] == SPEC
    body = {"model": SPEC, "messages": [{"role": "user", "content": "What is 17 * 23?"}], "max_tokens": 3,
            "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=key, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.status_code == 200 and lines[-1] == "data: [DONE]" and len(lines) >= 3


def test_load_benchmark_clients_complete_requests_and_report_figures():
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    config = ServerConfig(model_name="tiny", capacity=30_000)
    with serve_in_thread(create_app(reasoner, config), config) as url:
        options = {"max_tokens": 12, "max_thinker_tokens": 4, "check_every": 4}
        polls = []
        results, wall = asyncio.run(_load(url, "tiny", 3, 1.0, 30.0, options, {}, polls))
        batch_sizes = httpx.get(f"{url}/health").json()["batch_sizes"]
    summary = _summary(results, wall, batch_sizes)
    memory = _memory(polls)  # /health polled while the clients sent requests
    assert memory["polls"] >= 2 and memory["sessions_running_max"] <= 3 and memory["preemptions"] == 0
    assert memory["kv_slots_capacity"] == 30_000 - 30_000 % 16
    assert memory["kv_slots_per_session"] is None or 0 < memory["kv_slots_per_session"] < 30_000
    assert summary["completed"] == len(results) >= 3 and summary["refused"] == 0
    assert summary["tokens"] == sum(r["usage"]["completion_tokens"] for r in results) > 0
    assert 0 < summary["ttft_writer_p50_s"] <= summary["ttft_writer_p95_s"] < wall
    assert summary["sessions_per_forward"] > 1


def test_readme_examples_run_against_a_server():
    reasoner = AsyncReasoner(*tiny_model("qwen3"))
    config = ServerConfig(model_name="tiny", capacity=30_000)
    with serve_in_thread(create_app(reasoner, config), config) as url:
        env = {**os.environ, "ASYNCTHINK_URL": url}
        outputs = {name: subprocess.run([sys.executable, str(EXAMPLES / name), "What is 2 + 3?", "Make it 4."],
                                        env=env, capture_output=True, text=True, timeout=120, check=False)
                   for name in ("openai_client.py", "ws_client.py")}
    for name, done in outputs.items():
        assert done.returncode == 0, (name, done.stderr)
    assert "[usage] thinker" in outputs["openai_client.py"].stdout
    ws_out = outputs["ws_client.py"].stdout
    assert "[heard -> thinker] Make it 4." in ws_out and "[done: " in ws_out


@pytest.mark.parametrize("args, message", [(["--clients", "0"], "--clients: must be an integer >= 1"),
                                           (["--duration", "-5"], "--duration: must be a number >= 0.1")])
def test_load_benchmark_rejects_bad_numbers(args, message, capsys):
    from asyncthink.bench.server_load import main

    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err


def test_sigterm_drains_a_running_stream_then_the_process_exits(served):
    """(Last: it stops the served process.) SIGTERM while a stream runs: the stream still ends with
    [DONE] (finished, or an error chunk once --drain-timeout passes) and the process exits cleanly."""
    url, _, proc = served
    body = {"model": SPEC, "messages": [{"role": "user", "content": "Count to ten."}], "max_tokens": 8,
            "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120,
                      headers={"Authorization": "Bearer sk-from-env"}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: {")  # the stream is running
        proc.send_signal(signal.SIGTERM)
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # (uvicorn re-raises the signal once drained)
