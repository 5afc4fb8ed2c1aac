"""Result files: one JSON per (sample, configuration, repeat), written atomically; plans; merging shards.

    OUT/<dataset>/plan.json                      settings + every expected result name (same for all ranks)
    OUT/<dataset>/<config>/<sample id>[-r<k>].json   one sample's record, written as temp file + os.replace
    OUT/<dataset>/results.jsonl                  the merge: every record in plan order, checked complete

A file exists only once it is whole (os.replace is atomic), so a crash or kill loses at
most the samples in flight, and a resumed run skips exactly the files that exist.
Ranks of a data-parallel run (torchrun / accelerate launch set RANK and WORLD_SIZE, or
--shard i/n) write into the same OUT (a shared disk) or into their own; `merge_runs`
combines any number of such directories, refusing duplicates (the same result in two
places with different content) and listing what is missing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AsyncThinkError

PLAN = "plan.json"
MERGED = "results.jsonl"


class ResultsError(AsyncThinkError):
    """An output directory that cannot be used (other settings, duplicates, unreadable files)."""


def safe_name(sample_id: str) -> str:
    """A file name for a sample id ("test/precalculus/807.json" -> "test_precalculus_807")."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id.removesuffix(".json")).strip("._") or "sample"
    return name[:150]


def result_name(config: str, sample_id: str, repeat: int, repeats: int) -> str:
    suffix = f"-r{repeat}" if repeats > 1 else ""
    return f"{config}/{safe_name(sample_id)}{suffix}.json"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temp.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"cannot read result file {path}: {exc}") from None


def check_plan(dataset_dir: Path, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The plan to record, once the run can start: refuses a folder whose plan has other settings;
    None when the plan there already lists every item. A plan only grows: a resume with a
    smaller --limit keeps the results planned before, so merge and report count the same ones."""
    path = dataset_dir / PLAN
    if not path.exists():
        return plan
    old = read_json(path)
    if old.get("settings") != plan["settings"]:
        changed = sorted(k for k in set(old.get("settings", {})) | set(plan["settings"])
                         if old.get("settings", {}).get(k) != plan["settings"].get(k))
        raise ResultsError(f"{dataset_dir} holds results made with other settings ({', '.join(changed)}); "
                           "use another --out, or the same settings to resume")
    if set(plan["items"]) <= set(old["items"]):
        return None
    return {**plan, "items": list(dict.fromkeys(old["items"] + plan["items"]))}


def done_names(dataset_dir: Path, names: Iterable[str]) -> set[str]:
    """The names whose result file exists (complete by construction); stray temp files are removed."""
    for temp in dataset_dir.glob("*/.*.tmp"):
        temp.unlink(missing_ok=True)  # left by a killed run; its sample is redone
    return {name for name in names if (dataset_dir / name).exists()}


def merge_runs(sources: list[Path], out: Path, datasets: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Combine the result files of `sources` (run directories) into `out`/<dataset>/results.jsonl.

    Per dataset: the plans must agree; a result present in two sources must be identical
    (else it is a duplicate: two ranks did the same work differently); missing results are
    listed in the returned summary {dataset: {"records", "missing"}}; the
    merged file holds the records present, in plan order. `out` may be one of the sources;
    otherwise each `out`/<dataset> must be absent, empty, or hold the same plan (a merge done
    before), so a merge never replaces another run. Everything is checked before anything is
    written.
    """
    check_out_dir(out, "--out")
    found = sorted({p.parent.name for s in sources for p in s.glob(f"*/{PLAN}")})
    datasets = datasets or found
    if not datasets:
        raise ResultsError(f"no evaluation runs (no */{PLAN}) in {', '.join(map(str, sources))}")
    merged = {dataset: _merge_dataset(sources, dataset) for dataset in datasets}
    into_a_source = any(s.resolve() == out.resolve() for s in sources)
    for dataset, (plan, _, _) in merged.items():
        if not into_a_source:
            _check_merge_target(out / dataset, plan)
    summary = {}
    for dataset, (plan, records, missing) in merged.items():
        target = out / dataset
        if not (target / PLAN).exists() or read_json(target / PLAN) != plan:  # new, or a source's plan grown
            write_json_atomic(target / PLAN, plan)
        temp = target / f".{MERGED}.{os.getpid()}.tmp"
        temp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        os.replace(temp, target / MERGED)
        summary[dataset] = {"records": len(records), "missing": missing}
    return summary


def _merge_dataset(sources: list[Path], dataset: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """(the merged plan, the records present in plan order, the names missing) of one dataset."""
    plans = [(s, read_json(s / dataset / PLAN)) for s in sources if (s / dataset / PLAN).exists()]
    if not plans:
        raise ResultsError(f"no run of {dataset!r} in {', '.join(map(str, sources))}")
    settings = plans[0][1]["settings"]
    for source, plan in plans[1:]:
        if plan["settings"] != settings:
            raise ResultsError(f"{source / dataset} was run with other settings than {plans[0][0] / dataset}")
    items = list(dict.fromkeys(name for _, plan in plans for name in plan["items"]))
    records, duplicates, missing = [], [], []
    for name in items:
        copies = [s / dataset / name for s in sources if (s / dataset / name).exists()]
        contents = [read_json(p) for p in {p.resolve() for p in copies}]
        if not contents:
            missing.append(name)
            continue
        if any(c != contents[0] for c in contents[1:]):
            duplicates.append(name)
        records.append(contents[0])
    if duplicates:
        raise ResultsError(f"{dataset}: {len(duplicates)} results differ between sources, e.g. {duplicates[0]} "
                           "(the same sample was run twice: check the shards)")
    return {**plans[0][1], "items": items}, records, missing


def _check_merge_target(target: Path, plan: dict[str, Any]) -> None:
    """A merge writes into `target` only when it is absent, empty, or holds this same plan."""
    check_out_dir(target, "merge --out")
    if not target.exists() or not any(target.iterdir()):
        return
    if not (target / PLAN).exists():
        raise ResultsError(f"{target} holds files but no {PLAN}; merge into an empty or new --out")
    old = read_json(target / PLAN)
    if old.get("settings") != plan["settings"] or old.get("items") != plan["items"]:
        what = "settings" if old.get("settings") != plan["settings"] else "list of results"
        raise ResultsError(f"{target} holds another run (other {what}); merge into an empty or new --out, "
                           "or into the folder of a merge of this same run")


def check_out_dir(path: Path, option: str) -> None:
    """Refuse an output folder that is a file, or lies under one, with a line that says so."""
    for here in (path, *path.parents):
        if here.exists():
            if not here.is_dir():
                what = "is a file" if here == path else f"lies under {here}, which is a file"
                raise ResultsError(f"{option} {path} {what}; pass a folder")
            return


def load_records(run_dirs: list[Path]) -> list[dict[str, Any]]:
    """Every record of the given run directories' plans, in plan order: its result file where the
    folder holds one (a merged file may predate a resumed run), else its line of the folder's
    merged results.jsonl (a merge into one of its sources, or made elsewhere), so a report counts
    what the merge counted."""
    records = []
    for run in run_dirs:
        if not run.is_dir():
            raise ResultsError(f"no such directory: {run}")
        for dataset_dir in sorted(p.parent for p in run.glob(f"*/{PLAN}")):
            plan = read_json(dataset_dir / PLAN)
            merged = {}
            if (dataset_dir / MERGED).exists():
                lines = (dataset_dir / MERGED).read_text(encoding="utf-8").splitlines()
                for record in (json.loads(line) for line in lines if line.strip()):
                    repeats = record["settings"]["repeats"]
                    merged[result_name(record["config"], record["sample_id"], record["repeat"], repeats)] = record
            for name in plan["items"]:
                path = dataset_dir / name
                if path.exists():
                    records.append(read_json(path))
                elif name in merged:
                    records.append(merged[name])
    if not records:
        raise ResultsError(f"no result files in {', '.join(map(str, run_dirs))}")
    return records
