"""Verification records: what `xalign leaderboard verify` re-ran, where, when, and whether it matched.

Stored beside the results, one file per model revision:

    <leaderboard>/verifications/<org__model>/<revision>.json
    {"model", "revision", "tasks": {task: {"outcome", "reason", "file_sha256", "subsets", "n_subsets",
     "compared_values", "mismatches", "seed", "sample_digest", "tolerance", "when", "machine",
     "versions", "cache"}}}

A task's verification holds only for the exact bytes it checked (`file_sha256`): once the stored
result file changes, the row is self-reported again. Validation (`submit`) checks that a result is
possible; only a verification re-computes it, and only on the sampled subsets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

VERIFICATIONS = "verifications"
#: `verify`'s defaults: subsets re-run per task; largest score difference (see verify.py for why).
DEFAULT_SAMPLE = 2
DEFAULT_TOLERANCE = 1e-3
VERIFIED, MISMATCH, NOT_VERIFIABLE = "verified", "mismatch", "not verifiable"


def record_path(leaderboard_dir: Path, name_as_path: str, revision: str) -> Path:
    return leaderboard_dir / VERIFICATIONS / name_as_path / f"{revision}.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_record(path: Path) -> dict:
    """The stored record, or {} when there is none or it cannot be read (then nothing is verified)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("tasks"), dict) else {}


def merged_record(old: dict, model: str, revision: str, tasks: dict[str, dict]) -> dict:
    """The old record's tasks, with the newly verified ones replacing theirs."""
    kept = dict(old.get("tasks") or {}) if old.get("model") == model else {}
    kept.update(tasks)
    return {"model": model, "revision": revision, "tasks": dict(sorted(kept.items()))}


@dataclass
class RowVerification:
    """What a leaderboard row shows: 'verified', 'failed verification' or 'self-reported', and why."""

    status: str
    summary: str  # one line, shown under the status
    details: list[str] = field(default_factory=list)  # one line per task, shown on hover / in the JSON


def describe_task(task: str, entry: dict) -> str:
    """One line: what was re-run for `task`, when, on what, with which tolerance, and the outcome."""
    outcome = entry.get("outcome")
    if outcome == NOT_VERIFIABLE:
        return f"{task}: not verifiable here: {entry.get('reason')}"
    subsets = entry.get("subsets") or []
    machine = entry.get("machine") or {}
    versions = entry.get("versions") or {}
    text = (f"{task}: re-ran {len(subsets)} of {entry.get('n_subsets', '?')} subsets ({', '.join(subsets)}) "
            f"on {entry.get('when', '?')}, {machine.get('system', '?')} {machine.get('machine', '')} "
            f"{machine.get('device', '')}, mteb-xalign {versions.get('mteb-xalign', '?')}, "
            f"cache {entry.get('cache', '?')}, tolerance {entry.get('tolerance', {}).get('score', '?')}: ")
    if outcome == VERIFIED:
        return text + f"{entry.get('compared_values', '?')} values matched"
    return text + f"{len(entry.get('mismatches') or [])} value(s) differ"


def row_verification(record: dict, stored_files: dict[str, Path]) -> RowVerification:
    """The row's status from its record and the stored result files ({task: absolute path})."""
    tasks = record.get("tasks") or {}
    states: dict[str, str] = {}
    details = []
    for task, path in sorted(stored_files.items()):
        entry = tasks.get(task)
        if not isinstance(entry, dict):
            states[task], line = "unchecked", f"{task}: not verified"
        elif entry.get("file_sha256") != _digest(path):
            states[task], line = "unchecked", f"{task}: the result file changed after its verification"
        else:
            states[task], line = str(entry.get("outcome")), describe_task(task, entry)
        details.append(line)
    if not tasks or not states:  # no record: nothing to list task by task
        return RowVerification("self-reported", "not verified")
    failed = [t for t, s in states.items() if s == MISMATCH]
    if failed:
        return RowVerification("failed verification", f"re-computed values differ: {', '.join(failed)}", details)
    if all(s == VERIFIED for s in states.values()):
        entries = [tasks[t] for t in states]
        n_run = sum(len(e.get("subsets") or []) for e in entries)
        n_all = sum(int(e.get("n_subsets") or 0) for e in entries)
        when = max(str(e.get("when", "")) for e in entries)[:10]
        machine = entries[0].get("machine") or {}
        where = f"{machine.get('system', '?')} {machine.get('device', '')}".strip()
        return RowVerification("verified", f"{n_run} of {n_all} subsets re-run and matched ({when}, {where})",
                               details)
    unverifiable = sorted({str(tasks[t].get("reason")) for t, s in states.items() if s == NOT_VERIFIABLE})
    if unverifiable:
        return RowVerification("self-reported", "not verifiable here: " + "; ".join(unverifiable), details)
    unchecked = [t for t, s in states.items() if s != VERIFIED]
    if len(unchecked) == len(states):
        return RowVerification("self-reported", "not verified", details)
    return RowVerification("self-reported", f"not verified: {', '.join(unchecked)}", details)


def _digest(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None
