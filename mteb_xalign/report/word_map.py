"""The interactive word map (Plotly): Semanscope's map, for the report and `xalign plot affinity -o map.html`.

One trace per language (a click on the legend hides or shows that language), each point labelled
with its word; hover shows the word, its language and its concept (the English gloss); one more
trace links the translations of each concept (toggled like a language). Words are data that
plotly.js draws as text, in the browser's own fonts, so every script is shaped as the browser
shapes it (Chinese, Arabic, Cyrillic, Greek, ...); no text is run as script.
"""

from __future__ import annotations

from mteb_xalign.metrics.affinity import semantic_affinity
from mteb_xalign.plots import words as W
from mteb_xalign.plots.layout import Point, build_points, require_method, select_concepts
from mteb_xalign.wordlists import WordList

#: Qualitative colours (tab10's), one per language, cycling beyond ten.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
FONTS = "'Noto Sans', 'Noto Sans CJK SC', 'Noto Sans Arabic', 'Noto Sans Devanagari', 'Noto Sans Thai', sans-serif"


def word_map_figure(points: list[Point], words: WordList, languages: list[str], *, title: str, method: str,
                    show_links: bool = True):
    import plotly.graph_objects as go  # deferred: plotly is slow to import

    fig = go.Figure()
    if show_links:
        xs: list[float | None] = []
        ys: list[float | None] = []
        by_concept: dict[int, list[Point]] = {}
        for p in points:
            by_concept.setdefault(p.concept, []).append(p)
        for group in by_concept.values():
            for i, a in enumerate(group):
                for b in group[i + 1:]:
                    if a.language != b.language:
                        xs += [a.x, b.x, None]
                        ys += [a.y, b.y, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="translations", hoverinfo="skip",
                                 line={"color": "rgba(120,120,120,0.35)", "width": 1}))
    for k, lang in enumerate(languages):
        mine = [p for p in points if p.language == lang]
        colour = COLOURS[k % len(COLOURS)]
        fig.add_trace(go.Scatter(
            x=[p.x for p in mine], y=[p.y for p in mine], mode="markers+text", name=lang,
            text=[p.word for p in mine], textposition="top center",
            textfont={"color": colour, "size": 12, "family": FONTS},
            marker={"color": colour, "size": 8, "line": {"color": "white", "width": 0.5}},
            customdata=[[lang, words.concepts[p.concept].gloss] for p in mine],
            hovertemplate="<b>%{text}</b><br>language: %{customdata[0]}<br>concept: %{customdata[1]}<extra></extra>",
        ))
    fig.update_layout(
        title={"text": title, "font": {"size": 14}}, height=720, template="plotly_white",
        legend={"title": {"text": "language (click to hide/show)"}},
        xaxis={"title": f"{method} 1", "showticklabels": False, "zeroline": False},
        yaxis={"title": f"{method} 2", "showticklabels": False, "zeroline": False},
        margin={"l": 40, "r": 20, "t": 70, "b": 40}, font={"family": FONTS},
    )
    return fig


def build_word_map(model_name: str, *, data=None, languages: list[str] | None = None, method: str = "umap",
                   concepts: int = 40, seed: int = 0, show_links: bool = True):
    """(figure, note or None) of `model_name`'s word map over a word list (default Swadesh-207), its
    words embedded through the shared cache as the SemanticAffinity task embeds them."""

    require_method(method)
    task = W.affinity_task(data)
    # default: five scripts (Latin, Han, Arabic, Cyrillic, Greek) of Swadesh-207, else the whole list
    langs = W.languages_arg(languages or (["en", "zh", "ar", "ru", "el"] if data is None else None), task.words)
    vectors = W.embed_words(model_name, task, langs)
    sa = semantic_affinity(*W.vectors_and_rows(task, langs, vectors), langs)
    chosen = select_concepts(task.words, langs, concepts)
    points, used, note = build_points(task.words, chosen, langs, vectors, method=method, seed=seed)
    sa_text = f"{sa.semantic_affinity:.3f} ± {sa.sa_sem:.3f}" if sa.status == "ok" else sa.status
    title = (f"{model_name}: {used} map of {len(chosen)} concepts of {W.dataset_name(task, data)} (seed {seed})"
             f"<br>SA({', '.join(langs)}) = {sa_text} over {sa.n_concepts} concepts; lines link translations")
    return word_map_figure(points, task.words, langs, title=title, method=used, show_links=show_links), note
