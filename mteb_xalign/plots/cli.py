"""`xalign plot`: PNG pictures.

- `affinity -m MODEL --languages en,zh,de --method phate|umap|tsne|pacmap|trimap|pca --output
  fig.png`: a map of the words of N concepts, coloured by language, translations linked, every
  point labelled with its word; SA over those languages in the title. `--output map.html`: the
  same map, interactive (Plotly: hover, languages toggle). `--data` takes any word list, e.g. a
  bundled one by its name (`semanscope/ICML-4-zinets-SA.csv`).
- `heatmap -m MODEL --output sa.png`: SA of every language pair; the title number is the
  SemanticAffinity task's score (mean SA of the pivot-X pairs), the number every page shows.
- `retrieval --results DIR -m MODEL [-m MODEL2] --kind languages|preference|scenarios --output r.png`:
  per-language retrieval pictures read from MTEB result files (no model is run).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from mteb_xalign.cli_options import add_list_option
from mteb_xalign.errors import UserError
from mteb_xalign.metrics.affinity import affinity_matrix, semantic_affinity
from mteb_xalign.plots import retrieval
from mteb_xalign.plots import words as W
from mteb_xalign.plots.affinity import draw_affinity_map
from mteb_xalign.plots.figure import pyplot, save
from mteb_xalign.plots.fonts import install_hint
from mteb_xalign.plots.heatmap import draw_heatmap
from mteb_xalign.plots.layout import METHODS, build_points, require_method, select_concepts
from mteb_xalign.report.results import find_results
from mteb_xalign.report.word_map import word_map_figure


def plot_affinity(args: argparse.Namespace) -> int:
    html = args.output.suffix.lower() in (".html", ".htm")
    if html:
        try:
            import plotly  # noqa: F401
        except ImportError:
            raise UserError("an interactive map (.html) needs plotly: pip install 'mteb-xalign[plot]'") from None
    else:
        pyplot()  # fail early, before a model is loaded, when matplotlib is missing
    require_method(args.method)  # a method whose package is missing: refused before the model loads
    if args.concepts < 1:
        raise UserError("--concepts must be at least 1")
    task = W.affinity_task(args.data)
    languages = W.languages_arg(args.languages or (["en", "zh", "de"] if args.data is None else None), task.words)
    vectors = W.embed_words(args.model, task, languages, device=args.device, batch_size=args.batch_size)
    matrix, concepts = W.vectors_and_rows(task, languages, vectors)
    sa = semantic_affinity(matrix, concepts, languages)

    chosen = select_concepts(task.words, languages, args.concepts)
    points, method, note = build_points(task.words, chosen, languages, vectors, method=args.method, seed=args.seed)
    if note:
        print(f"note: {note}", file=sys.stderr)
    hint = install_hint({lang: [p.word for p in points if p.language == lang] for lang in languages})
    if hint:
        print(f"note: {hint}", file=sys.stderr)
    sa_text = f"{sa.semantic_affinity:.3f} ± {sa.sa_sem:.3f}" if sa.status == "ok" else sa.status
    title = (f"{args.model}: SA({', '.join(languages)}) = {sa_text} over {sa.n_concepts} concepts of "
             f"{W.dataset_name(task, args.data)}\n{method} map of {len(chosen)} concepts; lines link translations")
    if html:
        fig = word_map_figure(points, task.words, languages, title=title.replace("\n", "<br>"), method=method,
                              show_links=not args.no_links)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.write_html(args.output, include_plotlyjs=True, full_html=True)  # JS inlined: works offline
    else:
        fig = draw_affinity_map(points, task.words, languages, title=title, method=method,
                                show_links=not args.no_links)
        save(fig, args.output, args.dpi)
    print(f"{args.output}: SA = {sa_text} ({method}, {len(points)} words)")
    return 0


def plot_heatmap(args: argparse.Namespace) -> int:
    pyplot()
    task = W.affinity_task(args.data)
    languages = W.languages_arg(args.languages, task.words)
    vectors = W.embed_words(args.model, task, languages, device=args.device, batch_size=args.batch_size)
    matrix = affinity_matrix(*W.vectors_and_rows(task, languages, vectors), languages)
    score, pairs = task_score(matrix, languages, W.pivot_pairs(task, languages))
    title = (f"{args.model}: Semantic Affinity by language pair ({W.dataset_name(task, args.data)})\n"
             f"{task.metadata.name} score {score:.3f} = mean SA of the {len(pairs)} pairs "
             f"{pairs[0][0] if pairs else '?'}-X shown")
    fig = draw_heatmap(matrix, languages, title=title)
    save(fig, args.output, args.dpi)
    print(f"{args.output}: {len(languages)} languages, {task.metadata.name} score {score:.3f}")
    return 0


def task_score(matrix: np.ndarray, languages: list[str], pairs: list[tuple[str, str]]):
    """The SemanticAffinity task's score over the drawn languages: mean SA of its pair subsets.

    Entry (a, b) of `affinity_matrix` is SA over [a, b] (the metric's tested identity), so the
    mean over the task's pivot-X pairs is the mean over its pair subsets' main scores.
    """
    index = {lang: i for i, lang in enumerate(languages)}
    values = [matrix[index[a], index[b]] for a, b in pairs]
    finite = [v for v in values if math.isfinite(v)]
    return (float(np.mean(finite)) if finite else math.nan), pairs


def plot_retrieval(args: argparse.Namespace) -> int:
    pyplot()
    models = find_results(args.results, args.model)
    draw = {"languages": retrieval.draw_multi_by_language, "preference": retrieval.draw_language_preference,
            "scenarios": retrieval.draw_multi_vs_mono}[args.kind]
    fig = draw(models)
    save(fig, args.output, args.dpi)
    print(f"{args.output}: {args.kind}, {len(models)} model(s): {', '.join(m.name for m in models)}")
    return 0


def add_parser(subparsers) -> None:
    plot = subparsers.add_parser("plot", help="pictures: word maps, SA heatmaps, retrieval by language")
    kinds = plot.add_subparsers(dest="plot_kind", required=True)

    def common(p, *, model_help="model name (see `xalign models`)"):
        p.add_argument("-m", "--model", required=True, help=model_help)
        p.add_argument("--output", "-o", type=Path, required=True, help="PNG file to write")
        p.add_argument("--data", type=Path, help="word list (Swadesh-layout JSONL or Semanscope CSV), or a "
                       "bundled one by name (semanscope/ICML-1-peterg-SA.csv, ...); default: Swadesh-207")
        p.add_argument("--dpi", type=int, default=100)
        p.add_argument("--device", default=None)
        p.add_argument("--batch-size", type=int, default=None)

    a = kinds.add_parser("affinity", help="word map of translations (PHATE, UMAP, t-SNE, PaCMAP, TriMap, PCA), "
                         "coloured by language; .png, or .html for an interactive map")
    common(a)
    add_list_option(a, "-l", "--languages", default=None, metavar="LANG",
                    help="languages: -l en zh de or -l en,zh,de (default: en,zh,de on Swadesh-207, else every "
                         "language of --data)")
    a.add_argument("--concepts", type=int, default=30, help="how many concepts to draw (default 30)")
    a.add_argument("--method", choices=tuple(METHODS), default="phate",
                   help="the 2-d reduction, seeded by --seed (default phate); all but pca need the plot extra")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--no-links", action="store_true", help="do not link translations")
    a.set_defaults(func=plot_affinity)

    h = kinds.add_parser("heatmap", help="SA of every language pair")
    common(h)
    add_list_option(h, "-l", "--languages", metavar="LANG",
                    help="languages: -l en zh de or -l en,zh,de (default: all of the word list)")
    h.set_defaults(func=plot_heatmap)

    r = kinds.add_parser(
        "retrieval", help="retrieval by language from result files (runs no model)",
        description="Per-language retrieval pictures read from MTEB result files (mteb's layout "
        "<results>/<model>/<revision>/<Task>.json, as `xalign run --output` writes). No model is run.")
    add_list_option(r, "-m", "--model", "--models", metavar="MODEL",
                    help="model name(s), side by side: -m A B or -m A,B (default: every model in --results)")
    r.add_argument("--results", type=Path, default=Path("results"), help="results folder (default ./results)")
    r.add_argument("--kind", choices=("languages", "preference", "scenarios"), default="languages",
                   help="languages: Max@R_norm of q-X vs q-en per language (Multi scenario); preference: "
                   "English preference on q-X and its mirror on q-en, with chance levels; scenarios: "
                   "Mono-Same, Mono-Cross, Multi-1 and Multi per language")
    r.add_argument("--output", "-o", type=Path, required=True, help="PNG file to write")
    r.add_argument("--dpi", type=int, default=100)
    r.set_defaults(func=plot_retrieval)
