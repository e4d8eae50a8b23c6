"""Encode a task's texts on a pool of Ray actors: one model load per actor, the same vectors as one process.

`ShardedEncoder(meta, n_workers=4)` stands in for the model in the driver: tasks call
`encoding.embed_texts` as always, which finds the texts missing from the cache, orders them
longest first and hands `encode` a DataLoader of batches, one chunk of `encoding.CHUNK_TEXTS`
texts at a time (so a batch size of at most CHUNK_TEXTS / n_workers keeps every worker busy).
`encode` cuts the chunk into runs of WHOLE batches and sends each run to an actor, which
re-batches it with the same batch size: every model call sees exactly the batch it would have
seen in a single process, so even a model whose output depends on its batch neighbours
(padding) returns the same vectors. The runs come back in order and are concatenated; the
driver's cache stores them as usual. Exception: an adapter that plans its own batches
(`plans_own_batches`, e.g. token-budget batching for an API) plans them per run, not per chunk.

Actors are restarted by Ray if their process dies (`max_restarts`), and a call that was running
is retried (`max_task_retries`): the driver collects each run's result exactly once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mteb_xalign import mteb_bridge
from mteb_xalign.adapter import LANGUAGE_COLUMN, TextEncoder
from mteb_xalign.device import resolve_device
from mteb_xalign.distributed.cluster import import_ray


class _EncoderWorker:
    """The Ray actor: loads the model once, then encodes runs of texts."""

    def __init__(self, meta: Any, device: str | None):
        mteb_bridge.ensure_registered()

        self.model = meta.load_model(device=resolve_device(device))

    def describe(self, task_metadata: Any, prompt_type: Any) -> tuple[str, bool]:
        """What the cache key needs from the real model: its cache context and whether it uses languages."""
        from mteb_xalign.encoding import cache_context  # deferred: datasets is slow to import

        return cache_context(self.model, task_metadata, prompt_type), bool(getattr(self.model, "uses_languages", False))

    def encode(self, texts: list[str], languages: list[str] | None, batch_size: int, call: dict) -> np.ndarray:
        from mteb_xalign.feeding import feed  # deferred: datasets is slow to import

        return feed(self.model, texts, languages=languages, batch_size=batch_size, **call)


class ShardedEncoder(TextEncoder):
    """A model proxy whose `encode` runs on `n_workers` Ray actors (see the module docstring).

    It is not an adapter: `encode` hands whole batches to the real model's own `encode` and
    returns its rows untouched (no second normalisation). It subclasses TextEncoder so that
    `feeding.feed` gives it the texts' languages, which it passes on with the texts.
    """

    def __init__(self, meta: Any, n_workers: int, *, device: str | None = None, gpus_per_worker: float = 0.0,
                 cpus_per_worker: float = 1.0, max_restarts: int = 2):
        super().__init__(meta.name, meta.revision, device)
        ray = import_ray()
        if not ray.is_initialized():
            raise RuntimeError("ShardedEncoder needs a Ray session (distributed.cluster.ray_session)")
        self.mteb_model_meta = meta  # the cache key (feeding.model_id) is the real model's
        wanted = {"CPU": n_workers * cpus_per_worker, "GPU": n_workers * gpus_per_worker}
        have = ray.cluster_resources()
        for kind, amount in wanted.items():
            if amount > have.get(kind, 0.0):  # an actor holds its resources for life: it would wait forever
                raise ValueError(f"{n_workers} encoder workers need {amount:g} {kind}s; the Ray cluster has "
                                 f"{have.get(kind, 0.0):g}")
        actor = ray.remote(_EncoderWorker).options(
            num_cpus=cpus_per_worker, num_gpus=gpus_per_worker,
            max_restarts=max_restarts, max_task_retries=max_restarts)
        self._ray = ray
        self.workers = [actor.remote(meta, device) for _ in range(n_workers)]
        self._described: dict[tuple, tuple[str, bool]] = {}
        self.uses_languages = self._describe(None, None)[1]

    def _describe(self, task_metadata: Any, prompt_type: Any) -> tuple[str, bool]:
        key = (getattr(task_metadata, "name", None), getattr(prompt_type, "value", None))
        if key not in self._described:
            self._described[key] = self._ray.get(self.workers[0].describe.remote(task_metadata, prompt_type))
        return self._described[key]

    def cache_context(self, task_metadata: Any, prompt_type: Any) -> str:
        return self._describe(task_metadata, prompt_type)[0]

    def embed(self, texts: list[str], *, prompt_type: Any, task_metadata: Any = None,
              languages: list[str] | None = None) -> np.ndarray:
        """One batch on one worker (what `encode` does per run of batches)."""
        call = dict(task_metadata=task_metadata, prompt_type=prompt_type)
        return self._ray.get(self.workers[0].encode.remote(list(texts), languages, max(1, len(texts)), call))

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,
               prompt_type: Any = None, batch_size: int = 32, **kwargs: Any) -> np.ndarray:
        batches = [(list(b["text"]), list(b[LANGUAGE_COLUMN]) if LANGUAGE_COLUMN in b else None) for b in inputs]
        if not batches:
            return np.zeros((0, 0), np.float32)
        call = dict(task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset,
                    prompt_type=prompt_type, **kwargs)
        refs = []
        for worker, run in zip(self.workers, split_runs(batches, len(self.workers))):
            texts = [t for chunk, _ in run for t in chunk]
            langs = None if any(l is None for _, l in run) else [x for _, l in run for x in l]
            refs.append(worker.encode.remote(texts, langs, batch_size, call))
        return np.concatenate(self._ray.get(refs))

    def shutdown(self) -> None:
        for worker in self.workers:
            self._ray.kill(worker)
        self.workers = []


def split_runs(batches: list, n: int) -> list[list]:
    """`batches` cut into at most n contiguous runs of whole batches, as even as possible, order kept."""
    n = max(1, min(n, len(batches)))
    base, extra = divmod(len(batches), n)
    runs, start = [], 0
    for i in range(n):
        stop = start + base + (1 if i < extra else 0)
        runs.append(batches[start:stop])
        start = stop
    return runs
