"""Timing helpers: wall time around a step with the device synchronised, round-robin schedules."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[], Any], reset: Callable[[], None], repeats: int, warmup: int, device) -> list[float]:
    """Wall time (ms) of `step` for each of `repeats` runs after `warmup`; `reset` (untimed) after each."""
    samples = []
    for i in range(warmup + repeats):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        elapsed = (time.perf_counter() - t0) * 1e3
        reset()
        if i >= warmup:
            samples.append(elapsed)
    return samples


def time_interleaved(steps: dict[str, tuple[Callable[[], Any], Callable[[], None]]], repeats: int, warmup: int,
                      device) -> dict[str, list[float]]:
    """Like `time_steps` for several methods at once, round-robin: repeat i times every method
    once, starting at a rotating method, so load from other processes hits all methods alike."""
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            step, reset = steps[name]
            step()
            reset()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            samples[name].extend(time_steps(*steps[name], repeats=1, warmup=0, device=device))
    return samples


def median_ms(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    """Median wall time (ms) of `fn` over `repeats` calls, the device synchronised around each."""
    return statistics.median(time_steps(fn, lambda: None, repeats, 0, device))
