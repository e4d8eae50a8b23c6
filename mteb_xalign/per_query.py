"""Per-query outcomes: what each query (SemanticAffinity: each concept) contributed to a subset's scores.

A task's `_score_subset` hands its per-row values to `record`; `ResultStore.save_to_cache` then
writes them beside the result JSON (`<Task>.json` -> `<Task>.per_query.npz`) with
`save_beside`, atomically, tagged with the result's dataset revision. Intervals and paired
comparisons (`mteb_xalign.stats`) are computed from these files; `problems` refuses a file that
does not belong to its result (missing queries, another dataset revision, a mean it does not
reproduce).

Format: a numpy `.npz` (zip-deflated, read with allow_pickle=False) holding one JSON header
(`__header__`: format, task, dataset revision, and per (split, subset) the names of its arrays)
and float64 arrays, so every value round-trips exactly. Row ids and clusters, identical in most
subsets of a task, are stored once and shared by name.

What a row's values mean (keys as in the subset's scores):
- retrieval subsets: one row per query; each key's stored mean is the plain mean of its row values
  (`max_at_r`, `max_at_r_norm`, `complete_at_k` as 0/1, `ndcg_at_1_pessimistic`, `mrr`
  (reciprocal rank), `map` (AP), `language_preference` (0/1 indicator)).
- SemanticAffinity subsets: one row per concept present in >= 2 of the subset's languages, with
  `n_tuples` (the concept's number of variant tuples, its weight in V), `vertical_spread` (the
  concept's mean spread over its tuples) and `horizontal_spread` (H, the same in every row). SA is
  not a mean of row values: `recompute` gives V = sum(w m) / sum(w), SR = V / H, SA = 1 / (1 + SR)
  with the same numpy operations as `metrics.affinity`, so the stored SA is reproduced bit for bit.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
SUFFIX = ".per_query.npz"
HEADER = "__header__"
#: Keys of SemanticAffinity rows (see the module docstring).
SA_WEIGHT, SA_VERTICAL, SA_HORIZONTAL = "n_tuples", "vertical_spread", "horizontal_spread"


@dataclass(frozen=True)
class SubsetOutcomes:
    ids: tuple[str, ...]  # query ids (SA: concept ids), in row order
    clusters: tuple[str, ...]  # the resampling unit of each row (XQuAD: its paragraph; SA: the concept)
    values: Mapping[str, np.ndarray]  # score key -> per-row float64 values

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.clusters) != n:
            raise ValueError(f"{len(self.clusters)} clusters for {n} rows")
        for key, value in self.values.items():
            if np.shape(value) != (n,):
                raise ValueError(f"values[{key!r}] has shape {np.shape(value)}, expected ({n},)")

    @property
    def is_affinity(self) -> bool:
        return SA_WEIGHT in self.values


def recompute(outcomes: SubsetOutcomes) -> dict[str, float]:
    """Every score the rows determine, computed as the task computed it (bit for bit)."""
    values = {k: np.asarray(v, np.float64) for k, v in outcomes.values.items()}
    if outcomes.is_affinity:
        weights, means = values[SA_WEIGHT], values[SA_VERTICAL]
        h = float(values[SA_HORIZONTAL][0])
        n_tuples = float(weights.sum())
        v = float((weights * means).sum() / n_tuples)
        sr = v / h
        return {"semantic_affinity": 1.0 / (1.0 + sr), "semantic_ratio": sr, "vertical_spread": v,
                "horizontal_spread": h,
                "semantic_affinity_concept_mean": 1.0 / (1.0 + float(means.mean()) / h)}
    return {key: float(value.mean()) for key, value in values.items()}


# -- recording during a run ---------------------------------------------------------------
# (task, model, revision) -> {(split, subset): outcomes}; filled by tasks, emptied by save_beside.
_recorded: dict[tuple[str, str, str | None], dict[tuple[str, str], SubsetOutcomes]] = {}


_main_scores: dict[str, str] = {}  # task -> its main score key, written into the header


def record(task_name: str, model_name: str, model_revision: str | None, split: str, subset: str,
           outcomes: SubsetOutcomes, main_score: str | None = None) -> None:
    """Keep one subset's outcomes until its result file is saved."""
    _recorded.setdefault((task_name, model_name, model_revision), {})[(split, subset)] = outcomes
    if main_score is not None:
        _main_scores[task_name] = main_score


def record_file(data: bytes, task_name: str, model_name: str, model_revision: str | None) -> None:
    """Record every subset of a per-query file's bytes (written by another process, e.g. a Ray worker)."""
    header, subsets = _read(io.BytesIO(data))
    for (split, subset), outcomes in subsets.items():
        record(task_name, model_name, model_revision, split, subset, outcomes, header.get("main_score"))


def recorded(task_name: str, model_name: str, model_revision: str | None) -> dict[tuple[str, str], SubsetOutcomes]:
    return dict(_recorded.get((task_name, model_name, model_revision), {}))


def per_query_path(result_path: Path) -> Path:
    result_path = Path(result_path)
    return result_path.with_name(result_path.name.removesuffix(".json") + SUFFIX)


def _identity(model_name, model_revision) -> tuple[str, str | None]:
    if isinstance(model_name, str):
        return model_name, model_revision
    return model_name.name, model_name.revision  # a ModelMeta, as mteb passes it


def save_beside(result_path: Path, task_result, model_name, model_revision: str | None = None) -> None:
    """Write the per-query file of the subsets in `task_result` (just saved at `result_path`).

    Subsets of an existing file of the same task and dataset revision are kept (a resumed run
    adds subsets); a file of another revision is replaced. Nothing is written when no subset of
    `task_result` was recorded in this process (e.g. a result only read back from disk).
    """
    name, revision = _identity(model_name, model_revision)
    kept = recorded(task_result.task_name, name, revision)
    present = {(split, s.get("hf_subset", "default")) for split, rows in task_result.scores.items() for s in rows}
    fresh = {key: out for key, out in kept.items() if key in present}
    if not fresh:
        return
    path = per_query_path(result_path)
    merged: dict[tuple[str, str], SubsetOutcomes] = {}
    header: dict[str, Any] = {}
    if path.exists():
        try:
            header, old = _read(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            header, old = {}, {}
        if header.get("task_name") == task_result.task_name and \
                header.get("dataset_revision") == task_result.dataset_revision:
            merged.update({key: out for key, out in old.items() if key in present})
    merged.update(fresh)
    _write(path, task_result.task_name, task_result.dataset_revision, merged,
           _main_scores.get(task_result.task_name) or header.get("main_score"))
    # Saved: the file holds them now (a later save of this result merges them back from it).
    kept_here = _recorded.get((task_result.task_name, name, revision), {})
    for key in fresh:
        kept_here.pop(key, None)


def _write(path: Path, task_name: str, dataset_revision: str | None,
           subsets: Mapping[tuple[str, str], SubsetOutcomes], main_score: str | None = None) -> None:
    arrays: dict[str, np.ndarray] = {}

    def shared(kind: str, strings: tuple[str, ...]) -> str:
        # Ids and clusters repeat across subsets: store each distinct list once.
        digest = hashlib.sha256("\x00".join(strings).encode()).hexdigest()[:16]
        name = f"{kind}/{digest}"
        arrays.setdefault(name, np.array(strings, dtype=str))
        return name

    entries = []
    for (split, subset), out in sorted(subsets.items()):
        values = {}
        for key, value in out.values.items():
            name = f"values/{split}/{subset}/{key}"
            arrays[name] = np.ascontiguousarray(value, dtype=np.float64)
            values[key] = name
        entries.append({"split": split, "subset": subset, "ids": shared("ids", out.ids),
                        "clusters": shared("clusters", out.clusters), "values": values})
    header = {"format": FORMAT, "task_name": task_name, "dataset_revision": dataset_revision,
              "main_score": main_score, "subsets": entries}
    arrays[HEADER] = np.array(json.dumps(header, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    # As result_store.write_atomically: a temporary file beside it, then one os.replace, so a
    # reader (or a kill) sees the old file or the new one. (result_store imports this module.)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read(source: Path | io.BytesIO) -> tuple[dict[str, Any], dict[tuple[str, str], SubsetOutcomes]]:
    if isinstance(source, io.BytesIO):
        return _parse(source)
    stat = Path(source).stat()
    header, subsets = _read_cached(str(source), stat.st_mtime_ns, stat.st_size)
    return copy.deepcopy(header), dict(subsets)


@functools.lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, size: int):
    """One parse per file version: problems(), load() and load_header() of one file read it once."""
    return _parse(io.BytesIO(Path(path).read_bytes()))


def _parse(raw: io.BytesIO) -> tuple[dict[str, Any], dict[tuple[str, str], SubsetOutcomes]]:
    with np.load(raw, allow_pickle=False) as data:
        header = json.loads(str(data[HEADER][()]))
        if header.get("format") != FORMAT:
            raise ValueError(f"per-query format {header.get('format')!r}, this version reads {FORMAT}")
        out = {}
        for entry in header["subsets"]:
            values = {}
            for key, name in entry["values"].items():
                value = data[name]
                if value.dtype != np.float64 or value.ndim != 1:
                    raise ValueError(f"array {name!r} is {value.dtype} with shape {value.shape}, expected 1-d float64")
                values[key] = value
            out[(entry["split"], entry["subset"])] = SubsetOutcomes(
                tuple(data[entry["ids"]].tolist()), tuple(data[entry["clusters"]].tolist()), values)
    return header, out


def load(result_path: Path) -> dict[tuple[str, str], SubsetOutcomes]:
    """(split, subset) -> outcomes, from the per-query file beside `result_path` ({} when none)."""
    path = per_query_path(result_path)
    if not path.exists():
        return {}
    return _read(path)[1]


def load_header(result_path: Path) -> dict[str, Any]:
    return _read(per_query_path(result_path))[0]


def on_disk(value: float) -> float:
    """A score as mteb writes it (TaskResult rounds every score to 6 decimals)."""
    return round(value, 6)


def problems(result_path: Path) -> list[str]:
    """Why the per-query file beside `result_path` cannot stand for its result, one sentence each
    (naming the file); [] when it matches (or there is none: see `has_file`)."""
    result_path = Path(result_path)
    path = per_query_path(result_path)
    if not path.exists():
        return []
    try:
        header, subsets = _read(path)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        return [f"{path}: unreadable per-query file ({exc})"]
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{path}: its result {result_path.name} is unreadable ({exc})"]
    found: list[str] = []
    if header.get("task_name") != result.get("task_name"):
        found.append(f"{path}: holds task {header.get('task_name')!r}, its result {result_path.name} "
                     f"task {result.get('task_name')!r}")
    if header.get("dataset_revision") != result.get("dataset_revision"):
        found.append(f"{path}: computed on dataset revision {header.get('dataset_revision')!r}, its result "
                     f"{result_path.name} on {result.get('dataset_revision')!r}: stale, not used")
        return found
    for split, rows in (result.get("scores") or {}).items():
        for scores in rows:
            subset = scores.get("hf_subset", "default")
            if scores.get("status") in ("collapsed", "no_data"):
                continue  # SA without a spread to resample: no rows are kept
            out = subsets.get((split, subset))
            if out is None:
                found.append(f"{path}: no per-query outcomes for subset {subset!r} ({split}) of {result_path.name}")
                continue
            n = scores.get("n_queries", scores.get("n_concepts"))
            if isinstance(n, (int, float)) and n != len(out.ids):
                found.append(f"{path}: subset {subset!r} has {len(out.ids)} rows, its result {n:g} queries")
            if len(set(out.ids)) != len(out.ids):
                found.append(f"{path}: subset {subset!r} repeats a row id")
            for key, value in recompute(out).items():
                stored = scores.get(key)
                if isinstance(stored, bool) or not isinstance(stored, (int, float)):
                    continue
                if not (math.isfinite(value) and on_disk(value) == stored):
                    found.append(f"{path}: subset {subset!r}: {key} recomputed from its rows is {value!r}, "
                                 f"the result {result_path.name} says {stored!r}")
    return found


def has_file(result_path: Path) -> bool:
    return per_query_path(result_path).exists()
