"""The overall rank, as mteb's leaderboard computes it (a Borda count over tasks).

mteb (benchmarks/_create_table.py, `_get_borda_rank`): per task, models are ranked by the
task's score (higher is better, ties share the average rank); a model earns
`n_models - rank` points for each task it has a score on (none for a missing task); the
points are summed and ranked again, ties sharing the best ("min") rank. Rank 1 is best.
"""

from __future__ import annotations


def average_ranks(scores: dict[str, float]) -> dict[str, float]:
    """{model: rank}, 1 = highest score, tied models share the mean of their positions."""
    ordered = sorted(scores, key=lambda m: -scores[m])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and scores[ordered[j + 1]] == scores[ordered[i]]:
            j += 1
        for model in ordered[i:j + 1]:
            ranks[model] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def min_ranks(points: dict[str, float]) -> dict[str, int]:
    """{model: rank}, 1 = most points, tied models share the best position."""
    ordered = sorted(points.values(), reverse=True)
    return {model: ordered.index(value) + 1 for model, value in points.items()}


def borda(task_scores: dict[str, dict[str, float | None]]) -> tuple[dict[str, float], dict[str, int]]:
    """({model: points}, {model: rank}) from {model: {task: score or None}}."""
    n_models = len(task_scores)
    tasks = sorted({task for scores in task_scores.values() for task in scores})
    points = {model: 0.0 for model in task_scores}
    for task in tasks:
        scored = {m: s[task] for m, s in task_scores.items() if s.get(task) is not None}
        for model, rank in average_ranks(scored).items():
            points[model] += n_models - rank
    return points, min_ranks(points)
