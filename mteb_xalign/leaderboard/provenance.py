"""What produced a stored result: versions and plugin from run_settings.jsonl, data revision.

`xalign run` and `mteb run` (with mteb-xalign installed) write one run_settings.jsonl row per task
and split through the result store (run_settings.py): {"task", "version": {"mteb", "mteb-xalign",
<plugin distribution>, ...}, "model_plugin": {"plugin", "distribution", "version"}, ...}. A result
without them (plain mteb, another tool) is said to have no recorded provenance, in words: never
guessed, never shown as "?".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign import run_settings
from mteb_xalign.leaderboard import limits
from mteb_xalign.leaderboard.names import hidden_characters


@dataclass(frozen=True)
class Provenance:
    mteb: str | None = None
    mteb_xalign: str | None = None
    plugin: str | None = None  # "distribution version" of the plugin that provided the model
    dataset_revision: str | None = None

    @property
    def recorded(self) -> bool:
        """Whether the result says what produced it (mteb-xalign's run_settings row)."""
        return self.mteb_xalign is not None

    def describe(self) -> str:
        if not self.recorded:
            text = (f"mteb {self.mteb or 'version not recorded'}; no record of the mteb-xalign version or model "
                    "plugin that produced it (not written by xalign run or by mteb run with mteb-xalign installed)")
        else:
            text = (f"mteb {self.mteb or 'version not recorded'}, mteb-xalign {self.mteb_xalign}, "
                    f"plugin {self.plugin or 'none (a model mteb itself provides)'}")
        if self.dataset_revision:
            text += f", data {self.dataset_revision}"
        return text


def read_run_settings(path: Path) -> dict[str, dict]:
    """{task name: its last run_settings row}; unreadable rows are skipped, as mteb does."""
    return run_settings.rows_by_task(path)


def unrecorded(models) -> list[str]:
    """One line per submitted result whose provenance is not recorded (submission.ValidModel list)."""
    lines = []
    for model in models:
        rows = run_settings.parse_rows((model.run_settings or b"").decode("utf-8", errors="replace"))
        recorded = {row.get("task") for row in rows
                    if isinstance(row.get("version"), dict) and row["version"].get("mteb-xalign")}
        lines += [f"{result.path}: no record of what produced it (no mteb-xalign version in run_settings.jsonl); "
                  "the page will say so" for result in model.results if result.task_name not in recorded]
    return lines


def provenance_of(row: dict | None, dataset_revision: str | None, mteb_version: str | None) -> Provenance:
    row = row or {}
    versions = row.get("version") if isinstance(row.get("version"), dict) else {}
    plugin = row.get("model_plugin") if isinstance(row.get("model_plugin"), dict) else {}
    dist, dist_version = plugin.get("distribution"), plugin.get("version")
    return Provenance(
        mteb=_text(versions.get("mteb")) or _text(mteb_version),
        mteb_xalign=_text(versions.get("mteb-xalign")),
        plugin=" ".join(_text(p) for p in (dist, dist_version) if _text(p)) or None,
        dataset_revision=_text(dataset_revision),
    )


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def run_settings_problems(raw: bytes) -> list[tuple[int, str]]:
    """(line number, what is wrong) for a submitted run_settings.jsonl: every row a JSON object;
    the versions and plugin it records (shown on the page) short strings or null."""
    found = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = limits.parse_json(line.encode("utf-8"))
        except limits.JSONRefused as exc:
            found.append((number, str(exc)))
            continue
        if not isinstance(row, dict):
            found.append((number, f"expected a JSON object, got {type(row).__name__}"))
            continue
        for key in ("version", "model_plugin"):
            value = row.get(key)
            if value is None:
                continue
            if not isinstance(value, dict) or not all(_shown_text(v) for v in value.values()):
                found.append((number, f"{key!r} must map names to short strings or null (it is shown as "
                                      f"provenance), got {json.dumps(value)[:120]}"))
    return found


def _shown_text(value) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= 100 and not hidden_characters(value))
