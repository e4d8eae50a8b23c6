"""The 95% interval of every main score, where the scores are written and where they are read.

Each subset's scores carry `main_score_ci95_low` / `main_score_ci95_high` (the main score's
scale) and how they were computed (`main_score_ci95_method`, `_resamples`, `_seed`, `_clusters`).
A task score's interval (mteb's mean over subsets) is computed from the per-query file beside
the result (`stats/file_intervals.task_interval_of`), resampling the same clusters in every subset.
"""

from __future__ import annotations

import math
from typing import Any

from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats.resampling import subset_interval
from mteb_xalign.task_rules import ScoreRule

LOW, HIGH = "main_score_ci95_low", "main_score_ci95_high"
METHOD_KEY, RESAMPLES_KEY, SEED_KEY, CLUSTERS_KEY = (
    "main_score_ci95_method", "main_score_ci95_resamples", "main_score_ci95_seed", "main_score_ci95_clusters")
TOL = 1e-6  # scores are rounded to 6 decimals on disk


def interval_keys(outcomes: SubsetOutcomes, main_score: str) -> dict[str, Any]:
    """The interval keys of one subset ({} with fewer than two clusters: nothing to resample)."""
    if len(set(outcomes.clusters)) < 2:
        return {}
    ci = subset_interval(outcomes, main_score)
    return {LOW: ci.low, HIGH: ci.high, METHOD_KEY: ci.method, RESAMPLES_KEY: ci.n_resamples,
            SEED_KEY: ci.seed, CLUSTERS_KEY: ci.n_clusters}


def score_rules(low: float | None, high: float | None, **nan: Any) -> dict[str, ScoreRule]:
    """The interval keys' ranges for a task whose main score lies in [low, high]."""
    return {
        r"main_score_ci95_(low|high)": ScoreRule(low, high, **nan),
        r"main_score_ci95_(resamples|clusters)": ScoreRule(2, None, integer=True),
        r"main_score_ci95_seed": ScoreRule(0, None, integer=True),
    }


def _number(scores: dict, key: str) -> float | None:
    value = scores.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def interval_problems(scores: dict) -> list[str]:
    """low <= main_score <= high, and both bounds or neither."""
    low, high, main = _number(scores, LOW), _number(scores, HIGH), _number(scores, "main_score")
    if (LOW in scores) != (HIGH in scores):
        return [f"only one of {LOW} and {HIGH} is present"]
    if low is None or high is None:
        return []
    if main is not None and not (low - TOL <= main <= high + TOL):
        return [f"main_score ({main:g}) lies outside its 95% interval [{low:g}, {high:g}]"]
    if low > high + TOL:
        return [f"{LOW} ({low:g}) exceeds {HIGH} ({high:g})"]
    return []
