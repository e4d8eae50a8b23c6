"""The one result store: mteb's ResultCache layout, written safely, reused only when current.

Every route that evaluates (`xalign run`, `mteb run`, Ray workers and the driver, the repair
plugin) writes through `ResultStore` (`mteb run` too: mteb_compat hands mteb's CLI this class).
It is mteb's public `ResultCache` (the same folder layout, so mteb tools and our leaderboard read
it) with these differences:

- every file is written atomically (a temporary file, then `os.replace`): mteb rewrites the
  whole result JSON after each subset with `open("w")`, so a kill in that window used to
  destroy the subsets already saved. A killed run leaves the previous complete file, which
  holds the subsets finished so far; `missing_subsets` tells a partial result from a whole one.
- a result's files (its JSON, per-query file, model_meta.json, run_settings.jsonl row) are
  written as one step: Ctrl-C or SIGTERM arriving while they are written takes effect after the
  last of them (`interrupts_deferred`), so an interrupted run never leaves a result without its
  record.
- `model_meta.json` holds no absolute local path and no URL credentials (`public_meta_dict`).
- `run_settings.jsonl` (run_settings.py) records what produced each result: versions, the
  model's plugin, its declared similarity, and the digest of the file as written.
- a stored result is reused (by `load_task_result`, which mteb's own only-missing logic calls)
  only when it is current: computed on the task's dataset revision (for our tasks a digest of
  the data files and of every option that shapes a pool, such as pivot and pool mode), with
  the similarity the model declares now, unedited since it was written (its digest), and with
  per-query outcomes that reproduce its means (per_query.py). Any other stored result is
  recomputed, and the reason is said once.

Only public mteb API is used here (`ResultCache`, `TaskResult.to_disk/from_disk`,
`TaskResult.get_missing_evaluations`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any

from mteb.cache import ResultCache

from mteb_xalign import mteb_compat, per_query, plugins, run_settings
from mteb_xalign.public_meta import public_meta_dict

RUN_SETTINGS = run_settings.FILE
MODEL_META = "model_meta.json"
#: Packages whose versions mteb itself records in run_settings.jsonl; ours are added to them.
_MTEB_RECORDED = ("mteb", "torch", "sentence-transformers", "flash-attn", "transformers")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Result files get the mode `open("w")` would give them (mkstemp's are private to the owner).
_FILE_MODE = 0o666 & ~_umask()


def _temporary_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    return Path(tmp)


def _move_into_place(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_atomically(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` in one step: a reader (or a kill) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path)
    try:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8")
        _move_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_deferring = False


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM received in the block are delivered when it ends, to the handlers in
    force before it (re-entrant; outside the main thread signals cannot be handled, so it does nothing)."""
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum, frame):
        received.append(signum)

    kept = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
        for sig, handler in kept.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(received):  # each signal once, in the order it came
            signal.raise_signal(sig)


class ResultStore(ResultCache):
    """mteb's result folder layout, written atomically, with provenance, reused only when current.

    `tasks`: the task objects being evaluated, so a stored result can be checked against the
    task's own dataset revision (tasks built from a folder are not in mteb's registry); a task
    not given is looked up in mteb's registry by name.
    """

    def __init__(self, directory: str | Path | None = None, *, tasks: Iterable[Any] = ()) -> None:
        super().__init__(directory)
        self._tasks = {task.metadata.name: task for task in tasks}
        self._said: set[str] = set()

    # -- writing ----------------------------------------------------------------------
    def save_to_cache(self, task_result, model_name, model_revision: str | None = None, *,
                      encode_kwargs: Mapping[str, Any] | None = None) -> None:
        result_path = self.get_task_result_path(task_name=task_result.task_name, model_name=model_name,
                                                model_revision=model_revision)
        result_path.parent.mkdir(parents=True, exist_ok=True)
        with interrupts_deferred():  # the result and its record, or neither is new
            self._save(task_result, result_path, model_name, model_revision, encode_kwargs)

    def _save(self, task_result, result_path: Path, model_name, model_revision, encode_kwargs) -> None:
        # TaskResult.to_disk does the serialising (mteb's rounding and date format); we only
        # choose where it writes, then move the finished file into place.
        tmp = _temporary_beside(result_path)
        try:
            task_result.to_disk(tmp)
            written = tmp.read_bytes()
            _move_into_place(tmp, result_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        per_query.save_beside(result_path, task_result, model_name, model_revision)
        if not isinstance(model_name, str):  # a ModelMeta, as mteb.evaluate passes it
            meta = model_name
            write_atomically(result_path.parent / MODEL_META,
                             json.dumps(public_meta_dict(_meta_dict(meta)), default=str, indent=4))
            record = {**provenance(meta.name), "similarity": _similarity(meta),
                      "sha256": run_settings.digest(written)}
            _write_run_settings(result_path.parent / RUN_SETTINGS, task_result, encode_kwargs, record)

    # -- reading: only what is current ------------------------------------------------
    def load_task_result(self, task_name: str, model_name, model_revision: str | None = None,
                         raise_if_not_found: bool = False, prioritize_remote: bool = False,
                         experiment_name: str | None = None):
        """mteb's `load_task_result`, but a stored result that is not current counts as absent
        (so mteb's only-missing mode recomputes it instead of keeping old scores)."""
        path = self.get_task_result_path(task_name=task_name, model_name=model_name,
                                         model_revision=model_revision, experiment_name=experiment_name)
        if path.exists() and not isinstance(model_name, str):
            task = self.task_named(task_name)
            why = self.why_not_current(path, task, model_name) if task is not None else None
            if why is not None:
                self.say(why)
                if raise_if_not_found:
                    raise FileNotFoundError(why)
                return None
        return super().load_task_result(task_name, model_name, model_revision, raise_if_not_found,
                                        prioritize_remote, experiment_name)

    def task_named(self, name: str) -> Any | None:
        if name in self._tasks:
            return self._tasks[name]

        return mteb_compat.registered_task(name)

    def why_not_current(self, path: Path, task: Any, meta: Any) -> str | None:
        """Why the stored result at `path` of (model, task) must be recomputed; None if it is current."""
        try:
            data = path.read_bytes()
            stored = json.loads(data).get("dataset_revision")
        except (OSError, ValueError, AttributeError):
            return f"{path}: unreadable, recomputing"
        if stored != task.metadata.revision:
            return (f"{path}: computed on dataset revision {stored!r}, the data and options are now "
                    f"{task.metadata.revision!r}: recomputing")
        row = run_settings.row_of(path.parent / RUN_SETTINGS, task.metadata.name)
        if row is None or not isinstance(row.get("sha256"), str):
            return (f"{path}: no record of what wrote it in {RUN_SETTINGS} (written by another tool or "
                    "an older version): recomputing")
        if row["sha256"] != run_settings.digest(data):
            return f"{path}: changed since it was written (its digest is not the one recorded): recomputing"
        if row.get("similarity") != _similarity(meta):
            return (f"{path}: computed with similarity {row.get('similarity')!r}, the model now declares "
                    f"{_similarity(meta)!r}: recomputing")
        outcomes = per_query.per_query_path(path)
        if getattr(task, "keeps_outcomes", False) and not outcomes.exists():
            return f"{path}: its per-query outcomes ({outcomes.name}) are missing: recomputing"
        if outcomes.exists() and (found := per_query.problems(path)):
            return f"{found[0]}: recomputing"
        return None

    def state(self, task: Any, meta: Any, *, overwrite: bool = False) -> tuple[str, str | None]:
        """("absent" | "complete" | "partial" | "stale", why) of the stored result of (model, task)."""
        path = self.get_task_result_path(task_name=task.metadata.name, model_name=meta)
        if not path.exists():
            return "absent", None
        if overwrite:
            return "stale", None
        why = self.why_not_current(path, task, meta)
        if why is not None:
            return "stale", why
        return ("partial" if missing_subsets(path, task) else "complete"), None

    def say(self, message: str) -> None:
        """A reason said once per store (mteb asks for a result more than once per run)."""
        if message not in self._said:
            self._said.add(message)
            warn(message)


def _similarity(meta: Any) -> str:
    """The similarity a model's vectors are scored with (mteb's default, cosine, when none is declared)."""
    return str(getattr(meta, "similarity_fn_name", None) or "cosine")


def _meta_dict(meta) -> dict[str, Any]:
    """meta.to_dict() with its set fields (training_datasets) sorted: a set's order changes from one
    process to the next, and the same model must give the same file."""
    out = meta.to_dict()
    for name in type(meta).model_fields:
        if isinstance(getattr(meta, name, None), (set, frozenset)) and isinstance(out.get(name), list):
            out[name] = sorted(out[name], key=str)
    return out


def _write_run_settings(path: Path, task_result, encode_kwargs, record: dict[str, Any]) -> None:
    """mteb's run_settings.jsonl rows for this task replaced by one row per split (the others kept)."""
    rows = [{
        "task": task_result.task_name,
        "splits": [split],
        **record,
        "encode_kwargs": json.loads(json.dumps(dict(encode_kwargs or {}), default=str)),
        "subsets": sorted({s.get("hf_subset", "default") for s in scores}),
    } for split, scores in task_result.scores.items()]
    existing = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    write_atomically(path, run_settings.with_task_rows(existing, task_result.task_name, rows))


# -- provenance ---------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def plugin_distribution(plugin_name: str | None) -> tuple[str | None, str | None]:
    """(distribution, version) that ships the plugin registered under `plugin_name`."""
    if plugin_name is None:
        return None, None
    if plugin_name.startswith("mteb_xalign."):  # a default plugin: part of the core
        return "mteb-xalign", _version("mteb-xalign")
    for ep in entry_points(group="mteb_xalign"):
        if ep.name == plugin_name and ep.dist is not None:
            return ep.dist.name, ep.dist.version
    return None, None


def provenance(model_name: str) -> dict[str, Any]:
    """What produced a result: package versions (mteb's set plus mteb-xalign) and the model's plugin."""

    plugin = plugins.plugin_of_model(model_name)
    dist, dist_version = plugin_distribution(plugin)
    versions = {name: _version(name) for name in _MTEB_RECORDED}
    versions["mteb-xalign"] = _version("mteb-xalign")
    if dist and dist != "mteb-xalign":
        versions[dist] = dist_version
    return {"version": versions,
            "model_plugin": {"plugin": plugin, "distribution": dist, "version": dist_version}}


# -- partial results ----------------------------------------------------------------------
def missing_subsets(path: Path, task) -> dict[str, list[str]]:
    """{split: subsets the task has but the result at `path` lacks}: non-empty = a partial result."""
    from mteb.results import TaskResult  # deferred: mteb is slow to import

    missing = TaskResult.from_disk(Path(path)).get_missing_evaluations(task)
    return {split: sorted(subsets) for split, subsets in missing.items() if subsets}


def warn(message: str) -> None:
    print(f"xalign: {message}", file=sys.stderr, flush=True)
