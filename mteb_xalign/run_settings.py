"""`run_settings.jsonl`: what produced the result files beside it. The one module that reads or writes it.

mteb writes one row per task and split ({"task", "splits", "encode_kwargs", ...}). The result
store replaces a task's rows with its own, which add:
- "version": package versions (mteb's set, mteb-xalign, the model plugin's distribution);
- "model_plugin": {"plugin", "distribution", "version"}: the provenance the leaderboard shows;
- "similarity": the similarity the model declared (the scores depend on it);
- "sha256": the digest of the result file as it was written: a file that no longer matches it
  was edited by hand (or by another tool) and is never reused as a result of ours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FILE = "run_settings.jsonl"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_rows(text: str) -> list[dict[str, Any]]:
    """The JSON-object rows of the file's text; unreadable rows are skipped, as mteb does."""
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_rows(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    return parse_rows(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else []


def rows_by_task(path: Path) -> dict[str, dict[str, Any]]:
    """{task name: its last row}."""
    return {row["task"]: row for row in read_rows(path) if isinstance(row.get("task"), str)}


def row_of(path: Path, task_name: str) -> dict[str, Any] | None:
    return rows_by_task(path).get(task_name)


def with_task_rows(existing: str, task_name: str, new_rows: Iterable[dict[str, Any]]) -> str:
    """The file's text with `task_name`'s rows replaced by `new_rows` (other tasks' rows kept, in order)."""
    kept = [row for row in parse_rows(existing) if row.get("task") != task_name]
    return "".join(json.dumps(row, default=str) + "\n" for row in [*kept, *new_rows])


def merged_bytes(existing: bytes, new: bytes) -> bytes:
    """A submitted file merged into a stored one: each task in `new` replaces that task's stored rows
    (lines kept byte for byte)."""
    def task_of(line: bytes):
        try:
            row = json.loads(line)
        except ValueError:
            return None
        return row.get("task") if isinstance(row, dict) else None

    new_lines = [line for line in new.splitlines() if line.strip()]
    new_tasks = {task_of(line) for line in new_lines} - {None}
    kept = [line for line in existing.splitlines() if line.strip() and task_of(line) not in new_tasks]
    return b"\n".join(kept + new_lines) + b"\n"
