"""Pure rotary rotations by position offsets (DESIGN.md section 1).

A query stored at local position j of block w and a key at local position l of block b
score as if they were at view positions o_w + j and o_b + l when the query is rotated once
more by delta = o_w - o_b. That extra rotation is built here from the model's inverse
frequencies, never from the cos/sin the model hands out: those carry YaRN's attention
scaling, which the query already has once.

Layout of a head vector (HF "rotate_half" convention, used by Qwen, Llama, Mistral):

    [ x1 (rot/2) | x2 (rot/2) | pass-through (head_dim - rot) ]

where rot = 2 * len(inv_freq); partial rotary models leave the tail unrotated.
"""

from __future__ import annotations

import torch


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class OffsetRotary:
    """Rotations R(delta) for integer offsets, shared by every layer of a model."""

    def __init__(self, inv_freq: torch.Tensor, head_dim: int):
        # float64 angles: delta * inv_freq reaches ~1e4 rad at long contexts, where float32
        # would lose ~1e-3 rad; the small tables are cast to the model dtype afterwards.
        self.inv_freq = inv_freq.detach().to("cpu", torch.float64)
        self.rot_dim = 2 * self.inv_freq.numel()
        self.head_dim = head_dim
        if self.rot_dim > head_dim:
            raise ValueError(f"rotary dim {self.rot_dim} exceeds head_dim {head_dim}")

    def cos_sin(self, deltas: torch.Tensor, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        """deltas: integer tensor [...] -> cos, sin [..., rot_dim] in `dtype` on `device`."""
        angles = deltas.to(torch.float64)[..., None] * self.inv_freq
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos().to(device, dtype), angles.sin().to(device, dtype)

    def rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x [..., head_dim] rotated by the angles in cos/sin (broadcast to [..., rot_dim])."""
        if self.rot_dim == self.head_dim:
            return x * cos + rotate_half(x) * sin
        head, tail = x[..., : self.rot_dim], x[..., self.rot_dim :]
        rotated = head * cos + rotate_half(head) * sin
        return torch.cat((rotated, tail.expand(*rotated.shape[:-1], tail.shape[-1])), dim=-1)

    def shift(self, x: torch.Tensor, delta: int | torch.Tensor) -> torch.Tensor:
        """x [..., n, head_dim] moved by `delta` positions (int or [n] tensor)."""
        deltas = torch.as_tensor(delta)
        cos, sin = self.cos_sin(deltas, x.dtype, x.device)
        return self.rotate(x, cos, sin)
