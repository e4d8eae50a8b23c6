"""MultiRefCLIR subset names: `<scenario>_<document languages joined by +>_q-<query language>`.

e.g. `multi_en+ar_q-ar`, `multi1_en+ar_q-en`, `monosame_ar_q-ar`, `monocross_en_q-ar`.
The first document language is the pivot (English in the bundled tasks). Pure and light:
the tasks build names with it, and their leaderboard columns select subsets with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^(?P<scenario>[a-z0-9]+)_(?P<docs>[^_]+)_q-(?P<query>[^_+]+)$")


@dataclass(frozen=True)
class Subset:
    scenario: str
    doc_langs: tuple[str, ...]
    query_lang: str

    @property
    def name(self) -> str:
        return f"{self.scenario}_{'+'.join(self.doc_langs)}_q-{self.query_lang}"

    @property
    def pivot(self) -> str:
        return self.doc_langs[0]

    @classmethod
    def try_parse(cls, name: str) -> Subset | None:
        """The subset a name stands for, or None if it is not a MultiRefCLIR subset name."""
        match = _NAME.match(name)
        if match is None:
            return None
        return cls(match["scenario"], tuple(match["docs"].split("+")), match["query"])

    @classmethod
    def parse(cls, name: str) -> Subset:
        """Like `try_parse`, but a name of another shape raises ValueError."""
        subset = cls.try_parse(name)
        if subset is None:
            raise ValueError(f"not a MultiRefCLIR subset name (<scenario>_<doc langs>_q-<query lang>): {name!r}")
        return subset


def target_language(name: str) -> str | None:
    """The target language X of a `multi_<pivot>+X_q-X` subset (queries in X), else None."""
    parsed = Subset.try_parse(name)
    if parsed is None or parsed.scenario != "multi" or len(parsed.doc_langs) != 2:
        return None
    pivot, other = parsed.doc_langs
    if parsed.query_lang != other or other == pivot:
        return None
    return other
