"""Listening benchmark: cost of making heard tokens visible to both streams vs restarting.

    python -m asyncthink.bench_listen --contexts 2048,8192 --heard 32

At each total context C (random weights of a real shape, blocks filled synthetically as
in bench.py):

  listen   one step that feeds the thinker's pending token plus `heard` new tokens into
           the thoughts (the default `listen(to="thinker")` path; the writer reads the
           thoughts, so both streams see them) together with the writer's decode row;
  step     the ordinary two-stream step at the same context, for reference;
  restart  what an engine without listening pays instead: a fresh prefill of everything
           the streams had (C tokens, each once, through the stock HF forward; a lower
           bound, since the two views overlap and a real restart prefills both).

Prints the times and restart / listen, the ratio the speed issue targets (>= 50 at 8192).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import transformers

from .bench import THINKER_VIEW, WRITER_VIEW, _load, _loadavg, make_async_runner
from .cpu_linears import pack_linears
from .plan import Chunk

TARGET = (8192, 50.0)


def _median_ms(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def measure(model, context: int, heard: int, repeats: int) -> dict:
    runner = make_async_runner(model, context)
    runner.table["thoughts"].capacity += heard  # room for the heard tokens (blocks are sized exactly)
    thoughts, answer = runner.table["thoughts"], runner.table["answer"]
    lengths = (thoughts.length, answer.length)

    def run(thinker_tokens: int):
        runner.run([Chunk("thinker", THINKER_VIEW, "thoughts", [1] * thinker_tokens),
                    Chunk("writer", WRITER_VIEW, "answer", [1])])
        del thoughts.tokens[lengths[0]:], answer.tokens[lengths[1]:]

    with torch.inference_mode():
        run(1 + heard)  # warm-up
        listen = _median_ms(lambda: run(1 + heard), repeats)
        step = _median_ms(lambda: run(1), repeats)
        runner.release()  # free the arena before the restart prefill
        ids = torch.ones(1, context, dtype=torch.long)
        t0 = time.perf_counter()
        model(input_ids=ids, use_cache=True, logits_to_keep=1)  # a restart's prefill (stock SDPA)
        restart = (time.perf_counter() - t0) * 1e3
    return {"context": context, "heard": heard, "listen_ms": listen, "step_ms": step, "restart_ms": restart,
            "restart_over_listen": restart / listen}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="asyncthink bench-listen", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="random:Qwen/Qwen3-0.6B")
    p.add_argument("--contexts", default="2048,8192", help="comma-separated total contexts")
    p.add_argument("--heard", type=int, default=32, help="heard tokens made visible")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layers", type=int, default=None, help="override num_hidden_layers (smoke runs)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, spec = _load(args.model, torch.float32, "cpu", 0, args.layers, lambda msg: None)
    from . import adapter

    adapter.attach(model)
    pack_linears(model)
    c = model.config
    print(f"asyncthink bench-listen: {spec} (layers {c.num_hidden_layers}, hidden {c.hidden_size}, "
          f"kv heads {c.num_key_value_heads}), float32, cpu, {args.threads} threads, {platform.processor() or platform.machine()}; "
          f"torch {torch.__version__}, transformers {transformers.__version__}; load average {_loadavg()}")
    print("listen: 1 + heard rows into the thoughts + the writer's row; restart: stock prefill of the whole context")
    print(f"{'context':>7} | {'heard':>5} | {'listen ms':>9} | {'step ms':>8} | {'restart ms':>10} | restart/listen")
    for context in (int(x) for x in args.contexts.split(",")):
        r = measure(model, context, args.heard, args.repeats)
        print(f"{context:>7} | {r['heard']:>5} | {r['listen_ms']:>9.1f} | {r['step_ms']:>8.1f} | "
              f"{r['restart_ms']:>10.1f} | {r['restart_over_listen']:.1f}")
        if context == TARGET[0]:
            verdict = "PASS" if r["restart_over_listen"] >= TARGET[1] else "MISS"
            print(f"target restart/listen >= {TARGET[1]:.0f} at {context}: {r['restart_over_listen']:.1f} -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
