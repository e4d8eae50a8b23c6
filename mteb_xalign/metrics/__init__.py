"""Pure-numpy metrics (no mteb): exact ranks, the Max@R family, mAP, Semantic Affinity."""

from mteb_xalign.metrics.ranking import RankResult, gold_ranks
from mteb_xalign.metrics.retrieval import (
    average_precision,
    complete_at_k,
    english_preference,
    max_at_r,
    max_at_r_norm,
    max_at_r_norm_of_mean,
    ndcg_at_1,
    outranked_by_mask,
    pessimistic_positions,
    reciprocal_rank,
    summarize,
)

__all__ = [
    "RankResult", "gold_ranks", "average_precision", "complete_at_k", "english_preference",
    "max_at_r", "max_at_r_norm", "max_at_r_norm_of_mean", "ndcg_at_1", "outranked_by_mask",
    "pessimistic_positions", "reciprocal_rank", "summarize",
]
