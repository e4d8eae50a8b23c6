"""How many queries each subset of a task has, asked of the task itself.

Never from mteb's descriptive_stats files (absent for our tasks unless someone ran mteb's
statistics, which writes them into site-packages) and never through mteb's private hooks.
A task may answer either way (both public, both optional):
- `expected_result_sizes()` -> {hf_subset: {score key: count}}, checked key by key;
- `subset_statistics(hf_subset)` -> {"number_of_queries" | "num_queries": n, ...}, checked
  against the result's `n_queries`.
A task that answers neither has no size check (said once, as a warning).
"""

from __future__ import annotations

import warnings

QUERY_COUNT_KEYS = ("number_of_queries", "num_queries")


def expected_sizes(task) -> dict[str, dict[str, int]]:
    """{hf_subset: {score key: expected count}} from the task, or {} if it cannot say."""
    name = task.metadata.name
    try:
        own = getattr(task, "expected_result_sizes", None)
        if callable(own):
            return {subset: dict(sizes) for subset, sizes in own().items()}
        per_subset = getattr(task, "subset_statistics", None)
        if callable(per_subset):
            return _from_statistics(per_subset, task.hf_subsets)
    except Exception as exc:  # noqa: BLE001 -- e.g. data missing here: the sizes cannot be checked
        warnings.warn(f"{name}: sizes not checked, the task could not count them: {type(exc).__name__}: {exc}",
                      stacklevel=2)
        return {}
    warnings.warn(f"{name}: sizes not checked (the task declares neither expected_result_sizes() nor "
                  "subset_statistics())", stacklevel=2)
    return {}


def _from_statistics(per_subset, subsets) -> dict[str, dict[str, int]]:
    sizes = {}
    for subset in subsets:
        stats = per_subset(subset)
        count = next((stats[k] for k in QUERY_COUNT_KEYS if isinstance(stats.get(k), int)), None)
        if count is not None:
            sizes[subset] = {"n_queries": count}
    return sizes
