"""`python -m xalign_align.experiment`: fit every training-free method for a model on the bundled
Tatoeba pairs and evaluate base and aligned models on XQuAD, writing MTEB result JSON.

It ends with the before/after table of `xalign align report` (printed, and written with its
picture to `--report`, default OUTPUT/align-report): each average score with its 95% interval and
each Δ (aligned − base) with its paired 95% interval, marked n.s. where not significant after Holm.
The numbers of the README's before/after tables come from this script. Base vectors come from the
shared embedding cache when they are there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xalign_align.report import write_report

XQUAD_TARGETS = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
EVAL_TASKS = ("MultiRefCLIR", "MultiRefCLIR-MonoSame")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", required=True)
    p.add_argument("--methods", default="procrustes,lstsq,center,subspace")
    p.add_argument("--languages", default=",".join(XQUAD_TARGETS))
    p.add_argument("--roles", default="document")
    p.add_argument("--tasks", default=",".join(EVAL_TASKS))
    p.add_argument("--eval-languages", default=None, help="evaluate only subsets of these target languages")
    p.add_argument("--artifacts", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--train", default="tatoeba", help="'tatoeba' (bundled pairs, default) or a folder of pairs")
    p.add_argument("--report", type=Path, default=None, help="folder for report.md and report.png "
                   "(default OUTPUT/align-report)")
    args = p.parse_args(argv)

    from mteb_xalign.mteb_bridge import ensure_registered

    ensure_registered()
    from xalign_align.fit import fit_artifact
    from xalign_align.pairs import load_training_set
    from xalign_align.registry import add_to_index, meta_for

    data = load_training_set(args.train, args.languages.split(","))
    from xalign_align.evaluate import evaluate

    tasks = args.tasks.split(",")
    eval_langs = args.eval_languages.split(",") if args.eval_languages else None
    evaluate([args.model], tasks, args.output, languages=eval_langs)
    import mteb

    from mteb_xalign import mteb_compat

    aligned = []
    for method in args.methods.split(","):
        folder = args.artifacts / f"{args.model.replace('/', '__')}+{method}"
        art = fit_artifact(args.model, method, data, folder, roles=args.roles.split(","),
                           log=lambda msg: print(msg, file=sys.stderr, flush=True))
        add_to_index(art.name, folder)  # later processes know it by name
        mteb_compat.add_model(meta_for(art.name, folder))  # this process registered before the fit
        assert mteb.get_model_meta(art.name).revision == art.revision
        evaluate([art.name], tasks, args.output, languages=eval_langs)
        aligned.append(art.name)
    print(write_report(args.model, aligned, [args.output], args.report or args.output / "align-report"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
