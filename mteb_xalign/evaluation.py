"""The one evaluation path: one model on a list of tasks, through mteb, into the result store.

Everything that evaluates calls `evaluate_pair`: `xalign run` (run.py), a Ray worker
(distributed/grid.py, which plans with the same `plan`), `xalign leaderboard verify`, and the
repair plugin (`xalign align ... --evaluate`, `--folds`, its experiment script). So every
result file is written the same way (result_store.ResultStore: atomic, with provenance, per-query
outcomes beside it), and a stored result is reused by the same rule everywhere: only when it is
complete and current (ResultStore.why_not_current); anything else is recomputed, and said why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mteb_xalign.model_loading import load_model, model_meta
from mteb_xalign.result_store import ResultStore


@dataclass(frozen=True)
class RunOptions:
    """How to evaluate, whatever the (model, task) pair."""

    device: str | None = None
    batch_size: int | None = None
    overwrite: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class Planned:
    """What a (model, task) pair needs: nothing (complete and current), the missing subsets, or everything."""

    task: Any
    state: str  # "absent" | "complete" | "partial" | "stale" (see ResultStore.state)

    @property
    def to_compute(self) -> bool:
        return self.state != "complete"

    @property
    def strategy(self) -> str:
        """mteb's overwrite strategy: keep a current partial result's subsets, else start over."""
        return "only-missing" if self.state in ("partial", "complete") else "always"


def plan(store: ResultStore, meta: Any, tasks: Sequence[Any], *, overwrite: bool = False) -> list[Planned]:
    """The state of each task's stored result for `meta`; a stale one's reason is said once."""
    planned = []
    for task in tasks:
        state, why = store.state(task, meta, overwrite=overwrite)
        if why is not None:
            store.say(why)
        planned.append(Planned(task, state))
    return planned


def evaluate_pair(model: str | Any, tasks: Sequence[Any], output: Path, options: RunOptions = RunOptions()) -> list:
    """Evaluate one model (a name or a ModelMeta) on `tasks`, results under `output`; mteb TaskResults.

    The model is loaded only if some task has something to compute.
    """
    import mteb  # deferred: mteb is slow to import

    meta = model_meta(model) if isinstance(model, str) else model
    store = ResultStore(output, tasks=tasks)
    planned = plan(store, meta, tasks, overwrite=options.overwrite)
    loaded = load_model(meta, options.device) if any(p.to_compute for p in planned) else meta
    encode_kwargs = {"batch_size": options.batch_size} if options.batch_size else {}
    results = []
    for item in planned:
        outcome = mteb.evaluate(loaded, [item.task], cache=store, encode_kwargs=encode_kwargs,
                                overwrite_strategy=item.strategy, show_progress_bar=False)
        results.extend(outcome.task_results)
    return results
