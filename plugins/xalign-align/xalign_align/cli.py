"""`xalign align fit | train | report | forget`: the plugin's commands, added through `register_commands`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.cli_options import add_list_option
from mteb_xalign.errors import UserError, unknown_name

from xalign_align import train_cli
from xalign_align.registry import no_register_help, register_made, remove_from_index


def add_parsers(sub) -> None:
    align = sub.add_parser("align", help="repair cross-lingual alignment: fit a map, fine-tune, report before/after")
    cmds = align.add_subparsers(dest="align_command", required=True)

    fit = cmds.add_parser("fit", help="fit a training-free map on a model's vectors (any model, frozen ones too)")
    fit.add_argument("-m", "--model", required=True, help="base model name (see `xalign models`)")
    from xalign_align.maps import METHODS

    fit.add_argument("--method", required=True, choices=METHODS)
    fit.add_argument("--train", default="tatoeba", help="'tatoeba' (bundled pairs, default) or a folder of "
                     "<lang>-en.jsonl pairs / <lang>-en.triples.jsonl triples")
    add_list_option(fit, "-l", "--languages", metavar="LANG",
                    help="target languages to fit: -l ar de or -l ar,de (default: all in the data)")
    fit.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    fit.add_argument("--name", help="registered name (default BASE+METHOD-DATA)")
    fit.add_argument("--rank", type=int, default=1, help="subspace: rank of the language subspace removed")
    fit.add_argument("--unfitted", choices=("error", "identity"), default="error",
                     help="a text in a language without a map: error (default) or leave it unmapped, with a warning")
    add_list_option(fit, "--roles", default="query,document", metavar="ROLE",
                    help="roles whose vectors the map is fitted on: query document (default both)")
    fit.add_argument("--no-register", action="store_true", help=no_register_help())
    fit.add_argument("--device", default=None)
    fit.set_defaults(func=_fit)

    train_cli.add_parser(cmds)
    from xalign_align import report

    report.add_parser(cmds)
    forget = cmds.add_parser("forget", help="remove aligned models from the index (their folders are left alone)")
    forget.add_argument("names", nargs="+", metavar="NAME", help="registered name(s), as `xalign models` lists them")
    forget.set_defaults(func=_forget)


def _forget(args: argparse.Namespace) -> int:
    for name in args.names:
        path, folder = remove_from_index(name)
        print(f"removed {name} ({folder}) from {path}; the folder itself is left as it is")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from mteb_xalign.mteb_bridge import ensure_registered

    ensure_registered()
    from xalign_align.fit import ROLES, fit_artifact
    from xalign_align.pairs import load_training_set

    roles = list(args.roles)
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UserError(f"--roles takes query and/or document, not {', '.join(bad) or 'nothing'}")
    _check_model(args.model)
    if getattr(args, "folds", None):
        def build(data, out, extra, method):
            name = f"{args.name}-fold{extra['cross_fitting']['fold']}" if args.name else None
            return fit_artifact(args.model, method, data, out, name=name, rank=args.rank, unfitted=args.unfitted,
                                roles=roles, device=args.device, extra_card=extra,
                                log=lambda msg: print(msg, file=sys.stderr))
        return train_cli.cross_fit(args, [args.method], build)
    data = load_training_set(args.train, args.languages)
    art = fit_artifact(args.model, args.method, data, args.out, name=args.name, rank=args.rank,
                       unfitted=args.unfitted, roles=roles, device=args.device,
                       log=lambda msg: print(msg, file=sys.stderr))
    register_made(art, args.no_register)
    print(art.folder)
    train_cli.evaluate_after(args, [art])
    return 0


def _check_model(name: str) -> None:
    import mteb

    try:
        mteb.get_model_meta(name)
    except KeyError:
        raise unknown_name("model", name, (m.name for m in mteb.get_model_metas()), "xalign models") from None

