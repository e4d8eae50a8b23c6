"""`xalign leaderboard submit RESULTS_DIR [--check] [--replace]` and `xalign leaderboard build`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_DIR = "leaderboards"


def _submit(args: argparse.Namespace) -> int:
    from mteb_xalign import mteb_bridge
    from mteb_xalign.leaderboard import submit
    from mteb_xalign.leaderboard.provenance import unrecorded

    mteb_bridge.ensure_registered()  # the tasks to validate against come from the plugins
    report = submit(args.results_dir, args.leaderboard, replace=args.replace, check=args.check)
    verb = ("would add", "would replace") if args.check else ("added   ", "replaced")
    for path in report.added:
        print(f"{verb[0]} {path}")
    for path in report.replaced:
        print(f"{verb[1]} {path}")
    for warning in name_warnings(report, args.leaderboard) + unrecorded(report.models):
        print(f"warning: {warning}", file=sys.stderr)
    if args.check:
        print(report.summary())
    else:
        print(f"{report.summary()}; run `xalign leaderboard build --leaderboard {args.leaderboard}` to update the pages")
    return 0


def name_warnings(report, leaderboard: str) -> list[str]:
    """What the page will flag about the submitted names (look-alikes, reused names), said now."""
    from mteb_xalign.leaderboard.board import RESULTS, flag_rows, Row
    from mteb_xalign.leaderboard.build import registered_models

    stored = {path.parent.parent.name: path for path in Path(leaderboard).glob(f"{RESULTS}/*/*/model_meta.json")}
    rows = [Row(name=m.name, revision=m.revision, folder=Path(m.name_as_path) / m.revision, meta={})
            for m in report.models]
    others = [Row(name=_stored_name(path), revision=path.parent.name, folder=Path(key), meta={})
              for key, path in stored.items()]
    flag_rows(rows + others, registered_models())
    return [f"{row.name} ({row.revision}): {flag}" for row in rows for flag in row.flags]


def _stored_name(meta_path: Path) -> str:
    try:
        return str(json.loads(meta_path.read_text(encoding="utf-8")).get("name"))
    except (OSError, ValueError):
        return meta_path.parent.parent.name


def _build(args: argparse.Namespace) -> int:
    from mteb_xalign.leaderboard import build

    board = build(args.leaderboard)
    print(f"wrote {args.leaderboard}/index.html, README.md and leaderboard.json ({len(board.rows)} model revisions)")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("leaderboard", help="submit results to the leaderboard and build its pages")
    sub = parser.add_subparsers(dest="leaderboard_command", required=True)
    submit = sub.add_parser("submit", help="validate a results folder and add it to the leaderboard")
    submit.add_argument("results_dir", metavar="RESULTS_DIR",
                        help="mteb results (<model>/<revision>/<Task>.json + model_meta.json), e.g. results/")
    submit.add_argument("--check", action="store_true",
                        help="validate only (as the leaderboard's CI does): report what would be added, write nothing")
    submit.add_argument("--replace", action="store_true",
                        help="overwrite results already on the leaderboard for the same model, revision and task")
    submit.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                        help=f"leaderboard folder (default: {DEFAULT_DIR})")
    submit.set_defaults(func=_submit)
    build = sub.add_parser("build", help="render index.html and README.md from the submitted results")
    build.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                       help=f"leaderboard folder (default: {DEFAULT_DIR})")
    build.set_defaults(func=_build)
