"""What a valid score looks like, per metric key: range, integer-ness, where NaN is allowed.

Keys are matched by regular expression (first match wins), so `complete_at_11` and
`recall_at_1000` need no entry of their own. Keys no rule matches (mteb adds many, e.g.
`nauc_*`, which are NaN on tiny pools) are not range-checked. A task class may add or
override rules with a class attribute `score_rules = {regex: ScoreRule(...)}`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from mteb_xalign.leaderboard.subsets import parse_multiref_subset


def _never(subset: str, entry: dict) -> bool:
    return False


@dataclass(frozen=True)
class ScoreRule:
    low: float | None = None
    high: float | None = None
    integer: bool = False
    #: (subset name, the subset's scores) -> whether NaN (or null) is an allowed value there
    nan_allowed: Callable[[str, dict], bool] = _never
    why_nan: str = ""

    def expected(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.low is not None and self.high is not None:
            return f"{kind} in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{kind} >= {self.low:g}"
        return kind

    def check(self, subset: str, value, entry: dict) -> str | None:
        """None when `value` is fine; otherwise what was expected instead."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if self.nan_allowed(subset, entry):
                return None
            return self.expected() + (f" (NaN/null is {self.why_nan})" if self.why_nan else " (NaN/null is not allowed)")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.expected()
        if math.isinf(value):
            return self.expected()
        if self.integer and float(value) != int(value):
            return self.expected()
        # Scores are rounded to 6 decimals on disk: allow that much slack at the bounds.
        if self.low is not None and value < self.low - 1e-6:
            return self.expected()
        if self.high is not None and value > self.high + 1e-6:
            return self.expected()
        return None


def _english_preference_undefined(subset: str, entry: dict) -> bool:
    """English preference needs both gold copies in the pool and a non-pivot query.

    That is the Multi scenario queried in the non-pivot language (`multi_en+X_q-X`); in
    every other subset the task writes null.
    """
    parsed = parse_multiref_subset(subset)
    if parsed is None:
        return True  # not a MultiRefCLIR-style name: nothing to say about it
    return not (parsed.scenario == "multi" and parsed.query_lang != parsed.pivot
                and parsed.query_lang in parsed.doc_langs)


def _affinity_not_ok(subset: str, entry: dict) -> bool:
    """SA's task writes null spreads/ratios for a collapsed model, and NaN SA with no data."""
    return entry.get("status") in ("collapsed", "no_data")


def _affinity_no_data(subset: str, entry: dict) -> bool:
    return entry.get("status") == "no_data"


UNIT = ScoreRule(0.0, 1.0)
PERCENT = ScoreRule(0.0, 100.0)

DEFAULT_RULES: dict[str, ScoreRule] = {
    r"max_at_r_norm(_of_mean)?": PERCENT,
    r"max_at_r": ScoreRule(0.0, None),  # a rank (mean over queries): >= 1 in practice
    r"complete_at_\d+": UNIT,
    r"(ndcg|map|mrr|recall|precision|hit_rate)_at_\d+": UNIT,
    r"ndcg|map|mrr|accuracy": UNIT,
    r"english_preference": ScoreRule(
        0.0, 1.0, nan_allowed=_english_preference_undefined,
        why_nan="allowed only outside the multi_<pivot>+X_q-X subsets",
    ),
    r"n_queries": ScoreRule(1, None, integer=True),
    r"n_concepts": ScoreRule(0, None, integer=True),
    r"mean_pool_size": ScoreRule(1.0, None),
    r"semantic_affinity": ScoreRule(0.0, 1.0, nan_allowed=_affinity_no_data,
                                    why_nan='allowed only with status "no_data"'),
    r"semantic_affinity_(concept_mean|euclidean)": ScoreRule(0.0, 1.0, nan_allowed=_affinity_not_ok,
                                                             why_nan='allowed only with status "collapsed" or "no_data"'),
    r"semantic_ratio|sa_sem|sr_sem|sa_sem_euclidean|(horizontal|vertical)_(spread|sem)": ScoreRule(
        0.0, None, nan_allowed=_affinity_not_ok, why_nan='allowed only with status "collapsed" or "no_data"'),
    r"n_tuples|n_languages": ScoreRule(0, None, integer=True),
}


def rules_for(task) -> list[tuple[re.Pattern, ScoreRule]]:
    """The task's own `score_rules` first, then the defaults."""
    merged = {**DEFAULT_RULES}
    own = getattr(task, "score_rules", None) or {}
    ordered = list(own.items()) + [(k, v) for k, v in merged.items() if k not in own]
    return [(re.compile(pattern), rule) for pattern, rule in ordered]


def rule_for_key(rules: list[tuple[re.Pattern, ScoreRule]], key: str) -> ScoreRule | None:
    for pattern, rule in rules:
        if pattern.fullmatch(key):
            return rule
    return None
