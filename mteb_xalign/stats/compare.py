"""`xalign compare MODEL_A MODEL_B`: is A's score different from B's, subset by subset and per task?

For every task both models have, on the same data (dataset revision) and the same queries (ids
and clusters in the per-query files): per shared subset the difference of the main scores
(A - B, exactly the stored scores' difference), its 95% paired cluster bootstrap interval (the
same clusters drawn for both models), and a two-sided p-value from a paired cluster permutation
test (A's and B's outcomes swapped within randomly chosen clusters: exact under the null that the
two models are exchangeable per cluster, with no normality assumption, and it respects the
clustering the interval respects). p-values are Holm-adjusted over the subsets of each task
(family-wise error 0.05 per task); the task rows (mteb's task score, the mean over subsets, all
subsets resampled jointly) are Holm-adjusted over the tasks compared. `significant`: adjusted
p < 0.05.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from mteb_xalign import per_query
from mteb_xalign.errors import UserError
from mteb_xalign.plots.figure import pyplot, save
from mteb_xalign.report.results import find_results
from mteb_xalign.stats.file_intervals import main_score_of
from mteb_xalign.stats.resampling import N_RESAMPLES, SEED, TEST, holm, paired_all
from mteb_xalign.table import format_table

ALPHA = 0.05
TASK_ROW = "task"


@dataclass
class Row:
    task: str
    subset: str
    delta: float
    ci95_low: float
    ci95_high: float
    p_value: float
    p_adjusted: float
    significant: bool


def _main_score(task_name: str, scores: dict, outcomes, path: Path) -> str:
    recorded = per_query.load_header(path).get("main_score")
    if recorded:
        return recorded
    try:
        return main_score_of(task_name)
    except (KeyError, ValueError):
        # A task this installation does not know: the per-row key that reproduces main_score.
        keys = [k for k, v in per_query.recompute(outcomes).items() if per_query.on_disk(v) == scores["main_score"]]
        if len(keys) != 1:
            raise UserError(f"task {task_name!r} is not registered and its main score key is ambiguous") from None
        return keys[0]


def compare_task(path_a: Path, path_b: Path, *, n_resamples: int = N_RESAMPLES,
                 seed: int = SEED) -> tuple[list[Row], Row | None, list[str]]:
    """Subset rows (Holm over them), the task row (unadjusted: the caller adjusts over tasks), notes."""
    ra, rb = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (path_a, path_b))
    task = ra.get("task_name")
    if ra.get("dataset_revision") != rb.get("dataset_revision"):
        raise UserError(f"{task}: different data: {path_a} was computed on dataset revision "
                        f"{ra.get('dataset_revision')!r}, {path_b} on {rb.get('dataset_revision')!r}")
    for path in (path_a, path_b):
        if not per_query.has_file(path):
            raise UserError(f"{path}: no per-query file ({per_query.per_query_path(path).name}) beside it: "
                            "rerun the model with this version to compare")
        found = per_query.problems(path)
        if found:
            raise UserError("; ".join(found))
    qa, qb = per_query.load(path_a), per_query.load(path_b)
    split = "test"
    sa = {s["hf_subset"]: s for s in ra["scores"].get(split, []) if (split, s["hf_subset"]) in qa}
    sb = {s["hf_subset"]: s for s in rb["scores"].get(split, []) if (split, s["hf_subset"]) in qb}
    shared = [s for s in sa if s in sb]
    notes = []
    only = sorted(set(sa) ^ set(sb))
    if only:
        notes.append(f"{task}: subsets in one result only, not compared: {', '.join(only)}")
    for subset in shared:
        a, b = qa[(split, subset)], qb[(split, subset)]
        if a.ids != b.ids:
            raise UserError(f"{task} {subset}: the two results hold different queries "
                            f"({len(a.ids)} vs {len(b.ids)} rows, or other ids): not comparable")
        if a.clusters != b.clusters:
            raise UserError(f"{task} {subset}: the same queries in different clusters: not comparable")
    if not shared:
        return [], None, notes + [f"{task}: no subset in both results"]
    key = _main_score(task, sa[shared[0]], qa[(split, shared[0])], Path(path_a))
    try:
        per_subset, whole = paired_all([qa[(split, s)] for s in shared], [qb[(split, s)] for s in shared], key,
                                       n_resamples=n_resamples, seed=seed)
    except ValueError as exc:  # rows weighted differently (SA tuple counts from another word list)
        raise UserError(f"{task}: {exc}: not comparable") from None
    rows = [Row(task, subset, res.delta, res.low, res.high, res.p_value, math.nan, False)
            for subset, res in zip(shared, per_subset)]
    for row, adjusted in zip(rows, holm([r.p_value for r in rows])):
        row.p_adjusted = float(adjusted)
        row.significant = bool(adjusted < ALPHA)
    task_row = None
    if len(shared) == len(sa) == len(sb):
        task_row = Row(task, TASK_ROW, whole.delta, whole.low, whole.high, whole.p_value, math.nan, False)
    else:
        notes.append(f"{task}: the two results do not hold the same subsets: no task-score comparison")
    return rows, task_row, notes


def compare(paths_a: dict[str, Path], paths_b: dict[str, Path], tasks: list[str] | None = None, *,
            n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[list[Row], list[str]]:
    """Rows of every task both hold (task name -> result path), each task's subsets then its task row."""
    names = [t for t in paths_a if t in paths_b] if not tasks else tasks
    for name in names:
        if name not in paths_a or name not in paths_b:
            raise UserError(f"task {name!r}: no result for " + " and ".join(
                m for m, paths in (("model A", paths_a), ("model B", paths_b)) if name not in paths))
    if not names:
        raise UserError("the two models have no task in common")
    per_task, task_rows, notes = [], [], []
    for name in sorted(names):
        rows, task_row, found = compare_task(paths_a[name], paths_b[name], n_resamples=n_resamples, seed=seed)
        per_task.append((rows, task_row))
        notes += found
        if task_row is not None:
            task_rows.append(task_row)
    for row, adjusted in zip(task_rows, holm([r.p_value for r in task_rows])):
        row.p_adjusted = float(adjusted)
        row.significant = bool(adjusted < ALPHA)
    out = []
    for rows, task_row in per_task:
        out += rows + ([task_row] if task_row is not None else [])
    return out, notes


def _scale(task: str) -> tuple[float, int]:
    """How a task's scores are shown: x100 with 1 decimal, SA on 0-1 with 3."""
    return (1.0, 3) if task.startswith("SemanticAffinity") else (100.0, 1)


def format_rows(rows: list[Row]) -> str:
    table = []
    for r in rows:
        scale, dec = _scale(r.task)
        table.append((r.task, r.subset, f"{r.delta * scale:+.{dec}f}",
                      f"[{r.ci95_low * scale:+.{dec}f}, {r.ci95_high * scale:+.{dec}f}]",
                      f"{r.p_value:.4f}", f"{r.p_adjusted:.4f}", "yes" if r.significant else "no"))
    return format_table(("task", "subset", "delta (A-B)", "95% CI", "p", "p Holm", "significant"), table)


def forest_plot(rows: list[Row], output: Path, title: str) -> None:
    """One panel per task (its own scale), one line per subset and the task score last: the difference
    and its 95% interval; filled markers are significant after Holm."""

    plt = pyplot()
    tasks = list(dict.fromkeys(r.task for r in rows))
    groups = [[r for r in rows if r.task == t] for t in tasks]
    heights = [len(g) + 1.5 for g in groups]
    fig, axes = plt.subplots(len(tasks), 1, figsize=(8.0, 0.2 * sum(heights) + 1.0),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, task, group in zip(axes[:, 0], tasks, groups):
        scale, _ = _scale(task)
        ys = list(range(len(group)))[::-1]
        for y, r in zip(ys, group):
            whole = r.subset == TASK_ROW
            colour = ("#1f4e99" if whole else "#444444") if r.significant else ("#7a9cd6" if whole else "#999999")
            ax.plot([r.ci95_low * scale, r.ci95_high * scale], [y, y], color=colour, lw=2.4 if whole else 1.3)
            ax.plot([r.delta * scale], [y], "D" if whole else "o", color=colour,
                    markerfacecolor=colour if r.significant else "white", markersize=6 if whole else 4.5)
        ax.axvline(0.0, color="#aa2222", lw=0.8)
        ax.set_yticks(ys)
        ax.set_yticklabels(["task score" if r.subset == TASK_ROW else r.subset for r in group], fontsize=7)
        ax.set_ylim(-0.8, len(group) - 0.2)
        ax.set_title(task, fontsize=9, loc="left")
        ax.set_xlabel("A − B" + (" (0–1)" if scale == 1.0 else " (×100)"), fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title + "\n95% paired cluster bootstrap intervals (unadjusted); filled: significant at 0.05 after Holm",
                 fontsize=9)
    fig.tight_layout()
    save(fig, output, dpi=110)


def _result_paths(results: Path, model: str) -> tuple[str, dict[str, Path]]:
    [found] = find_results(results, [model])
    return found.name, {name: scores.path for name, scores in found.tasks.items()}


def compare_command(args: argparse.Namespace) -> int:
    name_a, paths_a = _result_paths(args.results, args.model_a)
    name_b, paths_b = _result_paths(args.results, args.model_b)
    rows, notes = compare(paths_a, paths_b, args.task, n_resamples=args.resamples, seed=args.seed)
    print(f"A = {name_a}, B = {name_b}: {TEST}, {args.resamples} resamples, seed {args.seed}; "
          "Holm-adjusted over each task's subsets, and over the task rows ('task': mteb's task score, "
          "all subsets resampled jointly)")
    print(format_rows(rows))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        payload = {"model_a": name_a, "model_b": name_b, "method": TEST, "n_resamples": args.resamples,
                   "seed": args.seed, "adjustment": "Holm over each task's subsets; Holm over the task rows",
                   "rows": [asdict(r) for r in rows]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        if args.plot.suffix.lower() != ".png":
            raise UserError(f"--plot: {args.plot} should end in .png")
        forest_plot(rows, args.plot, f"{name_a} − {name_b}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="paired comparison of two models' stored results, with intervals and p-values",
        description=__doc__)
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder (default ./results)")
    p.add_argument("-t", "--task", nargs="+", action="extend", default=None,
                   help="tasks to compare (default: every task both models have)")
    p.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    p.add_argument("--plot", type=Path, default=None, help="write a forest plot (PNG)")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES, help=f"resamples (default {N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    p.set_defaults(func=compare_command)
