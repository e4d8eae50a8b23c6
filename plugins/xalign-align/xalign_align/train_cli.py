"""`xalign align train`, and the XQuAD cross-fitting runs shared by `fit` and `train` (`--folds`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.cli_options import add_list_option
from mteb_xalign.errors import UserError

from xalign_align.registry import meta_for, no_register_help, register_made


def add_parser(cmds) -> None:
    from xalign_align.objectives import OBJECTIVES
    from xalign_align.train import DEFAULT_LR

    p = cmds.add_parser("train", help="fine-tune a sentence-transformers model with L_JSD + L_NCE (the paper's loss)")
    p.add_argument("-m", "--model", required=True, help="a registered sentence-transformers model, or a local folder")
    p.add_argument("--train", default="tatoeba", help="'tatoeba' (bundled pairs), 'xquad' (with --folds), or a "
                   "folder of <lang>-en.jsonl pairs / <lang>-en.triples.jsonl triples")
    add_list_option(p, "-l", "--languages", metavar="LANG",
                    help="target languages: -l ar de or -l ar,de (default: all in the data)")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--name", help="registered name (default BASE+OBJECTIVE-ft-DATA)")
    p.add_argument("--objective", choices=OBJECTIVES, default="both",
                   help="both = L_JSD + L_NCE (default); jsd / nce alone; doc-doc = InfoNCE English doc vs target doc")
    p.add_argument("--ablation", action="store_true", help="train one model per objective (both, jsd, nce, doc-doc) "
                   "into OUT/<objective>")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: the epochs)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=DEFAULT_LR)
    p.add_argument("--warmup-ratio", type=float, default=0.15)
    p.add_argument("--hybrid", type=float, metavar="FRACTION", default=None,
                   help="hybrid batches: this share of each batch monolingual pairs (needs triples with query_x)")
    p.add_argument("--folds", type=int, default=None, help="XQuAD cross-fitting with --train xquad: train per fold, "
                   "evaluate each on its held-out half (task MultiRefCLIR-XQuAD-foldKofN)")
    p.add_argument("--results", type=Path, default=None, help="with --folds: results folder (default OUT/results)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-register", action="store_true", help=no_register_help())
    add_evaluate_options(p)
    p.set_defaults(func=_train)

    # `fit` gets --folds too (its parser was made first).
    fit = cmds.choices["fit"]
    fit.add_argument("--folds", type=int, default=None, help="XQuAD cross-fitting with --train xquad (see train)")
    fit.add_argument("--results", type=Path, default=None, help="with --folds: results folder (default OUT/results)")
    add_evaluate_options(fit)


def add_evaluate_options(p) -> None:
    add_list_option(p, "--evaluate", const="MultiRefCLIR,MultiRefCLIR-MonoSame", metavar="TASK",
                    help="then evaluate the base and the new model(s) on these tasks (alone: MultiRefCLIR "
                    "MultiRefCLIR-MonoSame), results in --results (default OUT/results)")
    add_list_option(p, "--eval-languages", metavar="LANG",
                    help="with --evaluate: only subsets of these target languages")


def evaluate_after(args: argparse.Namespace, artifacts: list) -> None:
    """`--evaluate`: the base model and each new model on the chosen tasks, into --results; then
    `xalign align report`'s before/after table (intervals, paired Δ, Holm), printed and written
    with its picture to OUT/align-report, as `python -m xalign_align.experiment` ends."""
    if not args.evaluate or not artifacts:
        return
    from mteb_xalign import mteb_compat

    from xalign_align.evaluate import evaluate

    for art in artifacts:
        mteb_compat.add_model(meta_for(art.name, art.folder))
    results = args.results or args.out / "results"
    evaluate([artifacts[0].card["base_model"], *[a.name for a in artifacts]], args.evaluate, results,
             languages=args.eval_languages, device=args.device)
    print_report(artifacts[0].card["base_model"], [a.name for a in artifacts], results, args.out / "align-report")


def print_report(base: str, names: list[str], results: Path, out: Path, suffix: str = "") -> None:
    """`xalign align report`'s table for `names` against `base`, printed and written to `out`, and the
    command that prints it again."""
    from xalign_align.report import write_report  # deferred with the evaluation: scipy is slow to import

    print(write_report(base, names, [results], out, suffix))
    again = f" --task-suffix={suffix}" if suffix else ""
    print(f"results in {results}; the same table again: xalign align report {base} {' '.join(names)} "
          f"--results {results}{again}", file=sys.stderr)


def _train(args: argparse.Namespace) -> int:
    from mteb_xalign.mteb_bridge import ensure_registered

    ensure_registered()
    from xalign_align.train import train

    objectives = ["both", "jsd", "nce", "doc-doc"] if args.ablation else [args.objective]
    settings = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_ratio=args.warmup_ratio,
                    max_steps=args.max_steps, hybrid=args.hybrid, seed=args.seed, device=args.device)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.folds:
        def build(data, out, extra, objective):
            return train(args.model, data, out, objective=objective, extra_card=extra, log=log,
                         name=_fold_name(args.name, objective, extra), **settings)
        return cross_fit(args, objectives, build)
    from xalign_align.pairs import load_training_set

    data = load_training_set(args.train, args.languages)
    if args.ablation and data.kind == "pairs":
        # On pairs the English sentence is both query and English document: doc-doc IS nce.
        objectives = [o for o in objectives if o != "doc-doc"]
        log("--ablation on pairs: doc-doc is the same loss as nce here (the English sentence is both the query "
            "and the English document), so it is not trained twice")
    made = []
    for objective in objectives:
        out = args.out / objective if args.ablation else args.out
        name = args.name if not args.ablation else (f"{args.name}-{objective}" if args.name else None)
        art = train(args.model, data, out, objective=objective, name=name, log=log, **settings)
        register_made(art, args.no_register)
        made.append(art)
        print(art.folder)
    evaluate_after(args, made)
    return 0


def _fold_name(name: str | None, what: str, extra: dict) -> str | None:
    return f"{name}-fold{extra['cross_fitting']['fold']}" if name else None


def cross_fit(args: argparse.Namespace, variants: list[str], build) -> int:
    """Per fold: build (fit or train) on the fold's training half, evaluate on its held-out half; then
    each fold's before/after report (as `--evaluate` ends), written to OUT/foldK/align-report."""
    from mteb_xalign import mteb_compat
    from mteb_xalign.evaluation import RunOptions, evaluate_pair

    from xalign_align import folds as folds_mod

    if args.train != "xquad":
        raise UserError("--folds is the XQuAD cross-fitting protocol: use it with --train xquad")
    folder = folds_mod.xquad_folder()
    languages = args.languages
    results = args.results or args.out / "results"
    reports: list[tuple[Path, str, list[str]]] = []  # (report folder, task suffix, models built on the fold)
    base = ""
    for fold in folds_mod.make_folds(folder, args.folds):
        data = folds_mod.training_set(folder, fold, languages)
        eval_folder = folds_mod.write_eval_folder(folder, fold, args.out / f"fold{fold.index}-eval-data", languages)
        task = folds_mod.eval_task(eval_folder, fold)
        extra = {"cross_fitting": {"fold": fold.index, "of": fold.of, "eval_task": task.metadata.name,
                                   "eval_data": str(eval_folder.resolve()),
                                   "train_paragraphs": sorted(fold.train_contexts)}}
        names: list[str] = []
        for variant in variants:
            out = args.out / f"fold{fold.index}" / variant if len(variants) > 1 else args.out / f"fold{fold.index}"
            art = build(data, out, extra, variant)
            base = art.card["base_model"]
            names.append(art.name)
            register_made(art, args.no_register)
            mteb_compat.add_model(meta_for(art.name, art.folder))
            for name in (art.card["base_model"], art.name):
                # The one evaluation path: the same store, provenance and reuse rule as `xalign run`.
                evaluate_pair(name, [task], results, RunOptions(device=args.device))
            print(f"fold {fold.index}/{fold.of}: {art.name} evaluated on {task.metadata.name} -> {results}",
                  file=sys.stderr)
        suffix = task.metadata.name.removeprefix("MultiRefCLIR")  # the report reads MultiRefCLIR + suffix
        reports.append((args.out / f"fold{fold.index}" / "align-report", suffix, names))
    for report_dir, suffix, names in reports:
        print_report(base, names, results, report_dir, suffix)
    print(results)
    return 0
