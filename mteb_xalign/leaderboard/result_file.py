"""Checking one `<TaskName>.json` (mteb's TaskResult) against the task as mteb knows it now."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mteb_xalign import per_query
from mteb_xalign.leaderboard import limits
from mteb_xalign.leaderboard.problems import Problem, one_line
from mteb_xalign.leaderboard.score_checks import check_scores
from mteb_xalign.leaderboard.task_sizes import expected_sizes

TaskResolver = Callable[[str], Any]


@dataclass
class ValidResult:
    path: Path
    task_name: str
    raw: bytes  # stored byte for byte: the leaderboard keeps exactly what was submitted
    #: the per-query file beside it (checked to reproduce its means), or None: a self-reported
    #: result without per-query data (no intervals can be computed for it)
    per_query_raw: bytes | None = None


def mteb_get_task(name: str):
    import mteb  # deferred: mteb is slow to import

    return mteb.get_task(name)


def _parse(path: Path, raw: bytes, problems: list[Problem]) -> dict | None:
    try:
        data = limits.parse_json(raw)
    except limits.JSONRefused as exc:
        problems.append(Problem(path, str(exc)))
        return None
    if not isinstance(data, dict) or "scores" not in data:
        problems.append(Problem(path, "not an MTEB task result (expected an object with 'task_name', "
                                      "'dataset_revision', 'mteb_version' and 'scores')"))
        return None
    if not data.get("mteb_version"):
        problems.append(Problem(path, "missing 'mteb_version' (results from mteb < 1.11 are not accepted)",
                                key="mteb_version"))
        return None
    return data


class ResultChecker:
    """Validates task result files; caches task lookups and their expected sizes."""

    def __init__(self, get_task: TaskResolver | None = None):
        self._get_task = get_task or mteb_get_task
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
        from mteb import TaskResult  # deferred: mteb is slow to import

        big = limits.too_big(path, limits.MAX_RESULT_BYTES)
        if big:
            problems.append(Problem(path, big))
            return None
        before = len(problems)
        raw = path.read_bytes()
        data = _parse(path, raw, problems)
        if data is None:
            return None
        try:
            result = TaskResult.model_validate(data)
        except Exception as exc:  # noqa: BLE001 -- pydantic names the field at fault
            problems.append(Problem(path, f"not a valid MTEB TaskResult: {one_line(exc)}"))
            return None
        if result.task_name != path.stem:
            problems.append(Problem(path, f"file holds task {result.task_name!r} but is named {path.name!r} "
                                          f"(expected {result.task_name}.json)", key="task_name"))
        task, why = self.task(result.task_name)
        if task is None:
            problems.append(Problem(path, why, key="task_name"))
            return None
        revision = task.metadata.revision
        if revision is not None and result.dataset_revision != revision:
            problems.append(Problem(path, f"dataset_revision {result.dataset_revision!r} does not match the "
                                          f"task's data (expected {revision!r}); rerun on the current data",
                                    key="dataset_revision"))
        check_scores(path, task, result.scores, self.sizes(task), problems)
        per_query_raw = _per_query_file(path, problems)
        if len(problems) > before:
            return None
        return ValidResult(path=path, task_name=result.task_name, raw=raw, per_query_raw=per_query_raw)


def _per_query_file(path: Path, problems: list[Problem]) -> bytes | None:
    """The per-query file beside a result, when it reproduces the result's means; its problems otherwise."""
    pq_path = per_query.per_query_path(path)
    if not pq_path.is_file() or pq_path.is_symlink():
        return None
    big = limits.too_big(pq_path, limits.MAX_PER_QUERY_BYTES)
    if big:
        problems.append(Problem(pq_path, big))
        return None
    found = per_query.problems(path)
    problems += [Problem(pq_path, message.removeprefix(f"{pq_path}: ")) for message in found]
    return None if found else pq_path.read_bytes()
