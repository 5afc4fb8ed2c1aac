"""`max_tokens`: one cap on the thinker's and the writer's tokens together (OpenAI's max_tokens), exact
even when both streams write in the same step; the step budget keeps its meaning beside it.

Oracle: the same session without the cap (greedy), whose tokens the capped one must reproduce up to
the cap; the reserved KV room and the context check follow from the cap (fitting.py).
"""

import json
import re
from collections import defaultdict

import pytest

from asyncthink import AsyncReasoner, Engine, cli
from asyncthink.cli import common
from asyncthink.errors import ArenaTooSmall, ContextOverflow, SessionError
from asyncthink.models.random_weights import tiny_model

QUESTION = "What is 2 + 3?"
BLOCK_NAME = re.compile(r"\bs\d+/|prompt_end|writer_split|writer_prompt|control_note|scratch|'answer'|'thoughts'")


@pytest.fixture(scope="module")
def reasoner():
    return AsyncReasoner(*tiny_model("qwen3"))


@pytest.fixture(scope="module")
def uncapped(reasoner):
    modes = ("async", "think", "no_think")
    return {mode: reasoner.solve(QUESTION, mode=mode, budget=80, check_every=4) for mode in modes}


def tokens(result, stream):
    return [e.token_id for e in result.events if e.stream == stream and e.kind == "token"]


@pytest.mark.parametrize("mode", ["async", "think", "no_think"])
@pytest.mark.parametrize("cap", [1, 2, 3, 5, 8, 13, 21, 34, 55])
def test_the_cap_counts_both_streams_and_cuts_the_same_tokens(reasoner, uncapped, mode, cap):
    full = uncapped[mode]
    result = reasoner.solve(QUESTION, mode=mode, max_tokens=cap, check_every=4)
    m = result.metrics
    assert m.thinker_tokens + m.writer_tokens <= cap
    thinker, writer = tokens(result, "thinker"), tokens(result, "writer")
    assert (len(thinker), len(writer)) == (m.thinker_tokens, m.writer_tokens)
    assert thinker == tokens(full, "thinker")[: len(thinker)] and writer == tokens(full, "writer")[: len(writer)]
    written = full.metrics.thinker_tokens + full.metrics.writer_tokens
    if written >= cap:  # the uncapped run wrote as many or more: the cap ended this one
        assert m.stop_reason == "max_tokens" and m.thinker_tokens + m.writer_tokens == cap
    else:
        assert m.stop_reason == full.metrics.stop_reason


def test_one_token_of_room_for_two_streams_goes_to_the_writer(reasoner, uncapped):
    full = uncapped["async"]
    per_step = defaultdict(set)
    for event in full.events:
        if event.kind == "token":
            per_step[event.step].add(event.stream)
    both = next(step for step, streams in sorted(per_step.items()) if streams == {"thinker", "writer"})
    before = sum(1 for e in full.events if e.kind == "token" and e.step < both)
    result = reasoner.solve(QUESTION, max_tokens=before + 1, check_every=4)
    last = [e for e in result.events if e.kind == "token" and e.step == both]
    assert [e.stream for e in last] == ["writer"]  # the thinker's token of that step was dropped
    assert result.metrics.stop_reason == "max_tokens" and result.metrics.steps == both + 1
    assert result.metrics.thinker_tokens + result.metrics.writer_tokens == before + 1


def test_the_step_budget_keeps_its_meaning(reasoner):
    session = reasoner.start(QUESTION, max_tokens=50)
    assert (session.budget, session.max_thinker_tokens, session.max_writer_tokens) == (52, 50, 50)
    assert reasoner.start(QUESTION).budget == 4096 and reasoner.start(QUESTION).max_tokens is None
    result = reasoner.solve(QUESTION, budget=6, max_tokens=50, check_every=4)
    assert result.metrics.stop_reason == "budget" and result.metrics.steps == 6
    capped = reasoner.solve(QUESTION, mode="think", max_tokens=50, max_thinker_tokens=4)
    assert capped.metrics.thinker_tokens == 4 and capped.metrics.writer_tokens <= 46


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "10"])
def test_bad_max_tokens_is_named(reasoner, bad):
    with pytest.raises(SessionError, match="max_tokens must be a positive integer"):
        reasoner.start(QUESTION, max_tokens=bad)


def test_a_view_counts_at_most_max_tokens_of_both_streams(reasoner):
    with pytest.raises(ContextOverflow) as refused:
        reasoner.start(QUESTION, max_tokens=4000, listen_capacity=256)
    room = refused.value.room
    assert f"set max_tokens= to {room} or less" in str(refused.value)
    assert not BLOCK_NAME.search(str(refused.value))
    # each stream may write `room` tokens, so the blocks of a view hold more than the context; the view's
    # positions are counted with at most `room` of both streams together, and fit
    session = reasoner.start(QUESTION, max_tokens=room, listen_capacity=256)
    table, texts = session.runner.table, {b: len(ids) for b, ids in session.block_ids.items()}
    thoughts, answer = session.layout.writes["thinker"], session.layout.writes["writer"]
    assert table[session.block[thoughts]].capacity - 256 - texts[thoughts] == room
    assert table[session.block[answer]].capacity - texts[answer] == room
    assert sum(table[b].capacity for b in session.views["writer"]) > 4096
    with pytest.raises(ContextOverflow, match=f"at most {room} thought and answer tokens"):
        reasoner.start(QUESTION, max_tokens=room + 1, listen_capacity=256)


def test_reservation_shrinks_to_max_tokens(reasoner):
    session = reasoner.start(QUESTION, budget=3000, max_tokens=7, listen_capacity=0)
    table, texts = session.runner.table, {b: len(ids) for b, ids in session.block_ids.items()}
    for stream in ("thinker", "writer"):
        block = session.layout.writes[stream]
        assert table[session.block[block]].capacity == texts[block] + 7


def test_library_refusals_name_the_options_not_blocks(reasoner):
    with pytest.raises(ContextOverflow) as refused:
        reasoner.start(QUESTION, budget=10_000)
    message = str(refused.value)
    assert "lower budget=" in message and "max_tokens=" in message and not BLOCK_NAME.search(message)
    with pytest.raises(ContextOverflow, match="shorten the input or lower listen_capacity="):
        reasoner.start(QUESTION, listen_capacity=2000)
    engine = Engine(reasoner, capacity=3000)
    with pytest.raises(ArenaTooSmall) as small:
        engine.submit(QUESTION, max_tokens=2990, listen_capacity=0)
    assert f"set max_tokens= to {small.value.room} or less" in str(small.value)
    assert not BLOCK_NAME.search(str(small.value))
    # both streams' tokens together count once: the pool fills as they are written, not by each stream's cap
    assert 2 * small.value.room > 3000 and small.value.needed == small.value.fixed + 2990
    with pytest.raises(ArenaTooSmall, match=f"set max_tokens= to {small.value.room} or less"):
        engine.submit(QUESTION, max_tokens=4000, listen_capacity=0)  # beyond the context too: the tighter limit
    with pytest.raises(ArenaTooSmall):
        engine.submit(QUESTION, max_tokens=small.value.room + 1, listen_capacity=0)
    engine.submit(QUESTION, max_tokens=small.value.room, listen_capacity=0)  # the room it named fits


def test_cli_has_max_tokens_and_names_its_flags(monkeypatch, reasoner):
    from typer.testing import CliRunner

    monkeypatch.setattr(common, "load_model", lambda *args, **kwargs: reasoner)
    run = CliRunner().invoke(cli.app, ["run", QUESTION, "--max-tokens", "5", "--json"])
    assert run.exit_code == 0, run.output
    done = json.loads(run.output.strip().splitlines()[-1])
    assert done["text"] == "max_tokens" and done["data"]["thinker_tokens"] + done["data"]["writer_tokens"] == 5
    refused = CliRunner().invoke(cli.app, ["run", QUESTION, "--budget", "10000", "--plain"])
    assert refused.exit_code == 1
    assert "set --max-tokens to" in refused.output and "lower --budget" in refused.output
    assert "budget=" not in refused.output and not BLOCK_NAME.search(refused.output)
