"""Prepacked oneDNN linears for CPU float32 decoding.

On x86 CPUs, fp32 `F.linear` runs one row through a fast matrix-vector kernel but two or
more rows through a general GEMM that is 2-3x slower per step: the two-stream step (2 rows)
would then cost far more than one ordinary decode step, though it reads the weights only
once. Prepacking each weight into oneDNN's blocked layout (what `torch.compile` does on CPU
with weight freezing) makes 1-, 2- and 16-row products all run at memory speed.

The packed copy lives beside the original weight (which embeddings, saving and training
still use), so linear weights take twice the memory; `unpack_linears` undoes it. Packing
is per module instance: the model's class is not touched, and every caller of the model
(our steps, `generate`) uses the same kernels.

Relies on the private ops `torch.ops.mkldnn._reorder_linear_weight` and
`_linear_pointwise` (guarded by tests/test_cpu_linears.py).
"""

from __future__ import annotations

import types

import torch
from torch import nn

ROWS_HINT = 2  # oneDNN picks its blocking for this batch size; any row count works


def can_pack(model) -> bool:
    param = next(model.parameters())
    return (param.device.type == "cpu" and param.dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


def _packed_forward(self, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad):
        return nn.functional.linear(x, self.weight, self.bias)  # packed weights carry no gradient
    return torch.ops.mkldnn._linear_pointwise(x, self._asyncthink_packed, self._asyncthink_bias, "none", [], "")


def pack_linears(model) -> int:
    """Prepack every nn.Linear of a CPU fp32 model; returns how many were packed."""
    if not can_pack(model):
        return 0
    count = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and not hasattr(module, "_asyncthink_packed"):
                module._asyncthink_packed = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach(), ROWS_HINT)
                module._asyncthink_bias = None if module.bias is None else module.bias.detach()
                module.forward = types.MethodType(_packed_forward, module)
                count += 1
    return count


def unpack_linears(model) -> None:
    for module in model.modules():
        if hasattr(module, "_asyncthink_packed"):
            del module._asyncthink_packed, module._asyncthink_bias, module.forward
