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
     "MultiRefCLIR on XQuAD (12 languages). A question in language X has two relevant paragraphs, "
     "the English one and the one in X, in a pool holding every paragraph in English and in X. "
     "Max@R is the rank of the worse of the two (how far down one must read to find both); "
     "Max@R_norm maps it on a log scale to 0-100: 100 when both copies are at the top, 0 when one "
     "is last in the pool. Higher is better. The column is the mean over the Multi scenario with "
     "queries in the target language, subsets `multi_en+X_q-X`."),
    ("English preference",
     "On the same subsets: the share of questions whose same-language relevant paragraph is "
     "outranked (or tied) by at least one unrelated English paragraph. Lower is better; a high rate "
     "means the model prefers English text to the answer in the question's own language."),
    ("LAReQA mAP",
     "Language-agnostic answer retrieval (XQuAD-R, 11 languages): the pool holds every sentence of "
     "every language and a question's answer sentence is relevant in all 11 languages. Mean average "
     "precision over the full pool (x100), mean over query languages. Higher is better."),
    ("SA",
     "Semantic Affinity on the Swadesh-207 basic concepts (24 languages): SA = 1/(1+SR), SR = mean "
     "distance between translations / mean distance between words of one language. 0.5: translations "
     "are no closer than random words; 1: translations coincide. Mean over English-X pairs."),
    ("Tier",
     "Alignment tier from the Semanscope paper, on SA: great (SA >= 0.6), good (0.5 <= SA < 0.6), "
     "no alignment (SA < 0.5). Unrelated (random) vectors score SA close to 0.5, so a model just above "
     "0.5 is at the edge of 'good'."),
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
