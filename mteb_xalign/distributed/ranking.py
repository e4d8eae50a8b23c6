"""Exact gold ranks over a pool too large for one worker: metrics.ranking.sharded's map-reduce on Ray.

The maths is the metrics package's (plan_ranking, rank_shard, merge_partials); this module only
places it: the driver builds the plan (queries, exact gold scores; small) once and puts it in the
object store; each document shard lives in the object store (put by the driver, or produced on a
worker and never copied to the driver) and one Ray task per shard returns its ShardPartial
(counts per gold entry, local top-k); the driver merges them. The driver holds the plan and the
partials, never the pool. A shard task whose worker dies is retried by Ray; `merge_partials`
refuses a shard missing or counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mteb_xalign.distributed.cluster import import_ray
from mteb_xalign.metrics.ranking.sharded import merge_partials, plan_ranking, rank_shard


def shard_bounds(n_docs: int, n_shards: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) ranges covering 0..n_docs-1, as even as possible."""
    n_shards = max(1, min(n_shards, n_docs))
    edges = np.linspace(0, n_docs, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _rank_shard(plan: Any, shard: np.ndarray, offset: int, options: dict) -> Any:
    return rank_shard(plan, shard, offset, **options)


def _take_rows(shard: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(shard[rows])


def gold_vectors_from_shards(shards: Sequence[tuple[int, Any]], gold: Sequence[Sequence[int]],
                             max_retries: int = 3) -> np.ndarray:
    """The rows of the gold entries (gold[0][0], gold[0][1], ..., gold[1][0], ...) fetched from the shards."""
    ray = import_ray()
    flat = np.fromiter((int(d) for g in gold for d in g), np.int64)
    take = ray.remote(_take_rows).options(max_retries=max_retries)
    starts = np.array([offset for offset, _ in shards], np.int64)
    which = np.searchsorted(starts, flat, side="right") - 1
    parts, order = [], []
    for s, (offset, ref) in enumerate(shards):
        picked = np.flatnonzero(which == s)
        if len(picked):
            parts.append(take.remote(ref, flat[picked] - offset))
            order.append(picked)
    rows = ray.get(parts)
    out = np.empty((len(flat), rows[0].shape[1] if rows else 0), np.float32)
    for picked, values in zip(order, rows):
        out[picked] = values
    return out


def rank_on_shards(queries: np.ndarray, shards: Sequence[tuple[int, Any]], gold: Sequence[Sequence[int]], *,
                   n_docs: int, exclude=None, masks=None, top_k: int = 0, chunk_size: int = 8192,
                   query_batch: int = 1024, device: str | None = None, gpus_per_shard: float = 0.0,
                   max_retries: int = 3) -> Any:
    """RankResult over the pool made of `shards` ((offset, ObjectRef or array) pairs): the map-reduce on Ray."""

    ray = import_ray()
    gold_vectors = gold_vectors_from_shards(shards, gold, max_retries)
    plan = plan_ranking(queries, gold, gold_vectors, n_docs=n_docs, exclude=exclude, masks=masks, top_k=top_k)
    plan_ref = ray.put(plan)
    options = dict(chunk_size=chunk_size, query_batch=query_batch, device=device)
    task = ray.remote(_rank_shard).options(max_retries=max_retries, num_gpus=gpus_per_shard)
    partials = ray.get([task.remote(plan_ref, ref, offset, options) for offset, ref in shards])
    return merge_partials(plan, partials)


def sharded_gold_ranks(queries: np.ndarray, docs: np.ndarray, gold: Sequence[Sequence[int]], *, n_shards: int,
                       **kwargs: Any) -> Any:
    """gold_ranks' result from `n_shards` Ray tasks; `docs` is cut into shards and put in the object store."""
    ray = import_ray()
    docs = np.ascontiguousarray(docs, dtype=np.float32)
    shards = [(a, ray.put(docs[a:b])) for a, b in shard_bounds(len(docs), n_shards)]
    return rank_on_shards(queries, shards, gold, n_docs=len(docs), **kwargs)
