"""One model's per-language numbers (0-1) for the pictures, from its result files.

Series ids, each mapping a target language X to a value:
- `<scenario>:q-X` and `<scenario>:q-en`: Max@R_norm for scenario multi, multi1, monosame,
  monocross, with the question in X or in the pivot (English). For monocross, q-X is
  `monocross_en_q-X` (English pool) and q-en is `monocross_X_q-en`; monosame:q-en holds the
  pivot's own `monosame_en_q-en` under the pivot's code.
- `preference:q-X` / `preference:q-en` and their `chance:` twins: `language_preference` of the
  Multi subsets (English preference on q-X, its mirror on q-en) and its random-model level.
- `lareqa:q-X` (mAP of LAReQA's `q-X`), `sa` (SemanticAffinity `en-X`, with `sa_sem` in `sa_sem`):
  from the task that declares `report_series` "lareqa" / "sa" (a --data variant of either, when the
  bundled one was not run), as the retrieval series come from `report_scenario`.

Each value has its 95% interval in `intervals` where the result has a per-query file that
reproduces it (the subset's stored `main_score_ci95_low/high` for a main score, else the cluster
bootstrap of `mteb_xalign.stats` over the subset's per-query rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mteb_xalign import mteb_bridge, per_query, plugins
from mteb_xalign.report.results import ModelResults, TaskScores
from mteb_xalign.stats.file_intervals import column_interval
from mteb_xalign.stats.intervals import HIGH, LOW
from mteb_xalign.tasks.multiref_subset import Subset


def _declaring(model: ModelResults, attribute: str) -> dict[str, str]:
    """{task name: declared value} of the model's tasks that declare `attribute` (task_rules.TaskRules),
    in registration order; each value comes from the first task that declares it (a --data variant
    inherits its bundled task's declaration, and never displaces it)."""
    order = {task_cls.metadata.name: i for i, (_, task_cls) in enumerate(plugins.get_tasks())}
    out: dict[str, str] = {}
    for name in sorted(model.tasks, key=lambda n: (order.get(n, len(order)), n)):
        value = getattr(mteb_bridge.task_class(name), attribute, None)
        if value is not None and value not in out.values():
            out[name] = value
    return out


def retrieval_tasks(model: ModelResults) -> dict[str, str]:
    """{task name: scenario} of the model's tasks that declare a retrieval series (`report_scenario`)."""
    return _declaring(model, "report_scenario")


def series_task(model: ModelResults, series: str) -> TaskScores | None:
    """The model's task that feeds the report's `series` ("lareqa", "sa", "sa_matrix": `report_series`)."""
    name = next((n for n, value in _declaring(model, "report_series").items() if value == series), None)
    return None if name is None else model.tasks[name]


MAX_AT_R_NORM = "max_at_r_norm"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class LanguageSeries:
    model: str
    pivot: str = "en"
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # 95%, same scale

    def put(self, series: str, language: str, value, interval: tuple[float, float] | None = None) -> None:
        number = _number(value)
        if number is not None:
            self.values.setdefault(series, {})[language] = number
            if interval is not None:
                self.intervals.setdefault(series, {})[language] = interval

    def interval(self, series: str, language: str) -> tuple[float, float] | None:
        return self.intervals.get(series, {}).get(language)

    def has_intervals(self) -> bool:
        return any(self.intervals.values())

    def get(self, series: str, language: str) -> float | None:
        return self.values.get(series, {}).get(language)

    def languages(self, *series: str) -> list[str]:
        """Target languages that any of `series` (all series when none given) has, sorted."""
        chosen = series or tuple(self.values)
        return sorted({lang for s in chosen for lang in self.values.get(s, {}) if lang != self.pivot})


def subset_interval(task: TaskScores, subset: str, key: str) -> tuple[float, float] | None:
    """The 95% interval of `key` in one subset, or None without a per-query file that reproduces it."""
    if not per_query.has_file(task.path):
        return None
    scores = task.subsets.get(subset, {})
    low, high = _number(scores.get(LOW)), _number(scores.get(HIGH))
    if low is not None and high is not None and key == per_query.load_header(task.path).get("main_score"):
        return low, high  # stored with the result (and checked there against the per-query file)
    ci = column_interval(task.path, key, lambda name: name == subset)
    return None if ci is None else (ci.low, ci.high)


def _pivot(model: ModelResults) -> str:
    """The pivot: the first pool language of a two-language (Multi) subset; English if there is none."""
    for task_name in retrieval_tasks(model):
        for name in getattr(model.tasks.get(task_name), "subsets", {}):
            subset = Subset.try_parse(name)
            if subset is not None and len(subset.doc_langs) > 1:
                return subset.pivot
    return "en"


def language_series(model: ModelResults) -> LanguageSeries:
    out = LanguageSeries(model.name, pivot=_pivot(model))
    for task_name, scenario in retrieval_tasks(model).items():
        task = model.tasks.get(task_name)
        if task is None:
            continue
        for name, scores in task.subsets.items():
            subset = Subset.try_parse(name)
            if subset is None or subset.scenario != scenario:
                continue
            # a single-language pool names no pivot (monocross_ar_q-en): the target is the
            # subset's language that is not the model-wide pivot
            other = [lang for lang in (*subset.doc_langs, subset.query_lang) if lang != out.pivot]
            target = other[0] if other else out.pivot
            direction = "q-en" if subset.query_lang == out.pivot else "q-X"
            out.put(f"{scenario}:{direction}", target, scores.get(MAX_AT_R_NORM),
                    subset_interval(task, name, MAX_AT_R_NORM))
            if scenario == "multi":
                out.put(f"preference:{direction}", target, scores.get("language_preference"),
                        subset_interval(task, name, "language_preference"))
                out.put(f"chance:{direction}", target, scores.get("language_preference_chance"))
    lareqa = series_task(model, "lareqa")
    if lareqa is not None:
        for name, scores in lareqa.subsets.items():
            if name.startswith("q-"):
                out.put("lareqa:q-X", name[2:], scores.get("main_score"), subset_interval(lareqa, name, "map"))
    sa = series_task(model, "sa")
    if sa is not None:
        for name, scores in sa.subsets.items():
            pivot, _, target = name.partition("-")
            if target:
                out.put("sa", target, scores.get("semantic_affinity"), subset_interval(sa, name, "semantic_affinity"))
                out.put("sa_sem", target, scores.get("sa_sem"))
    return out


def sa_matrix(model: ModelResults) -> tuple[list[str], list[list[float | None]]] | None:
    """(languages, SA of every pair) from the `all` subset of the task declaring "sa_matrix"
    (SemanticAffinity-AllPairs), if stored."""
    task = series_task(model, "sa_matrix")
    entry = None if task is None else task.subsets.get("all")
    if entry and isinstance(entry.get("sa_matrix"), dict):
        matrix = entry["sa_matrix"]
        return list(matrix["languages"]), [[_number(v) for v in row] for row in matrix["sa"]]
    return None
