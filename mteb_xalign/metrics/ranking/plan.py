"""What every shard needs to rank its documents: queries, gold thresholds, exclusions, masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mteb_xalign.metrics.ranking import checks
from mteb_xalign.metrics.ranking.checks import IndexLists
from mteb_xalign.metrics.ranking.exact import exact_scores, gamma


@dataclass(frozen=True)
class RankPlan:
    """Everything but the document vectors: small, built once by the driver, sent to every shard."""

    queries: np.ndarray  # (n_queries, dim) float32, C-contiguous
    query_norms: np.ndarray  # float64 Euclidean norms, for the error bounds
    gold: IndexLists  # per query: its gold documents (global indices)
    gold_scores: np.ndarray  # float32, aligned with gold.flat: the exact score of each gold document
    exclude: IndexLists  # per query: documents out of its pool (global indices, sorted)
    mask_names: tuple[str, ...]
    masks: np.ndarray  # (n_docs, n_masks) bool
    top_k: int
    n_docs: int

    @property
    def n_queries(self) -> int:
        return self.queries.shape[0]


def plan_ranking(queries, gold, gold_vectors, *, n_docs: int, exclude=None, masks=None, top_k: int = 0) -> RankPlan:
    """Validate the inputs and score each gold document exactly.

    gold_vectors[i] is the vector of the i-th entry of the gold lists read in order (gold[0][0],
    gold[0][1], ..., gold[1][0], ...): the driver need not hold the pool, only these rows.
    """
    Q = checks.float_matrix(queries, "queries")
    n_docs = checks.positive_int("n_docs", n_docs) if n_docs else _no_pool()
    top_k = checks.non_negative_int("top_k", top_k)
    squared = np.einsum("ij,ij->i", Q, Q)
    checks.check_rows_finite(squared, Q, "queries")
    g = checks.index_lists(gold, "gold", Q.shape[0], n_docs, allow_empty=False)
    if exclude is None:
        e = IndexLists.empty(Q.shape[0])
    else:
        e = checks.index_lists(exclude, "exclude", Q.shape[0], n_docs, allow_empty=True, dedupe=True)
        checks.check_disjoint(g, e, n_docs)
    names, mask_matrix = checks.mask_matrix(masks, n_docs)
    G = checks.float_matrix(gold_vectors, "gold_vectors") if len(g.flat) else np.zeros((0, Q.shape[1]), np.float32)
    if G.shape != (len(g.flat), Q.shape[1]):
        raise ValueError(f"gold_vectors must have shape ({len(g.flat)}, {Q.shape[1]}) (one row per gold entry), "
                         f"got {G.shape}")
    # float64 sums of exact squares (a float32 square is exact in float64), without float64 copies
    query_norms = np.sqrt(np.einsum("ij,ij->i", Q, Q, dtype=np.float64))
    # A bound of every gold norm (the float64 sum of exact squares, then sqrt, err by gamma at most).
    gold_norm = float(np.sqrt(np.einsum("ij,ij->i", G, G, dtype=np.float64).max(initial=0.0)))
    gold_norm *= 1.0 + gamma(Q.shape[1] + 1, 2.0**-53)
    gold_scores = exact_scores(Q, G, g.query_of_each(), np.arange(len(g.flat)), query_norms, gold_norm)
    if not np.isfinite(gold_scores).all():
        raise ValueError("a gold score overflows float32; are the embeddings normalised?")
    return RankPlan(Q, query_norms, g, gold_scores, e, tuple(names), mask_matrix, top_k, n_docs)


def _no_pool():
    raise ValueError("docs is empty: there is no pool to rank against")
