"""start() with defaults fits any model's context; what the user set is kept, or refused.

The reference is the arena itself: the capacities a session reserved, summed along each
stream's view, against the model's max_position_embeddings.
"""

import pytest

from asyncthink import AsyncReasoner, cli
from asyncthink.cli import common
from asyncthink.errors import ContextOverflow
from asyncthink.models.random_weights import tiny_model

PROBLEM = "What is 2+2? Explain briefly."


@pytest.fixture(scope="module", params=[2048, 1024])
def small(request):
    return AsyncReasoner(*tiny_model("qwen3", max_position_embeddings=request.param))


def longest_view(session) -> int:
    table = session.runner.table
    return max(sum(table[b].capacity for b in view) for view in session.views.values())


@pytest.mark.parametrize("mode", ["async", "think", "no_think"])
def test_all_defaults_fit_a_small_context(small, mode):
    limit = small.model.config.max_position_embeddings
    session = small.start(PROBLEM, mode=mode)
    assert longest_view(session) <= limit
    assert longest_view(session) >= limit - 3  # fitted, not shrunk more than rounding needs
    assert session.budget == 4096  # steps take no positions
    assert 1 <= session.max_thinker_tokens < 4096 and 1 <= session.max_writer_tokens < 4096
    assert session.listen_capacity < 256
    for _ in range(3):
        session.step()


def test_what_the_user_set_is_kept_and_the_rest_fitted(small):
    limit = small.model.config.max_position_embeddings
    session = small.start(PROBLEM, max_writer_tokens=100, listen_capacity=10)
    assert (session.max_writer_tokens, session.listen_capacity) == (100, 10)
    assert limit - 3 <= longest_view(session) <= limit
    assert session.max_thinker_tokens > 100


@pytest.mark.parametrize("asked", [{"budget": 4096}, {"max_thinker_tokens": 3000}, {"listen_capacity": 2000},
                                   {"max_writer_tokens": 1500, "max_thinker_tokens": 1500}])
def test_what_the_user_asked_for_is_refused_when_it_cannot_fit(small, asked):
    with pytest.raises(ContextOverflow, match="max_position_embeddings"):
        small.start(PROBLEM, **asked)


def test_too_long_input_is_refused_not_fitted(small):
    with pytest.raises(ContextOverflow, match="shorten the input"):
        small.start("word " * 3000)


def test_a_large_context_keeps_the_defaults():
    session = AsyncReasoner(*tiny_model("qwen3", max_position_embeddings=16384)).start(PROBLEM)
    assert (session.budget, session.max_thinker_tokens, session.max_writer_tokens, session.listen_capacity) == (
        4096, 4096, 4096, 256)


def test_cli_leaves_the_defaults_to_start(monkeypatch, small):
    from typer.testing import CliRunner

    monkeypatch.setattr(common, "load_model", lambda *args, **kwargs: small)
    result = CliRunner().invoke(cli.app, ["run", PROBLEM, "--mode", "no_think", "--plain"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli.app, ["run", PROBLEM, "--budget", "4096", "--plain"])
    assert result.exit_code == 1 and "max_position_embeddings" in result.output
