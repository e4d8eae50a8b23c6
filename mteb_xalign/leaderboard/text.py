"""Words shared by the HTML page and the Markdown README: the explanation and number formats."""

from __future__ import annotations

from mteb_xalign.leaderboard.columns import Column

TITLE = "Cross-lingual alignment leaderboard (mteb-xalign)"

INTRO = (
    "How well do multilingual embedding models align languages? Each row is one model revision "
    "evaluated with mteb-xalign on three tasks. Click a column header to sort."
)

#: (term, explanation) pairs shown at the top of both pages.
EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("Max@R_norm",
     "MultiRefCLIR, XQuAD, 12 languages. Each query in language X has two relevant paragraphs, "
     "the English one and the one in X, in a pool of English + X paragraphs. Max@R is the rank at "
     "which the last relevant paragraph is found; Max@R_norm rescales it to 0-100 (100: both copies "
     "ranked first, 0: no better than chance). The column is the mean over the Multi scenario "
     "subsets `multi_en+X_q-X` (queries in the target language)."),
    ("English preference",
     "On the same subsets: the share of queries for which the English copy of the relevant paragraph "
     "ranks above the copy in the query's own language. 50% is no preference; well above 50% means "
     "the model drifts towards English (an English-pivot bias)."),
    ("LAReQA mAP",
     "Language-agnostic answer retrieval (XQuAD-R, 11 languages): a question must retrieve its answer "
     "sentence in every language from one multilingual pool. Mean average precision (x100), mean over "
     "query languages."),
    ("SA",
     "Semantic Affinity on the Swadesh-207 basic concepts (24 languages): how close a word's embedding "
     "lies to its translations relative to other words, 0-1, mean over English-X pairs."),
    ("Tier",
     "Alignment tier from the Semanscope paper, on SA: great (SA >= 0.6), good (0.5 <= SA < 0.6), "
     "no alignment (SA < 0.5)."),
)

MISSING = "—"


def format_value(column: Column, value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.{column.decimals}f}"


def format_count(value) -> str:
    """118000000 -> '118M'; None -> the missing mark."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return MISSING
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return str(int(value))
