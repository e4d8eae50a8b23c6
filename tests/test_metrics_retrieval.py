"""Retrieval metrics: hand-computed values, and every metric against its definition on an
explicit pessimistic ordering of the pool (ties: irrelevant documents first)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics import (
    RankResult,
    average_precision,
    complete_at_k,
    DEFAULT_KS,
    gold_ranks,
    language_preference,
    language_preference_chance,
    max_at_r,
    max_at_r_norm,
    max_at_r_norm_of_mean,
    ndcg_at_1_pessimistic,
    outranked_by_mask,
    pessimistic_positions,
    reciprocal_rank,
    summarize,
)


def result(ranks, pool_sizes, mask_counts=None):
    return RankResult(
        ranks=[np.array(r, np.int64) for r in ranks],
        pool_sizes=np.array(pool_sizes, np.int64),
        n_relevant=np.array([len(r) for r in ranks], np.int64),
        mask_counts={k: [np.array(c, np.int64) for c in v] for k, v in (mask_counts or {}).items()},
    )


# ----------------------------------------------------------------------------- by hand


def test_hand_values():
    res = result([[1, 3], [2, 2], [4, 3], [5]], [8, 8, 4, 8])
    assert max_at_r(res).tolist() == [3, 2, 4, 5]
    # (log2 8 - log2 3) / (log2 8 - log2 2); golds tied on top = perfect; last two of 4 = 0
    np.testing.assert_allclose(max_at_r_norm(res), [(3 - math.log2(3)) / 2, 1.0, 0.0,
                                                    (3 - math.log2(5)) / 3])
    assert complete_at_k(res, 2).tolist() == [False, True, False, False]
    assert complete_at_k(res, 4).tolist() == [True, True, True, False]
    # positions: [1, 3]; tied [2, 2] -> [1, 2]; [3, 4] -> [3, 4]; [5]
    assert [p.tolist() for p in pessimistic_positions(res)] == [[1, 3], [1, 2], [3, 4], [5]]
    np.testing.assert_allclose(reciprocal_rank(res), [1, 1, 1 / 3, 1 / 5])
    assert ndcg_at_1_pessimistic(res).tolist() == [1.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(average_precision(res), [(1 + 2 / 3) / 2, 1.0, (1 / 3 + 2 / 4) / 2, 1 / 5])


def test_norm_of_mean_uses_mean_max_at_r():
    res = result([[2, 3], [4, 4]], [8, 8])
    # mean Max@R = 3.5 with |D| = 8, |R| = 2
    assert max_at_r_norm_of_mean(res) == pytest.approx((3 - math.log2(3.5)) / 2)
    # varying sizes: means of |D| and |R| (documented approximation)
    res = result([[2, 3], [4]], [8, 16])
    assert max_at_r_norm_of_mean(res) == pytest.approx(
        (math.log2(12) - math.log2(3.5)) / (math.log2(12) - math.log2(1.5)))


def test_norm_of_mean_with_a_nominal_pool():
    # The paper's per-question pool: |D| = 2 x #questions although each query's own copies are
    # left out of its pool (here pool sizes 6 and 5, nominal 8).
    res = result([[2, 3], [4, 1]], [6, 5])
    assert max_at_r_norm_of_mean(res, nominal_pool=8) == pytest.approx((3 - math.log2(3.5)) / 2)
    assert math.isnan(max_at_r_norm_of_mean(result([[1, 2]], [2]), nominal_pool=2))  # nothing to rank
    assert max_at_r_norm_of_mean(result([[1, 8]], [8]), nominal_pool=8) == 0.0
    assert summarize(res, nominal_pool=8)["max_at_r_norm_of_mean"] == max_at_r_norm_of_mean(res, nominal_pool=8)
    assert summarize(res)["max_at_r_norm_of_mean"] == max_at_r_norm_of_mean(res) != max_at_r_norm_of_mean(
        res, nominal_pool=8)
    with pytest.raises(ValueError, match="nominal_pool 3 is smaller than the mean Max@R"):
        max_at_r_norm_of_mean(res, nominal_pool=3)


def test_nothing_to_rank_is_undefined_never_perfect():
    """A pool no larger than its gold set: Max@R_norm is 0/0, so NaN (not 1.0), and summarize refuses,
    whatever the model: here a constant one, whose every score ties."""
    D = np.ones((2, 3), np.float32)
    res = gold_ranks(np.ones((2, 3), np.float32), D, [[0, 1], [0, 1]])
    assert np.isnan(max_at_r_norm(res)).all() and math.isnan(max_at_r_norm_of_mean(res))
    with pytest.raises(ValueError, match=r"query 0 has a pool of 2 document\(s\) and 2 gold: nothing to rank.*"
                                         r"\(2 such queries\)"):
        summarize(res)
    mixed = result([[1, 2], [3]], [2, 4])  # one degenerate query among ordinary ones is enough
    assert np.isnan(max_at_r_norm(mixed)[0]) and max_at_r_norm(mixed)[1] == pytest.approx(1 - math.log2(3) / 2)
    with pytest.raises(ValueError, match="query 0 has a pool of 2"):
        summarize(mixed)


def test_constant_score_model_end_to_end():
    D = np.tile(np.array([[0.6, 0.8]], np.float32), (50, 1))
    Q = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    res = gold_ranks(Q, D, [[3, 7], [11]], chunk_size=8)
    assert max_at_r(res).tolist() == [50, 50]
    assert max_at_r_norm(res).tolist() == [0.0, 0.0]
    assert max_at_r_norm_of_mean(res) == 0.0
    # The worst ordering puts the 48 (resp. 49) irrelevant documents first.
    np.testing.assert_allclose(reciprocal_rank(res), [1 / 49, 1 / 50])
    np.testing.assert_allclose(average_precision(res), [(1 / 49 + 2 / 50) / 2, 1 / 50])
    assert ndcg_at_1_pessimistic(res).tolist() == [0.0, 0.0]


def test_summarize_keys_and_json():
    res = result([[1, 3], [2, 2]], [8, 8])
    out = summarize(res, ks=(1, 2, 5), prefix="multi_")
    assert list(out) == ["multi_max_at_r", "multi_max_at_r_norm", "multi_max_at_r_norm_of_mean",
                         "multi_complete_at_1", "multi_complete_at_2", "multi_complete_at_5",
                         "multi_ndcg_at_1_pessimistic", "multi_mrr", "multi_map", "multi_n_queries", "multi_mean_pool_size"]
    assert all(type(v) is float for v in out.values())
    json.dumps(out, allow_nan=False)
    assert out["multi_max_at_r"] == 2.5
    assert out["multi_complete_at_1"] == 0.0 and out["multi_complete_at_2"] == 0.5
    assert out["multi_map"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    assert out["multi_n_queries"] == 2.0 and out["multi_mean_pool_size"] == 8.0
    assert set(summarize(res)) >= {"max_at_r", "complete_at_100", "mrr"}
    with pytest.raises(ValueError, match="no queries"):
        summarize(result([], []))


def test_no_key_is_named_like_an_mteb_stock_score():
    res = result([[1, 3], [2, 2]], [8, 8])
    stock = re.compile(r"^(ndcg|map|recall|precision|hit_rate|mrr)_at_\d+$")
    keys = set(summarize(res)) | set(summarize(res, ks=(1, 3, 10, 1000)))
    assert not [k for k in keys if stock.match(k)]
    assert {f"complete_at_{k}" for k in DEFAULT_KS} <= keys
    assert all(0.0 <= summarize(res)[k] <= 1.0 for k in ("max_at_r_norm", "max_at_r_norm_of_mean", "mrr", "map"))


def test_language_preference_by_hand():
    # Pool: English docs 0-2, Arabic docs 3-5; doc i and doc i+3 are the same paragraph.
    D = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    D[3:] *= 0.9  # the Arabic copy is a little less similar (an English-inclined model)
    Q = np.array([
        [0.9, 0.5, 0.0],  # ar query, paragraph 0: ar copy 0.81, irrelevant en doc1 0.5 -> not outranked
        [0.1, 0.0, 0.9],  # ar query, paragraph 2: ar copy 0.81 ... no English competitor above
        [0.0, 0.85, 0.9],  # ar query, paragraph 1: ar copy 0.765 < en doc2 0.9 -> outranked
        [0.7, 0.0, 0.7],  # ar query, paragraph 0: ar copy 0.63 < en doc2 0.7 -> outranked
        [0.0, 0.0, 1.0],  # en query: does not apply
    ], np.float32)
    gold = [[0, 3], [2, 5], [1, 4], [0, 3], [2, 5]]
    english = np.array([True] * 3 + [False] * 3)
    res = gold_ranks(Q, D, gold, masks={"en": english})
    assert [c.tolist() for c in res.mask_counts["en"]] == [[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]]
    applies = np.array([True, True, True, True, False])
    assert outranked_by_mask(res, "en", 1).tolist() == [False, False, True, True, False]
    assert language_preference(res, "en", 1, applies) == 0.5
    assert language_preference(res, "en", np.array([1, 1, 1, 1, 0]), applies) == 0.5
    assert math.isnan(language_preference(res, "en", 1, np.zeros(5, bool)))
    with pytest.raises(KeyError, match="mask 'xx' was not computed"):
        language_preference(res, "xx", 1, applies)
    with pytest.raises(IndexError, match="gold position 2 is out of range for query 0"):
        language_preference(res, "en", 2, applies)
    with pytest.raises(ValueError, match=r"applies must have shape \(5,\)"):
        language_preference(res, "en", 1, applies[:3])
    # 3 English documents, none gold for the applicable queries except paragraph copies: 2 left.
    assert res.mask_sizes["en"].tolist() == [2, 2, 2, 2, 2]
    assert language_preference_chance(res, "en", applies) == pytest.approx(1 - 1 / 3)


def test_ties_with_the_english_mask_count_as_outranked():
    D = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)  # doc0 en, doc1 ar: same vector
    res = gold_ranks(np.array([[1.0, 0.0]], np.float32), D, [[1]], masks={"en": np.array([True, False, False])})
    assert language_preference(res, "en", 0) == 1.0


# ----------------------------------------------------------------------------- against definitions


def reference_metrics(scores, relevant):
    """Order the pool explicitly: by score, irrelevant before relevant on ties; read every metric."""
    order = sorted(range(len(scores)), key=lambda d: (-scores[d], d in relevant))
    positions = [i + 1 for i, d in enumerate(order) if d in relevant]
    n, R = len(scores), len(relevant)
    max_r = positions[-1]
    norm = math.nan if n == R else (math.log2(n) - math.log2(max_r)) / (math.log2(n) - math.log2(R))
    dcg1 = (1.0 if order[0] in relevant else 0.0) / math.log2(2)
    return dict(positions=positions, max_r=max_r, norm=norm, rr=1 / positions[0], ndcg1=dcg1 / 1.0,
                ap=sum((i + 1) / p for i, p in enumerate(positions)) / R)


@st.composite
def scored_queries(draw):
    queries = []
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(1, 25))
        scores = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))  # few values: many ties
        relevant = set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
        queries.append((scores, relevant))
    return queries


@settings(max_examples=300, deadline=None)
@given(scored_queries(), st.integers(1, 30))
def test_metrics_match_definitions(queries, k):
    ranks = [[sum(1 for t in s if t >= s[g]) for g in sorted(rel)] for s, rel in queries]
    res = result(ranks, [len(s) for s, _ in queries])
    refs = [reference_metrics(s, rel) for s, rel in queries]
    assert [p.tolist() for p in pessimistic_positions(res)] == [r["positions"] for r in refs]
    assert max_at_r(res).tolist() == [r["max_r"] for r in refs]
    np.testing.assert_allclose(max_at_r_norm(res), [r["norm"] for r in refs], atol=1e-9)
    defined = np.array([len(s) > len(rel) for s, rel in queries])
    assert np.isnan(max_at_r_norm(res)[~defined]).all()
    assert ((0 <= max_at_r_norm(res)[defined]) & (max_at_r_norm(res)[defined] <= 1)).all()
    np.testing.assert_allclose(reciprocal_rank(res), [r["rr"] for r in refs])
    np.testing.assert_allclose(ndcg_at_1_pessimistic(res), [r["ndcg1"] for r in refs])
    np.testing.assert_allclose(average_precision(res), [r["ap"] for r in refs])
    assert complete_at_k(res, k).tolist() == [r["max_r"] <= k for r in refs]
    if not defined.all():  # nothing to rank for some query: refused, never a score
        with pytest.raises(ValueError, match="nothing to rank"):
            summarize(res, ks=(k,))
        return
    out = summarize(res, ks=(k,))
    assert out["map"] == pytest.approx(np.mean([r["ap"] for r in refs]))
    assert out[f"complete_at_{k}"] == pytest.approx(np.mean([r["max_r"] <= k for r in refs]))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_end_to_end_from_vectors(data):
    """gold_ranks + metrics == metrics read off the explicitly ordered pool."""
    n_docs = data.draw(st.integers(1, 20))
    dim = data.draw(st.integers(1, 3))
    vec = st.lists(st.integers(-2, 2), min_size=dim, max_size=dim)
    D = np.array(data.draw(st.lists(vec, min_size=n_docs, max_size=n_docs)), np.float32).reshape(n_docs, dim)
    Q = np.array(data.draw(st.lists(vec, min_size=1, max_size=4)), np.float32).reshape(-1, dim)
    gold = [data.draw(st.lists(st.integers(0, n_docs - 1), min_size=1, max_size=n_docs, unique=True))
            for _ in range(len(Q))]
    res = gold_ranks(Q, D, gold, chunk_size=data.draw(st.integers(1, 25)))
    S = Q.astype(np.float64) @ D.astype(np.float64).T
    refs = [reference_metrics(S[q].tolist(), set(gold[q])) for q in range(len(Q))]
    assert max_at_r(res).tolist() == [r["max_r"] for r in refs]
    np.testing.assert_allclose(average_precision(res), [r["ap"] for r in refs])
    np.testing.assert_allclose(reciprocal_rank(res), [r["rr"] for r in refs])


def test_language_preference_chance_by_simulation():
    """A random model (random vectors, so each query's scores are i.i.d. continuous) is outranked
    at the rate the chance formula gives, here with a different n per query through exclusions."""
    rng = np.random.default_rng(12)
    n_docs, n_queries, trials = 12, 8, 400
    other = np.arange(n_docs) >= 6  # docs 6..11: the other language; gold: doc 0 (same) and doc 6
    exclude = [list(range(7, 7 + q % 5)) for q in range(n_queries)]  # 5, 4, 3, 2, 1 other docs left
    gold = [[0, 6]] * n_queries
    observed, chance = [], None
    for _ in range(trials):
        Q = rng.standard_normal((n_queries, 16)).astype(np.float32)
        D = rng.standard_normal((n_docs, 16)).astype(np.float32)
        res = gold_ranks(Q, D, gold, exclude=exclude, masks={"other": other})
        observed.append(language_preference(res, "other", 0))
        chance = language_preference_chance(res, "other")
    n = np.array([5 - q % 5 for q in range(n_queries)], float)
    assert chance == pytest.approx(np.mean(1 - 1 / (n + 1)))
    # Binomial standard error over trials x queries outcomes: well under 0.01 here.
    sd = math.sqrt(chance * (1 - chance) / (trials * n_queries))
    assert abs(np.mean(observed) - chance) < 4 * sd, (np.mean(observed), chance, sd)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_language_preference_and_norm_of_mean_by_definition(data):
    """From integer vectors (exact scores): language_preference, its chance level and
    max_at_r_norm_of_mean against their definitions, with exclusions and a nominal pool."""
    n_docs = data.draw(st.integers(2, 16))
    vec = st.lists(st.integers(-2, 2), min_size=2, max_size=2)
    D = np.array(data.draw(st.lists(vec, min_size=n_docs, max_size=n_docs)), np.float32)
    Q = np.array(data.draw(st.lists(vec, min_size=1, max_size=5)), np.float32)
    other = np.array(data.draw(st.lists(st.booleans(), min_size=n_docs, max_size=n_docs)))
    gold, exclude = [], []
    for _ in range(len(Q)):
        g = data.draw(st.lists(st.integers(0, n_docs - 1), min_size=1, max_size=3, unique=True))
        rest = [d for d in range(n_docs) if d not in g]
        gold.append(g)
        exclude.append(data.draw(st.lists(st.sampled_from(rest), unique=True)) if rest else [])
    res = gold_ranks(Q, D, gold, exclude=exclude, masks={"other": other})
    S = Q.astype(np.float64) @ D.astype(np.float64).T  # small integers: exact in any order
    pools = [[d for d in range(n_docs) if d not in exclude[q]] for q in range(len(Q))]
    irrelevant_other = [[d for d in pools[q] if other[d] and d not in gold[q]] for q in range(len(Q))]
    outranked = [any(S[q, d] >= S[q, gold[q][0]] for d in irrelevant_other[q]) for q in range(len(Q))]
    assert language_preference(res, "other", 0) == pytest.approx(np.mean(outranked))
    assert language_preference_chance(res, "other") == pytest.approx(
        np.mean([1 - 1 / (len(x) + 1) for x in irrelevant_other]))
    worst = [max(sum(1 for d in pools[q] if S[q, d] >= S[q, g]) for g in gold[q]) for q in range(len(Q))]
    nominal = n_docs + data.draw(st.integers(0, 5))
    mean_r = np.mean([len(g) for g in gold])
    # nothing to rank (|D| = |R|): undefined, never a perfect score (issue 24 item 4)
    expected = math.nan if nominal == mean_r else (
        (math.log2(nominal) - math.log2(np.mean(worst))) / (math.log2(nominal) - math.log2(mean_r)))
    assert max_at_r_norm_of_mean(res, nominal_pool=nominal) == pytest.approx(expected, nan_ok=True)
