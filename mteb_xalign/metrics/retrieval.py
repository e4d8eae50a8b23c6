"""Retrieval metrics from gold ranks: the Max@R family, MRR, NDCG@1, AP/mAP, Complete@K, and the
language preference of multi-language pools.

All functions are pure functions of a RankResult (see ranking/ for the pessimistic tie rule:
rank(g) = #{d in pool : s(d) >= s(g)}). Per-query functions return arrays; `summarize` means.
Scores are on 0-1 (mteb's convention; displays multiply by 100). No key is named like one of mteb's
stock retrieval scores (ndcg_at_k, map_at_k, ...): mteb breaks ties its own way, so a key with its
name would have to equal its number, and ours follow the pessimistic rule instead.

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

# The cut-offs of complete_at_k reported by every task (a task may add its own, e.g. LAReQA's 11).
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
    """(log2 |D| - log2 Max@R) / (log2 |D| - log2 |R|) in [0, 1]; NaN when |D| <= |R|: with nothing to rank
    it is 0/0, and any value (1.0 above all) would call every model, a constant one included, perfect."""
    max_r, pool, n_rel = (np.asarray(x, np.float64) for x in (max_r, pool, n_rel))
    span = np.log2(pool) - np.log2(n_rel)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (np.log2(pool) - np.log2(max_r)) / span
    return np.where(span > 0, value, np.nan)


def check_something_to_rank(res: RankResult) -> None:
    """Refuse a query whose pool is no larger than its gold set: every metric would be perfect for any
    model. The data readers refuse such pools first; this guards every other caller of `summarize`."""
    degenerate = np.flatnonzero(np.asarray(res.pool_sizes) <= np.asarray(res.n_relevant))
    if len(degenerate):
        q = int(degenerate[0])
        raise ValueError(f"query {q} has a pool of {int(res.pool_sizes[q])} document(s) and {int(res.n_relevant[q])} "
                         f"gold: nothing to rank, every metric would be perfect for any model "
                         f"({len(degenerate)} such quer{'y' if len(degenerate) == 1 else 'ies'})")


def max_at_r_norm(res: RankResult) -> np.ndarray:
    """Per query Max@R normalised to [0, 1]: 1 = all gold documents on top, 0 = the last one last;
    NaN for a query whose pool is its gold set (undefined)."""
    return _norm(max_at_r(res), res.pool_sizes, res.n_relevant)


def max_at_r_norm_of_mean(res: RankResult, *, nominal_pool: float | None = None) -> float:
    """The normalisation (0-1) applied to the mean Max@R, as the paper's tables report it.

    |R| is the query mean of the number of gold documents. |D| is `nominal_pool` when given (the
    paper's per-question pool uses |D| = 2 x #questions, although each query's own duplicates are
    left out of its pool), else the query mean of the pool sizes (exact when every query has the
    same pool; an approximation when they vary, e.g. under exclusions).
    """
    pool = np.mean(res.pool_sizes) if nominal_pool is None else float(nominal_pool)
    mean_max_r = max_at_r(res).mean()
    if nominal_pool is not None and not (max(mean_max_r, np.mean(res.n_relevant)) <= pool):
        raise ValueError(f"nominal_pool {nominal_pool} is smaller than the mean Max@R ({mean_max_r:g}) "
                         f"or the mean number of gold documents")
    return float(_norm(mean_max_r, pool, np.mean(res.n_relevant)))


def complete_at_k(res: RankResult, k: int) -> np.ndarray:
    """Per query: True when every gold document is within the first k (Max@R <= k)."""
    return max_at_r(res) <= k


def _positions_flat(res: RankResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every query's gold positions (1-based, ascending within the query), concatenated; each
    query's start offset; and each gold's 1-based index i within its query."""
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
    return r - c + i, starts, i


def pessimistic_positions(res: RankResult) -> list[np.ndarray]:
    """Per query: positions (1-based, ascending) of its gold documents in the pessimistic ordering."""
    positions, starts, _ = _positions_flat(res)
    bounds = np.append(starts, len(positions)).tolist()
    return [positions[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


# The three list metrics below work on the flat arrays (one numpy pass, not one per query: a
# MultiRefCLIR run scores ~90k queries); tests check them against per-query brute force.
def reciprocal_rank(res: RankResult) -> np.ndarray:
    """Per query: 1 / position of the first gold document (untruncated)."""
    positions, starts, _ = _positions_flat(res)
    return 1.0 / positions[starts]


def ndcg_at_1_pessimistic(res: RankResult) -> np.ndarray:
    """Per query, binary relevance: 1.0 when the first position of the pessimistic ordering holds a
    gold document (a gold tied with an irrelevant document at the top gets 0)."""
    positions, starts, _ = _positions_flat(res)
    return (positions[starts] == 1).astype(np.float64)


def average_precision(res: RankResult) -> np.ndarray:
    """Per query AP over the full pool (LAReQA/XTREME style): mean over golds of i / position_i."""
    positions, starts, i = _positions_flat(res)
    lengths = np.diff(np.append(starts, len(positions)))
    values = i / positions
    out = np.empty(len(starts))
    # One row per query, grouped by list length: a row mean sums as the query's own np.mean would
    # (np.add.reduceat sums in another order and moves the last bit of shipped results).
    for length in np.unique(lengths):
        queries = np.flatnonzero(lengths == length)
        out[queries] = values[starts[queries, None] + np.arange(length)].mean(axis=1)
    return out


def per_query_values(res: RankResult, ks=DEFAULT_KS) -> dict[str, np.ndarray]:
    """Per query, as float64, every metric whose query mean `summarize` reports (under its key).
    A query with nothing to rank (pool no larger than its gold set) is a ValueError."""
    check_something_to_rank(res)
    max_r = max_at_r(res)
    out = {"max_at_r": max_r.astype(np.float64), "max_at_r_norm": _norm(max_r, res.pool_sizes, res.n_relevant)}
    for k in ks:
        out[f"complete_at_{k}"] = (max_r <= k).astype(np.float64)
    out["ndcg_at_1_pessimistic"] = ndcg_at_1_pessimistic(res)
    out["mrr"] = reciprocal_rank(res)
    out["map"] = average_precision(res)
    return out


def summarize(res: RankResult, ks=DEFAULT_KS, prefix: str = "", *, nominal_pool: float | None = None,
              values: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Query means of every metric, as plain floats, all on 0-1 except the counts and Max@R
    (`nominal_pool`: see max_at_r_norm_of_mean; `values`: `per_query_values(res, ks)` if already
    computed: each key's score is the plain mean of its per-query values)."""
    values = per_query_values(res, ks) if values is None else values
    out = {key: float(value.mean()) for key, value in values.items()}
    out = {"max_at_r": out.pop("max_at_r"), "max_at_r_norm": out.pop("max_at_r_norm"),  # the keys' usual order
           "max_at_r_norm_of_mean": max_at_r_norm_of_mean(res, nominal_pool=nominal_pool), **out}
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


def language_preference_indicator(res: RankResult, other_language_mask: str,
                                  same_language_gold_pos: np.ndarray | int = 0,
                                  applies: np.ndarray | None = None) -> np.ndarray:
    """Per applicable query, 1.0 when its same-language gold is outranked or tied by >= 1 irrelevant
    document of the mask, else 0.0: `language_preference` is its mean."""
    applies = np.ones(res.n_queries, bool) if applies is None else np.asarray(applies, bool)
    if applies.shape != (res.n_queries,):
        raise ValueError(f"applies must have shape ({res.n_queries},), got {applies.shape}")
    # Queries that do not apply may have no same-language gold: look at their first gold instead.
    pos = np.where(applies, np.broadcast_to(np.asarray(same_language_gold_pos, np.int64), applies.shape), 0)
    return outranked_by_mask(res, other_language_mask, pos)[applies].astype(np.float64)


def language_preference(res: RankResult, other_language_mask: str, same_language_gold_pos: np.ndarray | int = 0,
                        applies: np.ndarray | None = None) -> float:
    """Share of the (applicable) queries whose same-language gold document is outranked or tied by
    >= 1 irrelevant document of the mask, the other language of the pool: on a query in X over an
    English + X pool with the English mask, this is the English preference; with the X mask and an
    English query, its mirror. NaN when no query applies."""
    indicator = language_preference_indicator(res, other_language_mask, same_language_gold_pos, applies)
    return float(indicator.mean()) if len(indicator) else math.nan


def language_preference_chance(res: RankResult, other_language_mask: str, applies: np.ndarray | None = None) -> float:
    """language_preference of a random model: the mean over queries of 1 - 1/(n + 1), n = the
    irrelevant documents of the mask in the query's pool. With continuous random scores the n + 1
    scores of those documents and of the gold are exchangeable, so the gold is above all of them
    with probability 1/(n + 1). NaN when no query applies."""
    if other_language_mask not in res.mask_sizes:
        raise KeyError(f"mask {other_language_mask!r} was not computed; gold_ranks had masks {sorted(res.mask_sizes)}")
    applies = np.ones(res.n_queries, bool) if applies is None else np.asarray(applies, bool)
    if not applies.any():
        return math.nan
    n = np.asarray(res.mask_sizes[other_language_mask], np.float64)[applies]
    return float(np.mean(1.0 - 1.0 / (n + 1.0)))

