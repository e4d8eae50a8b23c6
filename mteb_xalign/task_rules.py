"""What a task declares about its own scores, for the leaderboard and the validator to read.

A task class (ours or a third party's) says, next to the code that writes its scores:
- `score_rules`: {regex on a score key: ScoreRule} - range, integer-ness, where NaN/null is allowed;
- `consistency_problems(subset, scores) -> list[str]`: checks between keys of one subset
  (e.g. Max@R_norm recomputed from Max@R and the pool size), each problem one sentence;
- `leaderboard_columns`: the Columns it contributes to the leaderboard.
The leaderboard never re-encodes a task's knowledge: it reads these (leaderboard/rules.py keeps
only generic ranges for keys no task claims).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol


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


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a task's score key averaged over the subsets it selects."""

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
    #: this column is the chance level (a random model's value) of the column with this id
    chance_of: str | None = None
    #: for per-language views: the language a selected subset stands for (None: no such view)
    language_of: Callable[[str], str | None] | None = None


def subset_regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda subset: compiled.fullmatch(subset) is not None


class TaskRules(Protocol):
    """The contract a task kind fulfils: everything `xalign run`, the leaderboard, the validator and
    `tasks.variants.variant_of` read from a task class. Ours implement all of it (tasks/base.LocalDataTask
    declares each with a default); a third party's task may declare any part (defaults: nothing).

    - `score_rules`, `consistency_problems`: what an honest result satisfies (the validator);
    - `leaderboard_columns`: the columns it contributes (the leaderboard, `xalign run`'s table);
    - `benchmarks`: the mteb Benchmarks it belongs to, opt-in (tasks.bundled.benchmark_tasks);
    - `report_scenario`: the retrieval scenario whose per-language series the report draws from it;
    - `report_series`: the report's other per-language picture it feeds (lareqa, sa, sa_matrix);
    - `default_instruction`: the instruction an instruction-following model gets for its queries when
      nothing else names one (the decoder plugin reads it);
    - `score_shown_as_is`: the report shows its task score 0-1 with three decimals (SA, RA), not x100;
    - `expected_result_sizes()`: {subset: {score key: count}} from the data (the validator);
    - `from_folder(path, name, **options)`: the same kind over a user's data; its keyword options
      (pivot, pool) are the attributes `variant_of` matches and part of the dataset revision.
    """

    score_rules: ClassVar[dict[str, ScoreRule]]
    leaderboard_columns: ClassVar[tuple[Column, ...]]
    benchmarks: ClassVar[tuple[str, ...]]
    report_scenario: ClassVar[str | None]
    report_series: ClassVar[str | None]
    default_instruction: ClassVar[str | None]
    score_shown_as_is: ClassVar[bool]

    def consistency_problems(self, subset: str, scores: dict) -> list[str]: ...

    def expected_result_sizes(self) -> dict[str, dict[str, int]]: ...
