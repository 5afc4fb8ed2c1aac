"""Chat formats chosen by the tokenizer, and guards on the transformers internals we use."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from asyncthink import AsyncReasoner, ChatFormatError
from asyncthink.core.adapter import ATTENTION_NAME, check_model, offset_rotary
from asyncthink.formats import detect_format
from asyncthink.models.random_weights import tiny_model
from asyncthink.models.toy_tokenizer import build_toy_tokenizer


def test_format_is_chosen_by_the_tokenizer_not_the_architecture():
    assert detect_format(build_toy_tokenizer("qwen3")).name == "qwen3"
    assert detect_format(build_toy_tokenizer("deepseek_r1")).name == "deepseek_r1"
    # a Llama-architecture model with DeepSeek-R1's tokenizer speaks DeepSeek's format
    model, tokenizer = tiny_model("llama", format_name="deepseek_r1")
    reasoner = AsyncReasoner(model, tokenizer)
    assert reasoner.chat_format.name == "deepseek_r1"
    session = reasoner.start("Why is the sky blue?", mode="think", budget=3)
    session.result()
    prompt = tokenizer.decode(session.view("thinker"))
    assert prompt.startswith("<｜begin▁of▁sentence｜><｜User｜>Why is the sky blue?<｜Assistant｜><think>\n")


def test_tokenizer_without_thinking_format_is_refused():
    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    plain = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(ChatFormatError, match="no known thinking chat format"):
        detect_format(plain)
    model, _ = tiny_model("qwen3")
    with pytest.raises(ChatFormatError):
        AsyncReasoner(model, plain)


def test_unknown_format_name():
    with pytest.raises(ChatFormatError, match="unknown chat format"):
        AsyncReasoner(*tiny_model("qwen3"), chat_format="chatml9")


def test_guard_transformers_internals():
    """Fail loudly if an upgrade moves what adapter.py relies on."""
    model, tokenizer = tiny_model("qwen3")
    rotary = model.get_decoder().rotary_emb
    assert hasattr(rotary, "inv_freq") and hasattr(rotary, "attention_scaling")
    assert all(hasattr(layer.self_attn, "layer_idx") for layer in model.get_decoder().layers)
    check_model(model)
    AsyncReasoner(model, tokenizer)
    assert model.config._attn_implementation == ATTENTION_NAME
    # without our step keyword the model still runs stock SDPA, padding masks included
    ids = torch.tensor([[5, 6, 7, 8], [0, 0, 7, 8]])
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 1, 1]])
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask).logits[1, -1]
        alone = model(input_ids=ids[1:, 2:]).logits[0, -1]
    assert torch.allclose(padded, alone, atol=1e-5)


def test_offset_rotation_skips_yarn_attention_scaling():
    model, _ = tiny_model("qwen3", rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024})
    rotary = model.get_decoder().rotary_emb
    assert rotary.attention_scaling != 1.0
    x = torch.randn(1, 1, 4, 16)
    moved = offset_rotary(model).shift(x, 300)
    assert torch.allclose(moved.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a pure rotation
