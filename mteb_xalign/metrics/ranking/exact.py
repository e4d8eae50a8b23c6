"""The score of a (query, document) pair, defined so that no BLAS, block layout or shard can change it.

    score(q, d) = float32(fsum_i q_i * d_i)

the exact dot product of the two float32 vectors, rounded to float64 (math.fsum is exact) and then
to float32. It is a function of the two vectors alone, so identical vectors always tie, and every
machine, kernel, thread count, device and shard layout agrees on every comparison.

Computing it with fsum for every pair would be slow, so the ranking uses float32 BLAS scores and
their proven error bound (`sgemm_error`): a BLAS score further than the bound from a threshold
decides the comparison; the few within it are settled by `exact_scores`, which certifies a float64
dot product the same way and falls back to fsum only when even that cannot decide. So the float64
products may be computed any way at all (einsum, a BLAS matrix-vector product per query): the
certified result is the same.
"""

from __future__ import annotations

import math

import numpy as np

from mteb_xalign.metrics.ranking import fused

_U32 = 2.0**-24  # float32 unit roundoff
_U64 = 2.0**-53
_SAFETY = 1.0 + 2.0**-20  # covers the rounding of the bound's own float64 arithmetic
_PAIRS_PER_PIECE = 4096  # float64 gathers for exact_scores: memory bounded by this many rows
# The float64 dots by a compiled loop over the pairs (fused.float64_dots: no float64 copies of the
# rows); False: the numpy paths below (the tests check both against the definition).
FUSED_DOTS = True


def gamma(n: int, unit: float) -> float:
    """Higham's gamma_n = n u / (1 - n u): a dot product of length n, summed in ANY order (any
    blocking, SIMD lanes, FMA, split-K), is within gamma_n * sum|x_i y_i| of the exact value."""
    return n * unit / (1.0 - n * unit)


def sgemm_error(query_norms: np.ndarray, doc_norm_max: float, dim: int, input_rounding: float = 0.0) -> np.ndarray:
    """Per query: a bound on |BLAS float32 score - exact dot product| for any document of norm
    <= doc_norm_max (Cauchy-Schwarz: sum|q_i d_i| <= |q| |d|). input_rounding is the relative
    rounding of the inputs by the matmul unit (TF32 or bf16 on a GPU), 0 for true float32."""
    g = gamma(dim, _U32)
    rel = g + (1.0 + g) * (2.0 * input_rounding + input_rounding**2)
    # Absolute terms for underflow: products or sums flushed to zero (< 2**-126 each, 2 dim of
    # them), and subnormal inputs read as zero (|x_i| < 2**-126 times the other vector's entry).
    tiny = dim * 2.0**-124 + dim * 2.0**-125 * (np.asarray(query_norms, np.float64) + doc_norm_max)
    return (rel * np.asarray(query_norms, np.float64) * doc_norm_max + tiny) * _SAFETY


def norm_bound(max_squared_norm32: float, dim: int) -> float:
    """An upper bound of a vector norm from its squared norm as float32 einsum computed it."""
    return float(np.sqrt(max_squared_norm32 * (1.0 + 2.0 * gamma(dim, _U32)))) * _SAFETY


def round_up32(x: np.ndarray) -> np.ndarray:
    """The smallest float32 >= x (float64 in)."""
    y = np.asarray(x, np.float64).astype(np.float32)
    return np.where(y < x, np.nextafter(y, np.float32(np.inf)), y)


def round_down32(x: np.ndarray) -> np.ndarray:
    """The largest float32 <= x (float64 in)."""
    y = np.asarray(x, np.float64).astype(np.float32)
    return np.where(y > x, np.nextafter(y, np.float32(-np.inf)), y)


def band(thresholds: np.ndarray, error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) float32 limits around score thresholds t for BLAS scores s with |s - exact| <= error:
    s > hi   => exact > t          => score >= t (counted: rounding is monotone)
    s < lo   => exact < prev32(t)  => score <= prev32(t) < t (not counted)
    otherwise the pair is in the band and exact_scores decides. +inf thresholds stay +inf."""
    t = np.asarray(thresholds, np.float32)
    err = np.asarray(error, np.float64)
    hi = round_up32(t.astype(np.float64) + err)
    lo = round_down32(np.nextafter(t, np.float32(-np.inf)).astype(np.float64) - err)
    never = np.isposinf(t)
    return np.where(never, np.float32(np.inf), lo), np.where(never, np.float32(np.inf), hi)


def exact_scores(queries: np.ndarray, docs: np.ndarray, query_rows: np.ndarray, doc_rows: np.ndarray,
                 query_norms: np.ndarray | None = None, doc_norm_max: float | None = None) -> np.ndarray:
    """score(queries[query_rows[i]], docs[doc_rows[i]]) for every i, as float32 (see module docstring).

    A float64 dot product of float32 vectors has exact products, so any summation order is within
    gamma_n(float64) * |q| |d| of the exact value: about 1e-14 relative, against float32's 6e-8.
    query_norms (per query) and doc_norm_max bound |q| and |d| (computed from the rows when not given).
    """
    query_rows = np.asarray(query_rows, np.int64)
    doc_rows = np.asarray(doc_rows, np.int64)
    # The numpy path groups pairs by query, so that a query's pairs are one float64 matrix-vector
    # product (BLAS) and only the documents are gathered. The compiled one keeps the callers' order:
    # the ranker's pairs come block by block, so the documents are read nearly in pool order, not
    # swept over the whole pool once per query. The result does not depend on the order (see above).
    order = np.arange(len(query_rows)) if FUSED_DOTS else np.argsort(query_rows, kind="stable")
    rows_sorted, cols_sorted = query_rows[order], doc_rows[order]
    approx = _float64_dots(queries, docs, rows_sorted, cols_sorted)
    if query_norms is None:
        q_norm = np.sqrt(_float64_dots(queries, queries, rows_sorted, rows_sorted))
    else:
        q_norm = np.asarray(query_norms, np.float64)[rows_sorted]
    d_norm = np.sqrt(_float64_dots(docs, docs, cols_sorted, cols_sorted)) if doc_norm_max is None else doc_norm_max
    g = gamma(queries.shape[1], _U64)
    err = (g * q_norm * d_norm + 2.0**-1070) * _SAFETY * (1.0 + 4.0 * g)  # + the norms' own rounding
    low = np.nextafter(approx - err, -np.inf).astype(np.float32)
    high = np.nextafter(approx + err, np.inf).astype(np.float32)
    # The exact value lies between; both ends round alike => so does it. Else fsum decides.
    for i in np.flatnonzero(low != high):
        q, d = queries[rows_sorted[i]].astype(np.float64), docs[cols_sorted[i]].astype(np.float64)
        low[i] = np.float32(math.fsum((q * d).tolist()))
    out = np.empty(len(query_rows), np.float32)
    out[order] = low
    return out + np.float32(0.0)  # -0.0 -> +0.0: one bit pattern per score


def _float64_dots(left: np.ndarray, right: np.ndarray, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """left[left_rows[i]] . right[right_rows[i]] in float64 (left_rows sorted, for the numpy path).
    Products of float32 values are exact in float64; the sums, in whatever order BLAS or einsum
    takes, are within gamma_n(float64) of the exact value. Memory: at most _PAIRS_PER_PIECE
    gathered rows at a time."""
    if FUSED_DOTS:
        return fused.float64_dots(left, right, left_rows, right_rows)
    out = np.empty(len(left_rows), np.float64)
    starts = np.flatnonzero(np.diff(left_rows, prepend=-1)) if len(left_rows) else np.zeros(0, np.int64)
    if len(left_rows) < 8 * len(starts):  # a few pairs per row: one gathered einsum beats a loop
        for a in range(0, len(left_rows), _PAIRS_PER_PIECE):
            piece = slice(a, a + _PAIRS_PER_PIECE)
            out[piece] = np.einsum("ij,ij->i", left[left_rows[piece]].astype(np.float64),
                                   right[right_rows[piece]].astype(np.float64))
        return out
    for a, z in zip(starts, np.append(starts[1:], len(left_rows))):
        row = left[left_rows[a]].astype(np.float64)
        for b in range(a, z, _PAIRS_PER_PIECE):
            piece = slice(b, min(b + _PAIRS_PER_PIECE, z))
            out[piece] = right[right_rows[piece]].astype(np.float64) @ row
    return out
