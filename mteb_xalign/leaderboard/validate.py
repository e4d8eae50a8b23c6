"""Check a folder of MTEB results before it enters the leaderboard.

Input is what `mteb run` / `xalign run` write: `<...>/<org__model>/<revision>/` folders
holding `model_meta.json` and one `<TaskName>.json` per task (mteb's `ResultCache` layout).
Each file is parsed with mteb's own `TaskResult` / `ModelMeta` and checked against the task
as mteb knows it *now* (`mteb.get_task`): eval splits, hf_subsets, main score, dataset
revision, score ranges (rules.py) and sizes (n_queries vs the task's data). Every problem is
collected, so one refusal lists them all, each naming file, subset, key, value and what was
expected.

A task class can tighten the checks without any change here (all optional):
- `score_rules = {regex: ScoreRule(...)}`: ranges / NaN allowances for its own keys;
- `required_score_keys`: keys every subset must hold (a list, or a function of the subset);
- `expected_result_sizes()`: {hf_subset: {key: count}}; otherwise `n_queries` is compared
  with the `num_queries`/`number_of_queries` of the task's per-subset statistics.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mteb_xalign import mteb_compat
from mteb_xalign.errors import UserError
from mteb_xalign.leaderboard import rules as rules_mod
from mteb_xalign.leaderboard.columns import columns_for_task

MODEL_META = "model_meta.json"
RUN_SETTINGS = "run_settings.jsonl"  # written by mteb next to the results; kept as provenance
_EXPERIMENTS = "experiments"  # mteb's folder for runs with experiment_kwargs


@dataclass(frozen=True)
class Problem:
    file: Path
    message: str
    subset: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = [str(self.file)]
        if self.subset is not None:
            where.append(f"subset {self.subset!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        return ": ".join(where) + ": " + self.message


class SubmissionError(UserError):
    """A refused submission; `problems` lists everything that is wrong."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"submission refused ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass
class ValidResult:
    path: Path
    task_name: str
    raw: bytes  # stored byte for byte: the leaderboard keeps exactly what was submitted


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


TaskResolver = Callable[[str], Any]


def _mteb_get_task(name: str):
    import mteb

    return mteb.get_task(name)


def _fmt(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value is None:
        return "null"
    return repr(value)


def _is_nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _safe_path_part(text: str) -> bool:
    """Usable as one folder name: no separators, not hidden, not '.'/'..', no control chars."""
    return bool(text) and "/" not in text and "\\" not in text and not text.startswith(".") \
        and all(ord(ch) >= 32 for ch in text)


# -- model metadata --------------------------------------------------------------------

def load_model_meta(path: Path, problems: list[Problem]) -> tuple[str, str] | None:
    """(name, revision) from a model_meta.json, parsed with mteb's ModelMeta."""
    from mteb.models.model_meta import ModelMeta

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(Problem(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, f"expected a JSON object (mteb's ModelMeta), got {type(data).__name__}"))
        return None
    for key in ("name", "revision"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(path, f"{_fmt(value)} is not a model {key} (expected a non-empty string)",
                                    key=key))
    if any(p.file == path for p in problems):
        return None
    # The loader is a function name here; it cannot be resolved (and is not needed) offline.
    data = {**data, "loader": None}
    try:
        meta = ModelMeta.model_validate(data)
    except Exception as exc:  # noqa: BLE001 -- pydantic's message names the field at fault
        problems.append(Problem(path, f"not a valid mteb ModelMeta: {_one_line(exc)}"))
        return None
    if not _safe_path_part(meta.revision):
        problems.append(Problem(path, f"revision {meta.revision!r} cannot be a folder name "
                                      "(no '/', '\\', leading '.', or control characters)", key="revision"))
        return None
    as_path = meta.model_name_as_path()
    if not _safe_path_part(as_path):
        problems.append(Problem(path, f"model name {meta.name!r} cannot be a folder name", key="name"))
        return None
    return meta.name, meta.revision


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# -- task results ----------------------------------------------------------------------

def expected_sizes(task) -> dict[str, dict[str, int]]:
    """{hf_subset: {score key: expected count}} from the task itself, or {} if it cannot say.

    In order: the task's own `expected_result_sizes()` if it defines one; mteb's precomputed
    descriptive statistics; else the task's per-subset statistics computed from its data
    (`_calculate_descriptive_statistics_from_split`, mteb's own hook; retrieval tasks report
    `num_queries`). The counts are checked against the results' `n_queries`.
    """
    own = getattr(task, "expected_result_sizes", None)
    if callable(own):
        try:
            return {subset: dict(sizes) for subset, sizes in own().items()}
        except Exception as exc:  # noqa: BLE001 -- a broken hook must not crash the check
            warnings.warn(f"{task.metadata.name}: sizes not checked, expected_result_sizes() failed: {exc}",
                          stacklevel=2)
            return {}
    try:
        stats = task.metadata.descriptive_stats
    except Exception:  # noqa: BLE001 -- missing or unreadable stats: nothing to compare with
        stats = None
    sizes: dict[str, dict[str, int]] = {}
    for split_stats in (stats or {}).values():
        for subset, sub_stats in (split_stats.get("hf_subset_descriptive_stats") or {}).items():
            count = _query_count(sub_stats)
            if count is not None:
                sizes[subset] = {"n_queries": count}
    if sizes:
        return sizes
    try:
        split = task.eval_splits[0]
        for subset in task.hf_subsets:
            sub_stats = mteb_compat.split_statistics(task, split, subset)
            count = _query_count(sub_stats)
            if count is not None:
                sizes[subset] = {"n_queries": count}
    except Exception as exc:  # noqa: BLE001 -- e.g. data on the hub, offline: sizes cannot be checked
        warnings.warn(f"{task.metadata.name}: sizes not checked, the task's statistics failed: {exc}",
                      stacklevel=2)
        return {}
    return sizes


def _declared_keys(task, subset: str) -> list[str]:
    """Keys the task says every result must hold: `required_score_keys`, a list or subset -> list."""
    declared = getattr(task, "required_score_keys", None)
    if declared is None:
        return []
    return list(declared(subset) if callable(declared) else declared)


def _query_count(stats) -> int | None:
    """mteb's retrieval statistics say `num_queries`; some tasks say `number_of_queries`."""
    if not isinstance(stats, dict):
        return None
    for key in ("num_queries", "number_of_queries"):
        if isinstance(stats.get(key), int):
            return stats[key]
    return None


class ResultChecker:
    """Validates task result files; caches task lookups and their expected sizes."""

    def __init__(self, get_task: TaskResolver | None = None):
        self._get_task = get_task or _mteb_get_task
        self._tasks: dict[str, Any] = {}
        self._sizes: dict[str, dict[str, dict[str, int]]] = {}

    def task(self, name: str):
        """(task, None) or (None, why it is unavailable)."""
        if name not in self._tasks:
            try:
                self._tasks[name] = (self._get_task(name), None)
            except KeyError:
                self._tasks[name] = (None, f"unknown task {name!r}: mteb has no such task (is the plugin "
                                           "providing it installed? see `xalign tasks`)")
            except Exception as exc:  # noqa: BLE001 -- a broken task class must not crash the check
                self._tasks[name] = (None, f"task {name!r} could not be loaded to validate against: "
                                           f"{type(exc).__name__}: {exc}")
        return self._tasks[name]

    def sizes(self, task) -> dict[str, dict[str, int]]:
        name = task.metadata.name
        if name not in self._sizes:
            self._sizes[name] = expected_sizes(task)
        return self._sizes[name]

    def check(self, path: Path, problems: list[Problem]) -> ValidResult | None:
        """Validate one `<TaskName>.json`; append problems; return it when it is fine."""
        from mteb.results.task_result import TaskResult

        before = len(problems)
        raw = path.read_bytes()
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f"line {exc.lineno}, column {exc.colno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) \
                else str(exc)
            problems.append(Problem(path, f"not valid JSON ({where})"))
            return None
        if not isinstance(data, dict) or "scores" not in data:
            problems.append(Problem(path, "not an MTEB task result (expected an object with 'task_name', "
                                          "'dataset_revision', 'mteb_version' and 'scores')"))
            return None
        if not data.get("mteb_version"):
            problems.append(Problem(path, "missing 'mteb_version' (results from mteb < 1.11 are not accepted)",
                                    key="mteb_version"))
            return None
        try:
            result = TaskResult.model_validate(data)
        except Exception as exc:  # noqa: BLE001 -- pydantic names the field at fault
            problems.append(Problem(path, f"not a valid MTEB TaskResult: {_one_line(exc)}"))
            return None

        if result.task_name != path.stem:
            problems.append(Problem(path, f"file holds task {result.task_name!r} but is named {path.name!r} "
                                          f"(expected {result.task_name}.json)", key="task_name"))
        task, why = self.task(result.task_name)
        if task is None:
            problems.append(Problem(path, why, key="task_name"))
            return None
        meta = task.metadata
        if meta.revision is not None and result.dataset_revision != meta.revision:
            problems.append(Problem(path, f"dataset_revision {result.dataset_revision!r} does not match the "
                                          f"task's data (expected {meta.revision!r}); rerun on the current data",
                                    key="dataset_revision"))
        self._check_scores(path, task, result.scores, problems)
        if len(problems) > before:
            return None
        return ValidResult(path=path, task_name=result.task_name, raw=raw)

    def _check_scores(self, path: Path, task, scores: dict, problems: list[Problem]) -> None:
        eval_splits = list(task.eval_splits)
        required = list(task.hf_subsets)
        for split in scores:
            if split not in eval_splits:
                problems.append(Problem(path, f"split {split!r} is not an eval split of {task.metadata.name} "
                                              f"(expected {eval_splits})", key="scores"))
        rules = rules_mod.rules_for(task)
        sizes = self.sizes(task)
        main_key = task.metadata.main_score
        columns = columns_for_task(task.metadata.name)
        for split in eval_splits:
            if split not in scores:
                problems.append(Problem(path, f"split {split!r} is missing (the task evaluates {eval_splits})",
                                        key="scores"))
                continue
            seen: dict[str, dict] = {}
            for entry in scores[split]:
                subset = entry["hf_subset"]
                if subset in seen:
                    problems.append(Problem(path, f"appears twice in split {split!r}", subset=subset))
                seen[subset] = entry
            missing = [s for s in required if s not in seen]
            if missing:
                shown = ", ".join(missing[:12]) + (f", ... ({len(missing)} in all)" if len(missing) > 12 else "")
                problems.append(Problem(path, f"split {split!r} lacks {len(missing)} of the task's "
                                              f"{len(required)} subsets: {shown}", key="scores"))
            for subset in seen:
                if subset not in required:
                    problems.append(Problem(path, f"not a subset of {task.metadata.name} "
                                                  f"(expected one of its {len(required)} hf_subsets)",
                                            subset=subset))
            for subset, entry in seen.items():
                if subset in required:
                    needed = [main_key] + [c.key for c in columns if c.selects(subset)] \
                        + _declared_keys(task, subset)
                    self._check_entry(path, subset, entry, needed, main_key, rules,
                                      sizes.get(subset, {}), problems)

    @staticmethod
    def _check_entry(path, subset, entry, needed, main_key, rules, sizes, problems) -> None:
        for key in dict.fromkeys(needed):
            if key not in entry:
                problems.append(Problem(path, "missing (required by the task or a leaderboard column)",
                                        subset=subset, key=key))
        main = entry.get("main_score")
        main_rule = rules_mod.rule_for_key(rules, main_key)
        if main_rule is not None and _is_nan(main) and main_rule.nan_allowed(subset, entry):
            pass  # a documented allowance (e.g. SA without data); the key's own rule says why
        elif main is None or isinstance(main, bool) or not isinstance(main, (int, float)) or not math.isfinite(main):
            problems.append(Problem(path, f"{_fmt(main)} is not a finite number", subset=subset, key="main_score"))
        elif main_key in entry and isinstance(entry[main_key], (int, float)) \
                and not math.isclose(main, entry[main_key], rel_tol=1e-6, abs_tol=1e-6):
            problems.append(Problem(path, f"{_fmt(main)} differs from {main_key}={_fmt(entry[main_key])} "
                                          f"(expected main_score == {main_key}, the task's main score)",
                                    subset=subset, key="main_score"))
        for key, value in entry.items():
            rule = rules_mod.rule_for_key(rules, key)
            if rule is None:
                continue
            if value is None or isinstance(value, (bool, int, float)):
                expected = rule.check(subset, value, entry)
            else:
                expected = rule.expected()
            if expected is not None:
                problems.append(Problem(path, f"value {_fmt(value)}, expected {expected}", subset=subset, key=key))
        for key, count in sizes.items():
            if key not in entry:
                problems.append(Problem(path, f"missing (expected {count}, the task's size for this subset)",
                                        subset=subset, key=key))
            elif entry[key] != count:
                problems.append(Problem(path, f"value {_fmt(entry[key])}, expected {count} (the task's size for "
                                              "this subset: was the run limited or the data changed?)",
                                        subset=subset, key=key))


# -- a whole submission ----------------------------------------------------------------

def find_revision_folders(root: Path) -> list[Path]:
    """Folders under `root` (itself included) that hold model_meta.json or result JSON."""
    folders = set()
    for path in root.rglob("*.json"):
        if path.is_file():
            folders.add(path.parent)
    return sorted(folders)


def validate_submission(results_dir: str | Path, get_task: TaskResolver | None = None) -> list[ValidModel]:
    """Validate everything under `results_dir`; raise SubmissionError listing every problem."""
    root = Path(results_dir)
    if not root.is_dir():
        raise SubmissionError([Problem(root, "not a folder (expected mteb's results/<model>/<revision>/ layout)")])
    problems: list[Problem] = []
    checker = ResultChecker(get_task)
    models: list[ValidModel] = []
    folders = find_revision_folders(root)
    if not folders:
        raise SubmissionError([Problem(root, "no result JSON found (expected <model>/<revision>/<Task>.json "
                                             "and model_meta.json, as `mteb run`/`xalign run` write them)")])
    for folder in folders:
        rel_parts = folder.relative_to(root).parts
        if _EXPERIMENTS in rel_parts:
            problems.append(Problem(folder, "results of mteb experiments (experiment_kwargs) are not accepted: "
                                            "submit the plain <model>/<revision>/ results"))
            continue
        meta_path = folder / MODEL_META
        result_paths = sorted(p for p in folder.glob("*.json") if p.name != MODEL_META)
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
            continue
        name, revision = identity
        run_settings = folder / RUN_SETTINGS
        models.append(ValidModel(folder=folder, name=name, revision=revision, meta_raw=meta_path.read_bytes(),
                                 results=valid,
                                 run_settings=run_settings.read_bytes() if run_settings.is_file() else None))
    # One (model, revision, task) may come only once per submission.
    seen: dict[tuple[str, str, str], Path] = {}
    for model in models:
        for result in model.results:
            key = (model.name, model.revision, result.task_name)
            if key in seen:
                problems.append(Problem(result.path, f"duplicate of {seen[key]} (same model {model.name!r}, "
                                                     f"revision {model.revision!r}, task {result.task_name!r})"))
            seen.setdefault(key, result.path)
    if problems:
        raise SubmissionError(problems)
    return models
