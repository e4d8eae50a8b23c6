"""`xalign leaderboard submit RESULTS_DIR [--replace]` and `xalign leaderboard build`."""

from __future__ import annotations

import argparse

DEFAULT_DIR = "leaderboards"


def _submit(args: argparse.Namespace) -> int:
    from mteb_xalign import mteb_bridge
    from mteb_xalign.leaderboard import submit

    mteb_bridge.ensure_registered()  # the tasks to validate against come from the plugins
    report = submit(args.results_dir, args.leaderboard, replace=args.replace)
    for path in report.added:
        print(f"added    {path}")
    for path in report.replaced:
        print(f"replaced {path}")
    print(f"{report.summary()}; run `xalign leaderboard build --leaderboard {args.leaderboard}` to update the pages")
    return 0


def _build(args: argparse.Namespace) -> int:
    from mteb_xalign.leaderboard import build

    board = build(args.leaderboard)
    print(f"wrote {args.leaderboard}/index.html, README.md and leaderboard.json ({len(board.entries)} model revisions)")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("leaderboard", help="submit results to the leaderboard and build its pages")
    sub = parser.add_subparsers(dest="leaderboard_command", required=True)
    submit = sub.add_parser("submit", help="validate a results folder and add it to the leaderboard")
    submit.add_argument("results_dir", metavar="RESULTS_DIR",
                        help="mteb results (<model>/<revision>/<Task>.json + model_meta.json), e.g. results/")
    submit.add_argument("--replace", action="store_true",
                        help="overwrite results already on the leaderboard for the same model, revision and task")
    submit.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                        help=f"leaderboard folder (default: {DEFAULT_DIR})")
    submit.set_defaults(func=_submit)
    build = sub.add_parser("build", help="render index.html and README.md from the submitted results")
    build.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                       help=f"leaderboard folder (default: {DEFAULT_DIR})")
    build.set_defaults(func=_build)
