"""Cluster bootstrap intervals and a paired cluster permutation test, for one or several parallel subsets.

Rows (queries) that share a cluster (an XQuAD paragraph; an SA concept) are not independent, so
whole clusters are resampled. The subsets of a task are parallel (the same paragraphs and
questions in every language), so a task score is resampled jointly: one draw of clusters is used
in every subset, and the task score of a draw is the mean of its subsets' scores.

Every score here is a ratio of per-cluster sums through a transform: score = g(sum_c num_c /
sum_c den_c). A retrieval mean has num_c = the sum of the cluster's row values, den_c = its number
of rows, g = identity; SemanticAffinity has num_c = w_c m_c / H, den_c = w_c (a concept's tuple
count w and mean spread m; H, the horizontal spread, held fixed) and g(x) = 1 / (1 + x). A draw is
a count vector k (how often each cluster was drawn): score* = g(k.num / k.den). scipy's
`bootstrap` draws the clusters (percentile method) and `permutation_test` the paired swaps; this
module only turns a draw into a score.

Expanded percentile intervals (Hesterberg 2015, "What teachers should know about the bootstrap"):
the percentiles of a 1 - a' interval with a'/2 = Phi(-sqrt(n/(n-1)) t_{n-1, 1-a/2}), n clusters. A
plain percentile interval is too narrow with few clusters (it under-covered at 40 clusters in our
simulation, 92.6%); the expansion corrects the bootstrap's n/(n-1) variance and the normal quantile,
and vanishes as n grows (240 paragraphs: 95.0% -> 95.3%). Not BCa: BCa is undefined where every draw
gives the same value (an oracle model, a model against itself), which must give the single point.
Coverage is checked by simulation (tests/test_stats_coverage.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mteb_xalign.metrics.blas import one_blas_thread
from mteb_xalign.per_query import SA_HORIZONTAL, SA_VERTICAL, SA_WEIGHT, SubsetOutcomes, recompute

METHOD = "cluster bootstrap, expanded percentile"
TEST = "paired cluster permutation (swap both models' outcomes within each cluster)"
N_RESAMPLES = 10_000
SEED = 22
LEVEL = 0.95
_BATCH = 1000  # draws per statistic call: bounds memory (batch x clusters x subsets)


@dataclass(frozen=True)
class Ratio:
    """One subset's score as g(sum num / sum den) over a shared list of clusters."""

    num: np.ndarray  # (n_clusters,)
    den: np.ndarray  # (n_clusters,)
    affinity: bool  # g(x) = 1/(1+x) when True, else the identity
    point: float  # the stored score, recomputed exactly from the rows


def ratio(outcomes: SubsetOutcomes, key: str, clusters: Sequence[str]) -> Ratio:
    """The score `key` of one subset as per-cluster sums over `clusters` (a superset of its own)."""
    index = {c: i for i, c in enumerate(clusters)}
    where = np.array([index[c] for c in outcomes.clusters], np.int64)
    n = len(clusters)
    if outcomes.is_affinity:
        if key != "semantic_affinity":
            raise ValueError(f"intervals of SemanticAffinity are for semantic_affinity, not {key!r}")
        w = np.asarray(outcomes.values[SA_WEIGHT], np.float64)
        m = np.asarray(outcomes.values[SA_VERTICAL], np.float64)
        h = float(outcomes.values[SA_HORIZONTAL][0])
        num = np.bincount(where, weights=w * m / h, minlength=n)
        den = np.bincount(where, weights=w, minlength=n)
        return Ratio(num, den, True, recompute(outcomes)[key])
    if key not in outcomes.values:
        raise KeyError(f"no per-query values of {key!r} (kept: {sorted(outcomes.values)})")
    num = np.bincount(where, weights=np.asarray(outcomes.values[key], np.float64), minlength=n)
    den = np.bincount(where, minlength=n).astype(np.float64)
    return Ratio(num, den, False, recompute(outcomes)[key])


def cluster_union(subsets: Sequence[SubsetOutcomes]) -> list[str]:
    """Every cluster of the subsets, in first-seen order (SA: a concept missing in a language is
    absent from that subset only)."""
    return list(dict.fromkeys(c for out in subsets for c in out.clusters))


def _scores(counts: np.ndarray, ratios: Sequence[Ratio]) -> np.ndarray:
    """(draws, subsets) scores of count vectors (draws, clusters)."""
    # One matrix-vector product per subset, not one matrix product for all: BLAS sums a product's
    # columns in an order that depends on how many there are (and on the CPU), and a subset must
    # get the same interval, to the last bit, alone and among the others.
    num = np.stack([counts @ r.num for r in ratios], axis=-1)
    den = np.stack([counts @ r.den for r in ratios], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = num / den
    affinity = np.array([r.affinity for r in ratios])
    return np.where(affinity, 1.0 / (1.0 + x), x)


def _counts(idx: np.ndarray, n_clusters: int) -> np.ndarray:
    """Draws of cluster indices (..., n) as count vectors (..., n_clusters), with one bincount."""
    idx = np.asarray(idx, np.int64)
    flat = idx.reshape(-1, idx.shape[-1])
    offsets = (np.arange(flat.shape[0]) * n_clusters)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_clusters)
    return counts.reshape(*idx.shape[:-1], n_clusters).astype(np.float64)


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float
    method: str = METHOD
    n_resamples: int = N_RESAMPLES
    seed: int = SEED
    n_clusters: int = 0


def expanded_level(n_clusters: int, level: float = LEVEL) -> float:
    """The percentile level that makes a `level` interval over `n_clusters` clusters (see the module docstring)."""
    from scipy import stats as scipy_stats  # deferred: scipy is slow to import (seconds; `xalign --help`)

    t = scipy_stats.t.ppf(1 - (1 - level) / 2, n_clusters - 1)
    return float(1 - 2 * scipy_stats.norm.cdf(-np.sqrt(n_clusters / (n_clusters - 1)) * t))


def _bootstrap(statistic, n_clusters: int, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n_clusters < 2:
        raise ValueError(f"{n_clusters} cluster: at least two are needed to resample")
    from scipy import stats as scipy_stats  # deferred: scipy is slow to import

    with one_blas_thread():  # many small products: a BLAS thread pool only adds hand-over cost
        res = scipy_stats.bootstrap(
            (np.arange(n_clusters),), statistic, vectorized=True, n_resamples=n_resamples, batch=_BATCH,
            confidence_level=expanded_level(n_clusters), method="percentile", rng=np.random.default_rng(seed),
        )
    return np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)


def _clamp(point: float, low: float, high: float) -> tuple[float, float]:
    """The interval widened to hold its point estimate: where every draw gives the point (an oracle,
    a model against itself) a sum in another order can miss it by float noise; a skewed resampling
    distribution can miss it by more. It only ever widens."""
    return min(low, point), max(high, point)


def _ratios(subsets: Sequence[SubsetOutcomes], key: str | Sequence[str], clusters: Sequence[str]) -> list[Ratio]:
    keys = [key] * len(subsets) if isinstance(key, str) else list(key)
    return [ratio(out, k, clusters) for out, k in zip(subsets, keys, strict=True)]


def _with_mean(scores: np.ndarray) -> np.ndarray:
    """(..., subsets) -> (..., subsets + 1): each subset's score, then their mean (the task score)."""
    return np.concatenate([scores, scores.mean(axis=-1, keepdims=True)], axis=-1)


def intervals(subsets: Sequence[SubsetOutcomes], key: str | Sequence[str], *, n_resamples: int = N_RESAMPLES,
              seed: int = SEED) -> tuple[list[Interval], Interval]:
    """95% intervals of each subset's score `key` and of their mean (mteb's task score), from one set
    of cluster draws used in every subset. `key`: one for all subsets or one per subset."""
    clusters = cluster_union(subsets)
    ratios = _ratios(subsets, key, clusters)
    points = [r.point for r in ratios] + [float(np.mean([r.point for r in ratios]))]

    def statistic(idx, axis=-1):
        # scipy wants the outputs first: (subsets + 1, draws)
        return np.moveaxis(_with_mean(_scores(_counts(idx, len(clusters)), ratios)), -1, 0)

    lows, highs = _bootstrap(statistic, len(clusters), n_resamples, seed)
    out = []
    for point, low, high in zip(points, lows, highs):
        low, high = _clamp(point, float(low), float(high))
        out.append(Interval(point, low, high, n_resamples=n_resamples, seed=seed, n_clusters=len(clusters)))
    return out[:-1], out[-1]


def subset_interval(outcomes: SubsetOutcomes, key: str, *, n_resamples: int = N_RESAMPLES,
                    seed: int = SEED) -> Interval:
    """95% interval of one subset's score `key`, resampling its clusters."""
    return intervals([outcomes], key, n_resamples=n_resamples, seed=seed)[0][0]


def task_interval(subsets: Sequence[SubsetOutcomes], key: str | Sequence[str], *,
                  n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Interval:
    """95% interval of the mean of the subsets' scores (mteb's task score), resampling the same
    clusters in every subset."""
    return intervals(subsets, key, n_resamples=n_resamples, seed=seed)[1]


@dataclass(frozen=True)
class PairedResult:
    delta: float  # score(A) - score(B), from the stored scores
    low: float
    high: float
    p_value: float
    n_resamples: int
    seed: int


def paired_all(a: Sequence[SubsetOutcomes], b: Sequence[SubsetOutcomes], key: str | Sequence[str], *,
               n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[list[PairedResult], PairedResult]:
    """Differences A - B of each subset's score and of the mean over subsets (task score), on the
    same subsets of two models: paired cluster bootstrap intervals and paired cluster permutation
    p-values (two-sided; unadjusted), one set of draws for all.

    Under the null hypothesis the two models' outcomes are exchangeable within each cluster, so
    swapping A's and B's rows of a cluster (in every subset at once) leaves the distribution of the
    difference unchanged; scipy's `permutation_test` with permutation_type="samples" swaps pairs.
    The rows must be the same in A and B (same ids, clusters and, for SA, tuple counts).
    """
    for out_a, out_b in zip(a, b, strict=True):
        if out_a.ids != out_b.ids or out_a.clusters != out_b.clusters:
            raise ValueError("the two models' per-query rows differ (other queries or clusters)")
    clusters = cluster_union(a)
    ra, rb = _ratios(a, key, clusters), _ratios(b, key, clusters)
    for x, y in zip(ra, rb):
        if not np.array_equal(x.den, y.den):
            raise ValueError("the two models' rows weigh clusters differently (other data)")
    n = len(clusters)
    deltas = [x.point - y.point for x, y in zip(ra, rb)]
    deltas.append(float(np.mean([x.point for x in ra]) - np.mean([y.point for y in rb])))

    def boot_statistic(idx, axis=-1):
        counts = _counts(idx, n)
        return np.moveaxis(_with_mean(_scores(counts, ra)) - _with_mean(_scores(counts, rb)), -1, 0)

    lows, highs = _bootstrap(boot_statistic, n, n_resamples, seed)

    num_a = np.stack([r.num for r in ra], 1)
    num_b = np.stack([r.num for r in rb], 1)
    diff = num_b - num_a
    den = np.stack([r.den for r in ra], 1).sum(0)
    affinity = np.array([r.affinity for r in ra])

    def swapped_delta(x, y, axis=-1):
        # x holds cluster i as i (kept) or i + n (A's and B's rows swapped), as scipy permuted the pairs.
        swap = (np.asarray(x) >= n).astype(np.float64)
        xa, xb = (num_a.sum(0) + swap @ diff) / den, (num_b.sum(0) - swap @ diff) / den
        sa, sb = np.where(affinity, 1 / (1 + xa), xa), np.where(affinity, 1 / (1 + xb), xb)
        return _with_mean(sa) - _with_mean(sb)  # (..., subsets + 1): scipy wants the outputs last here

    from scipy import stats as scipy_stats  # deferred: scipy is slow to import

    with one_blas_thread():
        test = scipy_stats.permutation_test(
            (np.arange(n), np.arange(n) + n), swapped_delta, permutation_type="samples", vectorized=True,
            n_resamples=n_resamples, batch=_BATCH, alternative="two-sided", rng=np.random.default_rng(seed),
        )
    out = []
    for delta, low, high, p in zip(deltas, lows, highs, np.atleast_1d(test.pvalue)):
        low, high = _clamp(float(delta), float(low), float(high))
        out.append(PairedResult(float(delta), low, high, float(p), n_resamples, seed))
    return out[:-1], out[-1]


def paired(a: Sequence[SubsetOutcomes], b: Sequence[SubsetOutcomes], key: str | Sequence[str], *,
           n_resamples: int = N_RESAMPLES, seed: int = SEED) -> PairedResult:
    """The difference of the mean scores over the subsets (one subset: its score); see paired_all."""
    return paired_all(a, b, key, n_resamples=n_resamples, seed=seed)[1]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment (family-wise error): sort ascending, multiply the i-th smallest
    (0-based) by (m - i), make the sequence non-decreasing, cap at 1; returned in input order."""
    p = np.asarray(p_values, np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = stepped
    return out
