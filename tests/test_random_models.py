"""Tests for the offline stand-ins: toy tokenizers and random/tiny models."""

import pytest
import torch
from transformers import AutoConfig

from asyncthink.models.random_weights import (
    RANDOM_PREFIX,
    is_random_spec,
    known_random_models,
    load_random,
    random_config,
    tiny_model,
)
from asyncthink.models.toy_tokenizer import build_toy_tokenizer

FORMATS = {
    "qwen3": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
    "deepseek_r1": [
        "<｜begin▁of▁sentence｜>",
        "<｜end▁of▁sentence｜>",
        "<｜User｜>",
        "<｜Assistant｜>",
        "<think>",
        "</think>",
    ],
}
TINY_ARCHS = ["qwen3", "qwen3_moe", "qwen2", "llama", "mistral"]

TEXTS = [
    "",
    "plain ascii, with  double spaces . and ,odd punctuation \t\r\n",
    "unicode: héllo wörld — ñ 中文 日本語 🤖👍🏽 \u200b \x00\x7f",
    "<think>reasoning</think>answer",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜>a<｜end▁of▁sentence｜>",
    "half markers: <|im_start <think <｜User",
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(fmt, text):
    tok = build_toy_tokenizer(fmt)
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("fmt", FORMATS)
def test_vocab_layout(fmt):
    tok = build_toy_tokenizer(fmt)
    markers = FORMATS[fmt]
    assert len(tok) == 256 + len(markers)
    assert tok.convert_tokens_to_ids(markers) == list(range(256, 256 + len(markers)))
    # Ids 0..255 are the bytes themselves.
    assert tok.encode("A\n\xff") == [65, 10, 0xC3, 0xBF]
    assert tok.name_or_path == f"asyncthink-toy-{fmt}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_markers_are_single_tokens_inside_text(fmt):
    tok = build_toy_tokenizer(fmt)
    for marker in FORMATS[fmt]:
        marker_id = tok.convert_tokens_to_ids(marker)
        assert tok.encode(marker) == [marker_id]
        ids = tok.encode(f"ab{marker}cd")
        assert ids == [97, 98, marker_id, 99, 100]


def test_qwen3_special_tokens_and_skip():
    tok = build_toy_tokenizer("qwen3")
    assert tok.eos_token == "<|im_end|>"
    assert tok.pad_token == "<|endoftext|>"
    ids = tok.encode("<|im_start|>assistant\n<think>x</think>y<|im_end|>")
    # Turn markers are special, think delimiters are not (as in Qwen3).
    assert tok.decode(ids, skip_special_tokens=True) == "assistant\n<think>x</think>y"


def test_deepseek_special_tokens_and_skip():
    tok = build_toy_tokenizer("deepseek_r1")
    assert tok.bos_token == "<｜begin▁of▁sentence｜>"
    assert tok.eos_token == "<｜end▁of▁sentence｜>"
    assert tok.pad_token == tok.eos_token
    ids = tok.encode("<｜User｜>q<｜Assistant｜><think>r</think>a<｜end▁of▁sentence｜>")
    assert tok.decode(ids, skip_special_tokens=True) == "q<think>r</think>a"


CONVERSATION = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "yo"},
    {"role": "user", "content": "2+2?"},
]


def test_qwen3_chat_template():
    tok = build_toy_tokenizer("qwen3")
    text = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nyo<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    no_prompt = tok.apply_chat_template(CONVERSATION, tokenize=False)
    assert not no_prompt.endswith("<|im_start|>assistant\n")


def test_deepseek_chat_template():
    tok = build_toy_tokenizer("deepseek_r1")
    text = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>yo<｜end▁of▁sentence｜>"
        "<｜User｜>2+2?<｜Assistant｜>"
    )


def test_unknown_format():
    with pytest.raises(ValueError, match="qwen3.*deepseek_r1|deepseek_r1.*qwen3"):
        build_toy_tokenizer("llama2")


def test_specs():
    assert RANDOM_PREFIX == "random:"
    assert is_random_spec("random:Qwen/Qwen3-0.6B")
    assert not is_random_spec("Qwen/Qwen3-0.6B")
    assert set(known_random_models()) == {
        "random:Qwen/Qwen3-0.6B",
        "random:Qwen/Qwen3-1.7B",
        "random:Qwen/Qwen3-8B",
        "random:Qwen/Qwen3-30B-A3B",
        "random:deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        "random:deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    }


EXPECTED = {
    "Qwen/Qwen3-0.6B": ("qwen3", "qwen3", 1024),
    "Qwen/Qwen3-1.7B": ("qwen3", "qwen3", 2048),
    "Qwen/Qwen3-8B": ("qwen3", "qwen3", 4096),
    "Qwen/Qwen3-30B-A3B": ("qwen3_moe", "qwen3", 2048),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": ("qwen2", "deepseek_r1", 1536),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": ("llama", "deepseek_r1", 4096),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_shipped_config_parses(name):
    model_type, fmt, hidden = EXPECTED[name]
    config = random_config(RANDOM_PREFIX + name)
    assert isinstance(config, type(AutoConfig.for_model(model_type)))
    assert config.asyncthink_chat_format == fmt
    assert config.hidden_size == hidden
    assert config.name_or_path == RANDOM_PREFIX + name


def test_rope_spelling_of_shipped_configs():
    qwen = random_config("random:Qwen/Qwen3-8B").rope_parameters
    assert qwen == {"rope_type": "default", "rope_theta": 1000000}
    llama = random_config("random:deepseek-ai/DeepSeek-R1-Distill-Llama-8B").rope_parameters
    assert llama["rope_type"] == "llama3" and llama["factor"] == 8.0 and llama["rope_theta"] == 500000.0
    assert llama["original_max_position_embeddings"] == 8192


def test_rope_override_keeps_model_theta():
    override = {"rope_type": "yarn", "factor": 2.0}
    rope = random_config("random:deepseek-ai/DeepSeek-R1-Distill-Llama-8B", rope_parameters=override).rope_parameters
    assert rope["rope_type"] == "yarn" and rope["rope_theta"] == 500000.0
    assert override == {"rope_type": "yarn", "factor": 2.0}  # the caller's dict is not mutated
    assert random_config("random:Qwen/Qwen3-0.6B", rope_theta=5.0).rope_parameters["rope_theta"] == 5.0


def test_load_random_small():
    model, tok = load_random("random:Qwen/Qwen3-0.6B", num_hidden_layers=1)
    assert model.config.asyncthink_random is True
    assert model.config.num_hidden_layers == 1
    assert model.config.vocab_size == 151936
    assert model.config.tie_word_embeddings
    assert model.config.eos_token_id == tok.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert not model.training
    assert tok.name_or_path == "asyncthink-toy-qwen3"
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode("<|im_start|>user\nhi")])).logits
    assert logits.shape == (1, 8, 151936)


def test_load_random_seeded_and_rng_neutral():
    kwargs = dict(num_hidden_layers=1, hidden_size=64, intermediate_size=128, num_attention_heads=2,
                  num_key_value_heads=1, head_dim=32, vocab_size=300)  # fmt: skip
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, tok = load_random("random:deepseek-ai/DeepSeek-R1-Distill-Llama-8B", seed=7, **kwargs)
    after = torch.rand(3)
    b, _ = load_random("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", seed=7, **kwargs)
    c, _ = load_random("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", seed=8, **kwargs)
    assert torch.equal(before, after)  # the caller's RNG stream is not disturbed
    assert torch.equal(a.lm_head.weight, b.lm_head.weight)
    assert not torch.equal(a.lm_head.weight, c.lm_head.weight)
    assert tok.bos_token == "<｜begin▁of▁sentence｜>"
    assert a.config.rope_parameters["rope_type"] == "llama3"


def test_load_random_dtype():
    model, _ = load_random("random:Qwen/Qwen3-30B-A3B", dtype=torch.bfloat16, num_hidden_layers=1, hidden_size=64,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=32, num_experts=4,
                           num_experts_per_tok=2, moe_intermediate_size=32, vocab_size=300)  # fmt: skip
    assert model.dtype == torch.bfloat16


def test_unknown_random_model():
    with pytest.raises(ValueError, match="random:Qwen/Qwen3-0.6B"):
        load_random("random:Qwen/Qwen9-1B")


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_tiny_model_forward(arch):
    model, tok = tiny_model(arch)
    assert model.config.model_type == arch
    assert model.config.vocab_size == len(tok)
    assert model.config.num_key_value_heads == 2 and model.config.num_attention_heads == 4
    assert model.config.asyncthink_random is True
    ids = torch.tensor([tok.encode("<|im_start|>user\nhello there<|im_end|>")])
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], len(tok))
    assert torch.isfinite(logits).all()
    # Greedy decoding must not hinge on near-ties.
    top2 = logits.topk(2, dim=-1).values
    assert (top2[..., 0] - top2[..., 1]).min() > 1e-4


@pytest.mark.parametrize("arch", TINY_ARCHS)
def test_tiny_model_generates(arch):
    model, tok = tiny_model(arch)
    prompt = tok.apply_chat_template([{"role": "user", "content": "2+2?"}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)  # fmt: skip
    out = model.generate(**prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    again = model.generate(**prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert out.shape[1] == prompt["input_ids"].shape[1] + 8
    assert torch.equal(out, again)


def test_tiny_model_rope_overrides_change_outputs():
    ids = torch.arange(200).unsqueeze(0) % 256
    variants = {
        "yarn": {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}},
        "llama3": {
            "rope_scaling": {  # legacy transformers-4 key
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64,
            }
        },
        "default": {"rope_theta": 1e6},
    }
    with torch.no_grad():
        base = tiny_model("llama")[0](ids).logits
        for rope_type, overrides in variants.items():
            model, _ = tiny_model("llama", **overrides)
            assert model.config.rope_parameters["rope_type"] == rope_type
            assert not torch.allclose(model(ids).logits, base)
    # A rope_parameters dict without rope_theta keeps the model's base.
    yarn = tiny_model("qwen3", rope_parameters={"rope_type": "yarn", "factor": 4.0})[0]
    assert yarn.config.rope_parameters["rope_theta"] == 10000.0


def test_tiny_model_sliding_window():
    ids = torch.arange(64).unsqueeze(0)
    with torch.no_grad():
        full = tiny_model("mistral")[0](ids).logits
        windowed = tiny_model("mistral", sliding_window=8)[0](ids).logits
        qwen_full = tiny_model("qwen3")[0](ids).logits
        qwen_sliding = tiny_model("qwen3", use_sliding_window=True, sliding_window=8, max_window_layers=0)[0]
        qwen_windowed = qwen_sliding(ids).logits
    # Positions inside the window see the same context; later ones do not.
    assert torch.allclose(full[:, :8], windowed[:, :8], atol=1e-5)
    assert not torch.allclose(full[:, 16:], windowed[:, 16:])
    assert torch.allclose(qwen_full[:, :8], qwen_windowed[:, :8], atol=1e-5)
    assert not torch.allclose(qwen_full[:, 16:], qwen_windowed[:, 16:])


def test_tiny_model_deepseek_format():
    model, tok = tiny_model("qwen2", format_name="deepseek_r1")
    assert model.config.vocab_size == len(tok) == 262
    assert model.config.eos_token_id == tok.convert_tokens_to_ids("<｜end▁of▁sentence｜>")


def test_unknown_tiny_arch():
    with pytest.raises(ValueError, match="qwen3_moe"):
        tiny_model("gpt2")
