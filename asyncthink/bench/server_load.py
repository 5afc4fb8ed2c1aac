"""Load benchmark for `asyncthink serve`: N concurrent streaming clients for a fixed time.

    python -m asyncthink.bench.server_load --clients 8 --duration 60 --layers 4     (or: asyncthink bench-server)

Starts the server in this process on 127.0.0.1 (an ephemeral port) with a random-weight model,
or targets a running one with --url. Each client sends streaming chat completions back to back
(`stream_options.include_usage`, a different question each time, greedy) until the duration is
over; requests still running then may finish within --grace seconds, after which they are
abandoned (disconnected) and counted as unfinished. Reported: requests completed, time to the
first writer token (answer text) and to the first token of either stream, measured by the
client from sending the request, p50/p95; the longest gap between two tokens of one response
after its first (a stall: other requests' prefill shares the forward passes), p50/p95;
tokens per second (thinker + writer tokens of the
completed requests, from their usage, over the wall time); sessions per forward pass, from the
server's /health; and, from /health polled every 0.25 s while the clients send requests, the
sessions running (mean, max), the KV slots they hold per session (mean over the polls with a
session running) and the preemptions (servers with a paged KV pool).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

from .conditions import cpus, processor
from .main import at_least


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one_request(http: httpx.AsyncClient, url: str, model: str, question: str, options: dict,
                       streamed: list[int] | None = None) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": question}], **options,
            "stream": True, "stream_options": {"include_usage": True}}
    sent = time.perf_counter()
    first_token = first_writer = last = None
    longest_gap = 0.0
    usage = None
    async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return {"status": response.status_code, "error": (await response.aread()).decode(errors="replace")}
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]
            delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
            now = time.perf_counter() - sent
            if delta.get("content") or delta.get("reasoning"):
                if streamed is not None:
                    streamed[0] += 1  # chunks of text, abandoned requests' included
                if last is not None:
                    longest_gap = max(longest_gap, now - last)
                last = now
            if first_token is None and (delta.get("content") or delta.get("reasoning")):
                first_token = now
            if first_writer is None and delta.get("content"):
                first_writer = now
    return {"status": 200, "first_token": first_token, "first_writer": first_writer, "usage": usage,
            "longest_gap": longest_gap, "seconds": time.perf_counter() - sent}


async def _poll_health(http: httpx.AsyncClient, url: str, until: float, polls: list[dict]) -> None:
    while time.perf_counter() < until:
        try:
            polls.append((await http.get(f"{url}/health", timeout=5)).json())
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.25)


async def _load(url: str, model: str, clients: int, duration: float, grace: float, options: dict,
                headers: dict[str, str], polls: list[dict], streamed: list[int] | None = None) -> tuple[list[dict], float]:
    results: list[dict] = []
    start = time.perf_counter()
    deadline = start + duration
    counter = iter(range(10**9))

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            k = next(counter)
            result = await _one_request(http, url, model, f"Question {k}: what is {k} + {2 * k + 1}?", options,
                                        streamed)
            results.append(result)
            if result["status"] != 200:
                await asyncio.sleep(1.0)  # refused (full, or an error): back off instead of spinning

    async with httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=clients), headers=headers) as http:
        tasks = [asyncio.create_task(client(http)) for _ in range(clients)]
        async with httpx.AsyncClient() as monitor:
            poller = asyncio.create_task(_poll_health(monitor, url, deadline, polls))
            await asyncio.wait(tasks, timeout=duration + grace)
            await poller
        for task in tasks:
            task.cancel()  # abandoned mid-request: the server cancels those sessions
        await asyncio.gather(*tasks, return_exceptions=True)
    return results, time.perf_counter() - start


def _memory(polls: list[dict]) -> dict:
    """Sessions running and the KV slots they hold, from /health polled during the load."""
    busy = [p for p in polls if p.get("sessions")]
    preemptions = [p["kv_pages"]["preemptions"] for p in polls if "kv_pages" in p]
    return {
        "polls": len(polls),
        "sessions_running_mean": statistics.fmean(p["sessions"] for p in polls) if polls else None,
        "sessions_running_max": max((p["sessions"] for p in polls), default=None),
        "kv_slots_per_session": (statistics.fmean(p["kv_slots"]["allocated"] / p["sessions"] for p in busy)
                                 if busy else None),
        "kv_slots_held_max": max((p["kv_slots"]["allocated"] for p in polls), default=None),
        "kv_slots_capacity": polls[0]["kv_slots"]["capacity"] if polls else None,
        "preemptions": (preemptions[-1] - preemptions[0]) if preemptions else None,
    }


def _summary(results: list[dict], wall: float, batch_sizes: dict[str, int]) -> dict:
    done = [r for r in results if r["status"] == 200 and r["usage"]]
    ttft_writer = [r["first_writer"] for r in done if r["first_writer"] is not None]
    ttft_any = [r["first_token"] for r in done if r["first_token"] is not None]
    tokens = sum(r["usage"]["completion_tokens"] for r in done)
    writer_tokens = sum(r["usage"]["writer_tokens"] for r in done)
    passes = sum(batch_sizes.values())
    return {
        "completed": len(done), "refused": sum(r["status"] != 200 for r in results), "wall_s": wall,
        "first_error": next((f"{r['status']} {r['error']}" for r in results if r["status"] != 200), None),
        "requests_with_writer_text": len(ttft_writer),
        "ttft_writer_p50_s": _percentile(ttft_writer, 0.5), "ttft_writer_p95_s": _percentile(ttft_writer, 0.95),
        "ttft_any_p50_s": _percentile(ttft_any, 0.5), "ttft_any_p95_s": _percentile(ttft_any, 0.95),
        "longest_gap_p50_s": _percentile([r["longest_gap"] for r in done], 0.5),
        "longest_gap_p95_s": _percentile([r["longest_gap"] for r in done], 0.95),
        "tokens": tokens, "tokens_per_s": tokens / wall, "writer_tokens_per_s": writer_tokens / wall,
        "mean_request_s": statistics.fmean(r["seconds"] for r in done) if done else None,
        "sessions_per_forward": (sum(int(k) * v for k, v in batch_sizes.items()) / passes) if passes else None,
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="asyncthink bench-server", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None, help="a running server (default: start one in this process)")
    p.add_argument("--api-key", default=None)
    p.add_argument("--model", default="random:Qwen/Qwen3-0.6B")
    p.add_argument("--layers", type=at_least(1), default=None, help="random: models: number of hidden layers")
    p.add_argument("--threads", type=at_least(1), default=2, help="torch threads (in-process server)")
    p.add_argument("--clients", type=at_least(1), default=8)
    p.add_argument("--duration", type=at_least(0.1, float), default=60.0, help="seconds during which clients send requests")
    p.add_argument("--grace", type=at_least(0, float), default=60.0, help="seconds more for requests still running")
    p.add_argument("--max-tokens", type=at_least(1), default=64)
    p.add_argument("--check-every", type=at_least(1), default=8)
    p.add_argument("--max-thinker-tokens", type=at_least(1), default=32,
                   help="the writer goes on alone after this many thought tokens (random weights rarely say yes)")
    p.add_argument("--capacity", type=at_least(64), default=16384, help="KV slots of the in-process server")
    p.add_argument("--page-size", type=at_least(1), default=16, help="KV slots per page of the in-process server")
    p.add_argument("--prefill-chunk", type=at_least(0), default=256,
                   help="prompt tokens per forward pass in the in-process server (0: whole prompts)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)

    if args.url:
        headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
        model = httpx.get(f"{args.url}/v1/models", headers=headers, timeout=30).json()["data"][0]["id"]
        conditions = f"server {args.url}, model {model}"
        summary = _run(args, args.url, model)
    else:
        import torch
        import transformers

        from ..reasoner import AsyncReasoner
        from ..server import ServerConfig, create_app, serve_in_thread

        torch.set_num_threads(args.threads)
        overrides = {} if args.layers is None else {"num_hidden_layers": args.layers}
        reasoner = AsyncReasoner.from_pretrained(args.model, device="cpu", dtype="float32", **overrides)
        c = reasoner.model.config
        model = args.model
        config = ServerConfig(model_name=model, max_waiting=4 * args.clients, capacity=args.capacity,
                              page_size=args.page_size, prefill_chunk=args.prefill_chunk or None)
        conditions = (f"in-process server on 127.0.0.1, {model} (layers {c.num_hidden_layers}, hidden {c.hidden_size}), "
                      f"float32, cpu, {args.threads} torch threads, {processor()} x{cpus()}, KV capacity {args.capacity} slots "
                      f"in pages of {args.page_size}, "
                      f"prefill chunk {args.prefill_chunk or 'off'}; "
                      f"torch {torch.__version__}, transformers {transformers.__version__}")
        with serve_in_thread(create_app(reasoner, config), config) as url:
            summary = _run(args, url, model)
    print(f"asyncthink bench-server: {conditions}")
    print(f"{args.clients} concurrent streaming clients for {args.duration:g} s (+ up to {args.grace:g} s to finish); "
          f"max_tokens {args.max_tokens}, max_thinker_tokens {args.max_thinker_tokens}, check_every "
          f"{args.check_every}, greedy, async mode")
    print(f"requests completed: {summary['completed']} (refused: {summary['refused']}) in {summary['wall_s']:.1f} s; "
          f"mean request {_fmt(summary['mean_request_s'])} s")
    print(f"time to first writer token: p50 {_fmt(summary['ttft_writer_p50_s'])} s, p95 "
          f"{_fmt(summary['ttft_writer_p95_s'])} s ({summary['requests_with_writer_text']} requests with answer text)")
    print(f"time to first token (either stream): p50 {_fmt(summary['ttft_any_p50_s'])} s, p95 "
          f"{_fmt(summary['ttft_any_p95_s'])} s")
    print(f"longest gap between tokens of one response: p50 {_fmt(summary['longest_gap_p50_s'])} s, p95 "
          f"{_fmt(summary['longest_gap_p95_s'])} s")
    print(f"tokens/s (thinker + writer): {summary['tokens_per_s']:.1f}; writer tokens/s: "
          f"{summary['writer_tokens_per_s']:.1f}; sessions per forward pass: {_fmt(summary['sessions_per_forward'])}")
    print(f"text chunks streamed (every request, unfinished ones included): {summary['streamed_chunks']} "
          f"({summary['streamed_chunks_per_s']:.1f}/s)")
    print(f"sessions running (from /health, {summary['polls']} polls): mean {_fmt(summary['sessions_running_mean'])}, "
          f"max {summary['sessions_running_max']}; KV slots held per running session: "
          f"{_fmt(summary['kv_slots_per_session'])} (most held at once {summary['kv_slots_held_max']} of "
          f"{summary['kv_slots_capacity']}); preemptions: "
          f"{'n/a' if summary['preemptions'] is None else summary['preemptions']}")
    if summary["first_error"]:
        print(f"first refusal: {summary['first_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"conditions": conditions, "args": vars(args), **summary}, f, indent=2)
    return 0


def _run(args, url: str, model: str) -> dict:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    before = httpx.get(f"{url}/health", timeout=30).json()["batch_sizes"]
    options = {"max_tokens": args.max_tokens, "max_thinker_tokens": args.max_thinker_tokens,
               "check_every": args.check_every}
    polls: list[dict] = []
    streamed = [0]
    results, wall = asyncio.run(_load(url, model, args.clients, args.duration, args.grace, options, headers, polls,
                                      streamed))
    after = httpx.get(f"{url}/health", timeout=30).json()["batch_sizes"]
    return {**_summary(results, wall, {k: v - before.get(k, 0) for k, v in after.items()}), **_memory(polls),
            "streamed_chunks": streamed[0], "streamed_chunks_per_s": streamed[0] / wall}


if __name__ == "__main__":
    raise SystemExit(main())
