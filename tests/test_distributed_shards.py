"""Large pools on a local 2-CPU Ray cluster: sharded exact ranking, sharded encoding, the shared cache.

Oracles: the single-process functions themselves (metrics.ranking.gold_ranks, encoding.embed_texts)
on the same inputs; results must be bitwise equal.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import ray
from mteb.types import PromptType

import ray_fakes
from ray_fakes import HashEncoder, fake_meta, hash_vector
from xalign_testing import local_ray


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    yield from local_ray(tmp_path_factory.mktemp("ray-cache") / "embeddings.sqlite3",
                         [sys.modules[__name__], ray_fakes])


def random_pool(seed: int, n_docs: int, n_queries: int, dim: int = 8):
    """Coarse values (many exact ties), duplicated documents, gold sets of 1-3, some exclusions."""
    rng = np.random.default_rng(seed)
    docs = rng.integers(-2, 3, size=(n_docs, dim)).astype(np.float32) / 4
    dupes = rng.choice(n_docs, size=n_docs // 5, replace=False)
    docs[dupes] = docs[rng.choice(n_docs, size=len(dupes))]
    queries = rng.integers(-2, 3, size=(n_queries, dim)).astype(np.float32) / 4
    queries[0] = 0  # a query that ties every document
    gold, exclude = [], []
    for _ in range(n_queries):
        picked = rng.choice(n_docs, size=int(rng.integers(1, 6)), replace=False)
        k = int(rng.integers(1, 4))
        gold.append(picked[:k].tolist())
        exclude.append(picked[k:].tolist())
    masks = {"even": np.arange(n_docs) % 2 == 0, "random": rng.random(n_docs) < 0.3}
    return queries, docs, gold, exclude, masks


@pytest.mark.parametrize("seed", range(4))
def test_four_shards_on_ray_equal_single_machine_bitwise(ray_cluster, seed):
    from mteb_xalign.distributed.ranking import sharded_gold_ranks
    from mteb_xalign.metrics.ranking import gold_ranks

    queries, docs, gold, exclude, masks = random_pool(seed, n_docs=997 + 50 * seed, n_queries=40)
    kwargs = dict(exclude=exclude, masks=masks, top_k=7, chunk_size=64, query_batch=16)
    want = gold_ranks(queries, docs, gold, **kwargs)
    got = sharded_gold_ranks(queries, docs, gold, n_shards=4, **kwargs)
    assert len(got.ranks) == len(want.ranks)
    for a, b in zip(got.ranks, want.ranks):
        np.testing.assert_array_equal(a, b)
    assert got.ranks[0].tolist() == [len(docs) - len(exclude[0])] * len(gold[0])  # all-tie query: last
    np.testing.assert_array_equal(got.pool_sizes, want.pool_sizes)
    for name in masks:
        for a, b in zip(got.mask_counts[name], want.mask_counts[name]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got.top_indices, want.top_indices)
    assert got.top_scores.tobytes() == want.top_scores.tobytes()


def test_shard_bounds_cover_every_document_once():
    from mteb_xalign.distributed.ranking import shard_bounds

    for n, k in [(1, 4), (10, 4), (997, 4), (8, 8), (5, 1)]:
        bounds = shard_bounds(n, k)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a < b for a, b in bounds) and all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))


def test_sharded_encoding_returns_the_single_process_vectors(ray_cluster, tmp_path):
    from mteb_xalign.cache import EmbeddingCache
    from mteb_xalign.distributed.encode import ShardedEncoder
    from mteb_xalign.encoding import embed_texts

    meta = fake_meta("test-ray/hash-shards", salt="s", dim=12)
    task_metadata = __import__("mteb").get_task("SemanticAffinity").metadata
    texts = [f"text {i % 700} " + "x" * (i % 13) for i in range(1000)]  # duplicates, varied lengths
    call = dict(prompt_type=PromptType.document, task_metadata=task_metadata, encode_kwargs={"batch_size": 16})

    single = meta.load_model(device="cpu")
    want = embed_texts(single, texts, cache=EmbeddingCache(None), **call)
    sharded = ShardedEncoder(meta, n_workers=2, device="cpu")
    try:
        cache = EmbeddingCache(tmp_path / "driver.sqlite3")
        got = embed_texts(sharded, texts, cache=cache, **call)
    finally:
        sharded.shutdown()
    assert got.tobytes() == want.tobytes()
    with pytest.raises(ValueError, match="3 encoder workers need 3 CPUs; the Ray cluster has 2"):
        ShardedEncoder(meta, n_workers=3, device="cpu")
    # The vectors were stored under the real model's keys: it finds them all, encodes nothing.
    calls = []
    single.embed = lambda batch, **kw: calls.append(batch) or HashEncoder.embed(single, batch, **kw)
    again = embed_texts(single, texts, cache=cache, **call)
    assert calls == [] and again.tobytes() == want.tobytes()


def _write_overlapping(path: str, worker: int, n_keys: int) -> int:
    from mteb_xalign.cache import EmbeddingCache

    cache = EmbeddingCache(path)
    for start in range(0, n_keys, 20):  # many small transactions, interleaved with the other worker
        keys = range(start, min(start + 20, n_keys))
        cache.put_many((k.to_bytes(8, "little"), hash_vector(f"key {k}", 16)) for k in keys)
    cache.close()
    return worker


def test_two_workers_on_one_node_share_the_sqlite_cache_consistently(ray_cluster, tmp_path):
    from mteb_xalign.cache import EmbeddingCache

    path = str(tmp_path / "node-cache.sqlite3")
    write = ray.remote(_write_overlapping).options(num_cpus=1)
    assert ray.get([write.remote(path, w, 600) for w in range(2)]) == [0, 1]
    cache = EmbeddingCache(path)
    assert len(cache) == 600  # each key once, though both workers wrote it
    keys = [k.to_bytes(8, "little") for k in range(600)]
    found = cache.get_many(keys)
    assert all(found[k].tobytes() == hash_vector(f"key {i}", 16).tobytes() for i, k in enumerate(keys))
