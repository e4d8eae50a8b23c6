"""The leaderboard as Markdown (leaderboards/README.md), for reading on a code host."""

from __future__ import annotations

import re

from mteb_xalign.leaderboard.aggregate import Leaderboard
from mteb_xalign.leaderboard.render_html import href
from mteb_xalign.leaderboard.text import EXPLANATIONS, INTRO, MISSING, TITLE, format_count, format_value

# Inside a table cell only these can start markup or end the cell ("#", "-", "+" act at line start only).
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: str) -> str:
    """Text from a submission as inert Markdown: no HTML, no links, no emphasis, no cell breaks."""
    text = " ".join(str(text).split())  # a newline would end the table row
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(board: Leaderboard) -> str:
    out = [f"# {TITLE}", "", INTRO.replace(" Click a column header to sort.", ""), ""]
    out += [f"- **{term}**: {text}" for term, text in EXPLANATIONS]
    out += ["", "The sortable version with a per-language heatmap is [index.html](index.html).", "", "## Models", ""]
    head = ["Model", "Revision", "Params", "Dim"] + [c.label for c in board.columns] + ["Tier", "Result files"]
    out.append(_row(head))
    out.append(_row(["---"] * 2 + ["---:"] * (2 + len(board.columns)) + ["---", "---"]))
    for entry in board.entries:
        dim = entry.meta.get("embed_dim")
        files = " ".join(f"[{md_escape(task)}]({href(path)})" for task, path in sorted(entry.files.items()))
        cells = [md_escape(entry.name), md_escape(entry.revision), format_count(entry.meta.get("n_parameters")),
                 str(dim) if isinstance(dim, int) else MISSING]
        cells += [format_value(c, entry.values.get(c.id)) for c in board.columns]
        cells += [entry.tier or MISSING, files]
        out.append(_row(cells))
    if not board.entries:
        out.append(_row(["*no results yet*"] + [""] * (len(head) - 1)))
    out += ["", "## Max@R_norm per target language", "",
            "MultiRefCLIR, Multi scenario, queries in the target language X (`multi_en+X_q-X`).", ""]
    if board.languages:
        out.append(_row(["Model"] + board.languages))
        out.append(_row(["---"] + ["---:"] * len(board.languages)))
        for entry in board.entries:
            values = [f"{entry.per_language[lang]:.1f}" if lang in entry.per_language else MISSING
                      for lang in board.languages]
            out.append(_row([f"{md_escape(entry.name)} ({md_escape(entry.revision)})"] + values))
    else:
        out.append("No MultiRefCLIR results yet.")
    out += ["", "## Submitting results", "",
            "1. Run the tasks: `xalign run -m ORG/MODEL --output results` (or `mteb run -m ORG/MODEL -t MultiRefCLIR "
            "LAReQA SemanticAffinity --output-folder results`). The model needs a name and a revision.",
            "2. `xalign leaderboard submit results` checks every file against the registered tasks (all subsets, "
            "score ranges, query counts, model_meta.json) and copies them to `results/<org__model>/<revision>/` here; "
            "a refusal lists every problem. Add `--replace` to overwrite an earlier result.",
            "3. `xalign leaderboard build` regenerates this page, `index.html` and `leaderboard.json`.", ""]
    return "\n".join(out)
