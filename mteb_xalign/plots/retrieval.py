"""Retrieval by language, several models side by side, from result files (scores 0-1, drawn x100).

- `draw_multi_by_language`: Max@R_norm in the Multi scenario (pool = English + X paragraphs,
  both copies gold) with the question in X (filled) and in English (hollow), per X and model.
- `draw_language_preference`: share of questions whose same-language answer is outranked by an
  irrelevant paragraph of the other language: English preference (q-X) and its mirror (q-en),
  each beside its chance level (a random model).
- `draw_multi_vs_mono`: Mono-Same, Mono-Cross, Multi-1 and Multi per language (question in X):
  high Mono bars above a low Multi bar mean the model retrieves well but keeps languages apart,
  an alignment problem, not a retrieval one.
"""

from __future__ import annotations

import numpy as np

from mteb_xalign.errors import UserError
from mteb_xalign.plots.figure import pyplot
from mteb_xalign.report.results import ModelResults
from mteb_xalign.report.series import LanguageSeries, language_series

SCENARIOS = (  # series id, legend text
    ("monosame:q-X", "Mono-Same: pool X only"),
    ("monocross:q-X", "Mono-Cross: pool English only"),
    ("multi1:q-X", "Multi-1: pool en + X without the X copy"),
    ("multi:q-X", "Multi: pool en + X, both copies gold"),
)
PREFERENCE = (  # series id, chance id, legend text
    ("preference:q-X", "chance:q-X", "question in X: an English paragraph outranks the X answer"),
    ("preference:q-en", "chance:q-en", "question in English: an X paragraph outranks the English answer"),
)


def model_colours(n: int) -> list:
    cmap = pyplot().get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def _series(models: list[ModelResults]) -> list[LanguageSeries]:
    return [language_series(m) for m in models]


def _require(languages: list[str], models: list[ModelResults], tasks: str) -> list[str]:
    if not languages:
        names = ", ".join(m.name for m in models)
        raise UserError(f"no {tasks} results for {names} (this picture needs them; run `xalign run -t ...` first)")
    return languages


def _pct(value: float | None) -> float:
    return np.nan if value is None else 100.0 * value


def draw_multi_by_language(models: list[ModelResults]):
    plt = pyplot()
    series = _series(models)
    languages = _require(sorted({lang for s in series for lang in s.languages("multi:q-X", "multi:q-en")}),
                         models, "MultiRefCLIR")
    fig, ax = plt.subplots(figsize=(max(9.0, 1.0 * len(languages) + 3), 5.8))
    width = 0.7 / max(len(series), 1)
    for k, (s, colour) in enumerate(zip(series, model_colours(len(series)))):
        xs = np.arange(len(languages)) + (k - (len(series) - 1) / 2) * width
        q_x = np.array([_pct(s.get("multi:q-X", lang)) for lang in languages])
        q_en = np.array([_pct(s.get("multi:q-en", lang)) for lang in languages])
        ax.vlines(xs, np.fmin(q_x, q_en), np.fmax(q_x, q_en), color=colour, linewidth=1.5, alpha=0.6)
        ax.scatter(xs, q_x, s=55, color=colour, zorder=3, label=f"{s.model}: question in X")
        ax.scatter(xs, q_en, s=55, facecolors="white", edgecolors=[colour], linewidths=1.6, zorder=3,
                   label=f"{s.model}: question in English")
    ax.set_xticks(range(len(languages)), languages)
    ax.set_xlim(-0.6, len(languages) - 0.4)
    ax.set_ylim(0, 102)
    ax.set_xlabel("target language X (pool: 240 English + 240 X paragraphs)")
    ax.set_ylabel("Max@R_norm x100 (100 = both copies of the answer on top)")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("MultiRefCLIR (Multi scenario): is the answer found in both languages?", fontsize=12)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=min(3, 2 * len(series)),
              frameon=False)
    fig.tight_layout()
    return fig


def _rows(n_models: int, n_languages: int):
    """One panel per model, stacked, sharing the language axis (constrained layout: title and legend outside)."""
    plt = pyplot()
    fig, axes = plt.subplots(n_models, 1, figsize=(max(9.0, 0.9 * n_languages + 3), 2.9 * n_models + 1.7),
                             sharex=True, squeeze=False, layout="constrained")
    return fig, axes[:, 0]


def _finish_rows(fig, axes, languages: list[str], title: str, xlabel: str) -> None:
    axes[-1].set_xticks(range(len(languages)), languages)
    axes[-1].set_xlabel(xlabel)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title, fontsize=11)
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)


def draw_language_preference(models: list[ModelResults]):
    series = _series(models)
    languages = _require(sorted({lang for s in series for lang in s.languages("preference:q-X", "preference:q-en")}),
                         models, "MultiRefCLIR (language_preference)")
    fig, axes = _rows(len(series), len(languages))
    colours = ("#c0392b", "#2471a3")
    width = 0.38
    for ax, s in zip(axes, series):
        for j, ((value_id, chance_id, text), colour) in enumerate(zip(PREFERENCE, colours)):
            xs = np.arange(len(languages)) + (j - 0.5) * width
            values = np.array([_pct(s.get(value_id, lang)) for lang in languages])
            chance = np.array([_pct(s.get(chance_id, lang)) for lang in languages])
            ax.bar(xs, np.nan_to_num(values), width=width * 0.95, color=colour, label=text)
            ax.scatter(xs, chance, marker="_", s=160, linewidths=2.2, color="black", zorder=3,
                       label="chance level (a random model)" if j == 0 else None)
            for x, v in zip(xs, values):
                if np.isnan(v):
                    ax.text(x, 2, "no data", ha="center", va="bottom", fontsize=7, rotation=90, color="0.4")
        ax.set_ylim(0, 105)
        ax.set_ylabel("% of questions")
        ax.set_title(s.model, fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.3)
    _finish_rows(fig, axes, languages,
                 "Language preference (Multi scenario): the same-language answer outranked by an irrelevant "
                 "paragraph\nof the other language. Far below chance = no bias; low only counts where Max@R_norm "
                 "is high too.", "target language X (pool: 240 English + 240 X paragraphs)")
    return fig


def draw_multi_vs_mono(models: list[ModelResults]):
    series = _series(models)
    languages = _require(sorted({lang for s in series for lang in s.languages(*(sid for sid, _ in SCENARIOS))}),
                         models, "MultiRefCLIR scenario")
    fig, axes = _rows(len(series), len(languages))
    colours = ("#a9cce3", "#5dade2", "#f5b041", "#c0392b")
    width = 0.2
    for ax, s in zip(axes, series):
        for j, ((series_id, text), colour) in enumerate(zip(SCENARIOS, colours)):
            xs = np.arange(len(languages)) + (j - 1.5) * width
            values = np.array([_pct(s.get(series_id, lang)) for lang in languages])
            ax.bar(xs, np.nan_to_num(values), width=width * 0.95, color=colour, label=text)
        ax.set_ylim(0, 105)
        ax.set_ylabel("Max@R_norm x100")
        ax.set_title(s.model, fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.3)
    _finish_rows(fig, axes, languages,
                 "Questions in X against four pools: high Mono bars over a low Multi bar = the model retrieves "
                 "well\nbut keeps languages apart (an alignment problem, not a retrieval one)", "language X of the question")
    return fig
