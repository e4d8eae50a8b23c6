"""The leaderboard as Markdown (leaderboards/README.md), for reading on a code host.

Every command this page shows is in SUBMIT_STEPS, and tests run each of them.
"""

from __future__ import annotations

import re

from mteb_xalign.leaderboard import model_facts
from mteb_xalign.leaderboard.board import Board, TaskView
from mteb_xalign.leaderboard.columns import TIER_COLUMN, tier
from mteb_xalign.leaderboard.render_html import href
from mteb_xalign.leaderboard.text import (MISSING, TITLE, explanations, format_count, format_interval, format_value,
                                          intro)
from mteb_xalign.leaderboard.uncertainty import NO_DATA

# Inside a table cell only these can start markup or end the cell ("#", "-", "+" act at line start only).
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

#: (what to do, its commands). ORG/MODEL and the folder names are the only placeholders.
SUBMIT_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Run every XAlign task on your model, with xalign or with mteb itself (the same files)",
     ("xalign run -m ORG/MODEL --all --output results", "mteb run -b XAlign -m ORG/MODEL --output-folder results")),
    ("Check the results as the leaderboard's CI will: every subset, score ranges, the tasks' consistency "
     "rules, sizes, model_meta.json; nothing is written", ("xalign leaderboard submit --check results",)),
    ("Copy them into `leaderboards/results/<org__model>/<revision>/` (all or nothing; `--replace` "
     "overwrites an earlier result)", ("xalign leaderboard submit results",)),
    ("Regenerate this page, `index.html` and `leaderboard.json`", ("xalign leaderboard build",)),
)


def md_escape(text: str) -> str:
    """Text from a submission as inert Markdown: no HTML, no links, no emphasis, no cell breaks."""
    text = " ".join(str(text).split())  # a newline would end the table row
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _main_table(board: Board) -> list[str]:
    """Rank, model, the tasks' columns, then the model's metadata, provenance and files."""
    head = ["Rank", "Model", "Revision", "Checked"] + [md_escape(c.label) for c in board.columns] \
        + ["Params", "Dim", "Licence", "Provenance", "Result files"]
    out = [_row(head), _row(["---:", "---", "---", "---"] + ["---:"] * (len(board.columns) + 2) + ["---"] * 3)]
    for row in board.rows:
        facts = model_facts.facts(row.meta)
        name = md_escape(row.name) + "".join(f" ⚠ {md_escape(flag)}" for flag in row.flags)
        files = " ".join(f"[{md_escape(task)}]({href(path)})" for task, path in sorted(row.files.items()))
        prov = "; ".join(sorted({md_escape(p.describe().rsplit(', data ', 1)[0]) for p in row.provenance.values()}))
        check = row.verification
        rank = str(row.rank) + ("" if row.band is None else f" (band {row.band})")
        cells = [rank, name, md_escape(row.revision), f"**{check.status}**: {md_escape(check.summary)}"]
        cells += [_score(c, row) for c in board.columns]
        cells += [format_count(facts.parameters), str(facts.dim) if facts.dim else MISSING,
                  md_escape(facts.license or MISSING), prov or MISSING, files]
        out.append(_row(cells))
    if not board.rows:
        out.append(_row(["", "*no results yet*"] + [""] * (len(head) - 2)))
    return out


def _score(column, row) -> str:
    """The value and its 95% interval; SA with its Semanscope tier (from the interval), as on the HTML page."""
    value = row.values.get(column.id)
    interval = row.intervals.get(column.id)
    text = format_value(column, value)
    if value is not None and interval is not None:
        text += " " + format_interval(interval, column.decimals)
    elif value is not None and row.interval_notes.get(column.id):
        text += " (" + md_escape(row.interval_notes[column.id]) + ")"
    name = None
    if column.id == TIER_COLUMN and value is not None:
        low, high = (None, None) if interval is None else (interval[0] / column.scale, interval[1] / column.scale)
        name = tier(value / column.scale, low, high)
    return text + (f" ({name})" if name else "")


def _task_score(row, view: TaskView) -> str:
    """mteb's task score with its 95% interval (all subsets resampled jointly) and its rank band."""
    score = row.task_scores.get(view.name)
    if score is None:
        return MISSING
    text = f"{score * view.scale:.{view.decimals}f}"
    interval = row.task_intervals.get(view.name)
    if interval is not None:
        text += " " + format_interval((interval[0] * view.scale, interval[1] * view.scale), view.decimals)
    elif view.name in row.task_intervals:
        text += f" ({NO_DATA})"
    band = row.task_bands.get(view.name)
    return text + (f", rank {band}" if band is not None else "")


def _task_table(board: Board, view: TaskView) -> list[str]:
    subsets = sorted(board.subset_languages.get(view.name, {}))
    rows = [r for r in board.rows if view.name in r.subset_scores]
    if not rows:
        return []
    out = [f"### {md_escape(view.name)}: {md_escape(view.main_score)} per subset", "",
           _row(["Model", "task score"] + [md_escape(s) for s in subsets]), _row(["---"] + ["---:"] * (len(subsets) + 1))]
    for row in rows:
        scores = row.subset_scores[view.name]
        cells = [MISSING if scores.get(s) is None else f"{scores[s] * view.scale:.{view.decimals}f}" for s in subsets]
        out.append(_row([f"{md_escape(row.name)} ({md_escape(row.revision)})", _task_score(row, view)] + cells))
    return out + [""]


def render_markdown(board: Board) -> str:
    out = [f"# {TITLE}", "", intro(board).replace(" Click a column header to sort; filter and search above the "
                                                  "table.", ""), ""]
    out += [f"- **{md_escape(term)}**: {md_escape(text)}" for term, text in explanations(board)]
    out += ["", "The page with filters, search and sorting is [index.html](index.html).", "", "## Models", ""]
    out += _main_table(board)
    out += ["", "## Per language: every task, every subset", ""]
    for view in board.tasks.values():
        out += _task_table(board, view)
    if not board.tasks:
        out += ["No results yet.", ""]
    out += ["## Submitting results", "",
            "As for mteb's results repository: open a pull request adding your result folder under "
            "`leaderboards/results/`; its CI runs the same check.", ""]
    for i, (text, commands) in enumerate(SUBMIT_STEPS, 1):
        out += [f"{i}. {text}:", "", "   ```console", *(f"   $ {command}" for command in commands), "   ```", ""]
    out += ["## What is checked, what is verified", "", VERIFY_TEXT, ""]
    out += _verification_details(board)
    return "\n".join(out)


#: How rows become verified (the page's "Checked" column), said where submitters read.
VERIFY_TEXT = (
    "The check above (validation) refuses results that cannot be right; it cannot refuse a coherent lie "
    "(a subset's keys all set as a perfect model would have them, or another subset's real values copied). "
    "So the CI also re-computes: `xalign leaderboard verify RESULTS --seed S --sample N` re-runs N subsets per "
    "task of every model it can run (open weights it can load, or an API whose key it has), drawn from S and a "
    "digest of the submitted files (CI passes its run id as S: the submitter cannot know the sample in advance), "
    "through the same evaluation path as `xalign run`, and compares every value: sizes and labels exactly, "
    "scores within the tolerance (default 0.001, one unit of the last digit shown). The record "
    "(`verifications/<org__model>/<revision>.json`: subsets, seed, machine, versions, cache on or off, "
    "tolerance, outcome) holds for the exact result files it checked. Rows without one are self-reported.")


def _verification_details(board: Board) -> list[str]:
    """Per row, what its verification re-ran (or why there is none)."""
    out = []
    for row in board.rows:
        out.append(f"- {md_escape(row.name)} ({md_escape(row.revision)}): **{row.verification.status}**")
        out += [f"  - {md_escape(line)}" for line in row.verification.details]
    return out + ([""] if out else [])
