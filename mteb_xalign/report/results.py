"""Read MTEB result folders: `<results>/<model>/<revision>/<Task>.json` (+ model_meta.json).

Files are parsed with mteb's own `TaskResult`, and a task's score is `TaskResult.get_score()`:
the mean main score over all its subsets, the number mteb's tools show. Scores must be on
mteb's 0-1 scale: a file with a main score above 1 (the old 0-100 Max@R_norm files) is refused
with its path rather than drawn 100 times too large.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign.errors import DataError, UserError

MODEL_META = "model_meta.json"


@dataclass
class TaskScores:
    name: str
    path: Path
    split: str
    subsets: dict[str, dict]  # hf_subset -> its scores
    score: float  # mteb's task score: mean main score over the subsets (0-1)


@dataclass
class ModelResults:
    name: str
    revision: str
    folder: Path
    meta: dict
    tasks: dict[str, TaskScores] = field(default_factory=dict)

    def subset(self, task: str, subset: str) -> dict | None:
        scores = self.tasks.get(task)
        return None if scores is None else scores.subsets.get(subset)


def folder_name(model_name: str) -> str:
    """mteb's folder name for a model (ResultCache: '/' -> '__', ' ' -> '_')."""
    return model_name.replace("/", "__").replace(" ", "_")


def _model_roots(results: Path) -> list[Path]:
    """Folders holding <model>/<revision>/: the folder itself, or its results/ (mteb's ResultCache adds one)."""
    return [p for p in (results, results / "results") if p.is_dir()]


def _revision_folders(model_folder: Path) -> list[Path]:
    return sorted(p for p in model_folder.iterdir() if p.is_dir() and any(
        f.name != MODEL_META for f in p.glob("*.json")))


def find_results(results: Path, models: list[str] | None) -> list[ModelResults]:
    """The results of `models` (all models found when None), newest revision of each."""
    roots = _model_roots(Path(results))
    if not roots:
        raise UserError(f"results folder not found: {results} (run `xalign run ... --output {results}` first)")
    if not models:
        found = sorted({m.name for root in roots for m in root.iterdir() if m.is_dir() and _revision_folders(m)})
        if not found:
            raise UserError(f"no model results in {results} (expected <model>/<revision>/<Task>.json)")
        return [_read_model(next(root / name for root in roots if (root / name).is_dir()), None) for name in found]
    out = []
    for name in models:
        folder = next((root / folder_name(name) for root in roots if (root / folder_name(name)).is_dir()), None)
        if folder is None or not _revision_folders(folder):
            raise UserError(f"no results for model {name!r} in {results} (looked for "
                            f"{folder_name(name)}/<revision>/<Task>.json)")
        out.append(_read_model(folder, name))
    return out


def _read_model(model_folder: Path, name: str | None) -> ModelResults:
    revisions = _revision_folders(model_folder)
    chosen = max(revisions, key=lambda p: max(f.stat().st_mtime for f in p.glob("*.json")))
    if len(revisions) > 1:
        print(f"note: {model_folder.name} has {len(revisions)} revisions; using the newest, {chosen.name}",
              file=sys.stderr)
    meta_path = chosen / MODEL_META
    meta: dict = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"unreadable model metadata: {exc}", path=meta_path) from None
    model = ModelResults(name=name or str(meta.get("name") or model_folder.name.replace("__", "/")),
                         revision=str(meta.get("revision") or chosen.name), folder=chosen, meta=meta)
    for path in sorted(chosen.glob("*.json")):
        if path.name != MODEL_META:
            task = read_task_result(path)
            model.tasks[task.name] = task
    return model


def read_task_result(path: Path) -> TaskScores:
    from mteb.results.task_result import TaskResult  # deferred: mteb is slow to import

    try:
        result = TaskResult.from_disk(path)
    except Exception as exc:  # noqa: BLE001 -- pydantic/JSON errors: one line naming the file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"not an MTEB result file: {first}", path=path) from None
    if not result.scores:
        raise DataError("result file has no scores", path=path)
    split = "test" if "test" in result.scores else sorted(result.scores)[0]
    subsets = {entry["hf_subset"]: entry for entry in result.scores[split]}
    for subset, entry in subsets.items():
        main = entry.get("main_score")
        if isinstance(main, (int, float)) and math.isfinite(main) and abs(main) > 1.0 + 1e-9:
            raise DataError(f"subset {subset!r} has main_score {main}: above 1, so not on mteb's 0-1 scale "
                            "(a result file from before scores were stored 0-1; run the task again)", path=path)
    return TaskScores(name=result.task_name, path=path, split=split, subsets=subsets,
                      score=float(result.get_score(splits=[split])))
