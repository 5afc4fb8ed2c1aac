"""The training run: tokenizer, corpus stream, model and optimiser, all fixed by one seed.

Deterministic on one machine: a fixed thread count, `torch.manual_seed`, deterministic
algorithms, and a data order drawn from `random.Random(seed)` (batches: a pool of
sequences sorted by length and cut into batches, to waste little on padding). The loss
is the mean cross-entropy over the streams' own tokens only (corpus.py's labels).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .corpus import IGNORE, Renderer, Sequence, example, tokenizer_texts
from .model import Shape, build_model, parameter_count
from .tokenizer import DEFAULT_VOCAB, build_tokenizer

POOL_BATCHES = 8  # batches drawn together and length-sorted


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    steps: int = 3466  # total optimiser steps (ignored with `minutes`); the shipped recipe
    decay_steps: int = 693  # the last steps decay the learning rate linearly to a tenth
    minutes: float | None = None  # instead of `steps`: train for this long, decaying over the last fifth
    batch: int = 8
    lr: float = 2e-3
    warmup: int = 50
    threads: int = 2
    shape: Shape = field(default_factory=Shape)
    vocab: int = DEFAULT_VOCAB
    tokenizer_problems: int = 1500
    log_every: int = 50
    device: str = "cpu"  # the shipped weights are trained on CPU; other devices give other weights
    init: str | None = None  # continue from this model folder (its weights and tokenizer) instead of from scratch
    corpus: int = 1  # corpus version (corpus.VERSIONS): 1 for stages 1-2 of the shipped model, 2 for 3, 3 for 4


def batches(renderer: Renderer, rng: random.Random, batch: int):
    """Endless [batch, length] (ids, labels, attention mask) tensors, right-padded."""
    kinds, weights = list(renderer.corpus.mix), list(renderer.corpus.mix.values())
    pad = renderer.tok.pad_token_id
    while True:
        pool: list[Sequence] = [example(renderer, rng, k) for k in rng.choices(kinds, weights, k=batch * POOL_BATCHES)]
        pool.sort(key=lambda s: len(s.ids))
        groups = [pool[i:i + batch] for i in range(0, len(pool), batch)]
        rng.shuffle(groups)
        for group in groups:
            n = max(len(s.ids) for s in group)
            ids = torch.full((len(group), n), pad)
            labels = torch.full((len(group), n), IGNORE)
            mask = torch.zeros((len(group), n), dtype=torch.long)
            for row, s in enumerate(group):
                ids[row, :len(s.ids)] = torch.tensor(s.ids)
                labels[row, :len(s.ids)] = torch.tensor(s.labels)
                mask[row, :len(s.ids)] = 1
            yield ids, labels, mask


def loss_of(model, ids, labels, mask) -> torch.Tensor:
    """Next-token cross-entropy over labelled positions. ids/labels/mask: [batch, length]."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]  # [batch, length-1, vocab]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                             ignore_index=IGNORE)


def _lr(step: int, cfg: TrainConfig, decay_from: int | None, total: int | None) -> float:
    """Warm-up, then constant, then (from `decay_from` to `total`) linear decay to a tenth.

    It depends on step indices only, so a run stopped by `minutes` is repeated exactly by
    `steps=total, decay_steps=total - decay_from` (train() prints that command)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if decay_from is None or step < decay_from:
        return cfg.lr
    return cfg.lr * (1 - 0.9 * (step - decay_from + 1) / (total - decay_from))


def train(cfg: TrainConfig, out: str | Path | None = None, log=print, on_log=None, data=None):
    """Train from scratch; save a Hugging Face model folder to `out` when given. Returns (model, tokenizer).

    `on_log(step, model, tokenizer)` is called at every log line (e.g. to evaluate part-way);
    `data(renderer)` may replace the batch stream (an iterator of (ids, labels, mask))."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    if cfg.init is None:
        tokenizer = build_tokenizer(tokenizer_texts(cfg.tokenizer_problems, cfg.seed), cfg.vocab)
        model = build_model(tokenizer, cfg.shape, cfg.seed)
    else:  # a later stage: same tokenizer, weights as saved; the seed picks new data
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(cfg.seed)
        tokenizer = AutoTokenizer.from_pretrained(cfg.init)
        model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    model = model.to(cfg.device)
    model.config._attn_implementation = "sdpa"
    length = f"{cfg.minutes} minutes" if cfg.minutes is not None else f"{cfg.steps} steps ({cfg.decay_steps} decaying)"
    log(f"model{'' if cfg.init is None else f' from {cfg.init}'}: {parameter_count(model):,} parameters, vocabulary {len(tokenizer)}; {length} of "
        f"{cfg.batch} sequences, {cfg.threads} threads, seed {cfg.seed}, corpus {cfg.corpus}")
    renderer = Renderer(tokenizer, version=cfg.corpus)
    data = (data or (lambda r: batches(r, random.Random(f"tiny-train/{cfg.seed}"), cfg.batch)))(renderer)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))
    model.train()
    timed = cfg.minutes is not None
    total = None if timed else cfg.steps
    decay_from = None if timed else max(cfg.warmup, cfg.steps - cfg.decay_steps)
    seen, running, since_log, step = 0, 0.0, 0, 0
    while total is None or step < total:
        if timed and decay_from is None and step >= cfg.warmup and \
                time.perf_counter() - started >= 0.8 * cfg.minutes * 60:
            decay_from, total = step, step + max(1, step // 4)
            log(f"decaying from step {step} to {total}: the same run is `--steps {total} "
                f"--decay-steps {total - step}`")
        ids, labels, mask = (t.to(cfg.device) for t in next(data))
        lr = _lr(step, cfg, decay_from, total)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_of(model, ids, labels, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += int(mask.sum())
        running += loss.item()
        since_log += 1
        if step % cfg.log_every == 0 or step == total:
            elapsed = time.perf_counter() - started
            log(f"step {step}{'' if total is None else f'/{total}'}  loss {running / since_log:.4f}  lr {lr:.2e}  "
                f"{seen / elapsed:,.0f} tokens/s  {elapsed / 60:.1f} min")
            running, since_log = 0.0, 0
            if on_log is not None:
                on_log(step, model, tokenizer)
                model.train()
    model.eval()
    if out is not None:
        save(model, tokenizer, out)
        log(f"saved to {out} after {step} steps, {(time.perf_counter() - started) / 60:.1f} min")
    return model, tokenizer


def save(model, tokenizer, out: str | Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.config._attn_implementation = "sdpa"
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
