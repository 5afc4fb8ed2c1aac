"""The tiny reasoner's architecture: Qwen3 from its transformers config, small enough for a CPU.

Positions: training sequences are short (< 1k tokens), but the engine reserves room for
its default budgets (4096 steps per stream plus listening room, so a writer view can
reach ~9k positions; Session._check_context refuses a model with less), hence
max_position_embeddings=16384. RoPE is relative, so unused far positions cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

MAX_POSITIONS = 16384


@dataclass(frozen=True)
class Shape:
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 32
    intermediate: int = 384


def build_model(tokenizer, shape: Shape = Shape(), seed: int = 0) -> Qwen3ForCausalLM:
    """A randomly initialised Qwen3ForCausalLM (fp32) for `tokenizer`, seeded."""
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=shape.hidden, intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim, max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=[end, pad], pad_token_id=pad, use_cache=True,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=[end, pad], pad_token_id=pad, do_sample=False)
    return model


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
