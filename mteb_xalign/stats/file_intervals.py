"""Intervals read back from a result's per-query file (the report, the leaderboard, `xalign compare`,
`xalign run`'s table): a task score's and a leaderboard column's, resampling the same clusters in
every subset. Where the scores are written, stats/intervals.py adds each subset's interval keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from mteb_xalign import mteb_bridge, per_query
from mteb_xalign.stats.resampling import N_RESAMPLES, SEED, Interval, task_interval


def task_interval_of(result_path: Path, main_score: str | None = None, split: str = "test", *,
                     n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Interval | None:
    """The task score's 95% interval from the per-query file beside `result_path`; None when the
    file is missing or does not match its result (see per_query.problems)."""
    result_path = Path(result_path)
    if not per_query.has_file(result_path) or per_query.problems(result_path):
        return None
    result = json.loads(result_path.read_text(encoding="utf-8"))
    rows = (result.get("scores") or {}).get(split) or []
    if main_score is None:
        main_score = per_query.load_header(result_path).get("main_score") or main_score_of(result.get("task_name"))
    stored = per_query.load(result_path)
    subsets = [stored[(split, s["hf_subset"])] for s in rows if (split, s.get("hf_subset")) in stored]
    if not subsets or len(subsets) != len(rows):
        return None
    return task_interval(subsets, main_score, n_resamples=n_resamples, seed=seed)


def main_score_of(task_name: str | None) -> str:
    import mteb  # the registered tasks: only where a per-query file does not name its main score

    mteb_bridge.ensure_registered()
    return mteb.get_task(task_name).metadata.main_score


def column_interval(result_path: Path, key: str, selects, split: str = "test", *,
                    n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Interval | None:
    """The 95% interval of `key` averaged over the subsets `selects` picks (a leaderboard column), from
    the per-query file beside `result_path`; None without a matching file or per-query values of `key`."""
    result_path = Path(result_path)
    if not per_query.has_file(result_path) or per_query.problems(result_path):
        return None
    stored = per_query.load(result_path)
    subsets = [out for (s_split, subset), out in sorted(stored.items()) if s_split == split and selects(subset)]
    if not subsets or not all(key in out.values or (out.is_affinity and key == "semantic_affinity")
                              for out in subsets):
        return None
    try:
        return task_interval(subsets, key, n_resamples=n_resamples, seed=seed)
    except ValueError:  # fewer than two clusters
        return None
