"""Reading MultiRefCLIR subset names (the parser is mteb_xalign.tasks.multiref_subset's `Subset`).

e.g. `multi_en+ar_q-ar`, `multi1_en+ar_q-en`, `monosame_ar_q-ar`, `monocross_en_q-ar`.
The first document language is the pivot (English in the bundled task).
"""

from __future__ import annotations

from mteb_xalign.tasks.multiref_subset import Subset as MultiRefSubset


def parse_multiref_subset(name: str) -> MultiRefSubset | None:
    return MultiRefSubset.try_parse(name)


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
