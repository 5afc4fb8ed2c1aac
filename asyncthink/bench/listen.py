"""Listening cost: making heard tokens visible to both streams vs restarting.

At each total context C (blocks filled synthetically, synthetic.py):

  listen   one step that feeds the thinker's pending token plus `heard` new tokens into
           the thoughts (the default `listen(to="thinker")` path; the writer reads the
           thoughts, so both streams see them) together with the writer's decode row;
  step     the ordinary two-stream step at the same context, for reference;
  restart  what an engine without listening pays instead: a fresh prefill of everything
           the streams had (C tokens, each once, through the stock HF forward; a lower
           bound, since the two views overlap and a real restart prefills both).
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.plan import Chunk
from .synthetic import THINKER_VIEW, WRITER_VIEW, make_async_runner
from .table import render
from .timing import median_ms


def _measure_one(model, context: int, heard: int, repeats: int, device) -> dict[str, Any]:
    runner = make_async_runner(model, context, thoughts_room=1 + heard)
    thoughts, answer = runner.table["thoughts"], runner.table["answer"]
    lengths = (thoughts.length, answer.length)

    def run(thinker_tokens: int):
        runner.run([Chunk("thinker", THINKER_VIEW, "thoughts", [1] * thinker_tokens),
                    Chunk("writer", WRITER_VIEW, "answer", [1])])
        runner.table.truncate("thoughts", lengths[0])
        runner.table.truncate("answer", lengths[1])

    run(1 + heard)  # warm-up
    listen = median_ms(lambda: run(1 + heard), repeats, device)
    step = median_ms(lambda: run(1), repeats, device)
    runner.release()  # free the arena before the restart prefill
    ids = torch.ones(1, context, dtype=torch.long, device=device)
    restart = median_ms(lambda: model(input_ids=ids, use_cache=True, logits_to_keep=1), 1, device)
    return {"context": context, "heard": heard, "listen_ms": listen, "step_ms": step, "restart_ms": restart,
            "restart_over_listen": restart / listen}


def measure_listen(model, contexts, heard: int = 32, repeats: int = 5, log=lambda msg: None) -> dict[str, Any]:
    device = next(model.parameters()).device
    rows = []
    with torch.inference_mode():
        for context in contexts:
            log(f"listen: context {context}, {heard} heard tokens ...")
            rows.append(_measure_one(model, context, heard, repeats, device))
    return {"heard": heard, "repeats": repeats, "rows": rows}


def format_listen(section: dict[str, Any]) -> list[str]:
    lines = [(f"Listening: {section['heard']} heard tokens made visible to both streams (1 + heard rows into the "
             "thoughts + the writer's row) vs a restart (stock prefill of the whole context, once)"), ""]
    table = [["context", "heard", "listen ms", "step ms", "restart ms", "restart/listen"]]
    for r in section["rows"]:
        table.append([str(r["context"]), str(r["heard"]), f"{r['listen_ms']:.1f}", f"{r['step_ms']:.1f}",
                      f"{r['restart_ms']:.1f}", f"{r['restart_over_listen']:.1f}"])
    return lines + render(table)
