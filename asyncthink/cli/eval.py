"""`asyncthink eval`, `asyncthink merge` and `asyncthink report`: benchmarks with one command each.

    eval DATASET --out DIR ─▶ samples (evaluation/datasets.py) ─▶ plan, this rank's share, resume
                           ─▶ model ─▶ EvalRun (evaluation/runner.py) ─▶ DIR/<dataset>/<config>/<id>.json
                           ─▶ one process: merged into DIR/<dataset>/results.jsonl and the table printed
    merge SRC... --out DIR ─▶ shards' result files combined, duplicates refused, missing listed
    report DIR...          ─▶ table on stdout, PNG plots (evaluation/report.py)

Data-parallel: launch the same command under torchrun or accelerate launch (they set
RANK / WORLD_SIZE / LOCAL_RANK) or pass --shard i/n; each rank takes every n-th sample,
with `--device auto` rank r uses cuda:<LOCAL_RANK>. Then `asyncthink merge`.
User errors print one line (cli/common.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from ..defaults import DECODE_MODES, DEFAULT_MODEL
from ..errors import SessionError
from ..evaluation.judge import THINKING
from .common import load_model, user_errors

DATA, MODEL, RUN, SAFETY, SPEECH, JUDGE = "Data", "Model", "Run", "Safety (async)", "Speech", "Judge"


def _csv(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def parse_shard(shard: str | None) -> tuple[int, int]:
    """--shard i/n, else RANK / WORLD_SIZE from the launcher, else 0/1."""
    if shard is None:
        rank, world = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
        where = "RANK/WORLD_SIZE"
    else:
        rank, _, world = shard.partition("/")
        where = "--shard"
    try:
        r, n = int(rank), int(world)
    except ValueError:
        r, n = -1, 0
    if n < 1 or not 0 <= r < n:
        raise SessionError(f"{where} must be i/n with 0 <= i < n, got {rank}/{world}")
    return r, n


def _device(device: str) -> str:
    local = os.environ.get("LOCAL_RANK")
    if device == "auto" and local is not None:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(local) % torch.cuda.device_count()}"
    return device


def _load_reasoner(model: str, device: str, dtype: str, layers: int | None, decode: str):
    return load_model(model, device, dtype, layers, decode)


def eval_command(
    dataset: Annotated[str, typer.Argument(help="math500, mmlu_pro, gpqa_diamond, aime2025 or harmbench.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (resumes what is there).")],
    data: Annotated[str | None, typer.Option(rich_help_panel=DATA, show_default="the dataset's Hub name",
                                                help="Local file (.jsonl, .json, .csv, .parquet) or Hub name.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, rich_help_panel=DATA, help="Only the first N samples "
                                                 "(MMLU-Pro: a seeded sample of N).")] = None,
    data_seed: Annotated[int, typer.Option(rich_help_panel=DATA, help="MMLU-Pro sample and GPQA option "
                                           "order.")] = 0,
    model: Annotated[str, typer.Option("--model", "-m", rich_help_panel=MODEL,
                                       help="Hub name, local path or random:<hub name>.")] = DEFAULT_MODEL,
    device: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto (per rank under a launcher), cpu, "
                                        "cuda:1, ...")] = "auto",
    dtype: Annotated[str, typer.Option(rich_help_panel=MODEL, help="auto, float32, bfloat16, float16.")] = "auto",
    layers: Annotated[int | None, typer.Option(min=1, rich_help_panel=MODEL,
                                                  help="random: models only: hidden layers.")] = None,
    decode: Annotated[Literal[DECODE_MODES], typer.Option(rich_help_panel=MODEL, help="auto (eager; CUDA graphs "
                                                          "are opt-in), eager, static or graphs.")] = "auto",
    mode: Annotated[list[str], typer.Option(rich_help_panel=RUN, help="Modes to compare, comma-separated or "
                                            "repeated: async, think, no_think.")] = ["async,think,no_think"],  # noqa: B006
    layout: Annotated[list[str], typer.Option(rich_help_panel=RUN, help="Layouts for async, each its own "
                                              "configuration: independent, interleaved.")] = ["independent"],  # noqa: B006
    budget: Annotated[int, typer.Option(min=1, rich_help_panel=RUN, help="Max forward steps per sample.")] = 4096,
    max_thinker_tokens: Annotated[int | None, typer.Option(min=1, rich_help_panel=RUN, show_default="budget",
                                                              help="Cap on thought tokens per sample.")] = None,
    max_writer_tokens: Annotated[int | None, typer.Option(min=1, rich_help_panel=RUN, show_default="budget",
                                                             help="Cap on answer tokens per sample.")] = None,
    check_every: Annotated[int, typer.Option(min=1, rich_help_panel=RUN, help="Async: ask whether to write every N "
                                             "thought tokens (and at each paragraph end).")] = 20,
    temperature: Annotated[float | None, typer.Option(min=0, rich_help_panel=RUN, show_default="0; aime2025 0.6",
                                                         help="0 is greedy.")] = None,
    top_p: Annotated[float | None, typer.Option(min=0, max=1, rich_help_panel=RUN,
                                                   show_default="1; aime2025 0.95", help="Nucleus sampling threshold.")] = None,
    top_k: Annotated[int | None, typer.Option(min=0, rich_help_panel=RUN, show_default="0; aime2025 20",
                                                 help="Keep the k most likely tokens; 0 is off.")] = None,
    seed: Annotated[int, typer.Option(rich_help_panel=RUN, help="Sampling seed of repeat 0 (repeat k: seed+k).")] = 0,
    repeats: Annotated[int | None, typer.Option(min=1, rich_help_panel=RUN,
                                                   show_default="1; aime2025 8",
                                                   help="Samples per problem (sampled decoding; seeds seed..seed+k).")] = None,
    batch: Annotated[int, typer.Option(min=1, rich_help_panel=RUN, help="Sessions decoded together in one "
                                       "forward pass (1: each sample timed alone).")] = 8,
    capacity: Annotated[int | None, typer.Option(min=1, rich_help_panel=RUN, show_default="enough for --batch",
                                                    help="KV slots of the shared engine.")] = None,
    shard: Annotated[str | None, typer.Option(rich_help_panel=RUN, metavar="I/N", show_default="RANK/WORLD_SIZE",
                                                 help="Run only this share of the samples.")] = None,
    hold_writer_steps: Annotated[int, typer.Option(min=0, rich_help_panel=SAFETY,
                                                   help="Keep the writer silent for the first N steps.")] = 0,
    safety_check_every: Annotated[int, typer.Option(min=0, rich_help_panel=SAFETY,
                                                    help="Ask every N answer tokens whether the answer so far is "
                                                    "safe; 'no' pauses the writer (0: off).")] = 0,
    entropy_pause: Annotated[float | None, typer.Option(rich_help_panel=SAFETY,
                                                        help="Pause the writer while the thinker's next-token "
                                                        "entropy (nats) is above this.")] = None,
    tts: Annotated[str, typer.Option(rich_help_panel=SPEECH, help="auto (espeak-ng if installed), espeak, or "
                                     "rate (150 words/min model).")] = "auto",
    tts_sequential: Annotated[bool, typer.Option(rich_help_panel=SPEECH, help="TTS in one queue instead of in "
                                                 "parallel with decoding.")] = False,
    chunk_tokens: Annotated[int, typer.Option(min=1, rich_help_panel=SPEECH, help="Tokens per spoken chunk.")] = 5,
    step_time: Annotated[float | None, typer.Option(min=0, rich_help_panel=SPEECH, help="Also compute delays on "
                                                       "a simulated clock of this many seconds per step.")] = None,
    judge_url: Annotated[str | None, typer.Option(rich_help_panel=JUDGE, help="OpenAI-compatible base URL for "
                                                     "the HarmBench judge, e.g. http://127.0.0.1:8000/v1.")] = None,
    judge_model: Annotated[str, typer.Option(rich_help_panel=JUDGE, help="The judge's model name at --judge-url.")] = "gpt-4o",
    judge_api_key: Annotated[str | None, typer.Option(rich_help_panel=JUDGE, envvar="ASYNCTHINK_JUDGE_API_KEY",
                                                         show_default=False,
                                                         help="The judge endpoint's API key.")] = None,
    judge_max_tokens: Annotated[int, typer.Option(min=1, rich_help_panel=JUDGE, help="The judge's reply budget "
                                                  "(raise it for a judge that always thinks).")] = 16,
    judge_thinking: Annotated[Literal[THINKING], typer.Option(rich_help_panel=JUDGE, help="off: ask the judge to answer without "
                                                "thinking (mode / chat_template_kwargs); default: send neither "
                                                "(OpenAI's API refuses them).")] = "off",
    warmup: Annotated[bool, typer.Option(rich_help_panel=RUN, help="An untimed session first.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Run a benchmark: one result file per sample and configuration; resumes; shards across GPUs/nodes."""
    options = dict(locals())

    with user_errors(flags=("budget", "max_thinker_tokens", "max_writer_tokens")):
        _eval(**options)


def _eval(dataset, out, data, limit, data_seed, model, device, dtype, layers, decode, mode, layout, budget, max_thinker_tokens,
          max_writer_tokens, check_every, temperature, top_p, top_k, seed, repeats, batch, capacity, shard,
          hold_writer_steps, safety_check_every, entropy_pause, tts, tts_sequential, chunk_tokens, step_time, judge_url,
          judge_model, judge_api_key, judge_max_tokens, judge_thinking, warmup, quiet) -> None:
    from ..core.runner import resolve_decode
    from ..evaluation.datasets import get_spec, load_samples
    from ..evaluation.judge import Judge
    from ..evaluation.results import check_out_dir, merge_runs
    from ..evaluation.runner import EvalRun, RunSettings, make_configs, plan_items
    from ..evaluation.runner import shard as take_share
    from ..evaluation.tts import get_tts
    from ..layout import resolve_layout
    from ..listen_eval import warm_up
    from ..reasoner import resolve_device, resolve_dtype

    # everything that needs no model is checked first: a model load can take minutes
    rank, world = parse_shard(shard)
    check_out_dir(out / dataset, "--out")
    if entropy_pause is not None and entropy_pause <= 0:
        raise SessionError(f"--entropy-pause must be a positive number of nats, got {entropy_pause}")
    spec = get_spec(dataset)
    configs = make_configs(_csv(mode), _csv(layout))
    for config in configs:
        resolve_layout(config.mode, config.layout)
    samples = load_samples(dataset, data, seed=data_seed)[:limit]
    speech = get_tts(tts)
    if layers is not None and not model.startswith("random:"):
        raise typer.BadParameter(f"only applies to random: models, not {model!r}", param_hint="'--layers'")
    device = resolve_device(_device(device))
    judge = Judge(judge_url, judge_model, judge_api_key or os.environ.get("OPENAI_API_KEY", ""),
                  max_tokens=judge_max_tokens, thinking=judge_thinking) if judge_url else None
    settings = RunSettings(
        model=model, source=str(data or spec.hub), layers=layers, device=device.partition(":")[0],
        dtype=str(resolve_dtype(dtype, device)).removeprefix("torch."), decode=resolve_decode(decode), budget=budget,
        max_thinker_tokens=max_thinker_tokens, max_writer_tokens=max_writer_tokens, check_every=check_every,
        temperature=temperature if temperature is not None else spec.sampling.get("temperature", 0.0),
        top_p=top_p if top_p is not None else spec.sampling.get("top_p", 1.0),
        top_k=top_k if top_k is not None else spec.sampling.get("top_k", 0), seed=seed,
        repeats=repeats or spec.repeats, data_seed=data_seed, tts=speech.engine, tts_parallel=not tts_sequential,
        chunk_size=chunk_tokens, step_time=step_time, batch=batch, hold_writer_steps=hold_writer_steps,
        safety_check_every=safety_check_every, entropy_pause=entropy_pause,
        judge=judge.settings() if judge is not None and spec.kind == "harm" else None)
    log = (lambda text: None) if quiet else (lambda text: typer.echo(text, err=True))
    if spec.kind == "harm" and judge is None:
        log("note: no --judge-url: answers that are not empty or refusals stay unjudged")
    items = plan_items(samples, configs, settings.repeats)
    run = EvalRun(None, spec, settings, out / dataset, speech, judge, capacity)
    mine = take_share(items, rank, world)
    todo = run.prepare(items, mine)
    log(f"{dataset}: {len(samples)} samples x {len(configs)} configs x {settings.repeats} repeats; rank {rank}/{world}: "
        f"{len(mine)} results, {len(mine) - len(todo)} already done, {len(todo)} to run")
    if todo:
        run.reasoner = _load_reasoner(model, device, dtype, layers, decode)
        if warmup:
            warm_up(run.reasoner, mode=configs[0].mode, layout=configs[0].layout)
    run.record_plan()  # only now: a model that does not load leaves the folder as it was
    if todo:
        _with_progress(run, todo, quiet)
    if world == 1:
        summary = merge_runs([out], out, [dataset])[dataset]
        log(f"merged {summary['records']} results into {out / dataset / 'results.jsonl'}")
        if summary["missing"]:  # planned by an earlier command with a larger --limit
            log(f"{len(summary['missing'])} results of {out / dataset / 'plan.json'} are not done yet, e.g. "
                f"{summary['missing'][0]}: the run covers every result planned in this folder")
        _print_report([out], plots=None, clock="wall")
    else:
        log(f"rank {rank} done; when every rank has finished: asyncthink merge <their --out dirs> --out DIR")


def _with_progress(run, todo, quiet: bool) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        if not quiet:
            run.on_record = lambda r: typer.echo(
                f"{r['config']} {r['sample_id']}: correct={r['correct']} stop={r['stop_reason']} "
                f"ttft={r['delay']['time_to_first_writer_token']}", err=True)
        run.run(todo)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(run.spec.name, total=len(todo))
        run.on_record = lambda record: progress.advance(task)
        run.run(todo)


def merge_command(
    sources: Annotated[list[Path], typer.Argument(help="Run directories (each rank's --out, or one shared one).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the merged results go.")],
) -> None:
    """Combine sharded runs: checks duplicates, lists missing results, writes <out>/<dataset>/results.jsonl."""
    from ..evaluation.results import merge_runs

    with user_errors():
        summary = merge_runs(sources, out)
    incomplete = False
    for dataset, s in summary.items():
        typer.echo(f"{dataset}: {s['records']} results merged into {out / dataset / 'results.jsonl'}", err=True)
        if s["missing"]:
            incomplete = True
            typer.echo(f"{dataset}: {len(s['missing'])} missing, e.g. {s['missing'][0]} (rerun that rank to "
                       "resume)", err=True)
    if incomplete:
        raise typer.Exit(1)


def report_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (from eval or merge).")],
    plots: Annotated[Path | None, typer.Option(help="Folder for the PNG plots.",
                                                  show_default="<first run>/plots")] = None,
    clock: Annotated[str, typer.Option(help="wall, or steps (runs made with --step-time).")] = "wall",
) -> None:
    """Print accuracy (Wilson 95% interval) and delay figures per dataset and configuration; write plots."""

    with user_errors():
        if clock not in ("wall", "steps"):
            raise SessionError(f"--clock must be wall or steps, got {clock!r}")
        from ..evaluation.results import check_out_dir

        if plots is not None:  # the default lies in a run folder, which the report checks
            check_out_dir(plots, "--plots")
        _print_report(runs, plots or runs[0] / "plots", clock)


def _print_report(runs: list[Path], plots: Path | None, clock: str) -> None:
    from ..evaluation.report import format_table, plot, summarize
    from ..evaluation.results import load_records

    rows = summarize(load_records(runs), clock)
    typer.echo(format_table(rows, clock))
    if plots is not None:
        for path in plot(rows, plots):
            typer.echo(f"plot: {path}", err=True)
    sys.stdout.flush()
