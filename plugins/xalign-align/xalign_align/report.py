"""`xalign align report BASE ALIGNED...`: the before/after of a repair, from MTEB result JSON.

Per language and on average: MultiRefCLIR multi Max@R_norm for both query languages, English
preference (language_preference on q-X) and its mirror (q-en), the other bias on q-X (X over
English: same_language_preference), Multi-1 NDCG@1 (pessimistic),
Mono-Same and Mono-Cross Max@R_norm, SemanticAffinity. Printed, and written as Markdown and a
PNG of the changes. A metric whose results are missing for a model is shown as "—", never 0.

Each Δ carries its paired 95% interval where both results have per-query files on the same data
(`mteb_xalign.stats`: the same clusters resampled for both models over the same subsets, a paired
cluster permutation test for the p-value). A mean Δ's p-values are Holm-adjusted over the metrics of
one aligned model, a per-language Δ's over the languages of its metric; "n.s." marks a Δ not
significant at 0.05 after that adjustment. Each average score carries its own 95% interval (cluster
bootstrap over the same subsets, all resampled jointly). Without per-query data a Δ or a score is
shown bare and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign import per_query
from mteb_xalign.errors import UserError
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats.resampling import (METHOD, N_RESAMPLES, SEED, TEST, Interval, PairedResult, holm,
                                          paired_all, task_interval)

ALPHA = 0.05
NO_INTERVAL = "no interval"


@dataclass(frozen=True)
class Metric:
    key: str  # column id
    label: str
    task: str
    subset: str  # with {x} for the target language, {l} for any language
    score: str
    better: str = "higher"  # or "lower"
    sa: bool = False  # shown on 0-1 with 3 decimals (not x100)


METRICS = (
    Metric("multi_qx", "Multi Max@R_norm, q-X", "MultiRefCLIR", "multi_en+{x}_q-{x}", "max_at_r_norm"),
    Metric("multi_qen", "Multi Max@R_norm, q-en", "MultiRefCLIR", "multi_en+{x}_q-en", "max_at_r_norm"),
    Metric("en_pref", "English preference % (q-X)", "MultiRefCLIR", "multi_en+{x}_q-{x}", "language_preference",
           better="lower"),
    Metric("x_pref", "X preference % (q-en)", "MultiRefCLIR", "multi_en+{x}_q-en", "language_preference",
           better="lower"),
    # the other bias (e5 with Chinese questions): the English gold outranked by an unrelated X paragraph
    Metric("x_over_en", "X over English % (q-X)", "MultiRefCLIR", "multi_en+{x}_q-{x}", "same_language_preference",
           better="lower"),
    Metric("multi1_ndcg", "Multi-1 NDCG@1, q-X", "MultiRefCLIR-Multi1", "multi1_en+{x}_q-{x}", "ndcg_at_1_pessimistic"),
    Metric("monosame", "Mono-Same Max@R_norm", "MultiRefCLIR-MonoSame", "monosame_{l}_q-{l}", "max_at_r_norm"),
    Metric("monocross_qx", "Mono-Cross Max@R_norm, en pool q-X", "MultiRefCLIR-MonoCross", "monocross_en_q-{x}",
           "max_at_r_norm"),
    Metric("monocross_qen", "Mono-Cross Max@R_norm, X pool q-en", "MultiRefCLIR-MonoCross", "monocross_{x}_q-en",
           "max_at_r_norm"),
    Metric("sa", "SemanticAffinity (en-X)", "SemanticAffinity", "en-{x}", "semantic_affinity", sa=True),
)
LANGS = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def add_parser(cmds) -> None:
    p = cmds.add_parser("report", help="before/after table (Markdown) and picture (PNG) of a repair")
    p.add_argument("base", help="the base model's name")
    p.add_argument("aligned", nargs="+", help="aligned model names (or artifact folders)")
    p.add_argument("--results", type=Path, action="append", default=[],
                   help="MTEB results folder (repeatable; default ./results)")
    p.add_argument("--out", type=Path, default=Path("align-report"), help="folder for report.md and report.png")
    p.add_argument("--task-suffix", default="", help="read tasks named TASK+SUFFIX, e.g. a cross-fitting fold: "
                   "--task-suffix=-XQuAD-fold1of2 (with '=': the value starts with '-')")
    p.set_defaults(func=_report)


def model_label(name_or_folder: str) -> str:
    from xalign_align.artifact import is_artifact, load

    return load(name_or_folder).name if is_artifact(name_or_folder) else name_or_folder


def aliases(name_or_folder: str) -> list[str]:
    """Names a model's results are stored under: its own name (`-m DIR` resolves a folder to it)."""
    return [model_label(name_or_folder)]


def find_result(results: list[Path], model: str | list[str], task: str) -> dict | None:
    """The newest result file of `task` for `model` (any of its names) in any results folder (mteb's layout)."""
    candidates = []
    for root in results:
        base = root / "results" if (root / "results").is_dir() else root
        for name in ([model] if isinstance(model, str) else model):
            folder = base / name.replace("/", "__")
            candidates += list(folder.glob(f"*/{task}.json"))
    if not candidates:
        return None
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    data = json.loads(newest.read_text(encoding="utf-8"))
    data["_path"] = str(newest)
    return data


def collect(results: list[Path], model: str | list[str], suffix: str = "") -> dict[str, dict[str, float]]:
    """metric key -> language -> value (0-1) for one model; absent where there is no result."""
    out: dict[str, dict[str, float]] = {}
    cache: dict[str, dict | None] = {}
    for metric in METRICS:
        task = metric.task + suffix
        if task not in cache:
            cache[task] = find_result(results, model, task)
        data = cache[task]
        if data is None:
            continue
        scores = {s["hf_subset"]: s for s in data.get("scores", {}).get("test", [])}
        langs = ("en", *LANGS) if "{l}" in metric.subset else LANGS
        for lang in langs:
            row = scores.get(metric.subset.format(x=lang, l=lang))
            if row is not None and row.get(metric.score) is not None:
                out.setdefault(metric.key, {})[lang] = float(row[metric.score])
    return out


def results_by_task(results: list[Path], model: str | list[str], suffix: str = "") -> dict[str, dict | None]:
    """task -> its newest result (with "_path") for every task a metric reads."""
    return {t: find_result(results, model, t) for t in dict.fromkeys(m.task + suffix for m in METRICS)}


@dataclass
class Delta:
    """One aligned − base difference and, where per-query data allow, its paired interval and test."""

    delta: float
    test: PairedResult | None = None
    p_adjusted: float | None = None
    why_none: str = NO_INTERVAL + " (no per-query data)"

    @property
    def significant(self) -> bool | None:
        return None if self.p_adjusted is None else self.p_adjusted < ALPHA


def outcomes(metric: Metric, result: dict | None, langs: list[str]) -> list[SubsetOutcomes] | str:
    """The per-query outcomes of `metric`'s subsets on `langs` in one result, or why there are none."""
    if result is None or not langs:
        return NO_INTERVAL
    path = Path(result["_path"])
    if not per_query.has_file(path):
        return NO_INTERVAL + " (no per-query data)"
    found = per_query.problems(path)
    if found:
        return f"{NO_INTERVAL} ({found[0]})"
    names = [metric.subset.format(x=lang, l=lang) for lang in langs]
    stored = per_query.load(path)
    if not all(("test", n) in stored for n in names):
        return NO_INTERVAL + " (a subset has no per-query outcomes)"
    return [stored[("test", n)] for n in names]


def score_interval(metric: Metric, result: dict | None, langs: list[str]) -> Interval | str:
    """The 95% interval of one model's mean of `metric` over `langs`, or why there is none."""
    found = outcomes(metric, result, langs)
    if isinstance(found, str):
        return found
    try:
        return task_interval(found, metric.score, n_resamples=N_RESAMPLES, seed=SEED)
    except (ValueError, KeyError) as exc:  # fewer than two clusters, a key without per-query values
        return f"{NO_INTERVAL} ({exc})"


def paired_deltas(metric: Metric, base: dict | None, aligned: dict | None,
                  langs: list[str]) -> tuple[list[PairedResult], PairedResult] | str:
    """Per-language and mean paired results of aligned − base on `langs`, or why there are none."""
    if base is not None and aligned is not None and aligned.get("dataset_revision") != base.get("dataset_revision"):
        return f"{NO_INTERVAL} (different data: dataset revisions differ)"
    found = [outcomes(metric, aligned, langs), outcomes(metric, base, langs)]
    for why in found:
        if isinstance(why, str):
            return why
    try:
        return paired_all(found[0], found[1], metric.score, n_resamples=N_RESAMPLES, seed=SEED)
    except (ValueError, KeyError) as exc:  # other queries or clusters, a key without per-query values
        return f"{NO_INTERVAL} ({exc})"


def fmt_delta(metric: Metric, d: Delta) -> str:
    """'+4.0 [+2.1, +5.8]', '+0.3 [-0.4, +1.0] n.s.' or '+4.0, no interval (why)'."""
    text = fmt(metric, d.delta, delta=True)
    if d.test is None:
        return f"{text}, {d.why_none}"
    text += f" [{fmt(metric, d.test.low, delta=True)}, {fmt(metric, d.test.high, delta=True)}]"
    return text + ("" if d.significant else " n.s.")


def fmt_score(metric: Metric, value: float | None, ci: Interval | str | None) -> str:
    """'60.6 [58.9, 62.3]', or the bare value where there is no interval (the table's note says why)."""
    text = fmt(metric, value)
    if value is None or not isinstance(ci, Interval):
        return text
    return f"{text} [{fmt(metric, ci.low)}, {fmt(metric, ci.high)}]"


def adjust(deltas: list[Delta]) -> None:
    """Holm over the deltas that have a test (in place)."""
    tested = [d for d in deltas if d.test is not None]
    for d, adjusted in zip(tested, holm([d.test.p_value for d in tested])):
        d.p_adjusted = float(adjusted)


def fmt(metric: Metric, value: float | None, delta: bool = False) -> str:
    if value is None:
        return "—"
    if metric.sa:
        return f"{value:+.3f}" if delta else f"{value:.3f}"
    return f"{100 * value:+.1f}" if delta else f"{100 * value:.1f}"


def mean(values: dict[str, float], langs) -> float | None:
    """Mean over `langs`, only when every one of them has a value."""
    vals = [values.get(lang) for lang in langs]
    return None if not vals or any(v is None for v in vals) else sum(vals) / len(vals)


def common_languages(metric: Metric, per_model: list[dict]) -> list[str]:
    """The languages of `metric` with a value for every model (a mean over others would mislead)."""
    langs = ("en", *LANGS) if "{l}" in metric.subset else LANGS
    return [lang for lang in langs if all(lang in d.get(metric.key, {}) for d in per_model)]


def build(base: str, aligned: list[str], results: list[Path], suffix: str = "") -> tuple[str, dict]:
    given = [base, *aligned]
    names = [model_label(m) for m in given]
    lookup = {name: aliases(m) for name, m in zip(names, given)}
    data = {name: collect(results, lookup[name], suffix) for name in names}
    files = {name: results_by_task(results, lookup[name], suffix) for name in names}
    if not any(data[names[0]].values()):
        raise UserError(f"no results for {names[0]} in {', '.join(map(str, results))}")
    short = [_short(n, names[0]) for n in names]
    on = f" (tasks named TASK{suffix})" if suffix else ""
    lines = [f"# Alignment repair: before/after for `{names[0]}`{on}", "",
             "Scores ×100 (SemanticAffinity on 0-1); Δ = aligned − base. English/X preference: lower is better. "
             "Averages are over the target languages (Mono-Same: also English) with results; `langs` counts the "
             "base model's, and an aligned model's Δ is taken over the languages both have (noted when fewer).",
             "",
             f"Score [a, b]: its 95% interval ({METHOD}: the same questions, paragraphs or concepts drawn in "
             f"every language of the average; {N_RESAMPLES:,} resamples, seed {SEED}). "
             "Δ [a, b]: its 95% interval from a paired cluster bootstrap (the same questions, paragraphs or "
             f"concepts resampled for both models, on the same subsets; {N_RESAMPLES:,} resamples, seed {SEED}); "
             f"p-values from a {TEST} test. **n.s.**: not significant at "
             f"{ALPHA:g} after Holm's adjustment (over the metrics below for each aligned model; per language, over "
             "the metric's languages). A Δ without an interval says why (no per-query data: results written "
             "before they were kept, or on other data); a score without one has none for the same reasons.", ""]
    lines += ["## Averages", "", "| metric | langs | " + " | ".join(f"`{s}`" for s in short) + " |",
              "|---|---:|" + "---:|" * len(short)]
    summary: dict[str, list] = {}
    # (metric key, aligned name) -> (mean Delta, {language: Delta}); Holm per aligned model / per metric
    deltas: dict[tuple[str, str], tuple[Delta, dict[str, Delta]]] = {}
    cis: dict[tuple[str, str], Interval | str] = {}  # (metric key, model name) -> its average's interval
    for metric in METRICS:
        for name in names[1:]:
            langs = common_languages(metric, [data[names[0]], data[name]])
            m, b = mean(data[name].get(metric.key, {}), langs), mean(data[names[0]].get(metric.key, {}), langs)
            if m is None or b is None:
                continue
            found = paired_deltas(metric, files[names[0]].get(metric.task + suffix),
                                  files[name].get(metric.task + suffix), langs)
            per_lang = {lang: Delta(data[name][metric.key][lang] - data[names[0]][metric.key][lang]) for lang in langs}
            whole = Delta(m - b)
            if isinstance(found, str):
                for d in (whole, *per_lang.values()):
                    d.why_none = found
            else:
                for d, test in zip((*per_lang.values(), whole), (*found[0], found[1])):
                    d.test = test
            adjust(list(per_lang.values()))
            deltas[(metric.key, name)] = (whole, per_lang)
    for name in names[1:]:
        adjust([deltas[(m.key, name)][0] for m in METRICS if (m.key, name) in deltas])
    for metric in METRICS:
        base_vals = data[names[0]].get(metric.key, {})
        base_langs = common_languages(metric, [data[names[0]]])
        base_result = files[names[0]].get(metric.task + suffix)
        cis[(metric.key, names[0])] = score_interval(metric, base_result, base_langs)
        cells = [fmt_score(metric, mean(base_vals, base_langs), cis[(metric.key, names[0])])]
        means = [mean(base_vals, base_langs)]
        for name in names[1:]:
            # each model against the base over the languages both have
            langs = common_languages(metric, [data[names[0]], data[name]])
            m = mean(data[name].get(metric.key, {}), langs)
            means.append(m)
            if (metric.key, name) not in deltas:
                cells.append("—")
                continue
            note = "" if len(langs) == len(base_langs) else f" [{len(langs)} langs]"
            cis[(metric.key, name)] = score_interval(metric, files[name].get(metric.task + suffix), langs)
            cells.append(f"{fmt_score(metric, m, cis[(metric.key, name)])} "
                         f"({fmt_delta(metric, deltas[(metric.key, name)][0])}){note}")
        summary[metric.key] = means
        lines.append(f"| {metric.label} | {len(base_langs) or '—'} | " + " | ".join(cells) + " |")
    lines += _per_language_deltas(names, short, deltas)
    for metric in METRICS:
        langs = ("en", *LANGS) if "{l}" in metric.subset else LANGS
        if not any(data[n].get(metric.key) for n in names):
            continue
        lines += ["", f"## {metric.label}", "", "| model | " + " | ".join(langs) + " | mean |",
                  "|---|" + "---:|" * (len(langs) + 1)]
        for name, s in zip(names, short):
            vals = data[name].get(metric.key, {})
            own = common_languages(metric, [data[name]])
            lines.append(f"| `{s}` | " + " | ".join(fmt(metric, vals.get(l)) for l in langs)
                         + f" | {fmt(metric, mean(vals, own))} |")
    sources = sorted({d["_path"] for n in names for t in {m.task + suffix for m in METRICS}
                      if (d := find_result(results, lookup[n], t)) is not None})
    lines += ["", "Result files:", ""] + [f"- `{p}`" for p in sources]
    return "\n".join(lines) + "\n", {"names": names, "short": short, "data": data, "summary": summary,
                                     "deltas": deltas, "intervals": cis}


def _per_language_deltas(names: list[str], short: list[str], deltas: dict) -> list[str]:
    """Per metric, each aligned model's Δ per language with its interval (where any Δ has one)."""
    out = []
    for metric in METRICS:
        rows = [(s, deltas[(metric.key, n)][1]) for n, s in zip(names[1:], short[1:]) if (metric.key, n) in deltas]
        if not any(d.test is not None for _, per_lang in rows for d in per_lang.values()):
            continue
        langs = [lang for lang in ("en", *LANGS) if any(lang in per_lang for _, per_lang in rows)]
        out += ["", f"## Δ {metric.label} per language (95% interval; n.s. after Holm over its languages)", "",
                "| model | " + " | ".join(langs) + " | significant |", "|---|" + "---:|" * (len(langs) + 1)]
        for s, per_lang in rows:
            cells = [fmt_delta(metric, per_lang[lang]) if lang in per_lang else "—" for lang in langs]
            n_sig = sum(1 for d in per_lang.values() if d.significant)
            n_tested = sum(1 for d in per_lang.values() if d.test is not None)
            out.append(f"| `{s}` | " + " | ".join(cells) + f" | {n_sig} of {n_tested} |")
    return out


def _short(name: str, base: str) -> str:
    return name if name == base else (name[len(base):] if name.startswith(base) else name)


#: The metrics the picture draws (METRICS' keys, drawn in METRICS' order) where both sides have them.
PICTURED = ("multi_qx", "multi_qen", "en_pref", "x_over_en", "multi1_ndcg", "monosame", "sa")


def picture(info: dict, path: Path) -> list[str]:
    """Draw the per-language Δ of each pictured metric both sides have to `path`; return their keys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names, short, data = info["names"], info["short"], info["data"]
    # One panel per pictured metric both sides have, none for what was not run.
    shown = [m for m in METRICS if m.key in PICTURED and data[names[0]].get(m.key)
             and any(data[n].get(m.key) for n in names[1:])] or [None]
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 4.3 * rows), constrained_layout=True, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, shown):
        if metric is None:
            ax.text(0.5, 0.5, "no metric evaluated for both models", transform=ax.transAxes, ha="center",
                    va="center", color="grey")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        langs = ["en", *LANGS] if "{l}" in metric.subset else list(LANGS)
        base_vals = data[names[0]].get(metric.key, {})
        width = 0.8 / max(1, len(names) - 1)
        for i, name in enumerate(names[1:]):
            vals = data[name].get(metric.key, {})
            deltas = [(vals[l] - base_vals[l]) if l in vals and l in base_vals else np.nan for l in langs]
            scale = 1 if metric.sa else 100
            # error bars: the paired 95% interval of each Δ (none without per-query data)
            per_lang = info.get("deltas", {}).get((metric.key, name), (None, {}))[1]
            tests = [per_lang[l].test if l in per_lang else None for l in langs]
            yerr = np.array([[(d - t.low) if t else np.nan for d, t in zip(deltas, tests)],
                             [(t.high - d) if t else np.nan for d, t in zip(deltas, tests)]]) * scale
            ax.bar(np.arange(len(langs)) + i * width - 0.4 + width / 2, np.array(deltas) * scale, width,
                   label=short[i + 1], yerr=np.clip(yerr, 0, None) if any(tests) else None,
                   error_kw={"elinewidth": 0.9, "capsize": 2, "ecolor": "#333"})
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(langs)), langs)
        unit = "" if metric.sa else " (points)"
        better = "↓ better" if metric.better == "lower" else "↑ better"
        ax.set_title(f"Δ {metric.label}{unit}, {better}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    drawn = [ax for ax in axes.flat if ax.get_legend_handles_labels()[0]]
    if drawn:
        drawn[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Change against {names[0]} (aligned − base), per language; error bars: paired 95% interval "
                 "where per-query data exist", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [m.key for m in shown if m is not None]


def write_report(base: str, aligned: list[str], results: list[Path], out: Path, suffix: str = "") -> str:
    """Build the report, write OUT/report.md and OUT/report.png, return the Markdown."""
    markdown, info = build(base, aligned, results, suffix)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    try:
        picture(info, out / "report.png")
        print(f"wrote {out / 'report.md'} and {out / 'report.png'}", file=sys.stderr)
    except ImportError:
        print(f"wrote {out / 'report.md'} (no picture: matplotlib is not installed)", file=sys.stderr)
    return markdown


def _report(args: argparse.Namespace) -> int:
    print(write_report(args.base, args.aligned, args.results or [Path("results")], args.out, args.task_suffix))
    return 0
