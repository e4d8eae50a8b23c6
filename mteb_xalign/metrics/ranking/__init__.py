"""Exact ranks of every gold document over a full pool, in memory bounded by one score block.

Tie rule (the only one used anywhere in mteb_xalign), pessimistic:

    rank(g) = #{d in pool_q : score(q, d) >= score(q, g)}

so a gold document is placed after every document it ties with, and a model that gives every
document the same score gets rank |D_q| for every gold document (never a lucky rank).

score(q, d) is the exact dot product of the two float32 vectors, rounded to float32 (exact.py):
a function of the two vectors alone, so identical vectors always tie and no BLAS kernel, thread
count, block size, device or shard layout can change a rank. It is computed with float32 BLAS
blocks and their proven error bound; only pairs too close to call are re-scored exactly.

Modules: checks (input validation), exact (the score and its error bounds), backends (numpy /
torch block operations), ranker (the block loop of one shard), plan + sharded (the map-reduce:
plan_ranking, rank_shard, merge_partials), result (RankResult). gold_ranks is the map-reduce
with a single shard.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mteb_xalign.metrics.ranking import checks
from mteb_xalign.metrics.ranking.result import RankResult
from mteb_xalign.metrics.ranking.sharded import merge_partials, plan_ranking, rank_shard

__all__ = ["RankResult", "gold_ranks"]


def gold_ranks(
    queries: np.ndarray,
    docs: np.ndarray,
    gold: Sequence[Sequence[int]],
    *,
    exclude: Sequence[Sequence[int]] | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    top_k: int = 0,
    chunk_size: int = 8192,
    query_batch: int = 1024,
    device: str | None = None,
) -> RankResult:
    """Rank every gold document of every query against that query's whole pool; score = dot product.

    queries (n_queries, dim) and docs (n_docs, dim) are float32 (other float dtypes are converted,
    which copies). gold[q] lists the indices of q's relevant documents (non-empty, no repeats).
    exclude[q] lists documents removed from q's pool (neither counted nor returned); it may not
    contain a gold document of q. masks maps a name to a boolean array over docs; see RankResult.

    Memory is bounded by query_batch x chunk_size scores, never by the pool. device None/"cpu"
    runs numpy; "cuda", "cuda:N", "mps" run the same algorithm in torch on that device;
    "torch-cpu" runs torch on the CPU; "auto" picks the best there is. Every device gives the
    same result, bit for bit.
    """
    Q = checks.float_matrix(queries, "queries")
    D = checks.float_matrix(docs, "docs")
    if D.shape[1] != Q.shape[1]:
        raise ValueError(f"queries have dimension {Q.shape[1]} but docs have dimension {D.shape[1]}")
    if D.shape[0] == 0:
        raise ValueError("docs is empty: there is no pool to rank against")
    gold_lists = checks.index_lists(gold, "gold", Q.shape[0], D.shape[0], allow_empty=False)
    plan = plan_ranking(Q, gold, D[gold_lists.flat], n_docs=D.shape[0], exclude=exclude, masks=masks, top_k=top_k)
    partial = rank_shard(plan, D, 0, chunk_size=chunk_size, query_batch=query_batch, device=device)
    return merge_partials(plan, [partial])
