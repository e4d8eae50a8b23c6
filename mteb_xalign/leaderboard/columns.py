"""The leaderboard's columns: what the registered tasks declare (`leaderboard_columns`).

Each task class says which score key it shows, over which subsets, on which scale
(mteb_xalign.task_rules.Column); nothing here knows a task. validate.py requires every key a
column reads (in the subsets it reads), so a submission that passes validation fills its columns.
"""

from __future__ import annotations

from mteb_xalign import plugins
from mteb_xalign.task_rules import Column

__all__ = ["Column", "all_columns", "columns_for_task", "headline", "TIERS", "tier", "TIER_COLUMN"]


def all_columns() -> tuple[Column, ...]:
    """Every registered task's columns, in registration order (the bundled tasks first)."""

    columns: list[Column] = []
    for _, task_cls in plugins.get_tasks():
        columns += getattr(task_cls, "leaderboard_columns", ()) or ()
    return tuple(columns)


def columns_for_task(task_name: str) -> list[Column]:
    return [col for col in all_columns() if col.task == task_name]


def headline(columns: tuple[Column, ...]) -> Column | None:
    """The column the board is sorted by: the first declared one."""
    return columns[0] if columns else None


#: Semanscope alignment tiers on Semantic Affinity: (lower bound, name), best first.
TIERS: tuple[tuple[float, str], ...] = ((0.6, "great"), (0.5, "good"), (float("-inf"), "no alignment"))
#: SA of unrelated words (translations no closer than random words of one language).
CHANCE_SA = 0.5
#: The column the tiers read.
TIER_COLUMN = "semantic_affinity"


def tier(sa: float | None, low: float | None = None, high: float | None = None) -> str | None:
    """The tier of SA; with its 95% interval [low, high] a tier above "no alignment" needs the whole
    interval above chance (0.5): an SA whose interval reaches 0.5 is "not above chance", one whose
    interval lies below 0.5 "below chance". Without an interval: the point's tier."""
    if sa is None:
        return None
    if low is not None and high is not None:
        if high < CHANCE_SA:
            return "below chance"
        if low <= CHANCE_SA:
            return "not above chance"
        sa = low  # the tier the interval guarantees
    for bound, name in TIERS:
        if sa >= bound:
            return name
    return None
