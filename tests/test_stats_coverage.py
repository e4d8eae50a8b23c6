"""Intervals tested as statistics: coverage by simulation, and the known answers.

Synthetic per-query data with a known mean: clusters (paragraphs) of 3-7 questions, each value =
mu + cluster effect + question noise. Over 1000 simulated data sets the cluster bootstrap's 95%
interval must cover mu 93-97% of the time, also with strong within-cluster correlation, where a
per-question bootstrap (every question its own cluster) is shown to under-cover.
"""

from __future__ import annotations

import numpy as np
import pytest

from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats.resampling import intervals, subset_interval, task_interval

N_SETS = 1000
RESAMPLES = 499  # enough for a 95% percentile interval; keeps 1000 data sets to seconds
MU = 0.6


def clustered(rng, n_clusters: int, cluster_sd: float, noise_sd: float):
    sizes = rng.integers(3, 8, size=n_clusters)
    cluster = np.repeat(np.arange(n_clusters), sizes)
    values = MU + rng.normal(0, cluster_sd, n_clusters)[cluster] + rng.normal(0, noise_sd, len(cluster))
    return cluster, values


def outcomes(cluster, values, per_question: bool = False) -> SubsetOutcomes:
    ids = tuple(f"q{i}" for i in range(len(values)))
    return SubsetOutcomes(ids, ids if per_question else tuple(f"p{c}" for c in cluster),
                          {"max_at_r_norm": np.asarray(values, np.float64)})


def coverage(cluster_sd, noise_sd, *, per_question=False, seed=0, n_clusters=60, n_sets=N_SETS):
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(n_sets):
        cluster, values = clustered(rng, n_clusters, cluster_sd, noise_sd)
        ci = subset_interval(outcomes(cluster, values, per_question), "max_at_r_norm", n_resamples=RESAMPLES, seed=i)
        hits += ci.low <= MU <= ci.high
    return hits / n_sets


def test_cluster_bootstrap_covers_95_percent_with_moderate_correlation():
    assert 0.93 <= coverage(0.1, 0.2, seed=1) <= 0.97


def test_strong_within_cluster_correlation_cluster_covers_per_question_does_not():
    # intra-cluster correlation 0.2^2 / (0.2^2 + 0.05^2) = 0.94: questions of a paragraph nearly agree
    cluster_cov = coverage(0.2, 0.05, seed=2, n_clusters=40)
    # A gross failure needs fewer data sets to show (300: the 95% band of a 75% rate is +-5 points).
    question_cov = coverage(0.2, 0.05, per_question=True, seed=2, n_clusters=40, n_sets=300)
    assert 0.93 <= cluster_cov <= 0.97, cluster_cov
    assert question_cov < 0.75, question_cov  # treating questions as independent is badly overconfident


def test_joint_task_interval_covers_the_mean_of_parallel_subsets():
    """Two parallel subsets (the same clusters, correlated errors): the joint interval of their mean covers."""
    rng = np.random.default_rng(3)
    hits = 0
    for i in range(N_SETS):
        cluster, a = clustered(rng, 60, 0.15, 0.1)
        b = a + rng.normal(0, 0.05, len(a))  # the same questions in another language
        ci = task_interval([outcomes(cluster, a), outcomes(cluster, b)], "max_at_r_norm",
                           n_resamples=RESAMPLES, seed=i)
        hits += ci.low <= MU <= ci.high
    assert 0.93 <= hits / N_SETS <= 0.97


def test_oracle_interval_is_the_single_point_one():
    ids = tuple(f"q{i}" for i in range(50))
    oracle = SubsetOutcomes(ids, tuple(f"p{i // 5}" for i in range(50)), {"max_at_r_norm": np.ones(50)})
    ci = subset_interval(oracle, "max_at_r_norm")
    assert (ci.point, ci.low, ci.high) == (1.0, 1.0, 1.0)
    task = task_interval([oracle, oracle], "max_at_r_norm")
    assert (task.point, task.low, task.high) == (1.0, 1.0, 1.0)


def test_points_are_the_stored_means_exactly_and_draws_are_seeded():
    rng = np.random.default_rng(4)
    cluster, a = clustered(rng, 40, 0.1, 0.3)
    _, b = clustered(np.random.default_rng(5), 40, 0.1, 0.3)
    b = b[: len(a)] if len(b) >= len(a) else np.resize(b, len(a))
    subs, task = intervals([outcomes(cluster, a), outcomes(cluster, b)], "max_at_r_norm")
    assert subs[0].point == float(a.mean()) and subs[1].point == float(b.mean())
    assert task.point == float(np.mean([float(a.mean()), float(b.mean())]))
    again = intervals([outcomes(cluster, a), outcomes(cluster, b)], "max_at_r_norm")
    assert again == (subs, task)  # same seed, same draws
    other = intervals([outcomes(cluster, a), outcomes(cluster, b)], "max_at_r_norm", seed=7)
    assert other[1] != task
    # One set of draws for every subset: a subset alone gets the interval it gets in the task.
    assert subset_interval(outcomes(cluster, a), "max_at_r_norm") == subs[0]


def test_fewer_than_two_clusters_cannot_be_resampled():
    one = SubsetOutcomes(("q0", "q1"), ("p0", "p0"), {"map": np.array([0.5, 1.0])})
    with pytest.raises(ValueError, match="at least two"):
        subset_interval(one, "map")
