"""How many queries each subset of a task has, asked of the task itself.

Never from mteb's descriptive_stats files (absent for our tasks unless someone ran mteb's
statistics, which writes them into site-packages) and never through mteb's private hooks: a
task declares `expected_result_sizes()` -> {hf_subset: {score key: count}} (task_rules.TaskRules),
checked key by key. A task that does not has no size check (said once, as a warning).
"""

from __future__ import annotations

import warnings


def expected_sizes(task) -> dict[str, dict[str, int]]:
    """{hf_subset: {score key: expected count}} from the task, or {} if it cannot say."""
    name = task.metadata.name
    own = getattr(task, "expected_result_sizes", None)
    if not callable(own):
        warnings.warn(f"{name}: sizes not checked (the task does not declare expected_result_sizes())",
                      stacklevel=2)
        return {}
    try:
        return {subset: dict(sizes) for subset, sizes in own().items()}
    except Exception as exc:  # noqa: BLE001 -- e.g. data missing here: the sizes cannot be checked
        warnings.warn(f"{name}: sizes not checked, the task could not count them: {exc}", stacklevel=2)
        return {}
