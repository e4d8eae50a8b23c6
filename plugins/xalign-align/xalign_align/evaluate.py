"""Evaluate base and repaired models on the XQuAD tasks (optionally a few target languages only)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

DEFAULT_TASKS = ("MultiRefCLIR", "MultiRefCLIR-MonoSame")


def subsets_for_languages(task, languages: list[str] | None, pivot: str = "en") -> list[str]:
    """The task's subsets that involve only the pivot and `languages` (all of them if None)."""
    from mteb_xalign.tasks.multiref_subset import Subset

    subsets = list(task.metadata.hf_subsets)
    if not languages:
        return subsets
    keep = set(languages) | {pivot}
    out = []
    for name in subsets:
        sub = Subset.try_parse(name)
        # other tasks' subsets: SemanticAffinity's "en-de"
        langs = {*sub.doc_langs, sub.query_lang} if sub is not None else set(name.split("-"))
        if langs <= keep:
            out.append(name)
    return out


def evaluate(model_names: list[str], tasks: list[str], output: Path, *, languages: list[str] | None = None,
             device: str | None = None) -> None:
    """Each model on `tasks` (only the subsets of `languages` if given), through the one evaluation
    path (mteb_xalign.evaluation): the same result store, provenance and reuse rule as `xalign run`."""
    import mteb

    from mteb_xalign.evaluation import RunOptions, evaluate_pair
    from mteb_xalign.mteb_bridge import ensure_registered

    ensure_registered()
    task_objs = []
    for name in tasks:
        task = mteb.get_task(name)
        if languages:
            task.hf_subsets = subsets_for_languages(task, languages)
        task_objs.append(task)
    for name in model_names:
        started = time.perf_counter()
        evaluate_pair(name, task_objs, output, RunOptions(device=device))
        print(f"evaluated {name} on {', '.join(tasks)} in {time.perf_counter() - started:.0f}s",
              file=sys.stderr, flush=True)
