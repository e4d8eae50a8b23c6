"""What the leaderboard says about chance: 95% intervals on its cells and rank bands.

Everything is computed by `mteb_xalign.stats` from the per-query files stored beside the results
(seeded: the page is the same on every build); a result without one (or with one that does not
reproduce its means) gets no interval, and its differences from other models count as unknown.

Rank bands. For every task and every pair of models with comparable per-query files (same data,
same queries), the task scores are compared with the paired cluster permutation test of `stats`
(`compare.compare_task`); the p-values of all (task, pair) tests of the board are Holm-adjusted
together, so that with 95% confidence no "significantly better" on the page is wrong. Per task, a
model's band is [1 + models significantly better, n - models significantly worse] (n: the models
with a score on the task). The Borda rank's band follows from the same claims: another model is surely above a model when,
summed over the tasks, the least lead in rank the claims allow it (borda_bands) is positive; the
band is [1 + models surely above, n - models surely below]. The bounds are per pair and per task,
so the band can be wider than the claims strictly imply, never narrower.
Models whose differences are not significant therefore share a band; a pair never tested (no
per-query data, other data) counts as not significant.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign import per_query
from mteb_xalign.errors import UserError
from mteb_xalign.stats.compare import ALPHA, compare_task
from mteb_xalign.stats.file_intervals import column_interval
from mteb_xalign.stats.resampling import N_RESAMPLES, SEED, TEST, holm

NO_DATA = "no interval (no per-query data)"

BANDS = ("Rank band", "Which ranks the data can tell apart. For every task, every two models are compared on the "
                      "task score with a paired cluster permutation test on their stored per-query outcomes (the "
                      "same paragraphs or concepts resampled for both, " f"{N_RESAMPLES:,} permutations, seed "
                      f"{SEED}); the p-values of all these tests on the board are Holm-adjusted together and a "
                      f"difference counts when the adjusted p is below {ALPHA:g}. Per task, a model's band runs "
                      "from 1 + the number of models significantly better to n - the number significantly worse; "
                      "the Borda rank's band is what these claims allow (another model is surely above when, "
                      "whatever the untested and non-significant differences are, it gets more Borda points; "
                      "this errs on the wide side). Models that do not "
                      "differ significantly share ranks in their bands. A model without per-query data (or on "
                      "other data) is never counted as different.")
INTERVALS = ("95% interval", "Each score is shown with its 95% interval in brackets (hover for the method): a "
                             "cluster bootstrap over the stored per-query outcomes (XQuAD articles or paragraphs, "
                             f"SemanticAffinity concepts; {N_RESAMPLES:,} resamples, seed {SEED}, expanded "
                             "percentile), the subsets of a column resampled jointly; per-language and per-subset "
                             "cells give theirs on hover. A score without per-query "
                             f"data is shown bare and says \"{NO_DATA}\". Chance levels carry none.")


@dataclass(frozen=True)
class Band:
    low: int  # best rank the data allow
    high: int  # worst rank the data allow

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


def has_intervals(column) -> bool:
    """Chance levels (a random model's value) are not estimates of the model: no interval."""
    return column.chance_of is None and column.higher_is_better is not None


def cell_interval(result_path: Path, column) -> tuple[float, float] | None:
    """The column's 95% interval on the shown scale, or None (no valid per-query file, or no per-query
    values of the column's key)."""
    ci = column_interval(result_path, column.key, column.selects)
    if ci is None:
        return None
    return ci.low * column.scale, ci.high * column.scale


def language_intervals(result_path: Path, column, languages) -> dict[str, tuple[float, float]]:
    """{language: the column's 95% interval over the subsets standing for it} on the shown scale."""
    out = {}
    for language in languages:
        def selects(subset, language=language):
            return column.selects(subset) and column.language_of(subset) == language
        ci = column_interval(result_path, column.key, selects)
        if ci is not None:
            out[language] = (ci.low * column.scale, ci.high * column.scale)
    return out


def usable(result_path: Path) -> bool:
    """A per-query file beside the result that reproduces its means."""
    return per_query.has_file(result_path) and not per_query.problems(result_path)


def significant_pairs(files: dict[str, dict[str, Path]]) -> tuple[dict[str, dict[tuple[str, str], int]], list[str]]:
    """{task: {(a, b): +1 if a significantly above b, -1 if below, 0 if not}} for every pair of models
    holding the task, with Holm over every (task, pair) test; and notes on pairs not compared.

    `files`: {model key: {task: result path}}.
    """
    tests: list[tuple[str, str, str, float, float]] = []  # task, a, b, delta, p
    untested: dict[str, list[tuple[str, str]]] = {}
    notes = []
    tasks = sorted({t for paths in files.values() for t in paths})
    for task in tasks:
        models = sorted(m for m in files if task in files[m])
        for a, b in itertools.combinations(models, 2):
            pa, pb = files[a][task], files[b][task]
            row = None
            if usable(pa) and usable(pb):
                try:
                    _, row, _ = compare_task(pa, pb)
                except UserError as exc:
                    notes.append(f"{task}: {a} vs {b} not compared: {exc}")
            if row is None or math.isnan(row.p_value):
                untested.setdefault(task, []).append((a, b))
            else:
                tests.append((task, a, b, row.delta, row.p_value))
    out: dict[str, dict[tuple[str, str], int]] = {t: {pair: 0 for pair in untested.get(t, [])} for t in tasks}
    for (task, a, b, delta, _), adjusted in zip(tests, holm([t[4] for t in tests])):
        sign = (1 if delta > 0 else -1) if adjusted < ALPHA and delta != 0 else 0
        out[task][(a, b)] = sign
    return out, notes


def task_bands(scores: dict[str, float | None], signs: dict[tuple[str, str], int]) -> dict[str, Band]:
    """Per model with a score: [1 + #significantly better, n - #significantly worse]."""
    models = [m for m, s in scores.items() if s is not None]
    better = {m: 0 for m in models}
    worse = {m: 0 for m in models}
    for (a, b), sign in signs.items():
        if a not in better or b not in better or sign == 0:
            continue
        top, bottom = (a, b) if sign > 0 else (b, a)
        better[bottom] += 1
        worse[top] += 1
    n = len(models)
    return {m: Band(1 + better[m], n - worse[m]) for m in models}


def _above(signs: dict[tuple[str, str], int], a: str, b: str) -> bool:
    """a significantly above b."""
    return signs.get((a, b), 0) > 0 or signs.get((b, a), 0) < 0


def _least_lead(scored: list[str], signs: dict[tuple[str, str], int], o: str, m: str) -> float:
    """The least that rank(m) - rank(o) on one task can be, given the significant claims: o above m
    puts at least the models significantly between them between them; otherwise m may be above o
    with every model not excluded between them (ties only shrink the gap)."""
    others = [k for k in scored if k not in (o, m)]
    if _above(signs, o, m):
        return 1 + sum(1 for k in others if _above(signs, o, k) and _above(signs, k, m))
    return -(1 + sum(1 for k in others if not _above(signs, k, m) and not _above(signs, o, k)))


def borda_bands(n_models: int, tasks: dict[str, tuple[dict[str, float | None], dict[tuple[str, str], int]]],
                models: list[str]) -> dict[str, Band]:
    """Bands of the Borda rank (borda.py: n_models - rank points per task, ties share the best rank).

    Another model is surely above m when the least its points can exceed m's, summed over the tasks
    (`_least_lead`; a task only one of them has: the points its band allows), is positive. `tasks`:
    {task: (scores, signs)} as task_bands takes them.
    """
    per_task = {t: (scores, signs, task_bands(scores, signs)) for t, (scores, signs) in tasks.items()}

    def surely_above(o: str, m: str) -> bool:
        lead = 0.0
        for scores, signs, bands in per_task.values():
            if o in bands and m in bands:
                lead += _least_lead(list(bands), signs, o, m)
            elif o in bands:
                lead += n_models - bands[o].high
            elif m in bands:
                lead -= n_models - bands[m].low
        return lead > 0

    out = {}
    for m in models:
        above = sum(1 for o in models if o != m and surely_above(o, m))
        below = sum(1 for o in models if o != m and surely_above(m, o))
        out[m] = Band(1 + above, len(models) - below)
    return out


METHOD_WORDS = f"{TEST}; Holm over every (task, pair of models) test of the board"
