"""Smoke tests for `asyncthink bench` (asyncthink/bench/). No timing thresholds: speed is measured
by the benchmark command, not asserted by unit tests; these check that every section measures
what it says (rows, blocks, row counts, state left unchanged) and that the outputs are complete."""

import json

import pytest
import torch

from asyncthink import AsyncReasoner
from asyncthink.bench import main as bench_main
from asyncthink.bench import run_all
from asyncthink.bench.main import evaluate_targets, format_results
from asyncthink.bench.synthetic import (
    async_step,
    block_sizes,
    hf_decode,
    make_async_runner,
    make_hf_cache,
    reset_hf_cache,
)
from asyncthink.models.random_weights import tiny_model

METHOD_KEYS = ("asyncthink", "hf_static", "hf_dynamic", "naive")
RATIO_KEYS = ("async_over_hf_static", "async_over_hf_dynamic", "naive_over_async", "async_over_hf_static_min",
              "naive_over_async_min", "async_over_hf_static_paired", "naive_over_async_paired")


@pytest.fixture(scope="module")
def reasoner():
    model, tokenizer = tiny_model("qwen3")
    return AsyncReasoner(model, tokenizer)


@pytest.fixture(scope="module")
def results(reasoner):
    return run_all(reasoner, "tiny qwen3", contexts=(64, 128), repeats=1, warmup=1, control_steps=30,
                   check_every=5, heard=8, sessions=(1, 3), throughput_steps=2, budget=40)


def test_step_section_has_all_rows_and_columns(results):
    rows = results["sections"]["step"]["rows"]
    assert [row["context"] for row in rows] == [64, 128]
    for row in rows:
        for key in METHOD_KEYS:
            assert row[key] > 0, key
            assert len(row[f"{key}_samples"]) == 1
        for key in RATIO_KEYS:
            assert row[key] > 0, key
        assert sum(row["blocks"].values()) == row["context"]
        assert list(row["blocks"]) == ["prompt", "thoughts", "writer_prompt", "writer_split", "answer"]
    cond = results["conditions"]
    for key in ("machine", "torch_threads", "dtype", "torch", "transformers", "load_average_end"):
        assert key in cond
    assert cond["model"]["layers"] == 2 and cond["model"]["kv_heads"] == 2 and cond["model"]["head_dim"] == 16
    json.dumps(results)  # --json must be able to write it


def test_control_section_counts_cue_rows(results, reasoner):
    rows = {r["mode"]: r for r in results["sections"]["control"]["rows"]}
    cached, recomputed = rows["cached"], rows["recomputed"]
    for r in (cached, recomputed):
        assert r["checks"] >= 3 and r["steps"] >= r["checks"] and r["total_ms"] > 0
        assert r["overhead_share"] is not None and r["overhead_share"] < 1 and r["steady_share"] is not None
    cue, question = cached["cue_tokens"], cached["question_tokens"]
    assert cached["control_rows_per_check"][0] >= question + cue
    assert set(cached["control_rows_per_check"][1:]) == {cue}
    assert set(recomputed["control_rows_per_check"][1:]) == {question + cue}


def test_listen_and_throughput_sections(results):
    for row in results["sections"]["listen"]["rows"]:
        assert row["heard"] == 8 and min(row["listen_ms"], row["step_ms"], row["restart_ms"]) > 0
    one, three = results["sections"]["throughput"]["rows"]
    assert (one["sessions"], three["sessions"]) == (1, 3)
    assert 0 < three["tokens"] <= 2 * 2 * 3  # thinker + writer per session per step
    assert 3 <= three["rows_per_pass"] <= 6 and one["vs_one_session"] == 1.0


def test_targets_are_na_where_not_measured(results):
    # contexts 64/128 and 3 sessions: the 8192 and 8-session targets were not measured, never PASS
    by_name = {t["target"]: t for t in results["targets"]}
    assert by_name["naive / two-stream step at 8192"]["status"] == "n/a"
    assert by_name["8 sessions / 1 session tokens per second"]["status"] == "n/a"
    assert by_name["control question share of the run's time (cached question)"]["status"] in ("PASS", "MISS")
    gpu = {t["target"]: t["bound"] for t in evaluate_targets(results, "cuda")}
    assert gpu["two-stream step / ordinary decode at 8192"] == 1.1 and gpu["8 sessions / 1 session tokens per second"] == 4.0


def test_format_results(results):
    text = format_results(results)
    for label in ("(a) ms", "(b) ms StaticCache", "(b') ms DynamicCache", "(c) ms", "(a)/(b)", "(c)/(a)",
                  "torch threads", "transformers", "kv heads 2", "Control question overhead", "rows/check",
                  "restart/listen", "vs 1 session", "targets"):
        assert label in text, label


def test_synthetic_caches_are_consistent(reasoner):
    """The filled StaticCache and DynamicCache hold the same context: same logits, same length,
    and a timed step leaves them (and the asyncthink blocks) at that context."""
    tiny, context = reasoner.model, 40
    with torch.inference_mode():
        static = make_hf_cache(tiny, context, "static", seed=5)
        dynamic = make_hf_cache(tiny, context, "dynamic", seed=5)
        first = hf_decode(tiny, static, context)
        torch.testing.assert_close(hf_decode(tiny, dynamic, context), first, atol=1e-4, rtol=1e-4)
        for cache in (static, dynamic):
            reset_hf_cache(cache, context)
            assert int(cache.get_seq_length()) == context
        torch.testing.assert_close(hf_decode(tiny, static, context), first)

        fast = make_async_runner(tiny, context, seed=5)
        naive = make_async_runner(tiny, context, seed=5, naive=True)
        lengths = {name: block.length for name, block in fast.table.blocks.items()}
        assert sum(lengths.values()) == context
        step, reset = async_step(fast, 1)
        logits = step()
        reset()
        assert logits.shape[0] == 2 and fast.last_plan.rows == 2
        assert {name: block.length for name, block in fast.table.blocks.items()} == lengths
        naive_step, _ = async_step(naive, 1)
        torch.testing.assert_close(naive_step(), logits, atol=1e-4, rtol=1e-4)


def test_main_prints_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_main(["--model", "random:Qwen/Qwen3-0.6B", "--layers", "1", "--sections", "step,listen",
                       "--contexts", "32", "--repeats", "1", "--warmup", "0", "--threads", "1",
                       "--json", str(out), "--quiet"]) == 0
    saved = json.loads(out.read_text())
    assert list(saved["sections"]) == ["step", "listen"]
    assert saved["sections"]["step"]["rows"][0]["context"] == 32 and saved["conditions"]["model"]["layers"] == 1
    assert "(a)/(b)" in capsys.readouterr().out


def test_main_rejects_bad_sections(capsys):
    with pytest.raises(SystemExit):
        bench_main(["--sections", "step,speed"])
    assert "sections must be a comma-separated subset" in capsys.readouterr().err


def test_block_sizes():
    for context in (16, 64, 512, 2048, 8192):
        sizes = block_sizes(context)
        assert sum(sizes.values()) == context and min(sizes.values()) >= 1
    big = block_sizes(8192)
    assert (big["prompt"], big["writer_prompt"], big["writer_split"]) == (100, 20, 15)
    assert big["thoughts"] > 2 * big["answer"]


@pytest.mark.parametrize("args, message", [(["--repeats", "0"], "--repeats: must be an integer >= 1"),
                                           (["--warmup", "-1"], "--warmup: must be an integer >= 0"),
                                           (["--control-steps", "x"], "--control-steps: must be an integer >= 1")])
def test_main_rejects_bad_numbers(args, message, capsys):
    with pytest.raises(SystemExit):
        bench_main(args)
    assert message in capsys.readouterr().err
