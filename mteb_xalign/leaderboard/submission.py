"""A whole submission: walk the folder, check every model_meta.json and result, all at once.

Input is what `mteb run` / `xalign run` write: `<...>/<org__model>/<revision>/` folders holding
`model_meta.json` and one `<TaskName>.json` per task (mteb's ResultCache layout). Every
problem is collected, so one refusal lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign import run_settings
from mteb_xalign.leaderboard import limits
from mteb_xalign.leaderboard.meta_file import MODEL_META, load_model_meta
from mteb_xalign.leaderboard.problems import Problem, SubmissionError
from mteb_xalign.leaderboard.provenance import run_settings_problems
from mteb_xalign.leaderboard.result_file import ResultChecker, TaskResolver, ValidResult

RUN_SETTINGS = run_settings.FILE  # beside the results: what produced them (kept as provenance)
_EXPERIMENTS = "experiments"  # mteb's folder for runs with experiment_kwargs


@dataclass
class ValidModel:
    folder: Path
    name: str
    revision: str
    meta_raw: bytes
    results: list[ValidResult] = field(default_factory=list)
    run_settings: bytes | None = None

    @property
    def name_as_path(self) -> str:
        # mteb's own ModelMeta.model_name_as_path rule, so the store mirrors mteb's cache.
        return self.name.replace("/", "__").replace(" ", "_")


def find_revision_folders(root: Path, problems: list[Problem]) -> list[Path]:
    """Folders under `root` (itself included) that hold JSON files; links and oversize trees refused."""
    folders, total, count = set(), 0, 0
    for path in root.rglob("*.json"):
        if path.is_symlink():
            problems.append(Problem(path, "is a symbolic link: submit the files themselves"))
            continue
        if not path.is_file():
            continue
        count += 1
        total += path.stat().st_size
        folders.add(path.parent)
    if count > limits.MAX_FILES:
        problems.append(Problem(root, f"holds {count} JSON files; a submission may hold at most {limits.MAX_FILES}"))
    if total > limits.MAX_SUBMISSION_BYTES:
        problems.append(Problem(root, f"holds {total / 2**20:.1f} MB of JSON; a submission may hold at most "
                                      f"{limits.MAX_SUBMISSION_BYTES // 2**20} MB"))
    return sorted(folders)


def _check_folder(folder: Path, root: Path, checker: ResultChecker, problems: list[Problem]) -> ValidModel | None:
    if _EXPERIMENTS in folder.relative_to(root).parts:
        problems.append(Problem(folder, "results of mteb experiments (experiment_kwargs) are not accepted: "
                                        "submit the plain <model>/<revision>/ results"))
        return None
    meta_path = folder / MODEL_META
    result_paths = sorted(p for p in folder.glob("*.json") if p.name != MODEL_META and not p.is_symlink())
    if not meta_path.is_file():
        problems.append(Problem(meta_path, "missing: every results folder needs the model_meta.json "
                                           "mteb writes (with the model's name and revision)"))
        identity = None
    else:
        identity = load_model_meta(meta_path, problems)
    if not result_paths:
        problems.append(Problem(folder, "holds model_meta.json but no <Task>.json result"))
    valid = [r for r in (checker.check(p, problems) for p in result_paths) if r is not None]
    if identity is None:
        return None
    return ValidModel(folder=folder, name=identity[0], revision=identity[1], meta_raw=meta_path.read_bytes(),
                      results=valid, run_settings=_run_settings(folder / RUN_SETTINGS, problems))


def _run_settings(path: Path, problems: list[Problem]) -> bytes | None:
    if not path.is_file() or path.is_symlink():
        return None
    big = limits.too_big(path, limits.MAX_RUN_SETTINGS_BYTES)
    if big:
        problems.append(Problem(path, big))
        return None
    raw = path.read_bytes()
    problems += [Problem(path, f"line {line}: {message}") for line, message in run_settings_problems(raw)]
    return raw


def _duplicates(models: list[ValidModel]) -> list[Problem]:
    """One (model, revision, task) may come only once per submission."""
    seen: dict[tuple[str, str, str], Path] = {}
    found = []
    for model in models:
        for result in model.results:
            key = (model.name, model.revision, result.task_name)
            if key in seen:
                found.append(Problem(result.path, f"duplicate of {seen[key]} (same model {model.name!r}, "
                                                  f"revision {model.revision!r}, task {result.task_name!r})"))
            seen.setdefault(key, result.path)
    return found


def validate_submission(results_dir: str | Path, get_task: TaskResolver | None = None) -> list[ValidModel]:
    """Validate everything under `results_dir`; raise SubmissionError listing every problem."""
    root = Path(results_dir)
    if not root.is_dir():
        raise SubmissionError([Problem(root, "not a folder (expected mteb's results/<model>/<revision>/ layout)")])
    problems: list[Problem] = []
    folders = find_revision_folders(root, problems)
    if problems:  # too big or linked: nothing is parsed
        raise SubmissionError(problems)
    if not folders:
        raise SubmissionError([Problem(root, "no result JSON found (expected <model>/<revision>/<Task>.json "
                                             "and model_meta.json, as `mteb run`/`xalign run` write them)")])
    checker = ResultChecker(get_task)
    models = [m for m in (_check_folder(f, root, checker, problems) for f in folders) if m is not None]
    problems += _duplicates(models)
    if problems:
        raise SubmissionError(problems)
    return models
