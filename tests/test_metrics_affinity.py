"""Semantic Affinity against a brute-force reference: explicit cross products, every formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics.affinity import (
    STATUS_COLLAPSED,
    STATUS_NO_DATA,
    STATUS_OK,
    _concept_moments_cosine,
    _concept_moments_euclidean,
    affinity_matrix,
    mean_pairwise,
    semantic_affinity,
)


# -- brute force: the definitions, written out with explicit enumeration ------------------
def brute_force(emb, concepts, languages, metric):
    x = np.asarray(emb, dtype=np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)

    def dist(i, j):
        return 1.0 - x[i] @ x[j] if metric == "cosine" else float(np.linalg.norm(x[i] - x[j]))

    def spread(ds):  # mean for cosine, RMS for Euclidean
        return float(np.mean(ds)) if metric == "cosine" else math.sqrt(float(np.mean(np.square(ds))))

    per_lang = {}
    for lang in languages:
        words = sorted({r for c in concepts for r in c.get(lang, [])})
        if len(words) >= 2:
            per_lang[lang] = spread([dist(i, j) for i, j in itertools.combinations(words, 2)])
    tuples = []
    concept_means = []
    for c in concepts:
        groups = [sorted(set(c[lang])) for lang in languages if c.get(lang)]
        if len(groups) < 2:
            continue
        vs = [spread([dist(i, j) for i, j in itertools.combinations(t, 2)]) for t in itertools.product(*groups)]
        tuples.extend(vs)
        concept_means.append(np.mean(vs))
    if not tuples or not per_lang:
        return None
    h = float(np.mean(list(per_lang.values())))
    v = float(np.mean(tuples))
    sem_v = float(np.std(tuples, ddof=1) / math.sqrt(len(tuples))) if len(tuples) > 1 else 0.0
    hs = list(per_lang.values())
    sem_h = float(np.std(hs, ddof=1) / math.sqrt(len(hs))) if len(hs) > 1 else 0.0
    sr = v / h
    sem_sr = sr * math.sqrt((sem_v / v) ** 2 + (sem_h / h) ** 2) if v > 0 else 0.0
    return {
        "semantic_affinity": 1 / (1 + sr), "semantic_ratio": sr, "horizontal_spread": h, "vertical_spread": v,
        "vertical_sem": sem_v, "horizontal_sem": sem_h, "sr_sem": sem_sr, "sa_sem": sem_sr / (1 + sr) ** 2,
        "n_tuples": len(tuples), "n_concepts": len(concept_means),
        "semantic_affinity_concept_mean": 1 / (1 + float(np.mean(concept_means)) / h),
    }


@st.composite
def word_lists(draw, max_langs=4, max_concepts=5, max_variants=3):
    """Random concepts over 2-4 languages, 0-3 variants each; rows are distinct words."""
    n_langs = draw(st.integers(2, max_langs))
    languages = [f"l{i}" for i in range(n_langs)]
    concepts, row = [], 0
    for _ in range(draw(st.integers(1, max_concepts))):
        c = {}
        for lang in languages:
            k = draw(st.integers(0, max_variants))
            c[lang] = list(range(row, row + k))
            row += k
        concepts.append(c)
    seed = draw(st.integers(0, 2**32 - 1))
    dim = draw(st.integers(2, 6))
    emb = np.random.default_rng(seed).standard_normal((max(row, 1), dim))
    return emb, concepts, languages


FIELDS = ("semantic_affinity", "semantic_ratio", "horizontal_spread", "vertical_spread", "vertical_sem",
          "horizontal_sem", "sr_sem", "sa_sem", "n_tuples", "n_concepts", "semantic_affinity_concept_mean")


@settings(max_examples=150, deadline=None)
@given(word_lists(), st.sampled_from(["cosine", "euclidean"]))
def test_matches_brute_force_on_random_word_lists(case, metric):
    emb, concepts, languages = case
    expected = brute_force(emb, concepts, languages, metric)
    got = semantic_affinity(emb, concepts, languages, metric=metric)
    if expected is None:
        assert got.status == STATUS_NO_DATA and math.isnan(got.semantic_affinity)
        return
    assert got.status == STATUS_OK and not got.vertical_sampled
    for name in FIELDS:
        assert getattr(got, name) == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=5), st.integers(0, 2**32 - 1))
def test_cross_product_moments_without_enumeration(sizes, seed):
    """Mean and mean square of V_t over the product equal the explicit enumeration's."""
    rng = np.random.default_rng(seed)
    groups = [rng.standard_normal((k, 4)) for k in sizes]
    groups = [g / np.linalg.norm(g, axis=1, keepdims=True) for g in groups]
    vs = []
    for t in itertools.product(*[range(k) for k in sizes]):
        vecs = [groups[a][t[a]] for a in range(len(sizes))]
        vs.append(np.mean([1 - u @ w for u, w in itertools.combinations(vecs, 2)]))
    mean, mean_sq = _concept_moments_cosine(groups)
    assert mean == pytest.approx(np.mean(vs), rel=1e-10, abs=1e-12)
    assert mean_sq == pytest.approx(np.mean(np.square(vs)), rel=1e-10, abs=1e-12)
    e_mean, e_sq, sampled = _concept_moments_euclidean(groups, 10**6, 10, np.random.default_rng(0))
    rms = [math.sqrt(np.mean([np.sum((u - w) ** 2) for u, w in itertools.combinations(
        [groups[a][t[a]] for a in range(len(sizes))], 2)])) for t in itertools.product(*[range(k) for k in sizes])]
    assert not sampled
    assert e_mean == pytest.approx(np.mean(rms), rel=1e-10)
    assert e_sq == pytest.approx(np.mean(np.square(rms)), rel=1e-10)


def test_large_cross_product_is_not_enumerated_for_cosine():
    """24 languages x 4 variants = 4^24 ≈ 2.8e14 tuples: exact in milliseconds."""
    rng = np.random.default_rng(0)
    languages = [f"l{i}" for i in range(24)]
    emb = rng.standard_normal((96, 8))
    concept = {lang: [4 * i + j for j in range(4)] for i, lang in enumerate(languages)}
    res = semantic_affinity(emb, [concept], languages)
    assert res.n_tuples == 4**24 and res.status == STATUS_OK
    # mean over the product = mean over language pairs of the block means (by hand here)
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    blocks = [np.mean(1 - x[concept[a]] @ x[concept[b]].T) for a, b in itertools.combinations(languages, 2)]
    assert res.vertical_spread == pytest.approx(np.mean(blocks), rel=1e-12)


def test_euclidean_samples_beyond_the_limit_and_says_so():
    rng = np.random.default_rng(1)
    languages = [f"l{i}" for i in range(6)]
    emb = rng.standard_normal((18, 5))
    concepts = [{lang: [3 * i, 3 * i + 1, 3 * i + 2] for i, lang in enumerate(languages)}]
    exact = semantic_affinity(emb, concepts, languages, metric="euclidean")
    sampled = semantic_affinity(emb, concepts, languages, metric="euclidean", max_exact_tuples=100, n_samples=50_000)
    assert not exact.vertical_sampled and sampled.vertical_sampled
    assert sampled.vertical_spread == pytest.approx(exact.vertical_spread, rel=5e-3)
    again = semantic_affinity(emb, concepts, languages, metric="euclidean", max_exact_tuples=100, n_samples=50_000)
    assert again.vertical_spread == sampled.vertical_spread  # seeded: reproducible


def test_hand_computed_two_languages_two_concepts():
    # en: e1=(1,0), e2=(0,1); de: g1=(0.8,0.6), and concept 2 has two variants g2=(-0.6,0.8), g3=(0,1).
    emb = np.array([[1, 0], [0, 1], [0.8, 0.6], [-0.6, 0.8], [0, 1.0]])
    concepts = [{"en": [0], "de": [2]}, {"en": [1], "de": [3, 4]}]
    res = semantic_affinity(emb, concepts, ["en", "de"])
    # H_en = 1 - 0 = 1; H_de = mean(1 - 0, 1 - 0.6, 1 - 0.8) = 1.6/3; H = 23/30
    # tuples: (e1,g1) 0.2, (e2,g2) 0.2, (e2,g3) 0 -> V = 2/15; SR = 4/23; SA = 23/27
    assert res.horizontal_spread == pytest.approx(23 / 30)
    assert res.per_language_spread == pytest.approx({"en": 1.0, "de": 1.6 / 3})
    assert res.vertical_spread == pytest.approx(2 / 15)
    assert res.semantic_ratio == pytest.approx(4 / 23)
    assert res.semantic_affinity == pytest.approx(23 / 27)
    assert res.n_tuples == 3 and res.n_concepts == 2
    # sem_V: sample std of (0.2, 0.2, 0) / sqrt(3) = 1/15; sem_H: std(1, 8/15)/sqrt(2) = 7/30
    assert res.vertical_sem == pytest.approx(1 / 15)
    assert res.horizontal_sem == pytest.approx(7 / 30)
    sem_sr = 4 / 23 * math.sqrt(1 / 4 + (7 / 23) ** 2)
    assert res.sr_sem == pytest.approx(sem_sr)
    assert res.sa_sem == pytest.approx(sem_sr / (27 / 23) ** 2)
    # concept-weighted: concepts' means 0.2 and 0.1 -> 0.15
    assert res.semantic_affinity_concept_mean == pytest.approx(1 / (1 + 0.15 / (23 / 30)))
    # Euclidean on unit vectors: d = sqrt(2 * cosine distance); H and V_t are RMS.
    eu = semantic_affinity(emb, concepts, ["en", "de"], metric="euclidean")
    h = (math.sqrt(2 * 1.0) + math.sqrt(2 * 1.6 / 3)) / 2
    v = (2 * math.sqrt(0.4) + 0) / 3
    assert eu.horizontal_spread == pytest.approx(h) and eu.vertical_spread == pytest.approx(v)
    assert eu.semantic_affinity == pytest.approx(1 / (1 + v / h))


def test_each_variant_is_its_own_word():
    """The reference reuses a row's first variant: here the second variant's own vector counts."""
    emb = np.array([[1, 0], [0, 1], [1, 0], [0.0, 1]])
    concepts = [{"en": [0], "de": [2, 3]}, {"en": [1], "de": [3]}]
    res = semantic_affinity(emb, concepts, ["en", "de"])
    # tuples (en0,de2)=0, (en0,de3)=1, (en1,de3)=0 -> V = 1/3 (first-variant reuse would give 0)
    assert res.vertical_spread == pytest.approx(1 / 3)


def test_missing_language_leaves_only_that_concept_out():
    emb = np.random.default_rng(3).standard_normal((7, 4))
    full = [{"a": [0], "b": [1], "c": [2]}, {"a": [3], "b": [4], "c": [5]}]
    gap = [{"a": [0], "b": [1], "c": [2]}, {"a": [3], "b": [4], "c": []}]
    res = semantic_affinity(emb, gap, ["a", "b", "c"])
    expected = brute_force(emb, gap, ["a", "b", "c"], "cosine")
    assert res.vertical_spread == pytest.approx(expected["vertical_spread"])
    assert res.n_tuples == 2 and res.n_concepts == 2
    assert res.vertical_spread != pytest.approx(semantic_affinity(emb, full, ["a", "b", "c"]).vertical_spread)
    # a concept in only one of the compared languages is no tuple at all
    assert semantic_affinity(emb, gap, ["a", "c"]).n_concepts == 1


def test_collapsed_embeddings():
    emb = np.ones((6, 5))
    concepts = [{"en": [0, 1], "de": [2]}, {"en": [3], "de": [4, 5]}]
    for metric in ("cosine", "euclidean"):
        res = semantic_affinity(emb, concepts, metric=metric)
        assert res.status == STATUS_COLLAPSED and res.semantic_affinity == 0.0 and math.isinf(res.semantic_ratio)
    nearly = np.ones((6, 5)) + 1e-9 * np.random.default_rng(0).standard_normal((6, 5))
    assert semantic_affinity(nearly, concepts).status == STATUS_COLLAPSED
    # Words of one language identical to each other but languages apart: H = 0 -> collapsed too.
    emb2 = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1.0]])
    res = semantic_affinity(emb2, [{"en": [0, 1, 4], "de": [2, 3, 5]}])
    assert res.status == STATUS_COLLAPSED


def test_no_data():
    emb = np.random.default_rng(0).standard_normal((4, 3))
    only_one_language_each = [{"en": [0, 1]}, {"de": [2, 3]}]
    res = semantic_affinity(emb, only_one_language_each)
    assert res.status == STATUS_NO_DATA and math.isnan(res.semantic_affinity)
    assert semantic_affinity(emb, []).status == STATUS_NO_DATA
    # one word per language: no within-language pair, H undefined
    assert semantic_affinity(emb, [{"en": [0], "de": [1]}]).status == STATUS_NO_DATA


@settings(max_examples=40, deadline=None)
@given(word_lists(max_langs=5), st.sampled_from(["cosine", "euclidean"]))
def test_matrix_entries_are_pairwise_sa(case, metric):
    emb, concepts, languages = case
    matrix = affinity_matrix(emb, concepts, languages, metric=metric)
    assert np.all(np.isnan(np.diag(matrix)))
    for (i, a), (j, b) in itertools.combinations(enumerate(languages), 2):
        res = semantic_affinity(emb, concepts, [a, b], metric=metric)
        if res.status == STATUS_NO_DATA:
            assert math.isnan(matrix[i, j])
        else:
            assert matrix[i, j] == pytest.approx(res.semantic_affinity, rel=1e-9)
        assert matrix[j, i] == matrix[i, j] or (math.isnan(matrix[i, j]) and math.isnan(matrix[j, i]))


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 30), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_mean_pairwise_closed_form(n, dim, seed):
    x = np.random.default_rng(seed).standard_normal((n, dim))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = list(itertools.combinations(range(n), 2))
    assert mean_pairwise(u, "cosine") == pytest.approx(np.mean([1 - u[i] @ u[j] for i, j in pairs]), abs=1e-12)
    rms = math.sqrt(np.mean([np.sum((x[i] - x[j]) ** 2) for i, j in pairs]))
    assert mean_pairwise(x, "euclidean") == pytest.approx(rms, rel=1e-10)


def test_random_vectors_score_about_one_half():
    """Translations no closer than random words: SA ≈ 0.5 (the metric's neutral point)."""
    rng = np.random.default_rng(7)
    emb = rng.standard_normal((400, 64))
    concepts = [{"a": [2 * i], "b": [2 * i + 1]} for i in range(200)]
    assert semantic_affinity(emb, concepts).semantic_affinity == pytest.approx(0.5, abs=0.01)
