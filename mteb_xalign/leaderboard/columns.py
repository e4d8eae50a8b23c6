"""The leaderboard's columns: which task, score key and subsets each one averages.

validate.py requires every key a column reads (in the subsets it reads), so a submission
that passes validation always fills its columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from mteb_xalign.leaderboard.subsets import multi_target_language


@dataclass(frozen=True)
class Column:
    id: str
    task: str
    key: str
    selects: Callable[[str], bool]  # subset name -> is it averaged into this column
    label: str
    title: str  # tooltip: what the number is
    scale: float = 1.0  # stored value x scale = shown value
    decimals: int = 1
    #: True: higher is better; False: lower is better; None: neither (a diagnostic)
    higher_is_better: bool | None = True


def _regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda subset: compiled.fullmatch(subset) is not None


def _is_multi_target(subset: str) -> bool:
    return multi_target_language(subset) is not None


MAXR = Column(
    id="maxr_norm", task="MultiRefCLIR", key="max_at_r_norm", selects=_is_multi_target,
    label="MultiRefCLIR Max@R_norm",
    title="Mean Max@R_norm (0-100, higher is better) over the Multi scenario with target-language "
          "queries: pools of English + X paragraphs, queries in X, subsets multi_en+X_q-X",
)
ENGLISH_PREFERENCE = Column(
    id="english_preference", task="MultiRefCLIR", key="english_preference", selects=_is_multi_target,
    label="English preference %", scale=100.0, higher_is_better=False,
    title="Share of queries (%) whose same-language relevant paragraph is outranked by an unrelated "
          "English paragraph, same subsets as Max@R_norm; lower is better",
)
LAREQA_MAP = Column(
    id="lareqa_map", task="LAReQA", key="map", selects=_regex(r"q-.+"),
    label="LAReQA mAP", scale=100.0,
    title="LAReQA mean average precision (x100, higher is better), mean over query languages",
)
SEMANTIC_AFFINITY = Column(
    id="semantic_affinity", task="SemanticAffinity", key="semantic_affinity", selects=_regex(r"en-.+"),
    label="SA", decimals=3,
    title="Semantic Affinity on Swadesh-207 (0-1, higher is better), mean over en-X language pairs",
)

COLUMNS: tuple[Column, ...] = (MAXR, ENGLISH_PREFERENCE, LAREQA_MAP, SEMANTIC_AFFINITY)

#: Semanscope alignment tiers on Semantic Affinity: (lower bound, name), best first.
TIERS: tuple[tuple[float, str], ...] = ((0.6, "great"), (0.5, "good"), (float("-inf"), "no alignment"))


def tier(sa: float | None) -> str | None:
    if sa is None:
        return None
    for bound, name in TIERS:
        if sa >= bound:
            return name
    return None


def columns_for_task(task_name: str) -> list[Column]:
    return [col for col in COLUMNS if col.task == task_name]
