"""`xalign align fit | train | report`: the plugin's commands, added through `register_commands`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.errors import UserError


def add_parsers(sub) -> None:
    align = sub.add_parser("align", help="repair cross-lingual alignment: fit a map, fine-tune, report before/after")
    cmds = align.add_subparsers(dest="align_command", required=True)

    fit = cmds.add_parser("fit", help="fit a training-free map on a model's vectors (any model, frozen ones too)")
    fit.add_argument("-m", "--model", required=True, help="base model name (see `xalign models`)")
    from xalign_align.maps import METHODS

    fit.add_argument("--method", required=True, choices=METHODS)
    fit.add_argument("--train", default="tatoeba", help="'tatoeba' (bundled pairs, default) or a folder of "
                     "<lang>-en.jsonl pairs / <lang>-en.triples.jsonl triples")
    fit.add_argument("--languages", help="comma-separated target languages to fit (default: all in the data)")
    fit.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    fit.add_argument("--name", help="registered name (default BASE+METHOD-DATA)")
    fit.add_argument("--rank", type=int, default=1, help="subspace: rank of the language subspace removed")
    fit.add_argument("--unfitted", choices=("error", "identity"), default="error",
                     help="a text in a language without a map: error (default) or leave it unmapped, with a warning")
    fit.add_argument("--roles", default="query,document", help="roles whose vectors the map is fitted on")
    fit.add_argument("--no-register", action="store_true", help="do not add the artifact to the aligned-models index")
    fit.add_argument("--device", default=None)
    fit.set_defaults(func=_fit)

    from xalign_align import train_cli

    train_cli.add_parser(cmds)
    from xalign_align import report

    report.add_parser(cmds)


def _fit(args: argparse.Namespace) -> int:
    from mteb_xalign.mteb_bridge import ensure_registered

    ensure_registered()
    from xalign_align.fit import ROLES, fit_artifact
    from xalign_align.pairs import load_training_set

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UserError(f"--roles takes query and/or document, not {bad or args.roles!r}")
    _check_model(args.model)
    if getattr(args, "folds", None):
        from xalign_align.train_cli import cross_fit

        def build(data, out, extra, method):
            name = f"{args.name}-fold{extra['cross_fitting']['fold']}" if args.name else None
            return fit_artifact(args.model, method, data, out, name=name, rank=args.rank, unfitted=args.unfitted,
                                roles=roles, device=args.device, extra_card=extra,
                                log=lambda msg: print(msg, file=sys.stderr))
        return cross_fit(args, [args.method], build)
    languages = [x.strip() for x in args.languages.split(",")] if args.languages else None
    data = load_training_set(args.train, languages)
    art = fit_artifact(args.model, args.method, data, args.out, name=args.name, rank=args.rank,
                       unfitted=args.unfitted, roles=roles, device=args.device,
                       log=lambda msg: print(msg, file=sys.stderr))
    _register(art, args.no_register)
    print(art.folder)
    from xalign_align.train_cli import evaluate_after

    evaluate_after(args, [art])
    return 0


def _check_model(name: str) -> None:
    import mteb

    try:
        mteb.get_model_meta(name)
    except KeyError:
        raise UserError(f"unknown model {name!r} (see `xalign models`)") from None


def _register(art, skip: bool) -> None:
    if skip:
        return
    from xalign_align.registry import add_to_index

    path = add_to_index(art.name, art.folder)
    print(f"registered as {art.name} in {path} (use -m {art.name} or -m {art.folder})", file=sys.stderr)
