"""Words shared by the HTML page and the Markdown README: the explanations and number formats.

The column explanations are the tasks' own (`Column.title`); only the rank, the bias
reading and the provenance are explained here.
"""

from __future__ import annotations

from mteb_xalign.leaderboard.columns import TIER_COLUMN, TIERS
from mteb_xalign.leaderboard.uncertainty import BANDS, INTERVALS

TITLE = "Cross-lingual alignment leaderboard (mteb-xalign)"
MISSING = "—"

RANK = ("Rank", "Borda count over the tasks, as mteb's leaderboard ranks models: per task, models are ranked by "
                "the task score (mean main score over all its subsets); each model earns (number of models - "
                "rank) points per task it has results for; the most points rank 1. A missing task earns nothing.")
BIAS = ("Language preference", "Shown in both directions, each beside its chance level: with questions in X, "
                                "the share of questions whose same-language answer is outranked (or tied) by an "
                                "unrelated English paragraph; with English questions, the mirror (an unrelated "
                                "X paragraph above the English answer). A random model scores the chance level; "
                                "lower is better, but only a model that also retrieves well (the main score) is "
                                "unbiased rather than simply failing.")
PROVENANCE = ("Provenance", "The mteb, mteb-xalign and model-plugin versions recorded with the results "
                            "(run_settings.jsonl), and the dataset revision of each task (hover). Results that do "
                            "not record them (written by plain mteb or another tool) say so in words. A warning under a model name says when a name looks like "
                            "another one, or reuses a known model's name with another revision.")

CHECKED = ("Checked", "Every row passed validation (xalign leaderboard submit): every subset present, values in "
                      "range, sizes equal to the task's, main_score equal to the task's main score, and the task's "
                      "rules between keys. Validation refuses results that cannot be right, but a coherent forgery "
                      "(every key of a subset set as a perfect model would have them, another subset's real values "
                      "copied) passes it. 'verified' means xalign leaderboard verify re-ran a sample of the "
                      "row's subsets, drawn from a seed the submitter did not control, on the machine named, and "
                      "every re-computed value matched the submitted one (sizes and labels exactly, scores within "
                      "the stated tolerance); the other subsets are not re-computed, so a forgery of a few subsets "
                      "escapes a small sample with some probability. 'self-reported' means only validated (with the "
                      "reason when the verifier could not run the model); 'failed verification' means re-computed "
                      "values differ. Hover for what was re-run, when and on what.")


def intro(board) -> str:
    tasks = ", ".join(board.tasks) or "no task yet"
    return (f"How well do multilingual embedding models align languages? Each row is one model revision "
            f"evaluated with mteb-xalign ({tasks}). Scores are stored on 0-1 as in mteb and shown x100 "
            f"unless a column says otherwise. Click a column header to sort; filter and search above the table.")


def explanations(board) -> list[tuple[str, str]]:
    """(term, text) pairs: the rank, every declared column, the bias reading, provenance."""
    pairs = [RANK] + ([BANDS, INTERVALS] if getattr(board, "uncertainty", False) else [])
    pairs += [(f"{c.label} ({c.task})", c.title) for c in board.columns]
    if any("preference" in c.key for c in board.columns):
        pairs.append(BIAS)

    if any(c.id == TIER_COLUMN for c in board.columns):
        bounds = ", ".join(f"{name} (SA >= {low:g})" if low > float("-inf") else f"{name} (below)"
                           for low, name in TIERS)
        pairs.append(("Tier", f"The Semanscope alignment tier on SA, shown under it: {bounds}. Unrelated "
                              "(random) vectors score SA close to 0.5, so with a 95% interval the tier is read "
                              "from the interval against that chance level: 'good' or 'great' only when the "
                              "whole interval lies above 0.5 (the tier its lower end reaches), 'not above "
                              "chance' when it reaches 0.5, 'below chance' when it lies below. Without "
                              "per-query data the tier is the point value's."))
    pairs.append(CHECKED)
    pairs.append(PROVENANCE)
    return pairs


def format_count(value) -> str:
    """118000000 -> '118M'; None -> the missing mark."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return MISSING
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return str(int(value))


def format_value(column, value: float | None) -> str:
    """A column's shown value with the column's decimals."""
    return MISSING if value is None else f"{value:.{column.decimals}f}"


def format_interval(interval: tuple[float, float] | None, decimals: int) -> str:
    """'[63.9, 67.6]' on the shown scale; '' without one."""
    return "" if interval is None else f"[{interval[0]:.{decimals}f}, {interval[1]:.{decimals}f}]"
