"""Exact ranking as a map-reduce over shards of the document pool (for Ray or any other engine).

    plan = plan_ranking(queries, gold, gold_vectors, n_docs=N, exclude=None, masks=None, top_k=0)
        driver, once: checks the inputs, scores every gold document exactly. gold_vectors[i] is the
        vector of the i-th entry of the gold lists read in order (only those rows are needed).
    partial = rank_shard(plan, shard_docs, shard_offset, *, chunk_size=8192, query_batch=1024, device=None)
        worker, once per shard: shard_docs = docs[shard_offset : shard_offset + len(shard_docs)].
        Returns a ShardPartial: per gold entry the count of the shard's documents scoring >= it
        (pessimistic rule, exclusions honoured, per mask too) and the shard's top-k.
    result = merge_partials(plan, partials)
        driver: sums the counts, merges the top-k lists; checks that the shards cover 0..N-1 once.
        Returns the same RankResult as gold_ranks, which is this map-reduce with one shard.

Why the sum over shards is the single-machine result bit for bit, by construction: every
comparison is between EXACT scores (exact.py: the exact dot product of the float32 vectors,
rounded to float32), never between two BLAS outputs. The gold thresholds are computed once, in the
plan, from the gold vectors alone; a shard decides "score(q, d) >= threshold" from its BLAS score
only when the proven BLAS error bound puts it clearly on one side, and scores the pair exactly
otherwise. So no block size, shard boundary, thread count, BLAS kernel or device can change a
single count, and identical vectors tie because their exact scores are equal. The top-k lists are
ordered by (exact score desc, global index asc), a total order the merge reproduces.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mteb_xalign.metrics.ranking import checks
from mteb_xalign.metrics.ranking.backends import make_backend
from mteb_xalign.metrics.ranking.plan import RankPlan, plan_ranking
from mteb_xalign.metrics.ranking.ranker import ShardPartial, merge_top, rank_block_loop
from mteb_xalign.metrics.ranking.result import RankResult

__all__ = ["RankPlan", "ShardPartial", "plan_ranking", "rank_shard", "merge_partials"]

# Counts are exact in a float32 BLAS product only below 2**24 columns per block.
_MAX_CHUNK = 2**24 - 1


def rank_shard(plan: RankPlan, shard_docs, shard_offset: int, *, chunk_size: int = 8192,
               query_batch: int = 1024, device=None) -> ShardPartial:
    """The map step: count and top-k over one shard (see the module docstring)."""
    docs = checks.float_matrix(shard_docs, "shard_docs")
    if docs.shape[1] != plan.queries.shape[1]:
        raise ValueError(f"queries have dimension {plan.queries.shape[1]} but docs have dimension {docs.shape[1]}")
    offset = int(shard_offset)
    if offset < 0 or offset + docs.shape[0] > plan.n_docs:
        raise ValueError(f"shard {offset}..{offset + docs.shape[0] - 1} lies outside the pool 0..{plan.n_docs - 1}")
    chunk_size = min(checks.positive_int("chunk_size", chunk_size), _MAX_CHUNK)
    query_batch = checks.positive_int("query_batch", query_batch)
    backend = make_backend(device)
    with backend.threads_for(plan.n_queries * docs.shape[0] * docs.shape[1]):
        return rank_block_loop(plan, docs, offset, backend, chunk_size=chunk_size, query_batch=query_batch)


def merge_partials(plan: RankPlan, partials: Sequence[ShardPartial]) -> RankResult:
    """The reduce step: the exact result over the whole pool from one partial per shard."""
    partials = sorted(partials, key=lambda p: p.offset)
    _check_cover(partials, plan.n_docs)
    counts = np.zeros((len(plan.gold.flat), 1 + len(plan.mask_names)), np.int64)
    for p in partials:
        if p.counts.shape != counts.shape or (plan.top_k and p.top_indices.shape != (plan.n_queries, plan.top_k)):
            raise ValueError(f"the partial of shard {p.offset}..{p.offset + p.n_docs - 1} was made for another plan")
        counts += p.counts
    mask_counts = counts[:, 1:] - _own_golds_in_masks(plan)
    top_i = top_s = None
    if plan.top_k:
        top_i, top_s = merge_top(plan.top_k, [p.top_indices for p in partials], [p.top_scores for p in partials])
    return RankResult(
        ranks=plan.gold.per_query(counts[:, 0].copy()),
        pool_sizes=(plan.n_docs - plan.exclude.lengths).astype(np.int64),
        n_relevant=plan.gold.lengths.astype(np.int64),
        mask_counts={name: plan.gold.per_query(np.ascontiguousarray(mask_counts[:, m]))
                     for m, name in enumerate(plan.mask_names)},
        mask_sizes=dict(zip(plan.mask_names, _mask_sizes(plan).T)),
        top_indices=top_i,
        top_scores=top_s,
    )


def _check_cover(partials, n_docs: int) -> None:
    """Every document in exactly one shard: a lost or repeated shard is an error, never a number."""
    expected = 0
    for p in partials:
        if p.n_docs == 0:  # an empty shard holds nothing to lose or repeat
            continue
        if p.offset != expected:
            what = "overlap" if p.offset < expected else "leave a gap"
            raise ValueError(f"shards {what} at document {min(p.offset, expected)}: each document must be "
                             f"in exactly one shard")
        expected = p.offset + p.n_docs
    if expected != n_docs:
        raise ValueError(f"shards cover documents 0..{expected - 1} but the pool has {n_docs}")


def _own_golds_in_masks(plan: RankPlan) -> np.ndarray:
    """Per gold entry and mask: the query's own gold documents in the mask scoring >= that entry.
    Their scores are exactly the thresholds, so this matches what the shards counted."""
    g = plan.gold
    q_of, slot = g.query_of_each(), g.slot_of_each()
    width = int(g.lengths.max(initial=1))
    T = np.full((plan.n_queries, width), -np.inf, np.float32)  # pads never count
    T[q_of, slot] = plan.gold_scores
    in_mask = np.zeros((plan.n_queries, width, len(plan.mask_names)), np.int64)
    in_mask[q_of, slot] = plan.masks[g.flat]
    beats = (T[q_of] >= plan.gold_scores[:, None]).astype(np.int64)  # [entry, other gold of its query]
    return np.einsum("ek,ekm->em", beats, in_mask[q_of])


def _mask_sizes(plan: RankPlan) -> np.ndarray:
    """(n_queries, n_masks): documents of each mask in the query's pool that are not its gold."""
    n_queries = plan.n_queries

    def per_query(lists):
        return np.stack([np.bincount(lists.query_of_each(), weights=plan.masks[lists.flat, m], minlength=n_queries)
                         for m in range(plan.masks.shape[1])], axis=1) if plan.masks.shape[1] else np.zeros((n_queries, 0))

    sizes = plan.masks.sum(axis=0)[None, :] - per_query(plan.exclude) - per_query(plan.gold)
    return np.rint(sizes).astype(np.int64)
