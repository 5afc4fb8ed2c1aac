"""The shipped tiny reasoner through every door a user has: the name, the folder, the CLI, eval and listen-eval.

Behaviour of the model itself (accuracy, the early writer, the control question, heard
corrections) is asserted in test_tiny_reasoner.py; here: it loads by name and by path, offline,
and the commands run on it with readable, correct answers.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asyncthink import TINY_REASONER, AsyncReasoner
from asyncthink.evaluation.datasets import TINY_ARITH_SIZE, load_samples
from asyncthink.listen_eval import EXAMPLE_PATH, load_tasks
from asyncthink.models.tiny_tasks import listening_tasks, split_of

ASYNCTHINK = str(Path(sys.executable).with_name("asyncthink"))
LISTENING_FILE = EXAMPLE_PATH.parent / "tiny_listening.jsonl"
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}


def cli(*args, timeout=300):
    return subprocess.run([ASYNCTHINK, *args], capture_output=True, text=True, timeout=timeout, env=OFFLINE)


def test_the_folder_is_an_ordinary_hugging_face_model():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(TINY_REASONER)
    tokenizer = AutoTokenizer.from_pretrained(TINY_REASONER)
    assert model.config.model_type == "qwen3"
    assert sum(p.stat().st_size for p in TINY_REASONER.iterdir()) < 12 * 2**20
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat.startswith("<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n")


def test_loads_by_name_offline():
    reasoner = AsyncReasoner.from_pretrained("tiny-reasoner")
    assert reasoner.chat_format.name == "qwen3"
    assert Path(reasoner.model.config.name_or_path).resolve() == TINY_REASONER.resolve()


def test_models_lists_it():
    result = cli("models")
    assert result.returncode == 0 and "tiny-reasoner" in result.stdout


def test_run_gives_readable_thoughts_and_a_correct_answer_before_thinking_ends():
    result = cli("run", "-m", "tiny-reasoner", "--json", "What is 48 + 37?")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    answer = "".join(e["text"] for e in events if e["stream"] == "writer" and e["kind"] == "token")
    thoughts = "".join(e["text"] for e in events if e["stream"] == "thinker" and e["kind"] == "token")
    assert "\\boxed{85}" in answer
    assert "8 + 7 = 15" in thoughts  # the ones column, step by step
    first_writer = next(e["step"] for e in events if e["stream"] == "writer" and e["kind"] == "token")
    last_thought = max(e["step"] for e in events if e["stream"] == "thinker" and e["kind"] == "token")
    assert first_writer < last_thought  # the writer starts while the thinker is still verifying
    plain = cli("run", "-m", "tiny-reasoner", "What is 48 + 37?")
    assert plain.returncode == 0 and "\\boxed{85}" in plain.stdout and "warning" not in plain.stderr


def test_tiny_arith_is_generated_held_out_and_bare():
    samples = load_samples("tiny-arith")
    assert len(samples) == TINY_ARITH_SIZE == 200
    assert len({s.id for s in samples}) == 200
    assert all(split_of(s.prompt) == "heldout" for s in samples)  # no training seed can produce them
    assert all(s.prompt.endswith("?") and "\\boxed" not in s.prompt for s in samples)  # as trained: no instruction
    assert load_samples("tiny-arith", seed=0) == samples and load_samples("tiny-arith", seed=1) != samples


def test_the_listening_file_is_the_generator_output():
    shipped = [json.loads(line) for line in LISTENING_FILE.read_text().splitlines()]
    assert shipped == listening_tasks(len(shipped), seed=0, split="heldout")
    tasks = load_tasks(LISTENING_FILE)
    assert len(tasks) == 50 and all(len(t.shards) == 2 and t.shards[1].startswith("Actually,") for t in tasks)
    assert all(t.answer != t.meta["original_answer"] for t in tasks)  # the correction changes the number


@pytest.mark.parametrize("modes", ["async,think,no_think"])
def test_eval_and_report_print_the_table_in_miniature(tmp_path, modes):
    out = tmp_path / "run"
    result = cli("eval", "tiny-arith", "-m", "tiny-reasoner", "--mode", modes, "--limit", "3", "--out", str(out),
                 "--tts", "rate", "--quiet")
    assert result.returncode == 0, result.stderr
    report = cli("report", str(out))
    assert report.returncode == 0, report.stderr
    for config in ("async-independent", "think", "no_think"):
        assert config in report.stdout
    records = [json.loads(line) for line in (out / "tiny-arith" / "results.jsonl").read_text().splitlines()]
    think = [r for r in records if r["config"] == "think"]
    assert len(think) == 3 and all(r["correct"] for r in think)


def test_listen_eval_runs_the_shipped_corrections():
    result = cli("listen-eval", str(LISTENING_FILE), "-m", "tiny-reasoner", "--limit", "2", "--every", "12")
    assert result.returncode == 0, result.stderr
    for condition in ("upfront", "listen", "restart"):
        assert condition in result.stdout
