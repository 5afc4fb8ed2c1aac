"""Smoke tests for the speed benchmark (asyncthink.bench). No timing thresholds: speed is
measured by `python -m asyncthink.bench`, not asserted by unit tests."""

import json

import pytest
import torch

from asyncthink import AsyncReasoner, bench
from asyncthink.random_models import tiny_model

METHOD_KEYS = ("asyncthink", "hf_static", "hf_dynamic", "naive")
RATIO_KEYS = ("async_over_hf_static", "async_over_hf_dynamic", "naive_over_async", "async_over_hf_static_min",
              "naive_over_async_min", "async_over_hf_static_paired", "naive_over_async_paired")


@pytest.fixture(scope="module")
def tiny():
    model, _ = tiny_model("qwen3")
    return model


@pytest.fixture(scope="module")
def results(tiny):
    return bench.run_bench(model=tiny, contexts=(64, 128), threads=1, repeats=1, warmup=1)


def test_result_has_all_rows_and_columns(results):
    assert [row["context"] for row in results["rows"]] == [64, 128]
    for row in results["rows"]:
        for key in METHOD_KEYS:
            assert row[key] > 0, key
            assert len(row[f"{key}_samples"]) == 1
        for key in RATIO_KEYS:
            assert row[key] > 0, key
        assert sum(row["blocks"].values()) == row["context"]
        assert list(row["blocks"]) == ["prompt", "thoughts", "writer_prompt", "writer_split", "answer"]
    cond = results["conditions"]
    for key in ("machine", "torch_threads", "dtype", "torch", "transformers", "hf_static_cache"):
        assert key in cond
    assert cond["model"]["layers"] == 2 and cond["model"]["kv_heads"] == 2 and cond["model"]["head_dim"] == 16
    # targets at contexts not run are reported as n/a, never as PASS
    assert {t["status"] for t in results["targets"]} == {"n/a"}
    json.dumps(results)  # --json must be able to write it


def test_sequential_schedule(tiny):
    out = bench.run_bench(model=tiny, contexts=(48,), threads=1, repeats=2, warmup=0, sequential=True)
    row = out["rows"][0]
    for key in METHOD_KEYS:
        assert row[key] > 0 and len(row[f"{key}_samples"]) == 2
    assert row["async_over_hf_static"] > 0 and row["async_over_hf_static_paired"] is None
    assert out["conditions"]["schedule"].startswith("sequential")


def test_format_table(results):
    text = bench.format_table(results)
    for label in ("(a) ms", "(b) ms StaticCache", "(b') ms DynamicCache", "(c) ms", "(a)/(b)", "(c)/(a)",
                  "torch threads", "transformers", "StaticCache", "kv heads 2"):
        assert label in text, label
    assert "n/a" in text


def test_synthetic_caches_are_consistent(tiny):
    """The filled StaticCache and DynamicCache hold the same context: same logits, same length,
    and a timed step leaves them (and the asyncthink blocks) at that context."""
    context = 40
    with torch.inference_mode():
        static = bench.make_hf_cache(tiny, context, "static", seed=5)
        dynamic = bench.make_hf_cache(tiny, context, "dynamic", seed=5)
        first = bench.hf_decode(tiny, static, context)
        torch.testing.assert_close(bench.hf_decode(tiny, dynamic, context), first, atol=1e-4, rtol=1e-4)
        for cache in (static, dynamic):
            bench._reset_hf_cache(cache, context)
            assert int(cache.get_seq_length()) == context
        torch.testing.assert_close(bench.hf_decode(tiny, static, context), first)

        fast = bench.make_async_runner(tiny, context, seed=5)
        naive = bench.make_async_runner(tiny, context, seed=5, naive=True)
        lengths = {name: block.length for name, block in fast.table.blocks.items()}
        assert sum(lengths.values()) == context
        step, reset = bench._async_step(fast, 1)
        logits = step()
        reset()
        assert logits.shape[0] == 2 and fast.last_plan.rows == 2
        assert {name: block.length for name, block in fast.table.blocks.items()} == lengths
        naive_step, _ = bench._async_step(naive, 1)
        torch.testing.assert_close(naive_step(), logits, atol=1e-4, rtol=1e-4)


def test_main_writes_json(tmp_path, monkeypatch, capsys, tiny):
    calls, real_run_bench = {}, bench.run_bench

    def fake_run_bench(**kwargs):
        calls.update(kwargs)
        return real_run_bench(model=tiny, contexts=kwargs["contexts"], threads=1, repeats=1, warmup=0)

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--contexts", "32", "--repeats", "1", "--warmup", "0", "--layers", "1",
                       "--json", str(out), "--quiet"]) == 0
    assert calls["contexts"] == (32,) and calls["layers"] == 1 and calls["threads"] == 2
    assert json.loads(out.read_text())["rows"][0]["context"] == 32
    assert "(a)/(b)" in capsys.readouterr().out


def test_block_sizes():
    for context in (16, 64, 512, 2048, 8192):
        sizes = bench.block_sizes(context)
        assert sum(sizes.values()) == context and min(sizes.values()) >= 1
    big = bench.block_sizes(8192)
    assert (big["prompt"], big["writer_prompt"], big["writer_split"]) == (100, 20, 15)
    assert big["thoughts"] > 2 * big["answer"]


def test_listen_bench_measures_all_three_costs():
    from asyncthink.bench_listen import measure
    from asyncthink.random_models import tiny_model

    model, tokenizer = tiny_model("qwen3")
    AsyncReasoner(model, tokenizer)
    row = measure(model, context=128, heard=8, repeats=1)
    assert row["context"] == 128 and row["heard"] == 8
    assert min(row["listen_ms"], row["step_ms"], row["restart_ms"]) > 0
