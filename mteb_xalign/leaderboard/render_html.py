"""The static leaderboard page: one self-contained HTML file (inline CSS and JS, no CDN).

Everything that comes from a submission (names, revisions, metadata, links) is escaped
with html.escape; the script only moves and hides existing elements. Links are relative
and percent-encoded, so the page works when opened from disk.
"""

from __future__ import annotations

from html import escape
from pathlib import PurePosixPath
from urllib.parse import quote

from mteb_xalign.leaderboard import model_facts
from mteb_xalign.leaderboard.board import Board, Row, TaskView
from mteb_xalign.leaderboard.columns import TIER_COLUMN, tier
from mteb_xalign.leaderboard.html_assets import CSS, JS
from mteb_xalign.leaderboard.text import MISSING, TITLE, explanations, format_count, format_interval, intro
from mteb_xalign.leaderboard.uncertainty import METHOD_WORDS, NO_DATA
from mteb_xalign.stats.resampling import METHOD, N_RESAMPLES, SEED

#: What an interval on the page is, on hover.
CI_TIP = f"95% interval: {METHOD}, {N_RESAMPLES:,} resamples, seed {SEED}"
BAND_TIP = f"Ranks the data allow ({METHOD_WORDS}; significant: adjusted p < 0.05)"

#: Heat colour stops on 0..100 (viridis: perceptually even, colour-blind safe).
STOPS = ((0.0, (68, 1, 84)), (25.0, (59, 82, 139)), (50.0, (33, 145, 140)), (75.0, (94, 201, 98)),
         (100.0, (253, 231, 37)))


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


def _model_cell(row: Row) -> str:
    name = escape(row.name)
    reference = row.meta.get("reference")
    # Only plain web links from a submission become links (never javascript: or data: URLs).
    if isinstance(reference, str) and reference.startswith(("https://", "http://")):
        name = f'<a href="{escape(reference)}" rel="noopener noreferrer">{name}</a>'
    flags = "".join(f'<span class="flag">{escape(flag)}</span>' for flag in row.flags)
    return (f'<td class="modelcell" data-value="{escape(row.name.lower())}"><span class="model">{name}</span>'
            f'<br><span class="rev" title="revision">{escape(row.revision)}</span>{_provenance(row)}{flags}</td>')


def _provenance(row: Row) -> str:
    """One muted line per distinct producer (usually one), the data revisions on hover."""
    lines = sorted({p.describe().rsplit(", data ", 1)[0] for p in row.provenance.values()})
    tip = "; ".join(f"{task}: data {p.dataset_revision}" for task, p in sorted(row.provenance.items())
                    if p.dataset_revision)
    return "".join(f'<span class="prov" title="{escape(tip)}">{escape(line)}</span>' for line in lines)


def _verification_cell(row: Row) -> str:
    """The status in words (verified / self-reported / failed verification), why below, each task on hover."""
    check = row.verification
    css = "check-" + check.status.replace(" ", "-")
    tip = "\n".join(check.details)
    return (f'<td class="verification" data-value="{escape(check.status)}" title="{escape(tip)}">'
            f'<span class="check {css}">{escape(check.status)}</span>'
            f'<span class="checkwhy">{escape(check.summary)}</span></td>')


def _files_cell(row: Row) -> str:
    links = [f'<a href="{escape(href(path))}">{escape(task)}</a>' for task, path in sorted(row.files.items())]
    links.append(f'<a href="{escape(href(row.folder / "model_meta.json"))}">model_meta</a>')
    return f'<td class="files">{"".join(links)}</td>'


def _filter_attrs(row: Row) -> str:
    facts = model_facts.facts(row.meta)
    search = f"{row.name} {row.revision}".lower()
    return (f' data-key="{escape(row.key)}" data-search="{escape(search)}" data-langs="{escape(" ".join(facts.languages) or "*")}"'
            f' data-size="{facts.size_bucket}" data-license="{escape(facts.license or "")}"'
            f' data-open="{facts.open_weights}"')


def _main_row(row: Row, board: Board) -> str:
    facts = model_facts.facts(row.meta)
    cells = [_rank_cell(row), _model_cell(row), _verification_cell(row)]
    cells += [_score_cell(column, row) for column in board.columns]
    cells += [_td(format_count(facts.parameters), facts.parameters, numeric=True),
              _td(str(facts.dim) if facts.dim else MISSING, facts.dim, numeric=True),
              _td(str(facts.max_tokens) if facts.max_tokens else MISSING, facts.max_tokens, numeric=True),
              _td(facts.license or MISSING, facts.license, numeric=False),
              _td(facts.release or MISSING, facts.release, numeric=False),
              _files_cell(row)]
    return f"<tr{_filter_attrs(row)}>" + "".join(cells) + "</tr>"


def _rank_cell(row: Row) -> str:
    """The Borda rank, and below it the band of ranks the data allow (uncertainty.py)."""
    cell = _td(str(row.rank), row.rank, numeric=True)
    if row.band is None:
        return cell
    return cell.replace("</td>", f'<span class="band" title="{escape(BAND_TIP)}">band {row.band}</span></td>')


def _interval_html(interval: tuple[float, float] | None, decimals: int, note: str | None) -> str:
    """The interval under a value (its method on hover), or the reason there is none."""
    if interval is not None:
        return f'<span class="ci" title="{escape(CI_TIP)}">{escape(format_interval(interval, decimals))}</span>'
    if note:
        return f'<span class="ci noci" title="{escape(note)}">no interval</span>'
    return ""


def _score_cell(column, row: Row) -> str:
    """A column's value with its 95% interval; chance levels muted; SA with its Semanscope tier
    (columns.tier, from the interval where there is one) below."""
    value = row.values.get(column.id)
    shown = MISSING if value is None else f"{value:.{column.decimals}f}"
    extra = "chance" if column.chance_of or column.higher_is_better is None else ""
    cell = _td(shown, value, numeric=True, extra_class=extra)
    interval = row.intervals.get(column.id)
    below = "" if value is None else _interval_html(interval, column.decimals, row.interval_notes.get(column.id))
    name = None
    if column.id == TIER_COLUMN:
        low, high = (None, None) if interval is None else (interval[0] / column.scale, interval[1] / column.scale)
        name = tier(value / column.scale if value is not None else None, low, high)
    if name is not None:
        css = {"no alignment": "tier-none", "below chance": "tier-none", "not above chance": "tier-none"}.get(
            name, f"tier-{name}")
        below += (f'<br><span class="tier {css}" title="Semanscope alignment tier'
                  f'{" from the 95% interval against chance (0.5)" if interval else ""}">{escape(name)}</span>')
    return cell.replace("</td>", below + "</td>") if below else cell


def _main_table(board: Board) -> str:
    """Rank, model, the tasks' columns (what a reader came for), then the model's metadata."""
    heads = [_th("Rank", kind="number", sort="ascending", first="ascending",
                 title="Borda rank over the tasks (1 = best), as mteb's leaderboard computes it"),
             _th("Model", kind="text", title="Model name; below it the revision and the provenance (mteb, "
                                            "mteb-xalign and plugin versions; dataset revisions on hover)"),
             _th("Checked", kind="text", title="verified: a seeded sample of subsets was re-run here and matched "
                                               "(what, when, on what: on hover); self-reported: only validated")]
    for column in board.columns:
        first = "ascending" if column.higher_is_better is False else None
        heads.append(_th(column.label, kind="number", title=column.title, first=first))
    heads += [_th("Params", kind="number", title="Number of parameters (model_meta.json)"),
              _th("Dim", kind="number", title="Embedding dimension (model_meta.json)"),
              _th("Max tokens", kind="number", title="Longest input in tokens (model_meta.json)"),
              _th("Licence", kind="text"), _th("Released", kind="text", title="Release date (model_meta.json)"),
              '<th scope="col">Result files</th>']
    body = "\n".join(_main_row(row, board) for row in board.rows)
    return ('<div class="scroll"><table id="leaderboard" class="sortable" aria-label="Models">\n'
            "<thead><tr>" + "".join(heads) + "</tr></thead>\n<tbody>\n" + body + "\n</tbody></table></div>")


def _heat_cell(shown: float | None, scale: float, decimals: int, langs: list[str], label: str,
               higher_is_better: bool | None = True, hover: str = "") -> str:
    """A coloured cell; `shown` is on the page's scale (x100, or 0-1 for a task shown on 0-1); `hover`
    is added to its tooltip."""
    attrs = f' data-langs="{escape(" ".join(langs))}"'
    if shown is None:
        return f'<td class="empty"{attrs} data-value="">{MISSING}</td>'
    level = shown if scale == 100.0 else shown * 100
    background, colour = heat_colour(100 - level if higher_is_better is False else level)
    return (f'<td class="cell"{attrs} data-value="{shown!r}" style="background:{background};color:{colour}" '
            f'title="{escape(label)}: {shown:.{decimals}f}{escape(hover)}">{shown:.{decimals}f}</td>')


def _language_hover(interval: tuple[float, float] | None, decimals: int, note: str | None) -> str:
    """A per-language cell's 95% interval (shown scale) for its tooltip."""
    if interval is not None:
        return f", 95% interval {format_interval(interval, decimals)}"
    return f", {note}" if note else ""


def _hover_interval(interval: tuple[float, float] | None, scale: float, decimals: int) -> str:
    """A subset's stored 95% interval (0-1) for a tooltip."""
    if interval is None:
        return ", no interval (none stored)"
    return f", 95% interval {format_interval((interval[0] * scale, interval[1] * scale), decimals)}"


def _task_score_cell(row: Row, view: TaskView) -> str:
    """mteb's task score (mean over subsets) with its interval and the task's rank band."""
    score = row.task_scores.get(view.name)
    shown = None if score is None else score * view.scale
    cell = _td(MISSING if shown is None else f"{shown:.{view.decimals}f}", shown, numeric=True)
    if shown is None:
        return cell
    interval = row.task_intervals.get(view.name)
    scaled = None if interval is None else (interval[0] * view.scale, interval[1] * view.scale)
    below = _interval_html(scaled, view.decimals, NO_DATA if view.name in row.task_intervals else None)
    band = row.task_bands.get(view.name)
    if band is not None:
        below += f'<span class="band" title="{escape(BAND_TIP)}">rank {band}</span>'
    return cell.replace("</td>", below + "</td>")


def _row_head(row: Row) -> str:
    return (f'<th scope="row"><span class="model">{escape(row.name)}</span> '
            f'<span class="rev">{escape(row.revision)}</span></th>')


def _language_table(board: Board, column) -> str:
    """Models x languages for one column that says which language each subset stands for."""
    langs = sorted({lang for row in board.rows for lang in row.per_language.get(column.id, {})})
    if not langs:
        return ""
    codes = {lang: model_facts.mteb_code(lang) for lang in langs}
    head = "".join(f'<th scope="col" class="num" data-langs="{escape(codes[lang])}">{escape(lang)}</th>'
                   for lang in langs)
    rows = []
    for row in board.rows:
        values = row.per_language.get(column.id)
        if values is None:
            continue
        intervals = row.per_language_intervals.get(column.id, {})
        cells = "".join(_heat_cell(values.get(lang), column.scale, column.decimals, [codes[lang]],
                                   f"{row.name}, {lang}", column.higher_is_better,
                                   hover=_language_hover(intervals.get(lang), column.decimals, row.interval_notes.get(column.id)))
                        for lang in langs)
        rows.append(f'<tr data-key="{escape(row.key)}">{_row_head(row)}{cells}</tr>')
    return (f'<h3 id="lang-{escape(column.id)}" title="{escape(column.title)}">{escape(column.label)} '
            f'<span class="rev">({escape(column.task)}) per language</span></h3><p class="intro">{escape(column.title)}</p>'
            f'<div class="scroll"><table class="heat" aria-label="{escape(column.label)} per language"><thead><tr>'
            f'<th scope="col">Model</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _task_table(board: Board, view: TaskView) -> str:
    subsets = sorted(board.subset_languages.get(view.name, {}))
    langs = board.subset_languages.get(view.name, {})
    head = "".join(f'<th scope="col" class="num" data-langs="{escape(" ".join(langs[s]))}">{escape(s)}</th>'
                   for s in subsets)
    rows = []
    for row in board.rows:
        if view.name not in row.subset_scores:
            continue
        scores = row.subset_scores[view.name]
        stored = row.subset_intervals.get(view.name, {})
        cells = "".join(_heat_cell(None if scores.get(s) is None else scores[s] * view.scale, view.scale,
                                   view.decimals, langs[s], f"{row.name}, {s}",
                                   hover=_hover_interval(stored.get(s), view.scale, view.decimals)) for s in subsets)
        rows.append(f'<tr data-key="{escape(row.key)}">{_row_head(row)}{_task_score_cell(row, view)}{cells}</tr>')
    if not rows:
        return ""
    return (f'<h3 id="task-{escape(view.name)}">{escape(view.name)}: {escape(view.main_score)} per subset</h3>'
            f'<div class="scroll"><table class="heat" aria-label="{escape(view.name)} per subset"><thead><tr>'
            f'<th scope="col">Model</th><th scope="col" class="num" title="mteb\'s task score: the mean over all '
            f'subsets; its 95% interval resamples every subset jointly; rank band on hover">task score</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _select(name: str, label: str, options: list[tuple[str, str]]) -> str:
    opts = '<option value="">all</option>' + "".join(
        f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in options)
    return f'<label>{escape(label)}<select id="filter-{name}">{opts}</select></label>'


def _controls(board: Board) -> str:
    langs = sorted({lang for subsets in board.subset_languages.values() for ls in subsets.values() for lang in ls})
    licenses = sorted({f.license for f in (model_facts.facts(r.meta) for r in board.rows) if f.license})
    return ('<div class="controls" role="search">'
            '<label>Search<input id="filter-search" type="search" placeholder="model or revision"></label>'
            + _select("language", "Language (models declaring it; subsets in it)", [(lang, lang) for lang in langs])
            + _select("size", "Parameters", list(model_facts.SIZE_BUCKETS))
            + _select("license", "Licence", [(lic, lic) for lic in licenses])
            + _select("open", "Open weights", [("yes", "yes"), ("no", "no"), ("unknown", "not stated")])
            + '<span id="shown" aria-live="polite"></span></div>')


def render_html(board: Board) -> str:
    explain = "".join(f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>" for term, text in explanations(board))
    n_files = sum(len(r.files) for r in board.rows)
    gradient = ", ".join(f"{heat_colour(v)[0]} {v:g}%" for v, _ in STOPS)
    tasks = "".join(_task_table(board, view) for view in board.tasks.values()) or \
        '<p class="missing">No results yet.</p>'
    by_language = "".join(_language_table(board, column) for column in board.language_columns)
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
<p class="intro">{escape(intro(board))}</p>
</header>
<dl class="explain">{explain}</dl>
<h2 id="models">Models</h2>
{_controls(board)}
{_main_table(board)}
<h2 id="per-language">Per language</h2>
<p class="intro">Columns above that are means over languages, shown per language; then every task's main score
per subset (its languages are in its name). Choose a language above to keep only the cells in it.
"{MISSING}" means no result. Colour: yellow is best (for a "lower is better" column, the lowest value).</p>
<div class="legend" id="heat-legend"><span>worst</span><div class="bar" role="img"
aria-label="colour scale from dark purple (worst) to yellow (best)"></div><span>best</span></div>
{by_language}
<h2 id="per-subset">Every task, every subset</h2>
{tasks}
<footer>{len(board.rows)} model revision(s), {n_files} result file(s). Built by
<code>xalign leaderboard build</code>. <code>xalign leaderboard submit</code> checks that results are possible
(ranges, sizes, the tasks' rules between keys), which a coherent forgery passes; only rows marked verified had
a sample of their subsets re-computed by <code>xalign leaderboard verify</code>.
</footer>
<script>{JS}</script>
</body>
</html>
"""
