"""The static leaderboard page: one self-contained HTML file (inline CSS and JS, no CDN).

Everything that comes from a submission (model names, revisions, links) is escaped with
html.escape, and the script only moves existing rows: it never turns text into markup.
Links are relative and percent-encoded, so the page works when opened from disk.
"""

from __future__ import annotations

from html import escape
from pathlib import PurePosixPath
from urllib.parse import quote

from mteb_xalign.leaderboard.aggregate import Entry, Leaderboard
from mteb_xalign.leaderboard.columns import MAXR, TIERS
from mteb_xalign.leaderboard.text import EXPLANATIONS, INTRO, MISSING, TITLE, format_count, format_value

#: Heatmap colour stops on Max@R_norm 0..100 (viridis: perceptually even, colour-blind safe).
STOPS = ((0.0, (68, 1, 84)), (25.0, (59, 82, 139)), (50.0, (33, 145, 140)), (75.0, (94, 201, 98)),
         (100.0, (253, 231, 37)))
TIER_RANK = {name: len(TIERS) - i for i, (_, name) in enumerate(TIERS)}


def href(path) -> str:
    """A relative URL for a stored file: each part percent-encoded ('<', '#', '%', ' ' ...)."""
    return "/".join(quote(part, safe="") for part in PurePosixPath(*path.parts).parts)


def heat_colour(value: float) -> tuple[str, str]:
    """(background, text colour) for a 0..100 value."""
    value = min(max(value, STOPS[0][0]), STOPS[-1][0])
    for (lo, c0), (hi, c1) in zip(STOPS, STOPS[1:]):
        if value <= hi:
            t = (value - lo) / (hi - lo)
            rgb = tuple(round(a + (b - a) * t) for a, b in zip(c0, c1))
            break
    luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#%02x%02x%02x" % rgb, ("#000" if luminance > 0.45 else "#fff")


CSS = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1360px; padding: 1.5rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; }
p.intro { color: var(--muted); margin-top: 0; }
dl.explain { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 1rem 0;
             padding: 1rem; background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; }
dl.explain dt { font-weight: 600; }
dl.explain dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .4rem .5rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
th button { all: unset; cursor: pointer; font-weight: 600; display: inline-flex; gap: .25rem; }
th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
th button::after { content: "\\2195"; color: #8c959f; font-weight: 400; }
th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
tbody tr:hover { background: #f6f8fa; }
.model { font-weight: 600; overflow-wrap: break-word; }
#leaderboard td:first-child { min-width: 12rem; max-width: 20rem; }
.rev { color: var(--muted); font-family: ui-monospace, monospace; font-size: .85em; overflow-wrap: anywhere; }
.missing { color: #8c959f; }
.tier { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .85em; white-space: nowrap; }
.tier-great { background: #dafbe1; color: #116329; }
.tier-good { background: #fff8c5; color: #7d4e00; }
.tier-none { background: #ffebe9; color: #a40e26; }
.files a { display: block; white-space: nowrap; font-size: .9em; }
a { color: var(--accent); }
table.heatmap { width: auto; }
table.heatmap th[scope="row"] { font-weight: 400; padding-right: 1.2rem; }
table.heatmap th.num { text-align: center; }
table.heatmap td.cell { text-align: center; min-width: 3.6rem; }
table.heatmap td.empty { background: #eaeef2; color: #8c959f; text-align: center; }
.legend { display: flex; align-items: center; gap: .6rem; margin: .4rem 0 .8rem; font-size: .9em; }
.legend .bar { width: 260px; height: 14px; border: 1px solid var(--line);
               background: linear-gradient(to right, %GRADIENT%); }
.legend .ticks { display: flex; justify-content: space-between; width: 260px; color: var(--muted); font-size: .8em; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85em; }
"""

# Sorting: numbers compare as numbers, text with localeCompare; missing values ("—")
# always go last; ties keep their previous order (Array.prototype.sort is stable).
JS = """
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  function key(row, index, numeric) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    return numeric ? parseFloat(raw) : raw;
  }
  function sortBy(index) {
    var th = heads[index];
    var numeric = th.getAttribute("data-type") === "number";
    var current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-first") || (numeric ? "descending" : "ascending");
    var order = current === first ? (first === "ascending" ? "descending" : "ascending") : first;
    var sign = order === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, index, numeric), y = key(b, index, numeric);
      if (x === null || y === null) { return (x === null) - (y === null); }
      if (numeric) { return sign * (x - y); }
      return sign * x.localeCompare(y);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].hasAttribute("aria-sort")) { heads[i].setAttribute("aria-sort", "none"); }
    }
    th.setAttribute("aria-sort", order);
  }
  Array.prototype.forEach.call(heads, function (th, index) {
    var button = th.querySelector("button");
    if (button) { button.addEventListener("click", function () { sortBy(index); }); }
  });
})();
"""


def _th(label: str, *, kind: str, title: str = "", sort: str = "none", first: str | None = None) -> str:
    cls = ' class="num"' if kind == "number" else ""
    first_attr = f' data-first="{first}"' if first else ""
    tip = f' title="{escape(title)}"' if title else ""
    return (f'<th scope="col"{cls} data-type="{kind}" aria-sort="{sort}"{first_attr}{tip}>'
            f'<button type="button">{escape(label)}</button></th>')


def _td(shown: str, value, *, numeric: bool, extra_class: str = "") -> str:
    classes = " ".join(c for c in ("num" if numeric else "", extra_class, "missing" if value is None else "") if c)
    cls = f' class="{classes}"' if classes else ""
    data = "" if value is None else (repr(float(value)) if numeric else escape(str(value)))
    return f'<td{cls} data-value="{data}">{escape(shown)}</td>'


def _model_cell(entry: Entry) -> str:
    name = escape(entry.name)
    reference = entry.meta.get("reference")
    # Only plain web links from a submission become links (never javascript: or data: URLs).
    if isinstance(reference, str) and reference.startswith(("https://", "http://")):
        name = f'<a href="{escape(reference)}" rel="noopener noreferrer">{name}</a>'
    return f'<td data-value="{escape(entry.name.lower())}"><span class="model">{name}</span></td>'


def _tier_cell(entry: Entry) -> str:
    if entry.tier is None:
        return f'<td class="missing" data-value="">{MISSING}</td>'
    css = "tier-none" if entry.tier == "no alignment" else f"tier-{entry.tier}"
    return (f'<td data-value="{TIER_RANK[entry.tier]}"><span class="tier {css}">'
            f'{escape(entry.tier)}</span></td>')


def _files_cell(entry: Entry) -> str:
    links = [f'<a href="{escape(href(path))}">{escape(task)}</a>' for task, path in sorted(entry.files.items())]
    links.append(f'<a href="{escape(href(entry.folder / "model_meta.json"))}">model_meta</a>')
    return f'<td class="files">{"".join(links)}</td>'


def _main_table(board: Leaderboard) -> str:
    heads = [_th("Model", kind="text"), _th("Revision", kind="text"),
             _th("Params", kind="number", title="Number of parameters (from model_meta.json)"),
             _th("Dim", kind="number", title="Embedding dimension (from model_meta.json)")]
    for column in board.columns:
        sort = "descending" if column is MAXR else "none"
        first = None if column.higher_is_better is not False else "ascending"
        heads.append(_th(column.label, kind="number", title=column.title, sort=sort, first=first))
    heads.append(_th("Tier", kind="number", title="Semanscope alignment tier on SA"))
    heads.append('<th scope="col">Result files</th>')
    rows = []
    for entry in board.entries:
        params = entry.meta.get("n_parameters")
        dim = entry.meta.get("embed_dim")
        cells = [
            _model_cell(entry),
            f'<td data-value="{escape(entry.revision)}"><span class="rev">{escape(entry.revision)}</span></td>',
            _td(format_count(params), params if format_count(params) != MISSING else None, numeric=True),
            _td(str(dim) if isinstance(dim, int) else MISSING, dim if isinstance(dim, int) else None, numeric=True),
        ]
        for column in board.columns:
            value = entry.values.get(column.id)
            cells.append(_td(format_value(column, value), value, numeric=True))
        cells.append(_tier_cell(entry))
        cells.append(_files_cell(entry))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="scroll"><table id="leaderboard" class="sortable" aria-label="Models">\n'
            "<thead><tr>" + "".join(heads) + "</tr></thead>\n<tbody>\n" + "\n".join(rows)
            + "\n</tbody></table></div>")


def _heatmap(board: Leaderboard) -> str:
    if not board.languages:
        return '<p class="missing">No MultiRefCLIR results yet.</p>'
    legend = ('<div class="legend" id="heatmap-legend"><span>Max@R_norm</span><div><div class="bar" '
              'role="img" aria-label="colour scale from 0 (dark purple) to 100 (yellow)"></div><div class="ticks">'
              + "".join(f"<span>{v:g}</span>" for v in (0, 25, 50, 75, 100)) + "</div></div></div>")
    head = '<tr><th scope="col">Model</th>' + "".join(
        f'<th scope="col" class="num">{escape(lang)}</th>' for lang in board.languages) + "</tr>"
    rows = []
    for entry in board.entries:
        cells = [f'<th scope="row"><span class="model">{escape(entry.name)}</span> '
                 f'<span class="rev">{escape(entry.revision)}</span></th>']
        for lang in board.languages:
            value = entry.per_language.get(lang)
            if value is None:
                cells.append(f'<td class="empty" data-lang="{escape(lang)}">{MISSING}</td>')
                continue
            background, colour = heat_colour(value)
            cells.append(f'<td class="cell" data-lang="{escape(lang)}" data-value="{value!r}" '
                         f'style="background:{background};color:{colour}" '
                         f'title="{escape(entry.name)}, {escape(lang)}: {value:.1f}">{value:.1f}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (legend + '<div class="scroll"><table id="heatmap" class="heatmap"><thead>' + head
            + "</thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def render_html(board: Leaderboard) -> str:
    explain = "".join(f"<dt>{escape(term)}</dt><dd>{escape(text).replace('`', '')}</dd>"
                      for term, text in EXPLANATIONS)
    n_files = sum(len(e.files) for e in board.entries)
    gradient = ", ".join(f"{heat_colour(v)[0]} {v:g}%" for v, _ in STOPS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(TITLE)}</title>
<style>{CSS.replace("%GRADIENT%", gradient)}
</style>
</head>
<body>
<header>
<h1>{escape(TITLE)}</h1>
<p class="intro">{escape(INTRO)}</p>
</header>
<dl class="explain">{explain}</dl>
<h2 id="models">Models</h2>
{_main_table(board)}
<h2 id="languages">Max@R_norm per target language</h2>
<p class="intro">MultiRefCLIR, Multi scenario, queries in the target language X (subset multi_en+X_q-X):
pool of English + X paragraphs, both copies relevant. Higher is better; "{MISSING}" means no result.</p>
{_heatmap(board)}
<footer>{len(board.entries)} model revision(s), {n_files} result file(s). Built by
<code>xalign leaderboard build</code>; results are submitted with <code>xalign leaderboard submit</code>.
</footer>
<script>{JS}</script>
</body>
</html>
"""
