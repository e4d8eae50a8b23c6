"""The leaderboard's store of accepted results, and all-or-nothing writes into it.

Layout (mirrors mteb's ResultCache, so `mteb.ResultCache(<leaderboard dir>)` can read it too):

    <leaderboard>/results/<org__model>/<revision>/model_meta.json
    <leaderboard>/results/<org__model>/<revision>/<TaskName>.json
    <leaderboard>/results/<org__model>/<revision>/run_settings.jsonl   (when submitted)

Files are kept byte for byte as submitted.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign import per_query, run_settings
from mteb_xalign.leaderboard.meta_file import MODEL_META
from mteb_xalign.leaderboard.problems import Problem, SubmissionError
from mteb_xalign.leaderboard.result_file import TaskResolver
from mteb_xalign.leaderboard.submission import RUN_SETTINGS, validate_submission

RESULTS = "results"


def result_folder(leaderboard_dir: Path, name_as_path: str, revision: str) -> Path:
    return leaderboard_dir / RESULTS / name_as_path / revision


@contextmanager
def locked(leaderboard_dir: Path):
    """One writer at a time (two `submit`s racing would each see the other's files as absent)."""
    leaderboard_dir.mkdir(parents=True, exist_ok=True)
    # Lock the folder itself: no lock file is left behind to be committed by mistake.
    fd = os.open(leaderboard_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_files_atomically(files: dict[Path, bytes]) -> None:
    """Write every file or none.

    All contents go to temporary files beside their targets first; only then are they moved
    into place with os.replace (atomic per file). If anything fails, files already replaced
    get their old content back, new files and new folders are removed, and the error is
    re-raised: the tree is left as it was.
    """
    created_dirs: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    old: dict[Path, bytes | None] = {}
    done: list[Path] = []
    try:
        for target, data in files.items():
            _make_dirs(target.parent, created_dirs)
            old[target] = target.read_bytes() if target.exists() else None
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            staged.append((target, tmp))
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for target, tmp in staged:
            os.replace(tmp, target)
            done.append(target)
    except BaseException:
        for target in reversed(done):
            previous = old[target]
            if previous is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(previous)
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def _make_dirs(folder: Path, created: list[Path]) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


@dataclass
class SubmitReport:
    added: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)
    checked_only: bool = False
    files: dict[Path, bytes] = field(default_factory=dict)  # what is (or would be) written
    models: list = field(default_factory=list)  # the validated models (ValidModel)
    #: results accepted without a per-query file: self-reported, no interval can be computed for them
    without_per_query: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        note = ""
        if self.without_per_query:
            note = (f"; warning: {len(self.without_per_query)} result(s) without a per-query file "
                    f"(self-reported without per-query data: their means cannot be checked and get no "
                    f"interval), e.g. {self.without_per_query[0]}")
        if self.checked_only:
            return (f"valid: {len(self.added)} result file(s) would be added, {len(self.replaced)} replaced "
                    f"(--check: nothing written){note}")
        return f"{len(self.added)} result file(s) added, {len(self.replaced)} replaced{note}"


def submit(results_dir: str | Path, leaderboard_dir: str | Path = "leaderboards", replace: bool = False,
           *, get_task: TaskResolver | None = None, check: bool = False) -> SubmitReport:
    """Validate `results_dir` and copy its results into the leaderboard, all or nothing.

    A result for a (model, revision, task) already on the leaderboard is refused unless
    `replace` is true. Raises SubmissionError naming every problem; nothing is written then.
    With `check`, everything is checked (the store included) and nothing is written.
    """
    leaderboard_dir = Path(leaderboard_dir)
    models = validate_submission(results_dir, get_task=get_task)
    if check and not leaderboard_dir.is_dir():
        return _plan(models, leaderboard_dir, replace, check)
    with locked(leaderboard_dir):
        report = _plan(models, leaderboard_dir, replace, check)
        if not check:
            write_files_atomically(report.files)
    return report


def _plan(models, leaderboard_dir: Path, replace: bool, check: bool) -> SubmitReport:
    """What the submission would write (report.files), or SubmissionError with every clash."""
    files: dict[Path, bytes] = {}
    report = SubmitReport(checked_only=check, models=list(models))
    problems: list[Problem] = []
    for model in models:
        folder = result_folder(leaderboard_dir, model.name_as_path, model.revision)
        clash = _name_clash(folder / MODEL_META, model.name)
        if clash:
            problems.append(Problem(model.folder / MODEL_META, clash))
            continue
        for result in model.results:
            target = folder / f"{result.task_name}.json"
            if target.exists():
                if not replace:
                    problems.append(Problem(result.path, f"already on the leaderboard as {target} (model "
                                                         f"{model.name!r}, revision {model.revision!r}, task "
                                                         f"{result.task_name!r}); use --replace to overwrite"))
                    continue
                report.replaced.append(target)
            else:
                report.added.append(target)
            files[target] = result.raw
            if result.per_query_raw is not None:
                files[per_query.per_query_path(target)] = result.per_query_raw
            else:
                report.without_per_query.append(result.path)
        meta_target = folder / MODEL_META
        # The first submission's metadata stays unless the submitter asks to replace it.
        if replace or not meta_target.exists():
            files[meta_target] = model.meta_raw
        if model.run_settings is not None:
            files[folder / RUN_SETTINGS] = merge_run_settings(folder / RUN_SETTINGS, model.run_settings)
    if problems:
        raise SubmissionError(problems)
    report.files = files
    return report


def _name_clash(meta_target: Path, name: str) -> str | None:
    """Two names can map to one folder ('a/b c' and 'a/b_c'): never mix their results."""
    if not meta_target.exists():
        return None
    try:
        stored = json.loads(meta_target.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError):
        return None
    if stored != name:
        return (f"model {name!r} would share the folder {meta_target.parent} with the stored model "
                f"{stored!r}; rename the model")
    return None


def merge_run_settings(path: Path, new: bytes) -> bytes:
    """run_settings.jsonl holds rows per task: a task's new rows replace its stored ones."""
    return run_settings.merged_bytes(path.read_bytes() if path.exists() else b"", new)
