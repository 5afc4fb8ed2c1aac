"""What a benchmark ran on: machine, versions, model shape, load; printed and stored with every figure."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch


def processor() -> str:
    name = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return name or platform.machine()


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 0


def model_conditions(model, spec: str) -> dict[str, Any]:
    c = model.config
    heads = c.num_attention_heads
    return {
        "spec": spec,
        "architecture": type(model).__name__,
        "layers": c.num_hidden_layers,
        "hidden": c.hidden_size,
        "heads": heads,
        "kv_heads": getattr(c, "num_key_value_heads", None) or heads,
        "head_dim": getattr(c, "head_dim", None) or c.hidden_size // heads,
        "vocab": c.vocab_size,
        "tied_embeddings": bool(getattr(c, "tie_word_embeddings", False)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weight_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
    }


def environment(model, spec: str, requested_threads: int | None) -> dict[str, Any]:
    """Machine, device, versions, threads, dtype, model shape and the OpenMP environment."""
    import transformers

    device = next(model.parameters()).device
    name = str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})"
    return {
        "machine": {"processor": processor(), "platform": platform.platform(), "cpus": cpus(), "device": name},
        "torch_threads": torch.get_num_threads(),
        "requested_threads": requested_threads,
        "dtype": str(model.dtype).replace("torch.", ""),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")},
        "model": model_conditions(model, spec),
        "load_average_start": loadavg(),
    }


def describe(c: dict[str, Any]) -> list[str]:
    """The header lines every section's table is printed under."""
    m, mc = c["model"], c["machine"]
    return [
        f"machine: {mc['processor']}, {mc['cpus']} CPUs, {mc['platform']}; device {mc['device']}",
        (f"torch threads: {c['torch_threads']}; dtype: {c['dtype']}; torch {c['torch']}; "
        f"transformers {c['transformers']}; python {c['python']}; "
        f"OMP_WAIT_POLICY={c['env'].get('OMP_WAIT_POLICY') or 'unset'}"),
        (f"model: {m['spec']} ({m['architecture']}): layers {m['layers']}, hidden {m['hidden']}, heads {m['heads']}, "
        f"kv heads {m['kv_heads']}, head_dim {m['head_dim']}, vocab {m['vocab']}, "
        f"tied embeddings {m['tied_embeddings']}, {m['parameters'] / 1e6:.1f}M params "
        f"({m['weight_bytes'] / 2**30:.2f} GiB)"),
        f"linear layers: {c.get('linears', 'stock torch F.linear')}",
        (f"load average (1/5/15 min) at start {c['load_average_start']}, end {c.get('load_average_end')} "
        "(> threads means other processes competed for the CPUs)"),
    ]


def contention_note(c: dict[str, Any]) -> str | None:
    loads = [x for x in (c.get("load_average_start"), c.get("load_average_end")) if x]
    busy = any(x[0] > c["machine"]["cpus"] * 0.75 for x in loads)
    passive = (c["env"].get("OMP_WAIT_POLICY") or "").upper() == "PASSIVE"
    if busy and not passive and c["torch_threads"] > 1:
        return (
            "WARNING: the CPUs were busy with other processes and OpenMP threads spin-wait by default: "
            "steps made of many small ops (asyncthink, naive) slow down far more than HF's. "
            "Rerun on an idle machine, or with OMP_WAIT_POLICY=PASSIVE set in the environment."
        )
    return None
