"""Both directions of language preference against brute force over an exact score matrix (ties included).

language_preference: the same-language gold outranked (or tied) by an irrelevant other-language
paragraph; same_language_preference: the other-language gold outranked (or tied) by an irrelevant
paragraph of the question's own language (a model that keeps languages apart)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics import ranking, retrieval


def brute(scores, gold, candidates):
    """Per query: 1.0 when some candidate document (not gold) scores >= the gold document."""
    return np.array([float(any(scores[q, d] >= scores[q, g] for d in candidates if d not in gold_q))
                     for q, (g, gold_q) in enumerate(gold)])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 8), st.integers(0, 2**32 - 1), st.booleans())
def test_both_directions_against_brute_force(n_paragraphs, n_queries, seed, query_in_pivot):
    rng = np.random.default_rng(seed)
    # Small integer vectors: exact float32 dot products, and frequent ties.
    docs = rng.integers(-2, 3, size=(2 * n_paragraphs, 3)).astype(np.float32)  # rows 0..n-1 pivot, n.. X
    queries = rng.integers(-2, 3, size=(n_queries, 3)).astype(np.float32)
    is_pivot = np.arange(2 * n_paragraphs) < n_paragraphs
    para = rng.integers(0, n_paragraphs, n_queries)
    same_row = para if query_in_pivot else para + n_paragraphs  # gold position 0: the same-language copy
    other_row = para + n_paragraphs if query_in_pivot else para
    gold = [np.array([s, o]) for s, o in zip(same_row, other_row)]
    res = ranking.gold_ranks(queries, docs, gold, masks={"pivot": is_pivot, "other": ~is_pivot})
    scores = queries.astype(np.float64) @ docs.astype(np.float64).T
    same_docs = np.flatnonzero(is_pivot if query_in_pivot else ~is_pivot)
    other_docs = np.flatnonzero(~is_pivot if query_in_pivot else is_pivot)
    same_mask, other_mask = ("pivot", "other") if query_in_pivot else ("other", "pivot")
    golds = [set(g.tolist()) for g in gold]
    expected_pref = brute(scores, list(zip(same_row, golds)), other_docs)
    expected_same = brute(scores, list(zip(other_row, golds)), same_docs)
    assert retrieval.language_preference_indicator(res, other_mask, 0).tolist() == expected_pref.tolist()
    assert retrieval.language_preference_indicator(res, same_mask, 1).tolist() == expected_same.tolist()
    # Chance: 1 - 1/(n + 1) with n = the irrelevant same-language paragraphs (n_paragraphs - 1).
    assert retrieval.language_preference_chance(res, same_mask) == pytest.approx(1 - 1 / n_paragraphs, abs=1e-15)


def test_by_hand_a_model_that_separates_languages():
    # Each question sees its own language's paragraphs first: the other-language gold loses to all of them.
    docs = np.array([[1, 0, 0], [1, 0, 0.1], [0, 1, 0], [0, 1, 0.1]], np.float32)  # en p0, en p1, X p0, X p1
    queries = np.array([[0, 1, 0]], np.float32)  # an X question about p0
    res = ranking.gold_ranks(queries, docs, [np.array([2, 0])],
                             masks={"pivot": np.array([1, 1, 0, 0], bool), "other": np.array([0, 0, 1, 1], bool)})
    assert retrieval.language_preference_indicator(res, "pivot", 0).tolist() == [0.0]  # no English preference
    assert retrieval.language_preference_indicator(res, "other", 1).tolist() == [1.0]  # X p1 outranks English gold
