"""Attention over paged blocks == the materialised reference, on both attention paths.

Small pages put page boundaries everywhere: inside prefill chunks (the prompt fed 7 tokens per
pass), between decode steps, inside control questions' cues and heard input. With `scattered`
pages every page a block takes is a random free one, so blocks are read as many runs (with
page_size 1, more runs than attention.MAX_RUNS: the gathered path); `natural` is the table's own
placement. Every logit of every step is compared with a plain transformers forward over the
materialised context (oracle.py).
"""

import random

import pytest
from oracle import StepRecorder, materialised_logits

from asyncthink import AsyncReasoner
from asyncthink.core.attention import MAX_RUNS
from asyncthink.models.random_weights import tiny_model

PROBLEM = "Add 17 and 25. Show the steps."
CASES = {"qwen3": ("qwen3", {}), "mistral-sliding": ("mistral", {"sliding_window": 48})}


def scatter(table, seed: int) -> None:
    """Make the table give every block a random free page (any page layout must attend the same)."""
    rng = random.Random(seed)

    def take(block):
        free = [(i, page) for i, (first, count) in enumerate(table._free) for page in range(first, first + count)]
        return table._claim(*rng.choice(free), block)

    table._take = take


def _run(model, tokenizer, decode, page_size, layout, kinds, placement, seed):
    session = AsyncReasoner(model, tokenizer, decode=decode).start(
        PROBLEM, layout=layout, budget=70, check_every=5, page_size=page_size, prefill_chunk=7)
    if placement == "scattered":
        scatter(session.runner.table, seed)
    decoder = session.runner.static  # (the runner lets it go when the session ends)
    recorder = StepRecorder(session, max_steps=200)
    steps = 0
    while not session.done:
        session.step()
        steps += 1
        if steps == 12:
            session.listen("Use only integers.", to="both", hold="none")
    worst = 0.0
    for plan, logits, keys, values in recorder.records:
        if len(logits):
            worst = max(worst, float((logits - materialised_logits(model, plan, keys, values)).abs().max()))
        for rows in plan.chunks:
            chunk = rows.chunk
            slots = plan.slots[rows.first_row : rows.first_row + len(chunk.tokens)]
            pages = {s // page_size for s in slots}
            kinds["prefill_across_pages"] += len(chunk.tokens) > 1 and len(pages) > 1
            first_in_page = slots[0] % page_size == 0 and plan.positions[rows.first_row] > 0
            kinds["decode_new_page"] += len(chunk.tokens) == 1 and first_in_page
            kinds["control"] += chunk.stream == "control"
            kinds["two_streams"] += chunk.stream == "writer" and any(c.chunk.stream == "thinker" for c in plan.chunks)
        kinds["block_in_runs"] += any(len(b.runs) > 1 for b in plan.blocks)
        kinds["gathered"] += any(len(b.runs) > MAX_RUNS for b in plan.blocks)
    kinds["heard"] += any(e.kind == "heard" for e in session.events)
    return worst, 0 if decoder is None else decoder.steps


@pytest.mark.parametrize("decode", ["eager", "static"])
@pytest.mark.parametrize(("page_size", "placement"), [(1, "scattered"), (3, "scattered"), (3, "natural"),
                                                      (16, "natural")])
@pytest.mark.parametrize("layout", ["independent", "interleaved"])
@pytest.mark.parametrize("case", list(CASES))
def test_paged_blocks_match_materialised_reference(case, layout, page_size, placement, decode):
    arch, overrides = CASES[case]
    kinds = dict.fromkeys(["prefill_across_pages", "decode_new_page", "control", "two_streams", "heard",
                           "block_in_runs", "gathered"], 0)
    required = set(kinds)
    if placement == "natural":
        required -= {"block_in_runs", "gathered"}  # the table's placement keeps these short runs whole
    elif page_size > 1:
        required -= {"gathered"}  # a few runs: read as slices
    static_steps = 0
    for seed in range(6):  # seeds until the runs together start the writer (random weights decide when)
        model, tokenizer = tiny_model(arch, seed=seed, **overrides)
        worst, steps = _run(model, tokenizer, decode, page_size, layout, kinds, placement, seed)
        assert worst <= 1e-4, f"seed {seed}: max |paged - materialised| = {worst}"
        static_steps += steps
        if all(kinds[k] for k in required):
            break
    assert all(kinds[k] for k in required), f"the runs did not exercise every kind of step: {kinds}"
    assert decode == "eager" or static_steps >= 10  # decode steps ran the static-shape (graph) step
