"""`xalign report`: one self-contained HTML page of the results of one or more models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.cli_options import add_list_option
from mteb_xalign.errors import UserError
from mteb_xalign.plots.layout import require_method
from mteb_xalign.report.page import render
from mteb_xalign.report.results import find_results
from mteb_xalign.report.word_map import build_word_map


def report_command(args: argparse.Namespace) -> int:
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise UserError("the report needs plotly: pip install 'mteb-xalign[plot]'") from None
    if args.output.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--output: {args.output} should end in .html (the report is one HTML page)")
    models = find_results(args.results, args.model)
    word_maps = []
    if args.word_map:
        require_method(args.word_map_method)  # before any model loads
        for name in args.word_map:
            fig, note = build_word_map(name, data=args.word_map_data, languages=args.word_map_languages,
                                       method=args.word_map_method, seed=args.word_map_seed)
            word_maps.append((name, fig, note))
    page = render(models, results_dir=args.results, word_maps=word_maps)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    tasks = sorted({t for m in models for t in m.tasks})
    print(f"{args.output}: {len(models)} model(s) ({', '.join(m.name for m in models)}), {len(tasks)} task(s), "
          f"{len(page) // 1024} KB", file=sys.stdout)
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="one self-contained HTML page of stored results (runs no model)",
        description="Write one self-contained HTML page (tables, interactive Plotly charts with their JavaScript "
        "inlined, so it works offline) from MTEB result files in mteb's layout "
        "<results>/<model>/<revision>/<Task>.json, as `xalign run --output` writes them. The report does not "
        "run models (but --word-map embeds words): run `xalign run -m MODEL --all --output results` first.")
    add_list_option(p, "-m", "--model", "--models", metavar="MODEL",
                    help="model name(s), side by side: -m A B or -m A,B (default: every model in --results)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default ./results)")
    p.add_argument("--output", "-o", type=Path, required=True, help="HTML file to write")
    p.add_argument("--word-map", action="append", default=None, metavar="MODEL",
                   help="add an interactive word map of MODEL (repeatable); this embeds the word list's words "
                   "(through the embedding cache), so the model is loaded unless every word is cached")
    p.add_argument("--word-map-data", type=Path, default=None,
                   help="word list of the map (default Swadesh-207; e.g. semanscope/ICML-4-zinets-SA.csv)")
    add_list_option(p, "--word-map-languages", default=None, metavar="LANG",
                    help="languages of the map: en zh or en,zh (default: en,zh,ar,ru,el on Swadesh-207, else all "
                    "of the word list's)")
    p.add_argument("--word-map-method", default="umap",
                   choices=("phate", "umap", "tsne", "pacmap", "trimap", "pca"), help="2-d reduction (default umap)")
    p.add_argument("--word-map-seed", type=int, default=0)
    p.set_defaults(func=report_command)
