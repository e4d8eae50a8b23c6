"""Pure numpy metrics (no mteb): exact ranks, the Max@R family, mAP, Semantic Affinity."""

from mteb_xalign.metrics.ranking import RankResult, gold_ranks
from mteb_xalign.metrics.retrieval import (
    DEFAULT_KS,
    average_precision,
    complete_at_k,
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

__all__ = [
    "DEFAULT_KS", "RankResult", "gold_ranks", "average_precision", "complete_at_k", "language_preference",
    "language_preference_chance", "max_at_r", "max_at_r_norm", "max_at_r_norm_of_mean", "ndcg_at_1_pessimistic",
    "outranked_by_mask", "pessimistic_positions", "reciprocal_rank", "summarize",
]
