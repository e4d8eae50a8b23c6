"""Read the store into what the pages show: one row per (model, revision).

Works from the stored files; the tasks are asked (through `get_task`, mteb's registry by
default) only for their `leaderboard_columns`. A task that cannot be loaded still shows its
task score (mteb's: mean main_score over its subsets) and its subsets.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mteb_xalign.errors import DataError
from mteb_xalign.leaderboard import names
from mteb_xalign.leaderboard.borda import borda
from mteb_xalign.leaderboard.meta_file import MODEL_META
from mteb_xalign.leaderboard.provenance import Provenance, provenance_of, read_run_settings
from mteb_xalign.leaderboard.store import RESULTS
from mteb_xalign.leaderboard.submission import RUN_SETTINGS
from mteb_xalign.leaderboard.uncertainty import (
    NO_DATA,
    Band,
    borda_bands,
    cell_interval,
    has_intervals,
    language_intervals,
    significant_pairs,
    task_bands,
    usable,
)
from mteb_xalign.leaderboard.verification import VERIFICATIONS, RowVerification, read_record, row_verification
from mteb_xalign.stats.file_intervals import task_interval_of
from mteb_xalign.stats.intervals import HIGH, LOW
from mteb_xalign.task_rules import Column


@dataclass
class TaskView:
    """How a task's scores are shown: its main score, on which scale, and its columns."""

    name: str
    main_score: str
    scale: float = 100.0  # mteb's convention: 0-1 on disk, x100 on screen
    decimals: int = 1
    columns: tuple[Column, ...] = ()


@dataclass
class Row:
    name: str
    revision: str
    folder: Path  # relative to the leaderboard folder
    meta: dict
    files: dict[str, Path] = field(default_factory=dict)  # task -> result file, relative
    task_scores: dict[str, float | None] = field(default_factory=dict)  # task -> mean main_score (0-1)
    subset_scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # task -> subset -> main
    values: dict[str, float | None] = field(default_factory=dict)  # column id -> shown value
    per_language: dict[str, dict[str, float]] = field(default_factory=dict)  # column id -> language -> shown
    provenance: dict[str, Provenance] = field(default_factory=dict)  # task -> what produced it
    borda_points: float = 0.0
    rank: int | None = None
    flags: list[str] = field(default_factory=list)
    verification: RowVerification = field(
        default_factory=lambda: RowVerification("self-reported", "not verified"))
    # Filled by add_uncertainty (uncertainty.py); empty when it was not asked for.
    intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # column id -> shown scale
    interval_notes: dict[str, str] = field(default_factory=dict)  # column id -> why it has no interval
    subset_intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # stored, 0-1
    per_language_intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # shown scale
    task_intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)  # task -> 0-1
    task_bands: dict[str, Band] = field(default_factory=dict)  # task -> rank band on the task score
    band: Band | None = None  # band of the Borda rank

    @property
    def key(self) -> str:
        return self.folder.as_posix()


@dataclass
class Board:
    rows: list[Row]
    tasks: dict[str, TaskView]
    subset_languages: dict[str, dict[str, list[str]]]  # task -> subset -> mteb language codes
    root: Path | None = None  # the leaderboard folder the rows' files are relative to
    uncertainty: bool = False  # intervals and rank bands computed (add_uncertainty)
    notes: list[str] = field(default_factory=list)  # pairs of models that could not be compared, and why

    @property
    def columns(self) -> list[Column]:
        return [c for view in self.tasks.values() for c in view.columns]

    @property
    def language_columns(self) -> list[Column]:
        """Columns that also have a per-language view (they say which language a subset stands for)."""
        return [c for c in self.columns if c.language_of is not None]


def pick_split(scores: dict) -> str | None:
    """The split to report: 'test' when there, else the first one."""
    if not scores:
        return None
    return "test" if "test" in scores else sorted(scores)[0]


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def column_value(column: Column, subsets: dict[str, dict]) -> float | None:
    """The column's key averaged over the subsets it selects, times its scale."""
    numbers = [n for name, entry in subsets.items() if column.selects(name)
               if (n := _number(entry.get(column.key))) is not None]
    return sum(numbers) / len(numbers) * column.scale if numbers else None


def task_view(task_name: str, get_task: Callable[[str], Any] | None) -> TaskView:
    """The task's declared columns and the scale of its main score (from the column showing it)."""
    columns: tuple[Column, ...] = ()
    main_score = "main_score"
    if get_task is not None:
        try:
            task = get_task(task_name)
            columns = tuple(getattr(task, "leaderboard_columns", ()) or ())
            main_score = task.metadata.main_score
        except Exception as exc:  # noqa: BLE001 -- an unknown task still shows its task score and subsets
            warnings.warn(f"{task_name}: no columns on the page, the task could not be loaded: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)
    main = next((c for c in columns if c.key == main_score), None)
    if main is not None:
        return TaskView(task_name, main_score, main.scale, main.decimals, columns)
    return TaskView(task_name, main_score, columns=columns)


def _read_results(row: Row, root: Path, folder: Path, subset_languages: dict) -> dict[str, dict[str, dict]]:
    """{task: {subset: scores}} of one stored folder (the reported split); fills files and provenance."""
    from mteb import TaskResult  # deferred: mteb is slow to import

    settings = read_run_settings(folder / RUN_SETTINGS)
    found = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == MODEL_META:
            continue
        try:
            raw = json.loads(path.read_bytes())
            result = TaskResult.model_validate(raw)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"stored result is not a valid MTEB TaskResult: {exc}", path=path) from exc
        task = result.task_name
        row.files[task] = path.relative_to(root)
        row.provenance[task] = provenance_of(settings.get(task), result.dataset_revision, result.mteb_version)
        entries = {s["hf_subset"]: s for s in result.scores.get(pick_split(result.scores), [])}
        for subset, entry in entries.items():
            subset_languages.setdefault(task, {})[subset] = list(entry.get("languages") or [])
        found[task] = entries
    return found


def _read_row(root: Path, meta_path: Path, subset_languages: dict) -> tuple[Row, dict]:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"unreadable model metadata: {exc}", path=meta_path) from exc
    folder = meta_path.parent
    row = Row(name=str(meta.get("name") or folder.parent.name), revision=str(meta.get("revision") or folder.name),
              folder=folder.relative_to(root), meta=meta)
    return row, _read_results(row, root, folder, subset_languages)


def _fill_scores(row: Row, results: dict[str, dict], views: dict[str, TaskView]) -> None:
    for task, subsets in results.items():
        mains = {s: _number(e.get("main_score")) for s, e in subsets.items()}
        row.subset_scores[task] = mains
        row.subset_intervals[task] = {s: (low, high) for s, e in subsets.items()
                                      if (low := _number(e.get(LOW))) is not None
                                      and (high := _number(e.get(HIGH))) is not None}
        known = [v for v in mains.values() if v is not None]
        # mteb's task score: the mean over all subsets; a subset without a score leaves it undefined.
        row.task_scores[task] = sum(known) / len(known) if known and len(known) == len(mains) else None
    for view in views.values():
        for column in view.columns:
            subsets = results.get(column.task)
            row.values[column.id] = column_value(column, subsets) if subsets is not None else None
            if column.language_of is not None and subsets is not None:
                row.per_language[column.id] = _per_language(column, subsets)


def _per_language(column: Column, subsets: dict[str, dict]) -> dict[str, float]:
    """{language: the column's key there, times its scale} over the subsets it selects."""
    found: dict[str, list[float]] = {}
    for name, entry in subsets.items():
        language = column.language_of(name) if column.selects(name) else None
        value = _number(entry.get(column.key))
        if language is not None and value is not None:
            found.setdefault(language, []).append(value)
    return {lang: sum(v) / len(v) * column.scale for lang, v in sorted(found.items())}


def flag_rows(rows: list[Row], known_models: dict[str, str | None]) -> None:
    """Say on the row what a reader must know: look-alike names, reused names, other revisions."""
    board_names = {row.name for row in rows}
    revisions: dict[str, set[str]] = {}  # distinct revisions: a submission also seen in the store is one
    for row in rows:
        revisions.setdefault(row.name, set()).add(row.revision)
    for row in rows:
        similar = names.lookalikes(row.name, board_names | set(known_models))
        if similar:
            row.flags.append("looks like " + ", ".join(similar) + " (a different name: check the characters)")
        registered = known_models.get(row.name)
        if registered and registered != row.revision:
            row.flags.append(f"not the registered revision of {row.name} ({registered}): results submitted "
                             "for another revision of this model name")
        if len(revisions[row.name]) > 1:
            row.flags.append(f"{len(revisions[row.name])} revisions of this name on the board")


def load_board(leaderboard_dir: str | Path, get_task: Callable[[str], Any] | None = None,
               known_models: dict[str, str | None] | None = None, task_order: list[str] | None = None) -> Board:
    """The board; tasks in `task_order` (registration order: the bundled benchmark first), then by name."""
    root = Path(leaderboard_dir)
    subset_languages: dict[str, dict[str, list[str]]] = {}
    loaded = [_read_row(root, p, subset_languages) for p in sorted((root / RESULTS).glob(f"*/*/{MODEL_META}"))]
    order = {name: i for i, name in enumerate(task_order or [])}
    tasks = sorted({t for _, r in loaded for t in r}, key=lambda t: (order.get(t, len(order)), t))
    views = {task: task_view(task, get_task) for task in tasks}
    for row, results in loaded:
        _fill_scores(row, results, views)
    rows = [row for row, _ in loaded]
    for row in rows:  # results/<org__model>/<revision> -> verifications/<org__model>/<revision>.json
        record = read_record(root / VERIFICATIONS / row.folder.parent.name / f"{row.folder.name}.json")
        row.verification = row_verification(record, {task: root / path for task, path in row.files.items()})
    points, ranks = borda({row.key: row.task_scores for row in rows})
    for row in rows:
        row.borda_points, row.rank = points[row.key], ranks[row.key]
    flag_rows(rows, known_models or {})
    rows.sort(key=lambda r: (r.rank, r.name, r.revision))
    return Board(rows=rows, tasks=views, subset_languages=subset_languages, root=root)


def add_uncertainty(board: Board) -> Board:
    """Fill every row's intervals and rank bands from the per-query files (uncertainty.py)."""
    root = board.root
    for row in board.rows:
        for column in board.columns:
            path = row.files.get(column.task)
            if has_intervals(column) and path is not None and row.values.get(column.id) is not None:
                ci = row.intervals[column.id] = cell_interval(root / path, column)
                if ci is not None and column.language_of is not None:
                    row.per_language_intervals[column.id] = language_intervals(root / path, column,
                                                                               row.per_language.get(column.id, {}))
                if ci is None:
                    row.interval_notes[column.id] = NO_DATA if not usable(root / path) else \
                        f"no interval (the per-query file holds no values of {column.key})"
        for task, path in row.files.items():
            view = board.tasks.get(task)
            try:  # an unloadable task's view says "main_score": the per-query file's header names the key
                ci = task_interval_of(root / path, None if view is None or view.main_score == "main_score"
                                      else view.main_score)
            except (KeyError, ValueError):  # fewer than two clusters, or a task whose key nothing names
                ci = None
            row.task_intervals[task] = None if ci is None else (ci.low, ci.high)
    signs, board.notes = significant_pairs({row.key: {t: root / p for t, p in row.files.items()} for row in board.rows})
    per_task = {task: ({row.key: row.task_scores.get(task) for row in board.rows}, pairs)
                for task, pairs in signs.items()}
    for task, (scores, pairs) in per_task.items():
        bands = task_bands(scores, pairs)
        for row in board.rows:
            if row.key in bands:
                row.task_bands[task] = bands[row.key]
    overall = borda_bands(len(board.rows), per_task, [r.key for r in board.rows])
    for row in board.rows:
        row.band = overall[row.key]
    board.uncertainty = True
    return board
