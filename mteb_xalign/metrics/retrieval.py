"""Retrieval metrics from gold ranks: the Max@R family, MRR, NDCG@1, AP/mAP, Complete@K.

All functions are pure functions of a RankResult (see ranking.py for the pessimistic tie rule:
rank(g) = #{d in pool : s(d) >= s(g)}). Per-query functions return arrays; `summarize` means.

List metrics (MRR, NDCG@1, AP) need positions in one ordering of the pool. We use the ordering the
tie rule implies: on ties, irrelevant documents come first. Gold documents tied with each other
take consecutive positions, so a perfect model whose gold documents tie at the top still gets
AP = MRR = 1. From the ranks alone: if the golds of a query are sorted by rank r_1 <= ... <= r_n
and c_i = #{j : r_j <= r_i}, the i-th gold sits at position p_i = r_i - c_i + i. For the worst
gold p_n = r_n, i.e. Max@R; for a constant-score model p_i = |D| - |R| + i.
"""

from __future__ import annotations

import math

import numpy as np

from mteb_xalign.metrics.ranking import RankResult

DEFAULT_KS = (1, 5, 10, 20, 100)


def _flat(res: RankResult) -> tuple[np.ndarray, np.ndarray]:
    """All gold ranks concatenated, and each query's start offset."""
    if res.n_queries == 0:
        raise ValueError("the RankResult holds no queries")
    lengths = np.array([len(r) for r in res.ranks], np.int64)
    if (lengths == 0).any():
        raise ValueError(f"query {int(np.flatnonzero(lengths == 0)[0])} has no gold document")
    starts = np.zeros(len(lengths), np.int64)
    starts[1:] = np.cumsum(lengths)[:-1]
    return np.concatenate(res.ranks).astype(np.int64), starts


def max_at_r(res: RankResult) -> np.ndarray:
    """Per query: the worst (largest) rank among its gold documents."""
    flat, starts = _flat(res)
    return np.maximum.reduceat(flat, starts)


def _norm(max_r, pool, n_rel):
    """100 (log2 |D| - log2 Max@R) / (log2 |D| - log2 |R|); 100 when |D| == |R| (nothing to rank)."""
    max_r, pool, n_rel = (np.asarray(x, np.float64) for x in (max_r, pool, n_rel))
    span = np.log2(pool) - np.log2(n_rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 * ((np.log2(pool) - np.log2(max_r)) / span)  # ratio first: exactly 100 at best
    return np.where(span > 0, value, 100.0)


def max_at_r_norm(res: RankResult) -> np.ndarray:
    """Per query Max@R normalised to 0..100: 100 = all gold documents on top, 0 = the last one last."""
    return _norm(max_at_r(res), res.pool_sizes, res.n_relevant)


def max_at_r_norm_of_mean(res: RankResult) -> float:
    """The normalisation applied to the mean Max@R, as the paper's tables report it.

    |D| and |R| are the query means of pool size and number of gold documents (identical for every
    query in the paper's protocol; an approximation when they vary, e.g. under exclusions).
    """
    return float(_norm(max_at_r(res).mean(), np.mean(res.pool_sizes), np.mean(res.n_relevant)))


def complete_at_k(res: RankResult, k: int) -> np.ndarray:
    """Per query: True when every gold document is within the first k (Max@R <= k)."""
    return max_at_r(res) <= k


def pessimistic_positions(res: RankResult) -> list[np.ndarray]:
    """Per query: positions (1-based, ascending) of its gold documents in the pessimistic ordering."""
    flat, starts = _flat(res)
    query = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(flat))))
    order = np.lexsort((flat, query))
    r, q = flat[order], query[order]
    i = np.arange(len(r)) - starts[q] + 1
    # c_i = number of golds of the query with rank <= r_i = 1-based index of the last of its tie run.
    last_of_run = np.ones(len(r), bool)
    last_of_run[:-1] = (r[1:] != r[:-1]) | (q[1:] != q[:-1])
    run_end = np.minimum.accumulate(np.where(last_of_run, np.arange(len(r)), len(r))[::-1])[::-1]
    c = run_end - starts[q] + 1
    positions = r - c + i
    bounds = np.append(starts, len(positions)).tolist()
    return [positions[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def reciprocal_rank(res: RankResult) -> np.ndarray:
    """Per query: 1 / position of the first gold document (untruncated)."""
    return np.array([1.0 / p[0] for p in pessimistic_positions(res)])


def ndcg_at_1(res: RankResult) -> np.ndarray:
    """Per query, binary relevance: 1.0 when the first position holds a gold document."""
    return np.array([float(p[0] == 1) for p in pessimistic_positions(res)])


def average_precision(res: RankResult) -> np.ndarray:
    """Per query AP over the full pool (LAReQA/XTREME style): mean over golds of i / position_i."""
    return np.array([float(np.mean(np.arange(1, len(p) + 1) / p)) for p in pessimistic_positions(res)])


def summarize(res: RankResult, ks=DEFAULT_KS, prefix: str = "") -> dict[str, float]:
    """Query means of every metric, as plain floats (Max@R_norm 0..100; shares and MRR 0..1)."""
    out = {
        "max_at_r": float(max_at_r(res).mean()),
        "max_at_r_norm": float(max_at_r_norm(res).mean()),
        "max_at_r_norm_of_mean": max_at_r_norm_of_mean(res),
    }
    for k in ks:
        out[f"complete_at_{k}"] = float(complete_at_k(res, k).mean())
    out["ndcg_at_1"] = float(ndcg_at_1(res).mean())
    out["mrr"] = float(reciprocal_rank(res).mean())
    out["map"] = float(average_precision(res).mean())
    out["n_queries"] = float(res.n_queries)
    out["mean_pool_size"] = float(np.mean(res.pool_sizes))
    return {prefix + key: value for key, value in out.items()}


def outranked_by_mask(res: RankResult, mask_name: str, gold_pos: np.ndarray | int) -> np.ndarray:
    """Per query: True when >= 1 document of the mask (not gold, not excluded) scores >= the gold
    document at position gold_pos of that query's gold list (ties count, as everywhere)."""
    if mask_name not in res.mask_counts:
        raise KeyError(f"mask {mask_name!r} was not computed; gold_ranks had masks {sorted(res.mask_counts)}")
    pos = np.broadcast_to(np.asarray(gold_pos, np.int64), (res.n_queries,))
    counts = res.mask_counts[mask_name]
    out = np.zeros(res.n_queries, bool)
    for q in range(res.n_queries):
        if not 0 <= pos[q] < len(counts[q]):
            raise IndexError(f"gold position {int(pos[q])} is out of range for query {q} "
                             f"with {len(counts[q])} gold documents")
        out[q] = counts[q][pos[q]] >= 1
    return out


def english_preference(res: RankResult, mask_name: str, same_language_gold_pos: np.ndarray | int,
                       applies: np.ndarray) -> float:
    """Share of the applicable queries whose same-language gold document is outranked (or tied) by
    >= 1 document of the mask (the irrelevant English documents). NaN when no query applies."""
    applies = np.asarray(applies, bool)
    if applies.shape != (res.n_queries,):
        raise ValueError(f"applies must have shape ({res.n_queries},), got {applies.shape}")
    if not applies.any():
        return math.nan
    pos = np.broadcast_to(np.asarray(same_language_gold_pos, np.int64), (res.n_queries,))
    sub = RankResult(
        ranks=[res.ranks[q] for q in np.flatnonzero(applies)],
        pool_sizes=res.pool_sizes[applies],
        n_relevant=res.n_relevant[applies],
        mask_counts={mask_name: [res.mask_counts[mask_name][q] for q in np.flatnonzero(applies)]}
        if mask_name in res.mask_counts else {},
    )
    return float(outranked_by_mask(sub, mask_name, pos[applies]).mean())
