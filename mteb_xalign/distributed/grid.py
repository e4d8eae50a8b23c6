"""`xalign run --executor ray`: every (model, task) pair is one Ray task.

What runs where:
- the driver (where `xalign run` was typed) resolves models and tasks, skips the pairs whose
  results already exist in `--output` (evaluation.plan, the rule of every run), submits the rest, and
  writes every result file itself with the same `ResultStore.save_to_cache` a local run uses, so
  files land exactly where a local run puts them. It says when Ray starts (or which cluster it
  joins) and shows one progress bar over all pairs.
- a worker (with the GPUs/CPUs the pair asked Ray for; CPUs: the cluster's shared among the pairs
  unless --cpus-per-model says) runs `evaluation.evaluate_pair` on the one task
  into a private temporary result folder, seeded with the stored partial result if there is one,
  and returns the result JSON text: no file system is shared with the driver.

A worker that dies (killed, out of memory, node lost) is retried by Ray (`max_retries`); an
attempt that died returned nothing, and the driver writes a pair's result only once, from the
attempt that finished, so nothing is lost or counted twice. An exception raised by the
evaluation itself is a real error, not retried: the other pairs finish, then the run fails
naming every failed pair. Ctrl-C or SIGTERM stops the pairs still running, writes every
finished pair and shuts Ray down; a rerun resumes from what is on disk.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mteb_xalign import mteb_bridge, per_query, progress, run_settings
from mteb_xalign.distributed.cluster import cluster_gpus, import_ray, ray_session, to_stderr
from mteb_xalign.errors import UserError
from mteb_xalign.model_loading import model_meta
from mteb_xalign.mteb_compat import add_model

#: Frameworks whose models run faster on a GPU; ONNX, NumPy (C engines) and API models do not use one.
GPU_FRAMEWORKS = {"PyTorch", "Transformers", "Sentence Transformers"}


@dataclass
class Pair:
    model_name: str
    meta: Any  # mteb ModelMeta, as the driver resolved it
    task: Any  # mteb AbsTask
    existing_json: str | None = None  # a stored partial result to complete (missing subsets)


def gpus_for(meta: Any, gpus_per_model: float | None, gpus_in_cluster: float, device: str | None) -> float:
    """GPUs to reserve for one pair: the flag if given, else 1 for a GPU framework when the cluster has GPUs."""
    if gpus_per_model is not None:
        return gpus_per_model
    if device == "cpu" or gpus_in_cluster <= 0:
        return 0.0
    return 1.0 if GPU_FRAMEWORKS & set(meta.framework or ()) else 0.0


def plan_pairs(model_names: list[str], tasks: list, output: Path, overwrite: bool) -> tuple[list[Pair], list]:
    """(pairs to run, (model, result) already complete on disk): evaluation.plan, the rule of every run."""
    from mteb.results import TaskResult

    from mteb_xalign.evaluation import plan  # evaluation and result_store import mteb
    from mteb_xalign.result_store import ResultStore

    store = ResultStore(output, tasks=tasks)
    todo: list[Pair] = []
    done: list[tuple[str, Any]] = []
    for model_name in model_names:
        meta = model_meta(model_name)
        for item in plan(store, meta, tasks, overwrite=overwrite):
            path = store.get_task_result_path(task_name=item.task.metadata.name, model_name=meta)
            if item.state == "complete":
                done.append((model_name, TaskResult.from_disk(path)))
            else:  # a current partial result travels to the worker, which completes it
                partial = path.read_text(encoding="utf-8") if item.state == "partial" else None
                todo.append(Pair(model_name, meta, item.task, partial))
    return todo, done


def evaluate_pair_json(pair: Pair, options: Any) -> tuple[str, str, dict, bytes | None]:
    """Run one (model, task) pair here (on a worker): its result JSON text, model_meta.json text and
    the encode_kwargs its run_settings.jsonl row records.

    Both are what the local run writes and the driver cannot rebuild: the loaded model's meta (its
    loader arguments include the device) and the encode_kwargs as mteb completed them (defaults added).
    """

    from mteb_xalign import encode_workers  # these import mteb: only in a worker
    from mteb_xalign.evaluation import evaluate_pair
    from mteb_xalign.result_store import MODEL_META, ResultStore

    mteb_bridge.ensure_registered()
    import mteb  # deferred: mteb is slow to import

    progress.set_quiet(True)  # the driver shows progress over pairs
    try:
        mteb.get_model_meta(pair.model_name)
    except KeyError:  # a model only the driver knows (a models file there, a test model)
        add_model(pair.meta)
    with tempfile.TemporaryDirectory(prefix="xalign-pair-") as tmp:
        path = ResultStore(tmp).get_task_result_path(task_name=pair.task.metadata.name, model_name=pair.meta)
        if pair.existing_json is not None:
            # The driver found it current; saved through the store, so the worker's store agrees.
            from mteb.results import TaskResult

            ResultStore(tmp).save_to_cache(TaskResult.model_validate_json(pair.existing_json), pair.meta)
        # Encoding workers: one per CPU Ray granted this pair, not one per core of the node (pairs share it).
        with encode_workers.cpu_budget(_granted_cpus()):
            evaluate_pair(pair.meta, [pair.task], Path(tmp), dataclasses.replace(options, quiet=True))
        row = run_settings.row_of(path.parent / run_settings.FILE, pair.task.metadata.name) or {}
        used = row.get("encode_kwargs", {})
        outcomes = per_query.per_query_path(path)  # the subsets scored here (the driver merges them)
        return (path.read_text(encoding="utf-8"), (path.parent / MODEL_META).read_text(encoding="utf-8"), used,
                outcomes.read_bytes() if outcomes.exists() else None)


def _granted_cpus() -> float | None:
    """The CPUs Ray granted the running task (None outside a Ray task)."""
    try:
        import ray  # deferred: ray is slow to import

        return ray.get_runtime_context().get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - not in a Ray worker: no budget
        return None


def run_grid(model_names: list[str], tasks: list, options: Any, *, output: Path, address: str | None = None,
             gpus_per_model: float | None = None, cpus_per_model: float | None = None, max_retries: int = 3,
             num_cpus: int | None = None) -> list[tuple[str, Any]]:
    """Evaluate every pair on Ray; write results under `output` as a local run does; return them all.

    `options` is evaluation.RunOptions (device, batch size, overwrite, quiet). `cpus_per_model=None`:
    the cluster's CPUs shared among the pairs (`cpus_per_pair`).
    """
    from mteb.results import TaskResult
    from tqdm import tqdm

    from mteb_xalign.result_store import MODEL_META, ResultStore, interrupts_deferred, write_atomically  # imports mteb

    todo, done = plan_pairs(model_names, tasks, output, options.overwrite)
    results = list(done)
    if not todo:
        return results
    store = ResultStore(output)
    failures: list[str] = []
    # A model's files are written in task order, as a local run writes them (run_settings.jsonl
    # rows follow the order of writing): a pair that finishes early waits for the ones before it.
    queues = {name: [p for p in todo if p.model_name == name] for name in model_names}
    finished: dict[int, tuple | None] = {}  # id(pair) -> worker output, None if it failed

    def write(pair: Pair, output: tuple) -> None:
        text, meta_text, used_kwargs, outcomes = output
        result = TaskResult.model_validate_json(text)
        if outcomes is not None:  # recorded here as if scored here: save_to_cache writes them beside
            per_query.record_file(outcomes, result.task_name, pair.meta.name, pair.meta.revision)
        # The driver writes every file, through the same call a local run makes; an interrupt
        # meanwhile waits until the pair is whole (its worker's model_meta.json included).
        with interrupts_deferred():
            store.save_to_cache(result, pair.meta, encode_kwargs=used_kwargs)
            path = store.get_task_result_path(task_name=result.task_name, model_name=pair.meta)
            write_atomically(path.parent / MODEL_META, meta_text)
            results.append((pair.model_name, result))

    def write_ready(model_name: str) -> None:
        queue = queues[model_name]
        while queue and id(queue[0]) in finished:
            pair = queue.pop(0)
            if (output := finished.pop(id(pair))) is not None:
                write(pair, output)

    say = None if options.quiet else to_stderr
    # SIGTERM's handler after ray.init, which installs its own (it aborts the process, writing nothing).
    with ray_session(address, num_cpus=num_cpus, say=say) as ray, interrupt_on_sigterm():
        remote = ray.remote(evaluate_pair_json)
        in_cluster = cluster_gpus(ray)
        cpus = cpus_per_model if cpus_per_model is not None else cpus_per_pair(ray, len(todo))
        pending = {}
        for pair in todo:
            resources = dict(num_cpus=cpus, max_retries=max_retries, retry_exceptions=False,
                             num_gpus=gpus_for(pair.meta, gpus_per_model, in_cluster, options.device))
            pending[remote.options(**resources).remote(pair, options)] = pair
        try:
            with tqdm(total=len(todo) + len(done), initial=len(done), desc="model x task pairs",
                      unit="pair", disable=options.quiet, file=sys.stderr) as bar:
                while pending:
                    # A timeout, so that Ctrl-C (or SIGTERM) is seen within a second.
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                    if not ready:
                        continue
                    pair = pending.pop(ready[0])
                    try:
                        finished[id(pair)] = ray.get(ready[0])
                    except Exception as exc:  # noqa: BLE001 - reported per pair below, the grid goes on
                        failures.append(f"{pair.model_name} x {pair.task.metadata.name}: {_first_line(exc)}")
                        finished[id(pair)] = None
                    bar.update(1)
                    write_ready(pair.model_name)
        except KeyboardInterrupt:
            for ref in pending:  # stop the pairs still running, on whichever node
                ray.cancel(ref, force=True)
            for pair in todo:  # keep every finished pair, out of task order if need be
                if (output := finished.pop(id(pair), None)) is not None:
                    write(pair, output)
            raise
    if failures:
        raise UserError(f"{len(failures)} of {len(todo)} pairs failed: " + "; ".join(failures))
    return results


def cpus_per_pair(ray: Any, n_pairs: int) -> float:
    """The cluster's CPUs shared equally among `n_pairs` (whole CPUs, at least 1, at most one node's):
    a grid of fewer pairs than CPUs encodes on all of them, as a local run does."""
    node_cpus = [node.get("Resources", {}).get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")]
    total = sum(node_cpus)
    return float(max(1, min(int(max(node_cpus, default=1)), int(total // max(n_pairs, 1)))))


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM interrupts as Ctrl-C does, so finished pairs are written and Ray is
    shut down (Ray's handler in the driver aborts the process: finished pairs not yet written are lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # RayTaskError wraps the worker's exception
    shown = cause if isinstance(cause, BaseException) else exc
    text = str(shown).strip().splitlines()
    return f"{type(shown).__name__}: {text[-1] if text else ''}"


def run_grid_for_args(model_names: list[str], tasks: list, options: Any, args: Any) -> dict[str, list]:
    """`xalign run --executor ray`: run_grid with the command's flags; results grouped by model."""
    import_ray()  # without Ray: one line saying how to install it, before any pair is planned
    by_model: dict[str, list] = {name: [] for name in model_names}
    for model_name, result in run_grid(model_names, tasks, options, output=args.output,
                                       address=args.address, gpus_per_model=args.gpus_per_model,
                                       cpus_per_model=args.cpus_per_model):
        by_model[model_name].append(result)
    return by_model
