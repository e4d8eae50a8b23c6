"""The report page: one self-contained HTML file (Plotly's JavaScript inlined, no external resource).

Every model name, language code and number is HTML-escaped; the Plotly figures are JSON data
that plotly.js draws, so no text from a result file is ever run as script.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from pathlib import Path

from mteb_xalign import mteb_bridge, per_query, plugins
from mteb_xalign.report import charts
from mteb_xalign.report.flags import CollapseReport, collapse_report, is_declared
from mteb_xalign.report.results import ModelResults, TaskScores
from mteb_xalign.report.series import LanguageSeries, language_series, sa_matrix
from mteb_xalign.stats.file_intervals import task_interval_of
from mteb_xalign.stats.resampling import METHOD, N_RESAMPLES, SEED

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "png", "scale": 2}}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:24px auto;max-width:1280px;
color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px} h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:10px 0;font-size:14px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f6f8} td{white-space:nowrap} td.name,th.name{text-align:left;font-family:ui-monospace,monospace}
td.collapsed{background:#f8d7da;color:#842029;font-weight:600} td.undeclared{font-style:italic}
.flag{border-left:5px solid #c0392b;background:#fdf0ef;padding:8px 14px;margin:10px 0}
.ok{border-left:5px solid #2e8b57;background:#eef8f1;padding:8px 14px;margin:10px 0}
.wide{overflow-x:auto;max-width:100%}
.note{color:#555;font-size:13px} code{background:#f4f6f8;padding:1px 4px;border-radius:3px}
"""


UNCERTAINTY = (f"± is half the 95% interval, and the error bars of the charts are the 95% interval: {METHOD} over "
               "the per-query outcomes stored beside each result (XQuAD questions resampled by article or "
               "paragraph, SemanticAffinity by concept; a task score resamples all its subsets jointly; "
               f"{N_RESAMPLES:,} resamples, seed {SEED}). A number without ± and a bar without an error bar have no "
               "per-query data (a result written before they were kept, or by another tool). Overlapping intervals "
               "of two models do not mean the difference is not real: compare them with xalign compare (paired).")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float | None, as_is: bool, interval: tuple[float, float] | None = None) -> str:
    """The value (x100 unless `as_is`), with ± half its 95% interval when there is one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    scale, decimals = (1.0, 3) if as_is else (100.0, 1)
    text = f"{scale * value:.{decimals}f}"
    if interval is not None:
        text += f" ± {scale * (interval[1] - interval[0]) / 2:.{decimals}f}"
    return text


def _task_interval(task) -> tuple[float, float] | None:
    """mteb's task score's 95% interval (all subsets resampled jointly), None without per-query data."""

    try:
        ci = task_interval_of(task.path)
    except (KeyError, ValueError):  # an unregistered task without a recorded main score; < 2 clusters
        return None
    return None if ci is None else (ci.low, ci.high)


def shown_as_is(task: TaskScores) -> bool:
    """Whether the task declares its score is shown as stored (0-1, three decimals) rather than x100
    (`score_shown_as_is`, task_rules.TaskRules): SA and RA tasks, and --data tasks of their kinds.
    A task registered nowhere here (a --data task of another run) is shown as the registered tasks
    with its main score are: the per-query file's header names it; without one, the registered main
    scores that equal `main_score` in every subset decide, if they agree."""
    cls = mteb_bridge.task_class(task.name)
    if cls is not None:
        return bool(getattr(cls, "score_shown_as_is", False))
    kinds = {c.metadata.main_score: bool(getattr(c, "score_shown_as_is", False)) for _, c in plugins.get_tasks()}
    key = per_query.load_header(task.path).get("main_score") if per_query.has_file(task.path) else None
    if key in kinds:
        return kinds[key]
    fits = {kinds[k] for k in kinds if task.subsets and all(
        isinstance(s.get(k), (int, float)) and s.get(k) == s.get("main_score") for s in task.subsets.values())}
    return fits == {True}


def _task_names(models: list[ModelResults]) -> list[str]:
    """The tasks found, in registration order (the XAlign benchmark's first, as on the leaderboard), then
    any task registered nowhere here, by name."""
    found = {name for m in models for name in m.tasks}
    order = [task_cls.metadata.name for _, task_cls in plugins.get_tasks()]
    return [t for t in order if t in found] + sorted(found - set(order))


def _scores_table(models: list[ModelResults]) -> str:
    tasks = _task_names(models)
    head = "".join(f"<th>{_e(t)}</th>" for t in tasks)
    rows = []
    for m in models:
        cells = "".join(f"<td>{_fmt(m.tasks[t].score, shown_as_is(m.tasks[t]), _task_interval(m.tasks[t]))}</td>"
                        if t in m.tasks else "<td>—</td>" for t in tasks)
        short = m.revision if len(m.revision) <= 20 else m.revision[:12] + "…"  # a commit hash: its head
        rows.append(f"<tr><td class='name'>{_e(m.name)}</td><td class='name' title='{_e(m.revision)}'>{_e(short)}</td>"
                    f"{cells}</tr>")
    return (f"<div class='wide'><table id='task-scores'><tr><th class='name'>model</th><th class='name'>revision</th>"
            f"{head}</tr>" + "".join(rows) + "</table></div>")


def _language_table(series: list[LanguageSeries], flags: list[CollapseReport], series_id: str, as_is: bool) -> str:
    languages = sorted({x for s in series for x in s.values.get(series_id, {})})
    head = "".join(f"<th>{_e(x)}</th>" for x in languages)
    rows = []
    for s, flag in zip(series, flags):
        cells = []
        for x in languages:
            classes = []
            if flag.declared is not None and not is_declared(x, flag.declared):
                classes.append("undeclared")
            if series_id == "multi:q-X" and x in flag.collapsed:
                classes.append("collapsed")
            attr = f" class='{' '.join(classes)}'" if classes else ""
            cells.append(f"<td{attr}>{_fmt(s.get(series_id, x), as_is, s.interval(series_id, x))}</td>")
        rows.append(f"<tr><td class='name'>{_e(s.model)}</td>{''.join(cells)}</tr>")
    return (f"<div class='wide'><table id='languages-{_e(series_id.replace(':', '-'))}'><tr><th class='name'>model"
            f"</th>{head}</tr>" + "".join(rows) + "</table></div>")


def _flag_box(flag: CollapseReport, series: LanguageSeries) -> str:
    if flag.declared is None:
        return (f"<div class='note' id='flag-{_e(flag.model)}'><b>{_e(flag.model)}</b>: its ModelMeta declares no "
                "languages, so no language is flagged.</div>")
    if not flag.collapsed:
        outside = f" ({', '.join(flag.undeclared)} are outside them)" if flag.undeclared else ""
        return (f"<div class='ok' id='flag-{_e(flag.model)}'><b>{_e(flag.model)}</b>: no collapse outside its "
                f"declared languages{_e(outside)}.</div>")
    values = ", ".join(f"{x} {100 * series.get('multi:q-X', x):.1f}" for x in flag.collapsed)
    return (f"<div class='flag' id='flag-{_e(flag.model)}'><b>{_e(flag.model)} collapses on "
            f"{_e(', '.join(flag.collapsed))}</b>, languages outside its declared ModelMeta languages: Max@R_norm "
            f"(Multi, question in X) {_e(values)}, below half of {100 * flag.reference:.1f} "
            f"({_e(flag.reference_text)}).</div>")


def _figure_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG, div_id=div_id)


def render(models: list[ModelResults], *, results_dir: Path, word_maps: list | None = None) -> str:
    """The page; `word_maps`: (model name, Plotly figure, note or None) of `--word-map` (report/word_map.py)."""
    from plotly.offline import get_plotlyjs  # deferred: plotly is slow to import

    series = [language_series(m) for m in models]
    flags = [collapse_report(m, s) for m, s in zip(models, series)]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>xalign report: {_e(', '.join(m.name for m in models))}</title><style>{CSS}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>Cross-lingual alignment report</h1><p class='note'>{len(models)} model(s) from result files in "
        f"<code>{_e(results_dir)}</code>, written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        "<code>xalign report</code> " + ("(models were run only to embed the word maps' words)" if word_maps else
                                          "(no model was run)") + ". Retrieval scores ×100, Semantic and Relational Affinity as they are "
        "(0.5 = no alignment).</p>",
        "<h2>Languages outside what the model declares</h2>",
        *[_flag_box(f, s) for f, s in zip(flags, series)],
        "<h2>Task scores</h2><p class='note'>The task score is mteb's: the mean main score over all the task's "
        "subsets (<code>TaskResult.get_score()</code>), the number mteb's tools and the leaderboard show.</p>",
        f"<p class='note'>{_e(UNCERTAINTY)}</p>",
        _scores_table(models),
    ]
    if any(s.values.get("multi:q-X") for s in series):
        parts += [
            "<h2>Retrieval by language</h2><p class='note'>Max@R_norm ×100 of <code>multi_en+X_q-X</code>: question "
            "in X, pool of 240 English + 240 X paragraphs, both copies of the answer gold. <i>Italic</i>: outside the "
            "model's declared languages; red: collapsed there.</p>",
            _language_table(series, flags, "multi:q-X", as_is=False),
            _figure_html(charts.multi_by_language(series), "chart-multi"),
            _figure_html(charts.language_preference(series), "chart-preference"),
            "<p class='note'>Language preference: share of questions whose same-language answer is outranked (or "
            "tied) by an irrelevant paragraph of the other language; the chance level is what a random model gets. "
            "A low value is only good where Max@R_norm is high too: a model that cannot cross languages at all "
            "also scores low.</p>",
            _figure_html(charts.scenarios(series), "chart-scenarios"),
        ]
    if any(s.values.get("lareqa:q-X") for s in series):
        parts += ["<h2>LAReQA</h2>", _language_table(series, flags, "lareqa:q-X", as_is=False),
                  _figure_html(charts.lareqa_by_language(series), "chart-lareqa")]
    if any(s.values.get("sa") for s in series):
        parts += ["<h2>Semantic Affinity</h2>", _language_table(series, flags, "sa", as_is=True),
                  _figure_html(charts.sa_by_language(series), "chart-sa")]
        matrices = [(m.name, sa_matrix(m)) for m in models]
        matrices = [(name, matrix) for name, matrix in matrices if matrix is not None]
        reach = charts.heatmap_reach([matrix for _, (_, matrix) in matrices])  # one scale for every model
        for k, (name, (languages, matrix)) in enumerate(matrices):
            parts.append(_figure_html(charts.sa_heatmap(name, languages, matrix, reach), f"chart-sa-heatmap-{k}"))
    if word_maps:
        parts.append("<h2>Word maps</h2><p class='note'>Embedded for this page (<code>--word-map</code>, through the "
                     "embedding cache). Hover a point for its word, language and concept; click a language in the "
                     "legend to hide or show it; grey lines link translations.</p>")
        for k, (name, fig, note) in enumerate(word_maps):
            if note:
                parts.append(f"<p class='note'>{_e(name)}: {_e(note)}</p>")
            parts.append(_figure_html(fig, f"chart-word-map-{k}"))
    parts.append("<h2>Files read</h2><ul class='note'>")
    parts += [f"<li><code>{_e(t.path)}</code></li>" for m in models for t in m.tasks.values()]
    parts.append("</ul></body></html>")
    return "\n".join(parts)
