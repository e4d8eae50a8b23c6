"""`verify`: re-compute a seeded sample of a submission's subsets and compare them with its values.

Validation (`submit --check`) refuses results that cannot be right (out of range, keys that
contradict each other, wrong sizes); a coherent lie (a perfect model's values throughout, another
subset's real values copied, SA and SR changed together) passes it. Only re-running catches it.

- The sample: `sample` subsets per task, drawn by `random.Random` from a key that mixes the
  verifier's `seed` with a digest of every submitted file. The submitter controls the files but
  not the seed (CI passes the workflow's run id, a maintainer any text), so they cannot know
  which subsets will be re-run. Both go into the record, so anyone can redraw the sample.
- The re-run: the project's one evaluation path (`evaluation.evaluate_pair`) with the task's
  `hf_subsets` set to the sample, into a temporary folder. With the embedding cache on, vectors
  this machine encoded before are re-used; `XALIGN_CACHE=off` re-encodes (the record says which).
- The comparison (`compare_entry`): sizes (`n_*`, `*_size`), labels and every non-number exactly;
  every other number within `tolerance` (absolute below 1, relative above: Max@R is in ranks).
  Why 1e-3 by default: it is one unit of the last digit the page shows (x100, one decimal).
  On one machine the values are identical (same vectors; ranks are exact). Elsewhere an encoder's
  last float bits differ (other kernels, batch padding), so cosines move by ~1e-6: means of them
  (SA and the spreads) by as much, and a rank metric changes only where two candidates tie within
  that, each such query moving a mean over ~1190 queries by at most 1/1190. Each forgery the
  tests try moves a value by more than 0.05.

A model this machine cannot run (unknown here, weights or key missing, another revision) gives
"not verifiable here: <reason>", recorded and shown as self-reported: never a pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import random
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from mteb_xalign import plugins
from mteb_xalign.cache import default_cache_path
from mteb_xalign.device import resolve_device
from mteb_xalign.errors import ReportedError
from mteb_xalign.leaderboard import registry
from mteb_xalign.leaderboard.board import pick_split
from mteb_xalign.leaderboard.result_file import TaskResolver
from mteb_xalign.leaderboard.store import locked, write_files_atomically
from mteb_xalign.leaderboard.submission import ValidModel, validate_submission
from mteb_xalign.leaderboard.verification import (
    DEFAULT_SAMPLE,
    DEFAULT_TOLERANCE,
    MISMATCH,
    NOT_VERIFIABLE,
    VERIFIED,
    merged_record,
    read_record,
    record_path,
)
from mteb_xalign.model_loading import model_meta

#: Keys that identify an entry rather than measure anything.
_SKIPPED = {"hf_subset", "mteb_version"}


@dataclass(frozen=True)
class Mismatch:
    file: Path
    subset: str
    key: str
    submitted: Any
    recomputed: Any

    def __str__(self) -> str:
        return (f"{self.file}: subset {self.subset!r}: key {self.key!r}: submitted {_show(self.submitted)}, "
                f"recomputed {_show(self.recomputed)}")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class TaskOutcome:
    model: str
    revision: str
    task: str
    outcome: str  # VERIFIED, MISMATCH or NOT_VERIFIABLE
    subsets: list[str] = field(default_factory=list)
    reason: str | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    compared_values: int = 0


@dataclass
class VerifyReport:
    outcomes: list[TaskOutcome]
    records: dict[Path, dict]  # what was (or would be) written

    @property
    def mismatches(self) -> list[Mismatch]:
        return [m for o in self.outcomes for m in o.mismatches]


# -- the sample --------------------------------------------------------------------------------------

def submission_digest(models: list[ValidModel]) -> str:
    """sha256 over every submitted file (model, revision, name, bytes): any change draws a new sample."""
    h = hashlib.sha256()
    for model in sorted(models, key=lambda m: (m.name, m.revision)):
        parts = [("model_meta.json", model.meta_raw)] + sorted((r.path.name, r.raw) for r in model.results)
        for name, raw in parts:
            for piece in (model.name, model.revision, name):
                h.update(piece.encode("utf-8") + b"\0")
            h.update(hashlib.sha256(raw).digest())
    return h.hexdigest()


def choose_subsets(subsets: list[str], n: int, seed: str, digest: str, task: str) -> list[str]:
    """`n` of `subsets` (all when n >= their number), drawn from (seed, submission digest, task)."""
    pool = sorted(subsets)
    if n >= len(pool):
        return pool
    key = hashlib.sha256("\0".join((seed, digest, task)).encode("utf-8")).digest()
    return sorted(random.Random(int.from_bytes(key, "big")).sample(pool, n))


# -- the comparison ----------------------------------------------------------------------------------

def _exact_key(key: str) -> bool:
    """Sizes come from the data alone: equal on every machine."""
    leaf = key.rsplit(".", 1)[-1]
    return leaf.startswith("n_") or leaf.endswith("_size")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance * max(1.0, abs(b))


def compare_values(key: str, submitted, recomputed, tolerance: float) -> list[tuple[str, Any, Any]]:
    """(key path, submitted, recomputed) for every value that differs; dicts and lists walked."""
    if isinstance(submitted, dict) and isinstance(recomputed, dict):
        found = []
        for sub in sorted(set(submitted) | set(recomputed), key=str):
            found += compare_values(f"{key}.{sub}", submitted.get(sub, "(absent)"), recomputed.get(sub, "(absent)"),
                                    tolerance)
        return found
    if isinstance(submitted, list) and isinstance(recomputed, list) and len(submitted) == len(recomputed):
        found = []
        for i, (a, b) in enumerate(zip(submitted, recomputed)):
            found += compare_values(f"{key}[{i}]", a, b, tolerance)
        return found
    if _is_number(submitted) and _is_number(recomputed):
        same = submitted == recomputed if _exact_key(key) else _close(submitted, recomputed, tolerance)
        return [] if same else [(key, submitted, recomputed)]
    return [] if submitted == recomputed else [(key, submitted, recomputed)]


def compare_entry(submitted: dict, recomputed: dict, tolerance: float) -> tuple[list[tuple[str, Any, Any]], int]:
    """(differences, number of keys compared): every key both hold (a key the verifier's version
    does not compute cannot be checked, and is not counted as checked)."""
    keys = [k for k in submitted if k in recomputed and k not in _SKIPPED]
    found = []
    for key in keys:
        found += compare_values(key, submitted[key], recomputed[key], tolerance)
    return found, len(keys)


# -- the re-run --------------------------------------------------------------------------------------

def reachable(model: ValidModel) -> str | None:
    """None when this machine can run the submitted model revision, else why not (one line)."""

    try:
        meta = model_meta(model.name)
    except ReportedError as exc:
        return str(exc)
    if meta.revision is not None and meta.revision != model.revision:
        return f"this machine runs revision {meta.revision!r} of {model.name}, the submission is for {model.revision!r}"
    return None


def _entries(scores: dict) -> tuple[str | None, dict[str, dict]]:
    split = pick_split(scores)
    return split, {e["hf_subset"]: e for e in scores.get(split, [])} if split else {}


def _read(raw: bytes) -> dict:
    return json.loads(raw)


def machine() -> dict:
    try:
        device = resolve_device(None)
    except Exception:  # noqa: BLE001 -- no torch: the CPU
        device = "cpu"
    return {"system": platform.system(), "machine": platform.machine(), "processor": platform.processor() or None,
            "cpus": os.cpu_count(), "python": platform.python_version(), "device": device}


def versions(model_name: str) -> dict:
    found = {}
    names = ["mteb", "mteb-xalign", "numpy", "torch", "sentence-transformers"]
    try:
        plugin = plugins.plugin_of_model(model_name)
    except Exception:  # noqa: BLE001 -- the plugin is recorded when it can be named
        plugin = None
    if plugin:
        names.append(plugin)
    for name in names:
        try:
            found[name] = version(name)
        except (PackageNotFoundError, ValueError):
            continue
    return found


def cache_state() -> str:
    return "off (every vector re-encoded)" if default_cache_path() is None else \
        "on (vectors this machine encoded before are re-used)"


def _verify_model(model: ValidModel, sample: int, seed: str, digest: str, tolerance: float, resolve: TaskResolver,
                  run_pair: Callable, device: str | None, can_run: Callable) -> list[TaskOutcome]:
    from mteb_xalign.evaluation import RunOptions  # deferred: mteb is slow to import

    results = sorted(model.results, key=lambda r: r.task_name)
    why = can_run(model)
    if why is not None:
        return [TaskOutcome(model.name, model.revision, r.task_name, NOT_VERIFIABLE, reason=why) for r in results]
    tasks, chosen, submitted = [], {}, {}
    for result in results:
        split, entries = _entries(_read(result.raw)["scores"])
        task = resolve(result.task_name)
        chosen[result.task_name] = choose_subsets(list(entries), sample, seed, digest, result.task_name)
        task.hf_subsets = chosen[result.task_name]
        tasks.append(task)
        submitted[result.task_name] = (result.path, split, entries)
    with tempfile.TemporaryDirectory(prefix="xalign-verify-") as tmp:
        try:
            run_pair(model.name, tasks, Path(tmp), RunOptions(device=device, overwrite=True, quiet=True))
        except ReportedError as exc:  # e.g. weights that would not load: never a pass
            return [TaskOutcome(model.name, model.revision, r.task_name, NOT_VERIFIABLE, reason=str(exc))
                    for r in results]
        # The files the run wrote, not the objects it returned: both sides rounded as stored.
        recomputed = {name: _read(p.read_bytes())["scores"] for name in submitted
                      for p in Path(tmp).rglob(f"{name}.json")}
    outcomes = []
    for name, (path, split, entries) in submitted.items():
        outcome = TaskOutcome(model.name, model.revision, name, VERIFIED, subsets=chosen[name])
        fresh = {e["hf_subset"]: e for e in recomputed.get(name, {}).get(split, [])}
        for subset in chosen[name]:
            if subset not in fresh:
                outcome.mismatches.append(Mismatch(path, subset, "(subset)", "present", "not computed"))
                continue
            differences, compared = compare_entry(entries[subset], fresh[subset], tolerance)
            outcome.compared_values += compared
            outcome.mismatches += [Mismatch(path, subset, key, a, b) for key, a, b in differences]
        if outcome.mismatches:
            outcome.outcome = MISMATCH
        outcomes.append(outcome)
    return outcomes


def _task_record(outcome: TaskOutcome, result_raw: bytes, n_subsets: int, seed: str, digest: str,
                 tolerance: float, when: str, where: dict) -> dict:
    entry = {"outcome": outcome.outcome, "file_sha256": hashlib.sha256(result_raw).hexdigest(), "when": when}
    if outcome.outcome == NOT_VERIFIABLE:
        return {**entry, "reason": outcome.reason, "machine": where["machine"]}
    return {**entry, "subsets": outcome.subsets, "n_subsets": n_subsets, "compared_values": outcome.compared_values,
            "mismatches": [{"subset": m.subset, "key": m.key, "submitted": _show(m.submitted),
                            "recomputed": _show(m.recomputed)} for m in outcome.mismatches],
            "seed": seed, "submission_sha256": digest, "tolerance": {"score": tolerance, "sizes": 0,
                                                                      "labels": "equal"},
            **where}


def verify(results_dir: str | Path, leaderboard_dir: str | Path = "leaderboards", *, seed: str,
           sample: int = DEFAULT_SAMPLE, tolerance: float = DEFAULT_TOLERANCE, device: str | None = None,
           get_task: TaskResolver | None = None, run_pair: Callable | None = None,
           can_run: Callable[[ValidModel], str | None] | None = None, write: bool = True) -> VerifyReport:
    """Validate `results_dir`, re-run a seeded sample of its subsets, record the outcome per model
    under `<leaderboard_dir>/verifications/` (unless `write` is false) and return it."""

    if sample < 1:
        raise ValueError("sample must be at least 1 subset per task")
    if not tolerance >= 0:
        raise ValueError("tolerance must be 0 or more")
    if run_pair is None:
        from mteb_xalign.evaluation import evaluate_pair as run_pair  # deferred: mteb is slow to import
    resolve = get_task or registry.registered_task
    models = validate_submission(results_dir, get_task=resolve)
    digest = submission_digest(models)
    outcomes, records = [], {}
    root = Path(leaderboard_dir)
    for model in sorted(models, key=lambda m: (m.name, m.revision)):
        found = _verify_model(model, sample, seed, digest, tolerance, resolve, run_pair, device, can_run or reachable)
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        where = {"machine": machine(), "versions": versions(model.name), "cache": cache_state()}
        raws = {r.task_name: r.raw for r in model.results}
        sizes = {r.task_name: len(_entries(_read(r.raw)["scores"])[1]) for r in model.results}
        tasks = {o.task: _task_record(o, raws[o.task], sizes[o.task], seed, digest, tolerance, when, where)
                 for o in found}
        path = record_path(root, model.name_as_path, model.revision)
        records[path] = (model.name, model.revision, tasks)
        outcomes += found
    written = {}
    if write:
        with locked(root):
            for path, (name, revision, tasks) in records.items():
                written[path] = merged_record(read_record(path), name, revision, tasks)
            write_files_atomically({p: (_dump(r)).encode("utf-8") for p, r in written.items()})
    else:
        written = {p: merged_record({}, n, r, t) for p, (n, r, t) in records.items()}
    return VerifyReport(outcomes=outcomes, records=written)


def _dump(record: dict) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


__all__ = ["verify", "VerifyReport", "Mismatch", "compare_entry", "choose_subsets", "submission_digest",
           "DEFAULT_TOLERANCE", "DEFAULT_SAMPLE"]
