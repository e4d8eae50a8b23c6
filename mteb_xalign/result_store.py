"""Where `xalign run` keeps its results: mteb's ResultCache layout, written safely.

`ResultStore` is mteb's public `ResultCache` (the same folder layout, so `mteb` tools and
our leaderboard read it) with three differences:

- every file is written atomically (a temporary file, then `os.replace`): mteb rewrites the
  whole result JSON after each subset with `open("w")`, so a kill in that window used to
  destroy the subsets already saved. A killed run leaves the previous complete file, which
  holds the subsets finished so far; `missing_subsets` tells a partial result from a whole one.
- `model_meta.json` holds no absolute local path and no URL credentials (`public_meta_dict`).
- `run_settings.jsonl` also records the mteb-xalign version and the plugin (and its version)
  that provided the model: the provenance the leaderboard shows.

Only public mteb API is used (`ResultCache`, `TaskResult.to_disk/from_disk`,
`TaskResult.get_missing_evaluations`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any

from mteb.cache import ResultCache

from mteb_xalign import per_query
from mteb_xalign.public_meta import public_meta_dict

RUN_SETTINGS = "run_settings.jsonl"
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


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a reader (or a kill) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        _move_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ResultStore(ResultCache):
    """mteb's result folder layout, written atomically, with provenance and no local paths."""

    def save_to_cache(self, task_result, model_name, model_revision: str | None = None, *,
                      encode_kwargs: Mapping[str, Any] | None = None) -> None:
        result_path = self.get_task_result_path(task_name=task_result.task_name, model_name=model_name,
                                                model_revision=model_revision)
        result_path.parent.mkdir(parents=True, exist_ok=True)
        # TaskResult.to_disk does the serialising (mteb's rounding and date format); we only
        # choose where it writes, then move the finished file into place.
        tmp = _temporary_beside(result_path)
        try:
            task_result.to_disk(tmp)
            _move_into_place(tmp, result_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        per_query.save_beside(result_path, task_result, model_name, model_revision)
        if not isinstance(model_name, str):  # a ModelMeta, as mteb.evaluate passes it
            meta = model_name
            write_atomically(result_path.parent / MODEL_META,
                             json.dumps(public_meta_dict(_meta_dict(meta)), default=str, indent=4))
            _merge_run_settings(result_path.parent / RUN_SETTINGS, task_result, encode_kwargs,
                                provenance(meta.name))


def _meta_dict(meta) -> dict[str, Any]:
    """meta.to_dict() with its set fields (training_datasets) sorted: a set's order changes from one
    process to the next, and the same model must give the same file."""
    out = meta.to_dict()
    for name in type(meta).model_fields:
        if isinstance(getattr(meta, name, None), (set, frozenset)) and isinstance(out.get(name), list):
            out[name] = sorted(out[name], key=str)
    return out


def _merge_run_settings(path: Path, task_result, encode_kwargs, versions: dict[str, Any]) -> None:
    """mteb's run_settings.jsonl rows for this task replaced by one row per split (the others kept)."""
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # mteb skips unreadable rows too
            if isinstance(row, dict) and row.get("task") != task_result.task_name:
                rows.append(row)
    for split, scores in task_result.scores.items():
        rows.append({
            "task": task_result.task_name,
            "splits": [split],
            "version": versions["version"],
            "model_plugin": versions["model_plugin"],
            "encode_kwargs": json.loads(json.dumps(dict(encode_kwargs or {}), default=str)),
            "subsets": sorted({s.get("hf_subset", "default") for s in scores}),
        })
    write_atomically(path, "".join(json.dumps(row, default=str) + "\n" for row in rows))


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
    from mteb_xalign import plugins

    plugin = plugins.plugin_of_model(model_name)
    dist, dist_version = plugin_distribution(plugin)
    versions = {name: _version(name) for name in _MTEB_RECORDED}
    versions["mteb-xalign"] = _version("mteb-xalign")
    if dist and dist != "mteb-xalign":
        versions[dist] = dist_version
    return {"version": versions,
            "model_plugin": {"plugin": plugin, "distribution": dist, "version": dist_version}}


def read_provenance(folder: Path, task_name: str) -> dict[str, Any] | None:
    """The run_settings row of `task_name` in a results folder (versions, model_plugin), if any."""
    path = Path(folder) / RUN_SETTINGS
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("task") == task_name:
            return row
    return None


# -- stale and partial results --------------------------------------------------------------
def stale_result(store: ResultCache, task, meta) -> str | None:
    """Why the stored result of (model, task) cannot be reused, or None if it can (or none exists).

    mteb's only-missing mode reuses a complete stored result whatever its dataset revision,
    so a rerun after the data changed would print and keep the old scores.
    """
    path = store.get_task_result_path(task_name=task.metadata.name, model_name=meta)
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8")).get("dataset_revision")
    except (OSError, ValueError, AttributeError):
        return f"{path}: unreadable, recomputing"
    if stored != task.metadata.revision:
        return (f"{path}: computed on dataset revision {stored!r}, the data are now "
                f"{task.metadata.revision!r}: recomputing")
    return None


def missing_subsets(path: Path, task) -> dict[str, list[str]]:
    """{split: subsets the task has but the result at `path` lacks}: non-empty = a partial result."""
    from mteb.results import TaskResult

    missing = TaskResult.from_disk(Path(path)).get_missing_evaluations(task)
    return {split: sorted(subsets) for split, subsets in missing.items() if subsets}


def warn(message: str) -> None:
    print(f"xalign: {message}", file=sys.stderr, flush=True)
