"""python -m asyncthink.training --seed 0 --out DIR: train the tiny reasoner from scratch.

The defaults are stage 1 of the shipped folder asyncthink/models/tiny_reasoner/: seed 0,
3466 steps of 8 sequences, learning rate 2e-3 (50 warm-up steps, the last 693 decaying to a
tenth), 2 threads, corpus version 1. Stages 2 to 4 continue it on new data:

    python -m asyncthink.training --init STAGE1 --seed 1 --lr 1e-3 --steps 2151 --decay-steps 430 --out STAGE2
    python -m asyncthink.training --init STAGE2 --corpus 2 --seed 2 --lr 1e-3 --steps 4000 --decay-steps 800 --out STAGE3
    python -m asyncthink.training --init STAGE3 --corpus 3 --seed 3 --lr 5e-4 --steps 1458 --decay-steps 291 --out DIR

(stages 1, 2 and 4 were run with `--minutes`, which stopped at those step counts and printed them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .corpus import VERSIONS
from .loop import TrainConfig
from .model import Shape

DEFAULTS = TrainConfig()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m asyncthink.training",
                                description="Train the tiny reasoner (Qwen3 architecture) on the synthetic arithmetic "
                                            "tasks and the project's layouts; writes a Hugging Face model folder.")
    p.add_argument("--out", required=True, help="folder to write (config, safetensors weights, tokenizer)")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the tokenizer corpus, weights and data order")
    p.add_argument("--steps", type=int, default=DEFAULTS.steps, help="optimiser steps (default %(default)s)")
    p.add_argument("--decay-steps", type=int, default=DEFAULTS.decay_steps,
                   help="last steps over which the learning rate decays to a tenth (default %(default)s)")
    p.add_argument("--minutes", type=float, default=None,
                   help="train for this long instead of --steps (decaying over the last fifth); prints the "
                        "--steps/--decay-steps that repeat the run exactly")
    p.add_argument("--batch", type=int, default=DEFAULTS.batch, help="sequences per step")
    p.add_argument("--lr", type=float, default=DEFAULTS.lr, help="peak learning rate (default %(default)s)")
    p.add_argument("--threads", type=int, default=DEFAULTS.threads, help="torch CPU threads (fixed for determinism)")
    p.add_argument("--hidden", type=int, default=DEFAULTS.shape.hidden, help="hidden size")
    p.add_argument("--layers", type=int, default=DEFAULTS.shape.layers, help="decoder layers")
    p.add_argument("--init", help="continue training this model folder (a later stage) instead of starting afresh")
    p.add_argument("--corpus", type=int, default=DEFAULTS.corpus, choices=sorted(VERSIONS),
                   help="corpus version: 1 (stages 1-2 of the shipped model), 2 (stage 3: more corrections, "
                        "corrections restated), 3 (stage 4: practice at restating); default %(default)s")
    p.add_argument("--device", default="cpu", help="cpu (how the shipped weights were made) or e.g. cuda")
    p.add_argument("--log-every", type=int, default=DEFAULTS.log_every, help="steps between progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("steps", "decay_steps", "batch", "threads", "hidden", "layers", "log_every"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}", file=sys.stderr)
            return 1
    if args.hidden % 32:
        print(f"error: --hidden must be a multiple of 32 (heads of 32 dimensions), got {args.hidden}", file=sys.stderr)
        return 1
    if args.decay_steps > args.steps:
        print("error: --decay-steps must not exceed --steps", file=sys.stderr)
        return 1
    if args.minutes is not None and not args.minutes > 0:
        print(f"error: --minutes must be positive, got {args.minutes}", file=sys.stderr)
        return 1
    if not args.lr > 0:
        print(f"error: --lr must be positive, got {args.lr}", file=sys.stderr)
        return 1
    if args.init is not None and not (Path(args.init) / "config.json").is_file():
        print(f"error: --init {args.init!r} is not a model folder (no config.json)", file=sys.stderr)
        return 1
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"error: --out {str(out)!r} exists and is not a folder", file=sys.stderr)
        return 1
    import torch

    if args.device != "cpu" and not (args.device.startswith("cuda") and torch.cuda.is_available()):
        print(f"error: device {args.device!r} is not available here; use --device cpu", file=sys.stderr)
        return 1
    shape = Shape(hidden=args.hidden, layers=args.layers, heads=args.hidden // 32, kv_heads=2 if args.hidden >= 64 else 1,
                  head_dim=32, intermediate=args.hidden * 3)
    cfg = TrainConfig(seed=args.seed, steps=args.steps, decay_steps=args.decay_steps, minutes=args.minutes,
                      batch=args.batch, lr=args.lr, threads=args.threads, shape=shape, device=args.device,
                      log_every=args.log_every, init=args.init, corpus=args.corpus)
    from .loop import train

    train(cfg, out, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
