"""Relational Affinity against an obviously-correct brute force, and models with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics.relational import (
    STATUS_OK,
    STATUS_PARTIAL,
    STATUS_UNDEFINED,
    cross_lingual_ra,
    within_language_consistency,
)


# -- brute force: the definitions, one relation (pair) at a time, in plain Python ---------
def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else [0.0] * len(v)


def _relation(w1, w2):
    a, b = _unit(w1), _unit(w2)
    return [y - x for x, y in zip(a, b)]


def _cos(r, s):
    nr, ns = math.sqrt(sum(x * x for x in r)), math.sqrt(sum(x * x for x in s))
    if nr <= 1e-6 or ns <= 1e-6:
        return None
    return sum(x * y for x, y in zip(r, s)) / (nr * ns)


def brute_ra(w1a, w2a, w1b, w2b):
    values = [_cos(_relation(w1a[i], w2a[i]), _relation(w1b[i], w2b[i])) for i in range(len(w1a))]
    defined = [v for v in values if v is not None]
    return (sum(defined) / len(defined) if defined else None), len(defined)


def brute_consistency(w1, w2, categories):
    per_cat = []
    for cat in dict.fromkeys(categories):
        rels = [_relation(w1[i], w2[i]) for i in range(len(w1)) if categories[i] == cat]
        rels = [r for r in rels if math.sqrt(sum(x * x for x in r)) > 1e-6]
        cos = [_cos(rels[i], rels[j]) for i in range(len(rels)) for j in range(i + 1, len(rels))]
        if cos:
            per_cat.append(sum(cos) / len(cos))
    return sum(per_cat) / len(per_cat) if per_cat else None


vec = st.lists(st.integers(-3, 3), min_size=3, max_size=3)


@st.composite
def relation_sets(draw):
    n = draw(st.integers(1, 8))
    arrays = [draw(st.lists(vec, min_size=n, max_size=n)) for _ in range(4)]
    # some relations repeat word1 as word2 (a zero relation vector), some embeddings are zero
    for i in range(n):
        if draw(st.booleans()) and draw(st.booleans()):
            arrays[draw(st.sampled_from([1, 3]))][i] = list(arrays[draw(st.sampled_from([0, 2]))][i])
    categories = draw(st.lists(st.sampled_from("xyz"), min_size=n, max_size=n))
    return [np.array(a, dtype=float).reshape(n, 3) for a in arrays], categories


@settings(max_examples=300, deadline=None)
@given(relation_sets())
def test_ra_and_consistency_match_brute_force(case):
    (w1a, w2a, w1b, w2b), categories = case
    result = cross_lingual_ra(w1a, w2a, w1b, w2b)
    expected, n_defined = brute_ra(w1a.tolist(), w2a.tolist(), w1b.tolist(), w2b.tolist())
    assert result.n_defined == n_defined and result.n_relations == len(w1a)
    if expected is None:
        assert math.isnan(result.relational_affinity) and result.status == STATUS_UNDEFINED
    else:
        assert result.relational_affinity == pytest.approx(expected, abs=1e-9)
        assert result.status == (STATUS_OK if n_defined == len(w1a) else STATUS_PARTIAL)
    # the per-relation array is what resampling needs: its defined mean is the score
    assert np.isnan(result.per_relation).sum() == len(w1a) - n_defined
    consistency = within_language_consistency(w1a, w2a, categories)
    expected_c = brute_consistency(w1a.tolist(), w2a.tolist(), categories)
    if expected_c is None:
        assert math.isnan(consistency.consistency)
    else:
        assert consistency.consistency == pytest.approx(expected_c, abs=1e-9)


# -- known-answer models -------------------------------------------------------------------
def test_same_offset_in_every_language_gives_ra_one():
    """word1 = x_r + z_l, word2 = y_r + z_l: |x_r| = |y_r| and a language shift z_l orthogonal to
    them, of a different length per language. After normalising, every language's relation
    vector is (y_r - x_r) / sqrt(|x|^2 + |z_l|^2): the same direction, so RA = 1 exactly."""
    rng = np.random.default_rng(0)
    n, dim = 40, 16
    x = rng.standard_normal((n, dim - 2))
    y = rng.standard_normal((n, dim - 2))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    pad = np.zeros((n, 2))

    def language(shift):
        z = np.tile(shift, (n, 1))
        return np.hstack([x, pad]) + z, np.hstack([y, pad]) + z

    shifts = [np.r_[np.zeros(dim - 2), 0.0, 0.0], np.r_[np.zeros(dim - 2), 3.0, 0.0], np.r_[np.zeros(dim - 2), 0.5, 2.0]]
    langs = [language(s) for s in shifts]
    for a in langs:
        for b in langs:
            result = cross_lingual_ra(*a, *b)
            assert result.status == STATUS_OK and result.relational_affinity == pytest.approx(1.0, abs=1e-12)
    # and a relation reversed in one language (word2 -> word1) gives cos -1
    w1, w2 = langs[1]
    flipped = cross_lingual_ra(*langs[0], w2, w1)
    assert flipped.relational_affinity == pytest.approx(-1.0, abs=1e-12)


def test_random_vectors_give_ra_near_zero_with_the_expected_spread():
    """Independent isotropic vectors: each cosine has mean 0 and variance 1/d, so RA over n
    relations has mean 0 and standard deviation 1/sqrt(n d)."""
    rng = np.random.default_rng(1)
    n, dim, runs = 50, 64, 400
    values = np.array([cross_lingual_ra(*(rng.standard_normal((n, dim)) for _ in range(4))).relational_affinity
                       for _ in range(runs)])
    sd = 1 / math.sqrt(n * dim)
    assert abs(values.mean()) < 4 * sd / math.sqrt(runs)
    assert values.std(ddof=1) == pytest.approx(sd, rel=0.15)  # 400 runs: the sample sd is within ~7% (2 se)


def test_constant_model_is_undefined_never_a_number():
    ones = np.ones((10, 8))
    result = cross_lingual_ra(ones, ones, ones, ones)
    assert math.isnan(result.relational_affinity) and result.status == STATUS_UNDEFINED and result.n_defined == 0
    assert np.isnan(result.per_relation).all()
    assert math.isnan(within_language_consistency(ones, ones, ["a"] * 10).consistency)


def test_scaled_word_is_no_relation():
    """word2 = 3 * word1: the same direction, so the normalised vectors coincide: undefined, not 0."""
    rng = np.random.default_rng(2)
    w1 = rng.standard_normal((5, 4))
    w2 = rng.standard_normal((5, 4))
    w2[2] = 3.0 * w1[2]
    other1, other2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    result = cross_lingual_ra(w1, w2, other1, other2)
    assert result.n_defined == 4 and np.isnan(result.per_relation[2]) and result.status == STATUS_PARTIAL


def test_hand_computed():
    # en: (1,0) -> (0,1): R = (-1, 1); zh: (1,0) -> (1,1)/sqrt2 scaled: R = (1/sqrt2 - 1, 1/sqrt2)
    w1 = np.array([[1.0, 0.0]])
    r_zh = np.array([1 / math.sqrt(2) - 1, 1 / math.sqrt(2)])
    expected = float(np.dot([-1, 1], r_zh) / (math.sqrt(2) * np.linalg.norm(r_zh)))
    result = cross_lingual_ra(w1, np.array([[0.0, 2.0]]), w1 * 5, np.array([[1.0, 1.0]]))
    assert result.relational_affinity == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(math.cos(math.radians(135 - 112.5)), abs=1e-12)
