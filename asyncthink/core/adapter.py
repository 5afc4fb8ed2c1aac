"""The one place that touches transformers internals.

asyncthink runs unmodified Hugging Face decoder-only models. It plugs in through the
attention-function seam: the model is switched to the attention implementation
"asyncthink", which

  * with an `asyncthink_step` keyword (our forward passes) writes the new keys into the
    block arena and attends over blocks (attention.py); the model is called with
    `use_cache=False`, so no HF Cache is created or concatenated;
  * without it (ordinary `forward` / `generate` calls on the same model object) forwards
    to the stock SDPA function with the SDPA mask, so the model keeps working as before.

Private details relied on (guarded by tests/test_adapter.py so an upgrade fails loudly):
the decoder exposes `rotary_emb` with `inv_freq` and `attention_scaling`; extra forward
keywords flow down to the attention function; attention modules carry `layer_idx`;
`config.rope_parameters` names the RoPE type.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from ..errors import UnsupportedModelError
from .rotary import OffsetRotary

ATTENTION_NAME = "asyncthink"
STEP_KEYWORD = "asyncthink_step"
# RoPE variants whose frequencies depend on the longest position in each call: not one
# fixed rotation, so a stored key cannot be re-placed by rotating the query.
REFUSED_ROPE = {
    "dynamic": "dynamic NTK scaling recomputes frequencies from the longest position in each call",
    "longrope": "LongRoPE switches frequency sets by sequence length",
}


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    step = kwargs.pop(STEP_KEYWORD, None)
    if step is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    return step.attend(module.layer_idx, query, key, value, scaling, kwargs.get("sliding_window")), None


AttentionInterface.register(ATTENTION_NAME, _attention)
AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)


@dataclass(frozen=True)
class ModelShape:
    layers: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    max_positions: int


def _rope_types(config) -> set[str]:
    params = getattr(config, "rope_parameters", None) or {}
    if isinstance(params, dict) and "rope_type" not in params and params:
        # per-layer-type dicts, e.g. {"full_attention": {...}, "sliding_attention": {...}}
        return {p.get("rope_type", "default") for p in params.values() if isinstance(p, dict)}
    return {params.get("rope_type", "default")} if isinstance(params, dict) else {"default"}


def _rotary_module(model: PreTrainedModel):
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else getattr(model, "model", None)
    return getattr(decoder, "rotary_emb", None)


def check_model(model: PreTrainedModel) -> None:
    """Refuse, with the reason, models whose positions are not one fixed pure rotation."""
    name = type(model).__name__
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        raise UnsupportedModelError(f"{name} is an encoder-decoder model; asyncthink needs a decoder-only LM")
    for rope_type in _rope_types(config):
        if rope_type in REFUSED_ROPE:
            raise UnsupportedModelError(
                f"{name} uses RoPE type {rope_type!r}: {REFUSED_ROPE[rope_type]}, so it is not one fixed rotation "
                "and cached keys cannot be re-placed by rotating queries. Use a checkpoint with default, linear, "
                "llama3 or yarn RoPE."
            )
    rotary = _rotary_module(model)
    if rotary is None or not hasattr(rotary, "inv_freq"):
        raise UnsupportedModelError(
            f"{name} has no rotary position embedding (decoder.rotary_emb.inv_freq); asyncthink places "
            "blocks by rotating queries and needs a RoPE model (Qwen3, Qwen2, Llama, Mistral, ...)"
        )
    layer_types = set(getattr(config, "layer_types", None) or [])
    if layer_types - {"full_attention", "sliding_attention"}:
        raise UnsupportedModelError(
            f"{name} has layer types {sorted(layer_types)}; only attention layers are supported "
            "(linear-attention/recurrent layers carry state, not RoPE positions)"
        )
    _probe_rotation(model, rotary)


def _probe_rotation(model: PreTrainedModel, rotary) -> None:
    """Check on the model's own RoPE code that R(a) then R(b) equals R(a + b)."""
    apply = getattr(sys.modules[type(model).__module__], "apply_rotary_pos_emb", None)
    if apply is None:
        raise UnsupportedModelError(f"{type(model).__name__}: no apply_rotary_pos_emb found in its modeling module")
    # partial-rotary classes pass only the rotated slice to apply_rotary_pos_emb
    offsets = OffsetRotary(rotary.inv_freq, 2 * rotary.inv_freq.numel())
    x = torch.randn(1, 1, 3, offsets.rot_dim, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    a, b = torch.tensor([[3, 700, 2000]]), 517
    try:
        with torch.no_grad():
            cos_a, sin_a = rotary(x, a.to(rotary.inv_freq.device))
            cos_ab, sin_ab = rotary(x, (a + b).to(rotary.inv_freq.device))
            at_a, _ = apply(x, x, cos_a.cpu().float(), sin_a.cpu().float())
            at_ab, _ = apply(x, x, cos_ab.cpu().float(), sin_ab.cpu().float())
    except (RuntimeError, TypeError, ValueError) as exc:
        raise UnsupportedModelError(
            f"{type(model).__name__}: could not check its rotary embedding ({exc}); asyncthink supports "
            "RoPE applied with the rotate-half convention (Qwen, Llama, Mistral, ...)"
        ) from exc
    moved = offsets.shift(at_a, b)
    if not torch.allclose(moved, at_ab, atol=2e-3, rtol=1e-3):
        raise UnsupportedModelError(
            f"{type(model).__name__}: its rotary embedding is not a pure rotation by position "
            f"(max mismatch {float((moved - at_ab).abs().max()):.3g}); asyncthink cannot place its cached keys"
        )


def model_shape(model: PreTrainedModel) -> ModelShape:
    c = model.config
    heads = c.num_attention_heads
    return ModelShape(
        layers=c.num_hidden_layers,
        kv_heads=getattr(c, "num_key_value_heads", None) or heads,
        head_dim=getattr(c, "head_dim", None) or c.hidden_size // heads,
        vocab_size=c.vocab_size,
        max_positions=getattr(c, "max_position_embeddings", 0) or 0,
    )


def offset_rotary(model: PreTrainedModel) -> OffsetRotary:
    return OffsetRotary(_rotary_module(model).inv_freq, model_shape(model).head_dim)


class _CountingStep:
    """Stands in for a step context in a one-token dry run: counts the layers that reach us."""

    layers_seen = 0

    def attend(self, layer, query, key, value, scaling, window):
        self.layers_seen += 1
        return torch.zeros_like(query).transpose(1, 2)


def attach(model: PreTrainedModel) -> None:
    """Validate the model and route its attention through asyncthink (idempotent)."""
    if getattr(model, "_asyncthink_attached", False):
        return
    check_model(model)
    if model.config._attn_implementation != ATTENTION_NAME:
        model.set_attn_implementation(ATTENTION_NAME)
    device = next(model.parameters()).device
    token = torch.zeros(1, 1, dtype=torch.long, device=device)
    forward(model, _CountingStep(), token, token, torch.zeros(1, dtype=torch.long, device=device))
    model._asyncthink_attached = True


@torch.inference_mode()
def forward(model: PreTrainedModel, step, input_ids: torch.Tensor, positions: torch.Tensor, logit_rows: torch.Tensor):
    """One packed forward pass: input_ids, positions [1, R]; returns logits [len(logit_rows), vocab]."""
    out = model(
        input_ids=input_ids,
        position_ids=positions,
        use_cache=False,
        logits_to_keep=logit_rows,
        **{STEP_KEYWORD: step},
    )
    if step.layers_seen != model.config.num_hidden_layers:
        raise UnsupportedModelError(
            f"{type(model).__name__}: asyncthink attention ran for {step.layers_seen} of "
            f"{model.config.num_hidden_layers} layers, so this model class (or transformers version) does not "
            "pass forward keywords down to its attention functions; use Qwen3, Qwen2, Llama or Mistral classes"
        )
    return out.logits[0]
