"""Randomly initialised stand-ins for real reasoning models.

Everything here works offline: architectures come from small JSON files in
``configs/`` (the published shapes of real checkpoints, architecture fields
only) and tokenizers from ``toy_tokenizer``.  Weights are random, so outputs
are gibberish; these models exist to exercise shapes, memory, speed and the
generation machinery, and (via :func:`tiny_model`) to make tests fast.

A model is requested with a spec such as ``"random:Qwen/Qwen3-0.6B"``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from .catalog import CONFIG_DIR, RANDOM_PREFIX, is_random_spec, known_random_models
from .toy_tokenizer import build_toy_tokenizer

# Shared tiny shapes: GQA (4 query heads over 2 kv heads) so that KV-cache code
# paths see num_key_value_heads != num_attention_heads, like real models.
_TINY_COMMON: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    # 10x the usual 0.02 spreads the logits (std ~1.6, typical top-1 margin
    # ~0.4), so greedy near-ties (< 1e-4) are rare, about 1 position in 10^4.
    "initializer_range": 0.2,
    "tie_word_embeddings": False,
}
_TINY_ARCHS: dict[str, dict[str, Any]] = {
    "qwen3": {},
    "qwen2": {},
    "llama": {},
    # Mistral's config defaults to a 4096 window; start from full attention.
    "mistral": {"sliding_window": None},
    "qwen3_moe": {"moe_intermediate_size": 32, "num_experts": 4, "num_experts_per_tok": 2, "norm_topk_prob": True},
}


def _config_path(name: str) -> Path:
    return CONFIG_DIR / (name.replace("/", "__") + ".json")


def _fold_rope(fields: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge RoPE settings from the base fields and the overrides into one ``rope_parameters`` dict.

    transformers 5 keeps everything RoPE in ``config.rope_parameters`` (with
    ``rope_theta`` inside it).  If a caller's ``rope_parameters`` omits
    ``rope_theta``, transformers would fall back to 10000 rather than the
    model's own base, and a legacy ``rope_scaling`` left in the base fields
    would silently win over the caller's dict; folding here avoids both.
    Both arguments are consumed (mutated).
    """
    base: dict[str, Any] = {}
    for key in ("rope_scaling", "rope_parameters"):
        base.update(fields.pop(key, None) or {})
    if fields.get("rope_theta") is not None:
        base["rope_theta"] = fields.pop("rope_theta")

    rope = base
    for key in ("rope_scaling", "rope_parameters"):
        if key in overrides:
            rope = dict(overrides.pop(key) or {})
    if "rope_theta" in overrides:
        rope["rope_theta"] = overrides.pop("rope_theta")
    elif "rope_theta" in base:
        rope.setdefault("rope_theta", base["rope_theta"])
    return rope


def _build_config(fields: dict[str, Any], overrides: dict[str, Any]) -> PreTrainedConfig:
    _check_overrides(fields, overrides)
    fields, overrides = copy.deepcopy(fields), copy.deepcopy(overrides)
    rope = _fold_rope(fields, overrides)
    fields.update(overrides)
    model_type = fields.pop("model_type")
    if rope:
        fields["rope_parameters"] = rope
    return AutoConfig.for_model(model_type, **fields)


def _check_overrides(fields: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Refuse a keyword that is not a field of the model's config (it would be kept as junk, unused)."""
    known = set(fields) | set(AutoConfig.for_model(fields["model_type"]).to_dict()) | {
        "rope_scaling", "rope_parameters", "rope_theta"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        hint = " (the number of layers is num_hidden_layers)" if "layers" in unknown else ""
        raise ValueError(f"unknown config field{'s' * (len(unknown) > 1)} {', '.join(unknown)} for a "
                         f"{fields['model_type']} model{hint}; pass fields of its config, e.g. num_hidden_layers=2")


def _instantiate(
    config: PreTrainedConfig,
    tokenizer: PreTrainedTokenizerFast,
    dtype: torch.dtype,
    device: str,
    seed: int,
) -> PreTrainedModel:
    target = torch.device(device)
    # Forking keeps the caller's RNG streams untouched by our seeding.
    if target.type == "cpu":
        rng_scope = torch.random.fork_rng(devices=[])
    else:
        rng_scope = torch.random.fork_rng(device_type=target.type)
    # Building under the device context initialises weights on the device
    # itself: random init of an 8B model on CPU would take minutes.
    with rng_scope, target:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.eval()
    # Point generation at the toy tokenizer's markers, not the real checkpoint's ids.
    for cfg in (model.config, model.generation_config):
        cfg.eos_token_id = tokenizer.eos_token_id
        cfg.pad_token_id = tokenizer.pad_token_id
        cfg.bos_token_id = tokenizer.bos_token_id
    model.config.asyncthink_random = True
    return model


def random_config(spec: str, **config_overrides: Any) -> PreTrainedConfig:
    """The transformers config behind ``spec``, with ``config_overrides`` applied.

    Cheap (no weights), e.g. for sizing real shapes.  The toy chat format that
    goes with the model is kept as ``config.asyncthink_chat_format``.  Raises
    ``ValueError`` listing the known specs if ``spec`` is unknown.
    """
    name = spec[len(RANDOM_PREFIX) :] if is_random_spec(spec) else spec
    path = _config_path(name)
    if not path.is_file():
        raise ValueError(f"unknown random model {spec!r}; known: {', '.join(known_random_models())}")
    config = _build_config(json.loads(path.read_text()), config_overrides)
    config.name_or_path = RANDOM_PREFIX + name
    return config


def load_random(
    spec: str,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    seed: int = 0,
    **config_overrides: Any,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a randomly initialised model with a real checkpoint's architecture.

    ``spec`` is ``"random:<hub name>"`` (the prefix is optional here); see
    :func:`known_random_models`.  ``config_overrides`` replace fields of the
    shipped config, e.g. ``num_hidden_layers=2`` for quick runs, and accept the
    same RoPE keys as :func:`tiny_model`.

    The vocabulary keeps the real size (e.g. 151936) so shapes and memory are
    realistic, while the toy tokenizer only knows a few hundred ids; decoding
    silently drops ids it does not know.  Pass ``vocab_size=len(tokenizer)``
    to avoid that.  Weights are created directly on ``device`` and depend on
    both ``seed`` and the device type.  ``model.config.asyncthink_random`` is
    set to True.
    """
    config = random_config(spec, **config_overrides)
    tokenizer = build_toy_tokenizer(config.asyncthink_chat_format)
    return _instantiate(config, tokenizer, dtype, device, seed), tokenizer


def tiny_model(
    arch: str,
    seed: int = 0,
    format_name: str = "qwen3",
    **overrides: Any,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A tiny fp32 CPU model of architecture ``arch`` plus its toy tokenizer, for tests.

    ``arch`` is one of ``"qwen3"``, ``"qwen3_moe"``, ``"qwen2"``, ``"llama"``,
    ``"mistral"``.  Shapes: hidden 64, 2 layers, 4 query / 2 kv heads of dim
    16, MLP 128 (qwen3_moe: 4 experts, top-2, expert MLP 32), vocab exactly
    ``len(tokenizer)``, 4096 positions, RoPE base 10000.

    ``overrides`` are config fields, applied last.  Useful keys:

    * ``rope_parameters``: dict in transformers-5 spelling, e.g.
      ``{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}``;
      ``rope_type`` is one of default, linear, dynamic, yarn, longrope, llama3.
      ``rope_theta`` is taken from the model unless given in the dict.
      ``original_max_position_embeddings`` defaults to ``max_position_embeddings``.
      ``dynamic`` only changes anything past ``max_position_embeddings``.
    * ``rope_scaling``: legacy (transformers 4) name, treated as ``rope_parameters``.
    * ``rope_theta``: RoPE base, kept alongside any ``rope_parameters``.
    * ``sliding_window``: window size; enough on its own for ``mistral``.
      The Qwen archs also need ``use_sliding_window=True``, and ``qwen3``/``qwen2``
      apply it only to layers ``>= max_window_layers`` (pass ``max_window_layers=0``).
      ``llama`` has no sliding window and ignores it.
    * anything else the config class accepts (``num_hidden_layers``,
      ``attention_bias``, ``tie_word_embeddings``, ``num_experts``, ...).

    Random weights give a ~1/vocab chance per step of emitting the EOS marker,
    so long generations may stop early unless EOS is suppressed.

    ``partial_rotary_factor`` is accepted into the config but these
    architectures always rotate the full head: the default RoPE ignores it and
    scaled RoPE types then produce mismatched shapes, so do not use it here.
    """
    if arch not in _TINY_ARCHS:
        raise ValueError(f"unknown tiny arch {arch!r}; known: {', '.join(sorted(_TINY_ARCHS))}")
    tokenizer = build_toy_tokenizer(format_name)
    fields = {
        "model_type": arch,
        **_TINY_COMMON,
        **_TINY_ARCHS[arch],
        "vocab_size": len(tokenizer),
        "asyncthink_chat_format": format_name,
    }
    config = _build_config(fields, overrides)
    config.name_or_path = f"asyncthink-tiny-{arch}"
    return _instantiate(config, tokenizer, torch.float32, "cpu", seed), tokenizer
