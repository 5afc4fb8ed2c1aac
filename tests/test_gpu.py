"""GPU checks (skipped without CUDA): bf16/fp16 attention against the materialised oracle, eager
block attention and the CUDA-graph decode path (static arena attention, graphs.py).

Tolerance: the reference itself, run in the same low precision, differs from its float32
version by some amount e; block attention must stay within 2 e + 0.02 of it, i.e. its error
is of the order of low-precision rounding and not of a wrong placement (which shows as
errors of order 1 in the logits).
"""

import pytest
import torch
from oracle import StepRecorder, materialised_logits

from asyncthink import AsyncReasoner
from asyncthink.models.random_weights import tiny_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")


@pytest.mark.parametrize("decode", ["eager", "graphs"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_low_precision_attention_matches_oracle(arch, dtype, decode):
    model, tokenizer = tiny_model(arch)
    model = model.to("cuda", dtype)
    reference32 = tiny_model(arch)[0].to("cuda")
    session = AsyncReasoner(model, tokenizer, decode=decode).start("Add 17 and 25.", budget=40, check_every=5)
    decoder = session.runner.static
    recorder = StepRecorder(session, max_steps=40)
    session.result()
    if decode == "graphs":
        assert decoder.replays >= 10, "the decode steps should replay CUDA graphs"
    for plan, logits, keys, values in recorder.records:
        oracle = materialised_logits(model, plan, keys, values)
        oracle32 = materialised_logits(reference32, plan, keys.float(), values.float())
        rounding = float((oracle - oracle32).abs().max())
        assert float((logits - oracle).abs().max()) <= 2 * rounding + 0.02


@pytest.mark.parametrize("decode", ["eager", "graphs"])
def test_thinker_matches_generate_on_gpu(decode):
    model, tokenizer = tiny_model("qwen3")
    model = model.to("cuda", torch.float32)
    reasoner = AsyncReasoner(model, tokenizer, decode=decode)
    session = reasoner.start("What is 12 times 13?", budget=120, check_every=7)
    session.result()
    view = session.view("thinker")
    fed = session.runner.table["thoughts"].length - len(session.block_ids["thoughts"])
    prompt = view[: len(view) - fed]
    from asyncthink.sampling import forbidden_ids

    out = model.generate(torch.tensor([prompt], device="cuda"), max_new_tokens=len(session.tokens["thinker"]),
                         do_sample=False, attention_mask=torch.ones(1, len(prompt), dtype=torch.long, device="cuda"),
                         suppress_tokens=forbidden_ids(tokenizer, reasoner.chat_format, "thinker"))
    thoughts = session.tokens["thinker"]
    assert thoughts == out[0, len(prompt):].tolist()[: len(thoughts)]


def test_engine_with_cuda_graphs_equals_eager_on_gpu():
    """Five mixed sessions batched in one engine: graph-replayed decode steps give the same tokens as
    eager block attention (fp32, greedy), and the graphs were really replayed."""
    from asyncthink.engine import Engine

    runs = [("What is 2 + 3?", {"budget": 40, "check_every": 5}),
            ("Name a prime larger than 10.", {"budget": 30, "layout": "interleaved", "check_every": 4}),
            ("Spell cat backwards.", {"budget": 25, "mode": "think"}),
            ("Say hello.", {"budget": 20, "mode": "no_think"})]
    model, tokenizer = tiny_model("qwen3")
    model = model.to("cuda", torch.float32)
    results = {}
    for decode in ("eager", "graphs"):
        engine = Engine(AsyncReasoner(model, tokenizer, decode=decode), capacity=40_000)
        sessions = []
        for problem, kwargs in runs:
            sessions.append(engine.submit(problem, **kwargs))
            engine.step()
        engine.run()
        results[decode] = [(s.tokens["thinker"], s.tokens["writer"], s.stop_reason) for s in sessions]
        if decode == "graphs":
            assert engine.runner.static.replays >= 20
    assert results["graphs"] == results["eager"]
