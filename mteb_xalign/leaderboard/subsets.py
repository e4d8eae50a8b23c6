"""Reading MultiRefCLIR subset names: `<scenario>_<doc langs joined by +>_q-<query lang>`.

e.g. `multi_en+ar_q-ar`, `multi1_en+ar_q-en`, `monosame_ar_q-ar`, `monocross_en_q-ar`.
The first document language is the pivot (English in the bundled task).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUBSET = re.compile(r"^(?P<scenario>[a-z0-9]+)_(?P<docs>[^_]+)_q-(?P<query>[^_+]+)$")


@dataclass(frozen=True)
class MultiRefSubset:
    scenario: str
    doc_langs: tuple[str, ...]
    query_lang: str

    @property
    def pivot(self) -> str:
        return self.doc_langs[0]


def parse_multiref_subset(name: str) -> MultiRefSubset | None:
    match = _SUBSET.match(name)
    if match is None:
        return None
    return MultiRefSubset(match["scenario"], tuple(match["docs"].split("+")), match["query"])


def multi_target_language(name: str) -> str | None:
    """The target language X of a `multi_<pivot>+X_q-X` subset, else None.

    These are the leaderboard's headline subsets: a pool holding every paragraph in the pivot
    language and in X, queried in X, with both copies of the paragraph counted as relevant.
    """
    parsed = parse_multiref_subset(name)
    if parsed is None or parsed.scenario != "multi" or len(parsed.doc_langs) != 2:
        return None
    pivot, other = parsed.doc_langs
    if parsed.query_lang != other or other == pivot:
        return None
    return other
