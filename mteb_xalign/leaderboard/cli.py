"""`xalign leaderboard submit RESULTS_DIR [--check] [--replace]`, `verify RESULTS_DIR --seed S` and `build`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mteb_xalign import mteb_bridge
from mteb_xalign.errors import UsageError
from mteb_xalign.leaderboard import build, registry, submit
from mteb_xalign.leaderboard.board import RESULTS, Row, flag_rows
from mteb_xalign.leaderboard.provenance import unrecorded
from mteb_xalign.leaderboard.verification import DEFAULT_SAMPLE, DEFAULT_TOLERANCE, MISMATCH, NOT_VERIFIABLE
from mteb_xalign.leaderboard.verify import verify

DEFAULT_DIR = "leaderboards"


def _submit(args: argparse.Namespace) -> int:
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

    stored = {path.parent.parent.name: path for path in Path(leaderboard).glob(f"{RESULTS}/*/*/model_meta.json")}
    rows = [Row(name=m.name, revision=m.revision, folder=Path(m.name_as_path) / m.revision, meta={})
            for m in report.models]
    others = [Row(name=_stored_name(path), revision=path.parent.name, folder=Path(key), meta={})
              for key, path in stored.items()]
    flag_rows(rows + others, registry.registered_models())
    return [f"{row.name} ({row.revision}): {flag}" for row in rows for flag in row.flags]


def _stored_name(meta_path: Path) -> str:
    try:
        return str(json.loads(meta_path.read_text(encoding="utf-8")).get("name"))
    except (OSError, ValueError):
        return meta_path.parent.parent.name


def _build(args: argparse.Namespace) -> int:
    board = build(args.leaderboard)
    print(f"wrote {args.leaderboard}/index.html, README.md and leaderboard.json ({len(board.rows)} model revisions)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.sample < 1:
        raise UsageError(f"--sample {args.sample}: re-run at least 1 subset per task")
    if not args.tolerance >= 0:
        raise UsageError(f"--tolerance {args.tolerance}: use 0 (identical values) or more")
    if not args.seed.strip():
        raise UsageError("--seed: give text the submitter does not control (CI: the workflow's run id)")
    mteb_bridge.ensure_registered()
    report = verify(args.results_dir, args.leaderboard, seed=args.seed, sample=args.sample,
                    tolerance=args.tolerance, device=args.device, write=not args.no_record)
    for outcome in report.outcomes:
        where = f"{outcome.model} ({outcome.revision}) {outcome.task}"
        if outcome.outcome == NOT_VERIFIABLE:
            print(f"self-reported (not verifiable here: {outcome.reason}): {where}")
        elif outcome.outcome == MISMATCH:
            print(f"MISMATCH: {where}: {len(outcome.mismatches)} value(s) differ in {', '.join(outcome.subsets)}")
        else:
            print(f"verified: {where}: {outcome.compared_values} values in {', '.join(outcome.subsets)} match")
    for path in report.records if not args.no_record else ():
        print(f"recorded {path}")
    for mismatch in report.mismatches:
        print(f"mismatch: {mismatch}", file=sys.stderr)
    return 1 if report.mismatches else 0


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

    verify = sub.add_parser("verify", help="re-run a seeded sample of subsets and compare with the submitted values")
    verify.add_argument("results_dir", metavar="RESULTS_DIR", help="the submitted results (as for submit)")
    verify.add_argument("--seed", required=True,
                        help="text mixed with a digest of the submitted files to draw the sample: something the "
                             "submitter does not control (CI: the workflow's run id; a maintainer: any text)")
    verify.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, metavar="N",
                        help=f"subsets re-run per task (default {DEFAULT_SAMPLE}; at least the task's number: all)")
    verify.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="T",
                        help=f"largest difference accepted for a score, absolute below 1 and relative above "
                             f"(default {DEFAULT_TOLERANCE:g}: one unit of the page's last digit); sizes and "
                             "labels must be equal")
    verify.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    verify.add_argument("--no-record", action="store_true",
                        help="compare only; write no record under <leaderboard>/verifications/")
    verify.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                        help=f"leaderboard folder whose verifications/ gets the record (default: {DEFAULT_DIR})")
    verify.set_defaults(func=_verify)
    build = sub.add_parser("build", help="render index.html and README.md from the submitted results")
    build.add_argument("--leaderboard", default=DEFAULT_DIR, metavar="DIR",
                       help=f"leaderboard folder (default: {DEFAULT_DIR})")
    build.set_defaults(func=_build)
