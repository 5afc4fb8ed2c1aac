"""Prepacked oneDNN linears: same results as F.linear for any row count, and reversible."""

import pytest
import torch

from asyncthink import AsyncReasoner
from asyncthink.core.cpu_linears import can_pack, pack_linears, unpack_linears
from asyncthink.models.random_weights import tiny_model

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="no oneDNN in this torch build")


def test_packed_linears_match_stock_for_any_row_count():
    model, _ = tiny_model("qwen3")
    assert can_pack(model)
    ids = torch.randint(0, 250, (1, 9))
    with torch.inference_mode():
        stock = [model(ids[:, :n]).logits for n in (1, 2, 9)]
        assert pack_linears(model) == sum(isinstance(m, torch.nn.Linear) for m in model.modules())
        packed = [model(ids[:, :n]).logits for n in (1, 2, 9)]
        unpack_linears(model)
        again = model(ids).logits
    for a, b in zip(stock, packed):
        assert torch.allclose(a, b, atol=1e-4)
    assert torch.equal(again, stock[-1])


def test_reasoner_packs_cpu_float32_by_default_and_can_opt_out():
    model, tokenizer = tiny_model("qwen3")
    AsyncReasoner(model, tokenizer, pack_cpu_linears=False)
    assert not hasattr(model.lm_head, "_asyncthink_packed")
    AsyncReasoner(model, tokenizer)
    assert hasattr(model.lm_head, "_asyncthink_packed")


def test_training_still_gets_gradients():
    model, _ = tiny_model("qwen3")
    pack_linears(model)
    model(torch.randint(0, 250, (1, 4))).logits.sum().backward()
    assert model.lm_head.weight.grad is not None
