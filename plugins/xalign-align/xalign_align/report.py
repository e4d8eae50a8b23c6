"""`xalign align report BASE ALIGNED...`: the before/after of a repair, from MTEB result JSON.

Per language and on average: MultiRefCLIR multi Max@R_norm for both query languages, English
preference (language_preference on q-X) and its mirror (q-en), Multi-1 NDCG@1 (pessimistic),
Mono-Same and Mono-Cross Max@R_norm, SemanticAffinity. Printed, and written as Markdown and a
PNG of the changes. A metric whose results are missing for a model is shown as "—", never 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mteb_xalign.errors import UserError


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
    p.add_argument("--task-suffix", default="", help="read tasks named TASK+SUFFIX (e.g. a cross-fitting fold)")
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
    if not any(data[names[0]].values()):
        raise UserError(f"no results for {names[0]} in {', '.join(map(str, results))}")
    short = [_short(n, names[0]) for n in names]
    lines = [f"# Alignment repair: before/after for `{names[0]}`", "",
             "Scores ×100 (SemanticAffinity on 0-1); Δ = aligned − base. English/X preference: lower is better. "
             "Averages are over the target languages (Mono-Same: also English) with results; `langs` counts the "
             "base model's, and an aligned model's Δ is taken over the languages both have (noted when fewer).", ""]
    lines += ["## Averages", "", "| metric | langs | " + " | ".join(f"`{s}`" for s in short) + " |",
              "|---|---:|" + "---:|" * len(short)]
    summary: dict[str, list] = {}
    for metric in METRICS:
        base_vals = data[names[0]].get(metric.key, {})
        base_langs = common_languages(metric, [data[names[0]]])
        cells = [fmt(metric, mean(base_vals, base_langs))]
        means = [mean(base_vals, base_langs)]
        for name in names[1:]:
            # each model against the base over the languages both have
            langs = common_languages(metric, [data[names[0]], data[name]])
            m, b = mean(data[name].get(metric.key, {}), langs), mean(base_vals, langs)
            means.append(m)
            if m is None:
                cells.append("—")
                continue
            note = "" if len(langs) == len(base_langs) else f" [{len(langs)} langs]"
            cells.append(f"{fmt(metric, m)} ({fmt(metric, m - b, delta=True)}){note}")
        summary[metric.key] = means
        lines.append(f"| {metric.label} | {len(base_langs) or '—'} | " + " | ".join(cells) + " |")
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
    return "\n".join(lines) + "\n", {"names": names, "short": short, "data": data, "summary": summary}


def _short(name: str, base: str) -> str:
    return name if name == base else (name[len(base):] if name.startswith(base) else name)


def picture(info: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    shown = [m for m in METRICS if m.key in ("multi_qx", "multi_qen", "en_pref", "multi1_ndcg", "monosame", "sa")]
    names, short, data = info["names"], info["short"], info["data"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), constrained_layout=True)
    for ax, metric in zip(axes.flat, shown):
        langs = ["en", *LANGS] if "{l}" in metric.subset else list(LANGS)
        base_vals = data[names[0]].get(metric.key, {})
        width = 0.8 / max(1, len(names) - 1)
        if not base_vals or not any(data[n].get(metric.key) for n in names[1:]):
            ax.text(0.5, 0.5, "not evaluated", transform=ax.transAxes, ha="center", va="center", color="grey")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"Δ {metric.label}", fontsize=10, color="grey")
            continue
        for i, name in enumerate(names[1:]):
            vals = data[name].get(metric.key, {})
            deltas = [(vals[l] - base_vals[l]) if l in vals and l in base_vals else np.nan for l in langs]
            scale = 1 if metric.sa else 100
            ax.bar(np.arange(len(langs)) + i * width - 0.4 + width / 2, np.array(deltas) * scale, width,
                   label=short[i + 1])
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(langs)), langs)
        unit = "" if metric.sa else " (points)"
        better = "↓ better" if metric.better == "lower" else "↑ better"
        ax.set_title(f"Δ {metric.label}{unit}, {better}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Change against {names[0]} (aligned − base), per language", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _report(args: argparse.Namespace) -> int:
    results = args.results or [Path("results")]
    markdown, info = build(args.base, args.aligned, results, args.task_suffix)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    try:
        picture(info, args.out / "report.png")
        print(f"wrote {args.out / 'report.md'} and {args.out / 'report.png'}", file=sys.stderr)
    except ImportError:
        print(f"wrote {args.out / 'report.md'} (no picture: matplotlib is not installed)", file=sys.stderr)
    return 0
