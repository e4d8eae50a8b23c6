"""`xalign report`: one self-contained HTML page of the results of one or more models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.cli_options import add_list_option
from mteb_xalign.errors import UserError


def report_command(args: argparse.Namespace) -> int:
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise UserError("the report needs plotly: pip install 'mteb-xalign[plot]'") from None
    from mteb_xalign.report.page import render
    from mteb_xalign.report.results import find_results

    if args.output.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"--output: {args.output} should end in .html (the report is one HTML page)")
    models = find_results(args.results, args.model)
    page = render(models, results_dir=args.results)
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
        "run models: run `xalign run -m MODEL --all --output results` first.")
    add_list_option(p, "-m", "--model", "--models", metavar="MODEL",
                    help="model name(s), side by side: -m A B or -m A,B (default: every model in --results)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default ./results)")
    p.add_argument("--output", "-o", type=Path, required=True, help="HTML file to write")
    p.set_defaults(func=report_command)
