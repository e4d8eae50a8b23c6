"""The paired comparison tested as a test: size under the null, power on a known shift, Holm by hand,
a model against itself, and SemanticAffinity's ratio under concept resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats.resampling import holm, paired, paired_all, subset_interval

N_SETS = 1000
RESAMPLES = 199


def pair(rng, n_clusters=40, shift=0.0):
    """Two models on the same clustered questions; under shift=0 their outcomes are exchangeable."""
    sizes = rng.integers(3, 8, size=n_clusters)
    cluster = np.repeat(np.arange(n_clusters), sizes)
    difficulty = rng.normal(0, 0.2, n_clusters)[cluster]  # shared by both models: what pairing removes
    a = 0.5 + difficulty + rng.normal(0, 0.05, n_clusters)[cluster] + rng.normal(0, 0.1, len(cluster))
    b = 0.5 + difficulty + rng.normal(0, 0.05, n_clusters)[cluster] + rng.normal(0, 0.1, len(cluster)) + shift
    ids = tuple(f"q{i}" for i in range(len(cluster)))
    clusters = tuple(f"p{c}" for c in cluster)
    return SubsetOutcomes(ids, clusters, {"map": a}), SubsetOutcomes(ids, clusters, {"map": b})


def test_size_under_the_null_p_values_are_uniform():
    rng = np.random.default_rng(10)
    p = np.array([paired([a], [b], "map", n_resamples=RESAMPLES, seed=i).p_value
                  for i, (a, b) in enumerate(pair(rng) for _ in range(N_SETS))])
    rejected = int((p < 0.05).sum())
    # Type I error within the binomial 99.9% band around 0.05 for 1000 tests.
    low, high = stats.binom.ppf([0.0005, 0.9995], N_SETS, 0.05)
    assert low <= rejected <= high, rejected
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_power_on_a_known_shift():
    rng = np.random.default_rng(11)
    # A shift of 0.07 against a paired cluster noise of sd ~0.08 (cluster effects 0.05 per model, question
    # noise 0.1 over ~5 questions) over 40 clusters: the cluster means differ by ~5 standard errors.
    p = np.array([paired([a], [b], "map", n_resamples=RESAMPLES, seed=i).p_value
                  for i, (a, b) in enumerate(pair(rng, shift=0.07) for _ in range(200))])
    assert (p < 0.05).mean() > 0.9


def test_paired_interval_covers_the_true_shift():
    rng = np.random.default_rng(12)
    hits = 0
    for i in range(N_SETS):
        a, b = pair(rng, n_clusters=48, shift=0.03)  # XQuAD's 48 articles
        res = paired([a], [b], "map", n_resamples=999, seed=i)
        hits += res.low <= -0.03 <= res.high
    assert 0.93 <= hits / N_SETS <= 0.97


def test_a_model_against_itself():
    a, _ = pair(np.random.default_rng(13))
    subsets, task = paired_all([a, a], [a, a], "map")
    for res in [*subsets, task]:
        assert (res.delta, res.low, res.high, res.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_delta_is_the_difference_of_the_stored_means():
    a, b = pair(np.random.default_rng(14), shift=0.02)
    res = paired([a], [b], "map", n_resamples=199)
    assert res.delta == float(a.values["map"].mean()) - float(b.values["map"].mean())


def test_holm_against_a_hand_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # 0.5 x 2 capped at 1; 0.9 x 1 raised to keep the order
    assert holm([]).tolist() == []


def test_different_queries_are_refused():
    a, b = pair(np.random.default_rng(15))
    shorter = SubsetOutcomes(b.ids[:-1], b.clusters[:-1], {"map": b.values["map"][:-1]})
    with pytest.raises(ValueError, match="differ"):
        paired([a], [shorter], "map")


def sa_outcomes(rng, n_concepts=80, h=0.8, scale=1.0):
    ids = tuple(f"c{i}" for i in range(n_concepts))
    w = rng.integers(1, 6, n_concepts).astype(np.float64)
    m = np.clip(rng.normal(0.5 * scale, 0.15, n_concepts), 0.01, None)
    return SubsetOutcomes(ids, ids, {"n_tuples": w, "vertical_spread": m, "horizontal_spread": np.full(n_concepts, h)})


def test_semantic_affinity_interval_and_comparison():
    from mteb_xalign.per_query import recompute

    rng = np.random.default_rng(16)
    a = sa_outcomes(rng)
    ci = subset_interval(a, "semantic_affinity")
    sa = recompute(a)["semantic_affinity"]
    assert ci.point == sa and ci.low < sa < ci.high and 0 < ci.low and ci.high < 1
    # Another model with the same concepts (same tuple counts) but spreads 30% larger: clearly lower SA.
    b = SubsetOutcomes(a.ids, a.clusters, {**a.values, "vertical_spread": a.values["vertical_spread"] * 1.3})
    res = paired([a], [b], "semantic_affinity", n_resamples=999)
    assert res.delta > 0 and res.low > 0 and res.p_value < 0.01
