"""The training code on a micro model: rendered views match the layouts, runs are deterministic."""

import hashlib
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from asyncthink import TINY_REASONER
from asyncthink.formats import QWEN3, detect_format
from asyncthink.layout import INDEPENDENT, THINK
from asyncthink.models import tiny_tasks
from asyncthink.sampling import YesNoReader
from asyncthink.training import (
    MIX,
    Renderer,
    Shape,
    TrainConfig,
    build_tokenizer,
    example,
    tokenizer_texts,
    train,
)
from asyncthink.training.__main__ import main
from asyncthink.training.corpus import IGNORE, VERSIONS, _corrected_problem
from asyncthink.training.loop import batches

STAGE_2_DATA_SHA1 = "0120ff77896d08512402df3bbec36e612221c98e"  # corpus 1, seed 1
STAGE_3_DATA_SHA1 = "801c3214d32804b30649f0cdaca5f041c164b242"  # corpus 2, seed 2
STAGE_4_DATA_SHA1 = "d745ace43a5e6822eaa892d627083baab815d447"  # corpus 3, seed 3
MICRO = Shape(hidden=32, layers=1, heads=1, kv_heads=1, head_dim=32, intermediate=64)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(tokenizer_texts(100, 0))


def test_tokenizer_speaks_qwen3_with_digits_split_and_distinct_yes_no(tokenizer):
    assert detect_format(tokenizer) is QWEN3
    YesNoReader(tokenizer, "cpu")  # raises when "yes" and "no" share a first token
    pieces = [tokenizer.decode([i]) for i in tokenizer.encode("What is 457 + 86?", add_special_tokens=False)]
    assert [p for p in pieces if any(c.isdigit() for c in p)] == [" 4", "5", "7", " 8", "6"]
    text = "héllo 😀 <think>\n</think>"
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_chat_template_is_qwen3_style(tokenizer):
    chat = [{"role": "user", "content": "What is 1 + 2?"}]
    assert tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
        "<|im_start|>user\nWhat is 1 + 2?<|im_end|>\n<|im_start|>assistant\n"
    off = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    chat.append({"role": "assistant", "content": "<think>\nAdd.\n</think>\n\n3"})
    assert tokenizer.apply_chat_template(chat, tokenize=False).endswith(
        "<|im_start|>assistant\n<think>\nAdd.\n</think>\n\n3<|im_end|>\n")


def test_views_are_the_layout_blocks_tokenized_one_by_one(tokenizer):
    r = Renderer(tokenizer)
    p = tiny_tasks.arithmetic("add", 457, 86)
    t = r.thoughts(p)
    texts = THINK.texts(p.text, QWEN3)
    seq = r.think(p.text, t, p.reply)
    head = [i for b in ("prompt", "input", "prompt_end", "thoughts") for i in tokenizer.encode(texts[b])]
    assert seq.ids[:len(head)] == head and set(seq.labels[:len(head)]) == {IGNORE}
    assert tokenizer.decode(seq.ids) == "".join(texts.values()).replace("</think>", p.thoughts + "</think>") \
        + p.reply + "<|im_end|>"
    control = r.control(p.text, t, t.known, [], True)
    assert tokenizer.decode(control.ids).endswith(INDEPENDENT.texts(p.text, QWEN3)["question"] + " (yes/no): yes")
    assert [i for i in control.labels if i != IGNORE] == tokenizer.encode("yes")[:1]
    assert not t.holds_result(t.known - 1) and t.holds_result(t.known)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_heard_thoughts_insert_the_marker_at_a_sentence_end_and_recompute(tokenizer, version):
    r = Renderer(tokenizer, version=version)
    c = tiny_tasks.corrections(1, 4)[0]
    t = r.heard_thoughts(c, random.Random(0))
    text = tokenizer.decode(t.ids)
    before, after = text.split(INDEPENDENT.heard_template.format(text=c.sentence))
    assert c.original.thoughts.startswith(before) and before.endswith((".\n", ".", ":", "\n"))
    # version 1 (stages 1-2) had the change line only; from version 2 the corrected problem is restated
    assert after == (c.change_line + c.corrected.thoughts if version == 1 else c.thoughts)
    assert all(t.labels()[i] == IGNORE for i in range(*t.heard))
    assert not t.holds_result(t.heard[1]) and t.holds_result(t.known)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_example_kind_renders_with_some_trained_tokens(tokenizer, version):
    r, rng = Renderer(tokenizer, version=version), random.Random(1)
    assert set(VERSIONS[version].mix) <= set(MIX)
    for kind in VERSIONS[version].mix:
        seq = example(r, rng, kind)
        assert len(seq.ids) == len(seq.labels) and any(i != IGNORE for i in seq.labels), kind


@pytest.mark.parametrize("version, seed, sha1", [(1, 1, STAGE_2_DATA_SHA1), (2, 2, STAGE_3_DATA_SHA1),
                                                 (3, 3, STAGE_4_DATA_SHA1)])
def test_corpus_versions_still_render_the_data_of_the_shipped_stages(version, seed, sha1):
    """The first batches of the data streams of stage 2 (corpus 1, seed 1), stage 3 (corpus 2,
    seed 2) and stage 4 (corpus 3, seed 3) with the shipped tokenizer, hashed when those stages
    were trained: a change to their rendering would make the README's recipe give other weights."""
    r = Renderer(AutoTokenizer.from_pretrained(TINY_REASONER), version=version)
    stream = batches(r, random.Random(f"tiny-train/{seed}"), 8)
    digest = hashlib.sha1()
    for _ in range(20):
        ids, labels, _ = next(stream)
        digest.update(ids.numpy().tobytes())
        digest.update(labels.numpy().tobytes())
    assert digest.hexdigest() == sha1


@pytest.mark.parametrize("kind", ["heard_restate", "request_restate"])
def test_cut_short_kinds_train_the_thoughts_up_to_two_lines_past_the_restated_problem(tokenizer, kind):
    r, rng = Renderer(tokenizer, version=3), random.Random(5)
    for _ in range(20):
        seq = example(r, rng, kind)
        trained = tokenizer.decode([i for i in seq.labels if i != IGNORE])
        change = trained.index("The user changed it: ")
        lines = trained[change:].splitlines(keepends=True)
        assert len(lines) == 4 and lines[1].startswith("Now: ") and lines[2].startswith("Start: ")
        assert lines[3].endswith("\n") and ": " in lines[3]
        assert tokenizer.decode(seq.ids).endswith(trained[change:])  # the view ends where the training does
        if kind == "heard_restate":  # the heard marker is read, not trained
            assert INDEPENDENT.heard_template.format(text="")[:-3] in tokenizer.decode(seq.ids)
            assert "New input" not in trained


def test_version_3_draws_longer_corrected_problems_more_often(tokenizer):
    def ops_share(version):
        r, rng, counts = Renderer(tokenizer, version=version), random.Random(3), {2: 0, 3: 0, 4: 0}
        for _ in range(600):
            counts[len(_corrected_problem(r, rng).spec.ops)] += 1
        return counts[4] / 600, counts[2] / 600

    four_2, two_2 = ops_share(2)
    four_3, two_3 = ops_share(3)
    assert four_3 > four_2 + 0.05 and two_3 < two_2 - 0.05


def test_an_unknown_corpus_version_is_refused(tokenizer):
    with pytest.raises(ValueError, match="unknown corpus version 9"):
        Renderer(tokenizer, version=9)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_is_deterministic_and_saves_a_loadable_folder(tmp_path):
    cfg = TrainConfig(seed=3, steps=3, decay_steps=1, warmup=1, batch=2, shape=MICRO, tokenizer_problems=60,
                      log_every=100)
    first, tok = train(cfg, tmp_path / "a", log=lambda line: None)
    second, _ = train(cfg, log=lambda line: None)
    a, b = _weights(first), _weights(second)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    other, _ = train(TrainConfig(**{**cfg.__dict__, "seed": 4}), log=lambda line: None)
    assert not all(torch.equal(a[k], v) for k, v in _weights(other).items() if k in a and a[k].shape == v.shape)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "a")
    assert detect_format(AutoTokenizer.from_pretrained(tmp_path / "a")) is QWEN3
    assert all(torch.equal(a[k], v) for k, v in loaded.state_dict().items())


def test_training_command_refuses_bad_options(capsys, tmp_path):
    assert main(["--out", str(tmp_path), "--steps", "0"]) == 1
    assert "--steps must be a positive integer" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--steps", "10", "--decay-steps", "20"]) == 1
    assert "--decay-steps must not exceed --steps" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--hidden", "50"]) == 1
    assert "multiple of 32" in capsys.readouterr().err


def test_a_later_stage_continues_from_a_saved_folder(tmp_path):
    cfg = TrainConfig(seed=3, steps=2, decay_steps=1, warmup=1, batch=2, shape=MICRO, tokenizer_problems=60,
                      log_every=100)
    first, tok = train(cfg, tmp_path / "a", log=lambda line: None)
    later, later_tok = train(TrainConfig(**{**cfg.__dict__, "seed": 4, "init": str(tmp_path / "a")}),
                             log=lambda line: None)
    assert len(later_tok) == len(tok) and later.config.hidden_size == MICRO.hidden
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), later.state_dict().values()))
