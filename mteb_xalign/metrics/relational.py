"""Relational Affinity (RA), after Semanscope, in pure numpy.

A relation is a word pair (word1 -> word2: husband -> wife, big -> bigger) given in several
languages. With u = v / |v| (each word's L2-normalised embedding), the relation vector of
relation r in language l is R_l(r) = u(word2) - u(word1).

- Cross-lingual RA of languages a, b: the mean over relations r of cos(R_a(r), R_b(r)): 1 when
  every relation points the same way in both languages, about 0 for unrelated vectors (for
  isotropic random vectors in d dimensions each cosine has mean 0 and variance 1/d).
- Within-language consistency of language l: within each category, the mean over pairs r < s of
  cos(R_l(r), R_l(s)); then the mean over categories (each category one vote).

A zero relation vector has no direction and no cosine: that happens when a language gives the
same word for both sides (Turkish has one word for waiter and waitress) or when a model maps
both words to one vector (a constant model does so everywhere). Such a relation is *undefined*
in that language. It is left out of every comparison involving that language, for both
languages alike (never from one side only), and counted; when no relation is defined the score
is NaN, never a number.

The per-relation cosines are returned as an array (`RelationalResult.per_relation`, NaN where
undefined), so resampling relations (a bootstrap) needs no second pass over the vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: A relation vector shorter than this (between unit vectors: |R| lies in [0, 2]) is zero.
ZERO_EPS = 1e-6

STATUS_OK = "ok"
STATUS_PARTIAL = "partial"  # some relations undefined (zero vector in a language): left out, counted
STATUS_UNDEFINED = "undefined"  # no relation defined: RA is NaN


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)  # a zero embedding stays zero


def relation_vectors(word1: np.ndarray, word2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unit relation vectors, defined mask): R = u(word2) - u(word1), scaled to length 1 where it
    is not zero; rows whose R is zero (|R| <= ZERO_EPS) are zero and marked undefined."""
    a, b = _unit_rows(word1), _unit_rows(word2)
    if a.shape != b.shape:
        raise ValueError(f"word1 and word2 embeddings differ in shape: {a.shape} vs {b.shape}")
    r = b - a
    length = np.linalg.norm(r, axis=1)
    defined = length > ZERO_EPS
    r[defined] /= length[defined, None]
    r[~defined] = 0.0
    return r, defined


def relation_cosines(r_a: np.ndarray, defined_a: np.ndarray, r_b: np.ndarray, defined_b: np.ndarray) -> np.ndarray:
    """Per relation: cos(R_a(r), R_b(r)) from unit relation vectors; NaN where either is undefined."""
    cos = np.clip(np.einsum("ij,ij->i", r_a, r_b), -1.0, 1.0)
    return np.where(defined_a & defined_b, cos, np.nan)


@dataclass(frozen=True)
class RelationalResult:
    relational_affinity: float  # mean of the defined per-relation cosines; NaN if none
    per_relation: np.ndarray  # cos per relation, NaN where undefined
    n_relations: int
    n_defined: int
    status: str


def summarize(per_relation: np.ndarray) -> RelationalResult:
    per_relation = np.asarray(per_relation, dtype=np.float64)
    defined = ~np.isnan(per_relation)
    n_defined = int(defined.sum())
    if n_defined == 0:
        return RelationalResult(float("nan"), per_relation, len(per_relation), 0, STATUS_UNDEFINED)
    status = STATUS_OK if n_defined == len(per_relation) else STATUS_PARTIAL
    return RelationalResult(float(per_relation[defined].mean()), per_relation, len(per_relation), n_defined, status)


def cross_lingual_ra(word1_a: np.ndarray, word2_a: np.ndarray, word1_b: np.ndarray,
                     word2_b: np.ndarray) -> RelationalResult:
    """RA between languages a and b: row r of each array is relation r's word embedding."""
    r_a, d_a = relation_vectors(word1_a, word2_a)
    r_b, d_b = relation_vectors(word1_b, word2_b)
    if r_a.shape != r_b.shape:
        raise ValueError(f"the two languages have different numbers of relations: {r_a.shape} vs {r_b.shape}")
    return summarize(relation_cosines(r_a, d_a, r_b, d_b))


@dataclass(frozen=True)
class ConsistencyResult:
    consistency: float  # mean over categories of the mean pairwise cosine; NaN if no category has two
    per_category: dict[str, float]  # NaN where a category has fewer than two defined relations
    n_pairs: int


def within_language_consistency(word1: np.ndarray, word2: np.ndarray, categories: Sequence[str]) -> ConsistencyResult:
    """Mean pairwise cosine of one language's defined relation vectors within each category, then the
    mean over categories."""
    r, defined = relation_vectors(word1, word2)
    categories = np.asarray(list(categories), dtype=object)
    if len(categories) != len(r):
        raise ValueError(f"{len(categories)} categories for {len(r)} relations")
    per_category: dict[str, float] = {}
    n_pairs = 0
    for category in dict.fromkeys(categories.tolist()):
        rows = r[(categories == category) & defined]
        k = len(rows)
        if k < 2:
            per_category[category] = float("nan")
            continue
        # sum over pairs r < s of R_r . R_s = (|sum R|^2 - sum |R|^2) / 2, with |R| = 1
        total = rows.sum(0)
        pairs = k * (k - 1) / 2
        per_category[category] = float((total @ total - k) / 2.0 / pairs)
        n_pairs += int(pairs)
    values = [v for v in per_category.values() if not np.isnan(v)]
    return ConsistencyResult(float(np.mean(values)) if values else float("nan"), per_category, n_pairs)
