"""The tiny reasoner's task grammar and generators: deterministic, disjoint splits, right answers."""

import re

import pytest

from asyncthink.listen_eval import parse_task
from asyncthink.models import tiny_tasks as tt


def _value(problem: tt.Problem) -> int:
    """The answer recomputed from the problem text alone."""
    m = re.fullmatch(r"What is (\d+) ([-+*]) (\d+)\?", problem.text)
    if m:
        a, op, b = int(m[1]), m[2], int(m[3])
        return a + b if op == "+" else a - b if op == "-" else a * b
    count = int(re.match(r"\w+ has (\d+)", problem.text)[1])
    for verb, n in re.findall(r"(gets|finds|buys|gives|loses|sells) (\d+)", problem.text):
        count += int(n) if verb in ("gets", "finds", "buys") else -int(n)
    return count


def test_same_seed_same_problems_and_other_seed_other_problems():
    assert tt.generate(30, 5) == tt.generate(30, 5)
    assert tt.generate(30, 5) != tt.generate(30, 6)


def test_splits_are_disjoint_whatever_the_seeds():
    train = tt.problems(2000, 0, "train")
    heldout = tt.problems(300, 1, "heldout")
    tt.assert_disjoint(train, heldout)
    assert all(tt.split_of(p.text) == "heldout" for p in heldout)
    with pytest.raises(tt.TaskError, match="in both sets"):
        tt.assert_disjoint(heldout[:3], [p.to_dict() for p in heldout[2:5]])


def test_answers_thoughts_and_replies_are_right():
    for p in tt.problems(400, 3, "train"):
        assert p.answer == _value(p) >= 0
        first, second = p.thoughts.split("\n\n", 1)
        assert first.endswith(f"So the answer is {p.answer}.")  # the result ends the first paragraph
        assert f"the answer {p.answer} is right." in second and second.endswith("\n")
        assert f"\\boxed{{{p.answer}}}" in p.reply and "\n\n" not in p.reply
    kinds = {p.kind for p in tt.problems(100, 0)}
    assert kinds == set(tt.KINDS)


def test_digit_steps_spell_carries_and_borrows():
    assert tt.add_steps(457, 86) == "Ones: 7 + 6 = 13.\nTens: 5 + 8 + 1 = 14.\nHundreds: 4 + 0 + 1 = 5.\n"
    assert tt.sub_steps(543, 86) == ("Ones: 3 - 6, borrow: 13 - 6 = 7.\nTens: 4 - 8 - 1, borrow: 14 - 8 - 1 = 5.\n"
                                     "Hundreds: 5 - 0 - 1 = 4.\n")
    assert tt.mul_steps(457, 6) == "Ones: 7 * 6 = 42.\nTens: 5 * 6 = 30, + 4 = 34.\nHundreds: 4 * 6 = 24, + 3 = 27.\n"


def test_listening_tasks_are_valid_tasks_with_the_corrected_answer():
    tasks = tt.listening_tasks(40, 2)
    for d in tasks:
        task = parse_task(d)
        assert len(task.shards) == 2 and task.shards[1].startswith("Actually, ")
        assert d["answer"] != d["original_answer"]
    for c in tt.corrections(40, 2):
        name, rest = c.sentence.removeprefix("Actually, ").split(" ", 1)
        verb, n = rest.split(" ")[:2]
        fixed = re.sub(rf"{verb} \d+", f"{verb} {n.rstrip('.')}", c.original.text)
        assert c.corrected.answer == _value(tt.Problem("word", fixed, 0, "", "", ""))
        assert c.thoughts.startswith(f"The user changed it: {name} ")
        assert c.restated == "Now: " + fixed.rsplit(" How many ", 1)[0] + "\n"  # the corrected facts, no question
        assert c.thoughts == c.change_line + c.restated + c.corrected.thoughts
    tt.assert_disjoint(tasks, tt.problems(2000, 0, "train"))


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(tt.TaskError, match="split must be one of"):
        tt.generate(3, 0, "test")
    with pytest.raises(tt.TaskError, match="non-negative integer"):
        tt.generate(-1, 0)
    with pytest.raises(tt.TaskError, match="A >= B"):
        tt.arithmetic("sub", 3, 5)
    with pytest.raises(tt.TaskError, match="one-digit second factor"):
        tt.arithmetic("mul", 30, 12)
    with pytest.raises(tt.TaskError, match="only word problems"):
        tt.correct(tt.arithmetic("add", 10, 20), 0, 3)
