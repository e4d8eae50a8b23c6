"""One problem found in a submission, and the refusal that lists them all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign.errors import UserError


@dataclass(frozen=True)
class Problem:
    file: Path
    message: str
    subset: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = [str(self.file)]
        if self.subset is not None:
            where.append(f"subset {self.subset!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        return ": ".join(where) + ": " + self.message


class SubmissionError(UserError):
    """A refused submission; `problems` lists everything that is wrong."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"submission refused ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


def fmt_value(value) -> str:
    """A score as the messages show it: NaN, null, or its repr."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value is None:
        return "null"
    return repr(value)


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
