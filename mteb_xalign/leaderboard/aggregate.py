"""Read the store and turn each (model, revision) into one leaderboard row.

Results are parsed with mteb's TaskResult; each column (declared by its task, columns.py)
averages its key over the subsets it selects. A task a model has no result for gives None
("—"). The per-language view is the first column that says which language a subset stands for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign.errors import DataError
from mteb_xalign.leaderboard.columns import TIER_COLUMN, Column, all_columns, headline, tier
from mteb_xalign.leaderboard.store import RESULTS
from mteb_xalign.leaderboard.validate import MODEL_META


@dataclass
class Entry:
    name: str
    revision: str
    folder: Path  # relative to the leaderboard folder
    meta: dict
    files: dict[str, Path] = field(default_factory=dict)  # task name -> file, relative
    values: dict[str, float | None] = field(default_factory=dict)  # column id -> shown value
    per_language: dict[str, float] = field(default_factory=dict)  # language -> the language column's value
    tier: str | None = None


@dataclass
class Leaderboard:
    entries: list[Entry]
    columns: tuple[Column, ...]
    languages: list[str]  # heatmap columns (the languages of `language_column`), sorted
    language_column: Column | None = None


def pick_split(scores: dict) -> str | None:
    """The split to report: 'test' when there, else the only (or first) one."""
    if not scores:
        return None
    if "test" in scores:
        return "test"
    return sorted(scores)[0]


def column_value(column: Column, subsets: dict[str, dict]) -> float | None:
    values = [entry.get(column.key) for name, entry in subsets.items() if column.selects(name)]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v)]
    if not numbers:
        return None
    return sum(numbers) / len(numbers) * column.scale


def load(leaderboard_dir: str | Path) -> Leaderboard:
    from mteb.results.task_result import TaskResult

    root = Path(leaderboard_dir)
    columns = all_columns()
    by_language = next((c for c in columns if c.language_of is not None), None)
    entries: list[Entry] = []
    languages: set[str] = set()
    for meta_path in sorted((root / RESULTS).glob(f"*/*/{MODEL_META}")):
        folder = meta_path.parent
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"unreadable model metadata: {exc}", path=meta_path) from exc
        entry = Entry(name=str(meta.get("name") or folder.parent.name), revision=str(meta.get("revision")
                      or folder.name), folder=folder.relative_to(root), meta=meta)
        subsets_by_task: dict[str, dict[str, dict]] = {}
        for path in sorted(folder.glob("*.json")):
            if path.name == MODEL_META:
                continue
            try:
                result = TaskResult.from_disk(path)
            except Exception as exc:  # noqa: BLE001
                raise DataError(f"stored result is not a valid MTEB TaskResult: {exc}", path=path) from exc
            entry.files[result.task_name] = path.relative_to(root)
            split = pick_split(result.scores)
            subsets_by_task[result.task_name] = {s["hf_subset"]: s for s in result.scores.get(split, [])}
        for column in columns:
            subsets = subsets_by_task.get(column.task)
            entry.values[column.id] = column_value(column, subsets) if subsets is not None else None
        if by_language is not None:
            for subset, scores in subsets_by_task.get(by_language.task, {}).items():
                lang = by_language.language_of(subset) if by_language.selects(subset) else None
                value = scores.get(by_language.key)
                if lang is not None and isinstance(value, (int, float)) and math.isfinite(value):
                    entry.per_language[lang] = float(value) * by_language.scale
                    languages.add(lang)
        entry.tier = tier(entry.values.get(TIER_COLUMN))
        entries.append(entry)
    top = headline(columns)
    if top is not None:
        entries.sort(key=lambda e: (e.values.get(top.id) is None, -(e.values.get(top.id) or 0.0), e.name))
    return Leaderboard(entries=entries, columns=columns, languages=sorted(languages), language_column=by_language)
