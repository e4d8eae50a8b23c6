"""The report's interactive charts (Plotly): the retrieval pictures of `xalign plot retrieval`,
plus LAReQA and SemanticAffinity by language and the SA heatmap. Scores 0-1, drawn x100
(SA as it is). Every chart shows its reference: chance levels, the 0.5 of "no alignment".
"""

from __future__ import annotations

from mteb_xalign.report.series import LanguageSeries

#: Said under every chart title that can carry error bars.
_BARS_NOTE = "<br><sup>error bars: 95% interval (cluster bootstrap), where per-query data exist</sup>"

MODEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
SCENARIOS = (
    ("monosame:q-X", "Mono-Same: pool X only", "#a9cce3"),
    ("monocross:q-X", "Mono-Cross: pool English only", "#5dade2"),
    ("multi1:q-X", "Multi-1: pool en + X without the X copy", "#f5b041"),
    ("multi:q-X", "Multi: pool en + X, both copies gold", "#c0392b"),
)


def _go():
    import plotly.graph_objects as go  # deferred: plotly is slow to import

    return go


def _pct(value):
    return None if value is None else round(100 * value, 2)


def _error(s: LanguageSeries, series_id: str, languages: list[str], scale: float = 100.0) -> dict | None:
    """Plotly error bars: the 95% interval of each value (none where there is no per-query data)."""
    plus, minus = [], []
    for x in languages:
        value, ci = s.get(series_id, x), s.interval(series_id, x)
        plus.append(None if value is None or ci is None else round(scale * (ci[1] - value), 4))
        minus.append(None if value is None or ci is None else round(scale * (value - ci[0]), 4))
    if all(v is None for v in plus):
        return None
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "thickness": 1.2, "width": 3,
            "color": "#333"}


def _layout(fig, title: str, yaxis: str, *, height: int = 430, yrange=(0, 102)) -> None:
    fig.update_layout(title={"text": title, "font": {"size": 15}}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 80, "b": 40}, legend={"orientation": "h", "y": -0.18},
                      yaxis={"title": yaxis, "range": list(yrange) if yrange else None})


def multi_by_language(series: list[LanguageSeries]):
    go = _go()
    languages = sorted({x for s in series for x in s.languages("multi:q-X", "multi:q-en")})
    fig = go.Figure()
    for k, s in enumerate(series):
        colour = MODEL_COLOURS[k % len(MODEL_COLOURS)]
        for series_id, text, symbol in (("multi:q-X", "question in X", "circle"),
                                        ("multi:q-en", "question in English", "circle-open")):
            fig.add_trace(go.Scatter(
                x=languages, y=[_pct(s.get(series_id, x)) for x in languages], mode="markers",
                error_y=_error(s, series_id, languages), name=f"{s.model}: {text}", marker={"color": colour, "symbol": symbol, "size": 11, "line": {"width": 2}},
                offsetgroup=str(k), hovertemplate="%{x}: %{y:.1f}<extra>" + f"{s.model}<br>{text}</extra>"))
    fig.update_layout(scattermode="group")
    _layout(fig, "Multi scenario: Max@R_norm ×100 per target language (100 = both copies of the answer on top)"
            + _BARS_NOTE,
            "Max@R_norm ×100")
    return fig


def language_preference(series: list[LanguageSeries]):
    from plotly.subplots import make_subplots  # deferred: plotly is slow to import

    go = _go()
    languages = sorted({x for s in series for x in s.languages("preference:q-X", "preference:q-en")})
    fig = make_subplots(rows=len(series), cols=1, shared_xaxes=True, subplot_titles=[s.model for s in series],
                        vertical_spacing=0.12 / max(len(series), 1))
    for row, s in enumerate(series, start=1):
        for k, (series_id, chance_id, text, colour) in enumerate((
                ("preference:q-X", "chance:q-X", "question in X: an English paragraph outranks the X answer", "#c0392b"),
                ("preference:q-en", "chance:q-en", "question in English: an X paragraph outranks the English answer",
                 "#2471a3"))):
            fig.add_trace(go.Bar(x=languages, y=[_pct(s.get(series_id, x)) for x in languages], name=text,
                                 error_y=_error(s, series_id, languages), marker_color=colour, offsetgroup=str(k), legendgroup=text, showlegend=row == 1,
                                 hovertemplate="%{x}: %{y:.1f}%<extra>" + text + "</extra>"), row=row, col=1)
            fig.add_trace(go.Scatter(x=languages, y=[_pct(s.get(chance_id, x)) for x in languages], mode="markers",
                                     marker={"symbol": "line-ew-open", "size": 22, "color": "black", "line": {"width": 3}},
                                     name="chance level (a random model)", offsetgroup=str(k), legendgroup="chance",
                                     showlegend=row == 1 and k == 0,
                                     hovertemplate="chance %{y:.1f}%<extra></extra>"), row=row, col=1)
        fig.update_yaxes(range=[0, 105], title_text="% of questions", row=row, col=1)
    fig.update_layout(barmode="group", scattermode="group")
    _layout(fig, "Language preference in the mixed pool, both directions, beside chance" + _BARS_NOTE, "% of questions",
            height=260 * len(series) + 160, yrange=None)
    return fig


def scenarios(series: list[LanguageSeries]):
    from plotly.subplots import make_subplots  # deferred: plotly is slow to import

    go = _go()
    languages = sorted({x for s in series for x in s.languages(*(sid for sid, _, _ in SCENARIOS))})
    fig = make_subplots(rows=len(series), cols=1, shared_xaxes=True, subplot_titles=[s.model for s in series],
                        vertical_spacing=0.12 / max(len(series), 1))
    for row, s in enumerate(series, start=1):
        for series_id, text, colour in SCENARIOS:
            fig.add_trace(go.Bar(x=languages, y=[_pct(s.get(series_id, x)) for x in languages], name=text,
                                 error_y=_error(s, series_id, languages), marker_color=colour, legendgroup=text, showlegend=row == 1,
                                 hovertemplate="%{x}: %{y:.1f}<extra>" + text + "</extra>"), row=row, col=1)
        fig.update_yaxes(range=[0, 105], title_text="Max@R_norm ×100", row=row, col=1)
    fig.update_layout(barmode="group")
    _layout(fig, "Questions in X against four pools: high Mono bars over a low Multi bar = alignment, not retrieval, "
            "is the problem" + _BARS_NOTE, "", height=260 * len(series) + 160, yrange=None)
    return fig


def lareqa_by_language(series: list[LanguageSeries]):
    go = _go()
    languages = sorted({x for s in series for x in s.values.get("lareqa:q-X", {})})
    fig = go.Figure([go.Bar(x=languages, y=[_pct(s.get("lareqa:q-X", x)) for x in languages], name=s.model,
                            error_y=_error(s, "lareqa:q-X", languages), marker_color=MODEL_COLOURS[k % len(MODEL_COLOURS)],
                            hovertemplate="q-%{x}: %{y:.1f}<extra>" + s.model + "</extra>")
                     for k, s in enumerate(series)])
    fig.update_layout(barmode="group")
    _layout(fig, "LAReQA: mAP ×100 by question language (answers in all 11 languages of one pool)" + _BARS_NOTE,
            "mAP ×100")
    return fig


def sa_by_language(series: list[LanguageSeries]):
    go = _go()
    languages = sorted({x for s in series for x in s.languages("sa")})
    fig = go.Figure()
    for k, s in enumerate(series):
        fig.add_trace(go.Bar(
            x=languages, y=[s.get("sa", x) for x in languages], name=s.model,
            marker_color=MODEL_COLOURS[k % len(MODEL_COLOURS)],
            error_y=_error(s, "sa", languages, scale=1.0),
            hovertemplate=f"{s.pivot}-" + "%{x}: %{y:.3f}<extra>" + s.model + "</extra>"))
    fig.add_hline(y=0.5, line_dash="dash", line_color="black", annotation_text="0.5 = no alignment",
                  annotation_position="bottom right", annotation_font_size=11)
    fig.update_layout(barmode="group")
    _layout(fig, "Semantic Affinity per language pair en-X" + _BARS_NOTE, "SA", yrange=(0.3, 1.0))
    return fig


def heatmap_reach(matrices: list[list[list[float | None]]]) -> float:
    """Half-width of a colour scale centred on 0.5 that holds every cell of every matrix (at least 0.05)."""
    return max([abs(v - 0.5) for matrix in matrices for row in matrix for v in row if v is not None] + [0.05])


def sa_heatmap(model: str, languages: list[str], matrix: list[list[float | None]], reach: float):
    go = _go()
    fig = go.Figure(go.Heatmap(
        z=matrix, x=languages, y=languages, colorscale="RdBu", zmid=0.5, zmin=0.5 - reach, zmax=0.5 + reach,
        colorbar={"title": {"text": "SA (0.5 = none)"}},
        hovertemplate="%{y}-%{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    _layout(fig, f"{model}: SA of every language pair (SemanticAffinity-AllPairs)", "", height=620, yrange=None)
    fig.update_layout(width=700)
    return fig
