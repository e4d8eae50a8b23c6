"""Checks between the score keys of one subset that every honest result passes.

Each is a bound that follows from the definitions alone, whatever the model: per query,
Max@R_q lies in [|R|, |D|], and the reported keys are query means. A result whose keys
contradict each other (say Max@R_norm raised to 1 while Max@R stays 30) fails one of them.
Values on disk may be rounded (mteb keeps full floats; we allow 1e-6 absolute slack plus a
relative 1e-6 on ranks), so the checks never flag an honest result.
"""

from __future__ import annotations

import math
import re

TOL = 1e-6
_COMPLETE = re.compile(r"complete_at_(\d+)")


def _number(scores: dict, key: str) -> float | None:
    value = scores.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def norm(max_r: float, pool: float, n_gold: float) -> float:
    """Max@R_norm (0-1) of one Max@R: (log2 |D| - log2 Max@R) / (log2 |D| - log2 |R|)."""
    if pool <= n_gold:
        return 1.0
    return (math.log2(pool) - math.log2(max_r)) / (math.log2(pool) - math.log2(n_gold))


def retrieval_problems(scores: dict, *, n_gold: float = 1.0, pool_size: float | None = None,
                       same_pool_for_every_query: bool = False, same_gold_count: bool = True,
                       mean_gold: float | None = None) -> list[str]:
    """Bounds between the Max@R family, complete_at_k, MRR, mAP and nDCG@1 of one subset.

    `n_gold`: |R| (with `same_gold_count`), else the fewest gold documents any query has;
    `mean_gold`: the mean |R| over queries when known (default: `n_gold` if `same_gold_count`);
    `pool_size`: |D| (with `same_pool_for_every_query`), else the mean pool size.
    """
    problems: list[str] = []
    if mean_gold is None and same_gold_count:
        mean_gold = n_gold
    problems += _perfect_problems(scores, mean_gold)
    max_r = _number(scores, "max_at_r")
    pool = pool_size if pool_size is not None else _number(scores, "mean_pool_size")
    rank_slack = TOL * max(1.0, max_r or 1.0)

    completes = sorted((int(m[1]), v) for key in scores if (m := _COMPLETE.fullmatch(key))
                       and (v := _number(scores, key)) is not None)
    for (k1, c1), (k2, c2) in zip(completes, completes[1:]):
        if c1 > c2 + TOL:
            problems.append(f"complete_at_{k1} ({c1:g}) exceeds complete_at_{k2} ({c2:g}): a query complete "
                            f"within the first {k1} is complete within the first {k2}")
    if max_r is not None:
        if max_r < n_gold - rank_slack:
            problems.append(f"max_at_r ({max_r:g}) is below the number of gold documents per query ({n_gold:g})")
        if pool is not None and max_r > pool + rank_slack:
            problems.append(f"max_at_r ({max_r:g}) exceeds the pool size ({pool:g})")
        for k, c in completes:
            # A share c of queries has Max@R <= k (and >= |R|), the rest has Max@R in [k + 1, |D|].
            low = c * min(n_gold, k) + (1 - c) * (k + 1)
            if max_r < low - rank_slack - TOL * k:
                problems.append(f"max_at_r ({max_r:g}) is below {low:g}, the least it can be when only a share "
                                f"{c:g} of queries is complete within {k} (complete_at_{k})")
            if pool is not None and same_pool_for_every_query:
                high = c * k + (1 - c) * pool
                if max_r > high + rank_slack + TOL * pool:
                    problems.append(f"max_at_r ({max_r:g}) exceeds {high:g}, the most it can be when a share "
                                    f"{c:g} of queries is complete within {k} (complete_at_{k})")
        mrr = _number(scores, "mrr")
        if mrr is not None and max_r > 0 and mrr < 1 / max_r - TOL:
            # 1/position of the first gold >= 1/Max@R per query, and mean(1/x) >= 1/mean(x).
            problems.append(f"mrr ({mrr:g}) is below 1/max_at_r ({1 / max_r:g})")
    complete_1 = _number(scores, "complete_at_1")
    for key in ("ndcg_at_1_pessimistic", "mrr"):
        value = _number(scores, key)
        if complete_1 is not None and value is not None and complete_1 > value + TOL:
            problems.append(f"complete_at_1 ({complete_1:g}) exceeds {key} ({value:g}): a query complete at 1 "
                            "has its gold document first")
    ndcg_1, mrr = _number(scores, "ndcg_at_1_pessimistic"), _number(scores, "mrr")
    if ndcg_1 is not None and mrr is not None and ndcg_1 > mrr + TOL:
        problems.append(f"ndcg_at_1_pessimistic ({ndcg_1:g}) exceeds mrr ({mrr:g})")

    normed = _number(scores, "max_at_r_norm")
    if max_r is not None and normed is not None and pool is not None and same_pool_for_every_query \
            and same_gold_count and pool > n_gold and max_r >= n_gold - rank_slack:
        mean_r = min(max(max_r, n_gold), pool)
        # The per-query norm is convex and decreasing in Max@R: Jensen gives the lower bound;
        # the upper one puts every query at |R| or |D| with the same mean Max@R.
        low = norm(mean_r, pool, n_gold)
        high = (pool - mean_r) / (pool - n_gold)
        slack = TOL + 1e-5 * (1 + max_r)  # ranks may be rounded to 6 decimals
        if not (low - slack <= normed <= high + slack):
            problems.append(f"max_at_r_norm ({normed:g}) is outside [{low:.6f}, {high:.6f}], the range "
                            f"max_at_r = {max_r:g} allows with |D| = {pool:g} and |R| = {n_gold:g}")
    return problems


def _perfect_problems(scores: dict, mean_gold: float | None) -> list[str]:
    """A query is perfect (Max@R = |R|) iff its AP is 1 iff its Max@R_norm is 1, and Max@R >= |R|
    per query: so mean Max@R = mean |R| iff map = 1 iff max_at_r_norm = 1 (over the whole subset)."""
    max_r = _number(scores, "max_at_r")
    if max_r is None or mean_gold is None:
        return []
    problems = []
    if max_r < mean_gold - TOL * max(1.0, mean_gold):
        problems.append(f"max_at_r ({max_r:g}) is below the mean number of gold documents ({mean_gold:g})")
    imperfect = max_r > mean_gold + TOL * max(1.0, max_r)
    for key in ("map", "max_at_r_norm"):
        value = _number(scores, key)
        if value is not None and imperfect and value >= 1 - 1e-9:
            problems.append(f"{key} is 1 (every gold document on top) but max_at_r ({max_r:g}) exceeds the mean "
                            f"number of gold documents ({mean_gold:g})")
    return problems


def norm_of_mean_problem(scores: dict, *, pool: float, n_gold: float) -> list[str]:
    """max_at_r_norm_of_mean is the normalisation of max_at_r with the given |D| and |R|."""
    max_r, value = _number(scores, "max_at_r"), _number(scores, "max_at_r_norm_of_mean")
    if max_r is None or value is None or max_r <= 0:
        return []
    expected = norm(max_r, pool, n_gold)
    if abs(value - expected) > 1e-4:
        return [f"max_at_r_norm_of_mean ({value:g}) differs from {expected:.6f}, the normalisation of "
                f"max_at_r = {max_r:g} with |D| = {pool:g} and |R| = {n_gold:g}"]
    return []


def equal_count_problem(scores: dict, key: str, expected: float, what: str) -> list[str]:
    value = _number(scores, key)
    if value is not None and abs(value - expected) > TOL * max(1.0, expected):
        return [f"{key} ({value:g}) differs from {what} ({expected:g})"]
    return []


def affinity_problems(scores: dict) -> list[str]:
    """SA = 1/(1+SR) and SR = V/H, as the task computes them."""
    problems: list[str] = []
    sa, sr = _number(scores, "semantic_affinity"), _number(scores, "semantic_ratio")
    if sa is not None and sr is not None and abs(sa - 1 / (1 + sr)) > 1e-5:
        problems.append(f"semantic_affinity ({sa:g}) differs from 1/(1+semantic_ratio) = {1 / (1 + sr):.6f}")
    v, h = _number(scores, "vertical_spread"), _number(scores, "horizontal_spread")
    if sr is not None and v is not None and h is not None and h > 0 and abs(sr - v / h) > 1e-5 * max(1.0, sr):
        problems.append(f"semantic_ratio ({sr:g}) differs from vertical_spread/horizontal_spread = {v / h:.6f}")
    return problems

