"""Generic ranges for score keys no task claims: mteb's stock metrics, by key pattern.

A task's own keys are checked by the rules it declares (`score_rules`, see
mteb_xalign.task_rules), which come first; these defaults cover keys of any task (mteb's
`ndcg_at_10`, `recall_at_100`, ...). Keys matched by no rule are not range-checked (mteb
adds many, e.g. `nauc_*`, which are NaN on tiny pools).
"""

from __future__ import annotations

import re

from mteb_xalign.task_rules import ScoreRule

UNIT = ScoreRule(0.0, 1.0)

DEFAULT_RULES: dict[str, ScoreRule] = {
    r"(ndcg|map|mrr|recall|precision|hit_rate)_at_\d+": UNIT,
    r"ndcg|map|mrr|accuracy|f1|precision|recall": UNIT,
    r"n_queries": ScoreRule(1, None, integer=True),
}


def rules_for(task) -> list[tuple[re.Pattern, ScoreRule]]:
    """The task's own `score_rules` first, then the defaults."""
    own = getattr(task, "score_rules", None) or {}
    ordered = list(own.items()) + [(k, v) for k, v in DEFAULT_RULES.items() if k not in own]
    return [(re.compile(pattern), rule) for pattern, rule in ordered]


def rule_for_key(rules: list[tuple[re.Pattern, ScoreRule]], key: str) -> ScoreRule | None:
    for pattern, rule in rules:
        if pattern.fullmatch(key):
            return rule
    return None
