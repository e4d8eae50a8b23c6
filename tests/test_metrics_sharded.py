"""Sharded ranking (map-reduce) equals the single-machine ranking bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics.ranking import gold_ranks
from mteb_xalign.metrics.ranking.sharded import merge_partials, plan_ranking, rank_shard


def sharded(Q, D, gold, bounds, *, exclude=None, masks=None, top_k=0, chunk_size=8192, query_batch=1024,
            device=None):
    """Rank over the shards docs[bounds[i]:bounds[i+1]], given to the workers in reverse order."""
    flat_gold = np.concatenate([np.asarray(g, np.int64) for g in gold]) if len(gold) else np.zeros(0, np.int64)
    plan = plan_ranking(Q, gold, D[flat_gold], n_docs=len(D), exclude=exclude, masks=masks, top_k=top_k)
    parts = [rank_shard(plan, D[a:b], a, chunk_size=chunk_size, query_batch=query_batch, device=device)
             for a, b in zip(bounds[:-1], bounds[1:])][::-1]
    return merge_partials(plan, parts)


def assert_identical(a, b):
    assert [r.tolist() for r in a.ranks] == [r.tolist() for r in b.ranks]
    assert a.pool_sizes.tolist() == b.pool_sizes.tolist()
    assert a.n_relevant.tolist() == b.n_relevant.tolist()
    assert {k: [c.tolist() for c in v] for k, v in a.mask_counts.items()} == \
        {k: [c.tolist() for c in v] for k, v in b.mask_counts.items()}
    assert {k: v.tolist() for k, v in a.mask_sizes.items()} == {k: v.tolist() for k, v in b.mask_sizes.items()}
    if a.top_indices is None:
        assert b.top_indices is None
    else:
        assert a.top_indices.tolist() == b.top_indices.tolist()
        assert a.top_scores.tobytes() == b.top_scores.tobytes()  # bitwise


@st.composite
def pools(draw):
    """Float vectors (not dyadic: BLAS rounds them differently per layout) with exact duplicates,
    near-duplicates one ulp apart, and an all-tied block; 4 shards of random sizes."""
    n_docs = draw(st.integers(4, 60))
    dim = draw(st.sampled_from([3, 17, 64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    D = rng.standard_normal((n_docs, dim)).astype(np.float32)
    for _ in range(draw(st.integers(0, n_docs))):  # exact copies at random places
        D[rng.integers(n_docs)] = D[rng.integers(n_docs)]
    if draw(st.booleans()):  # a vector one ulp away from another
        i, j = rng.integers(n_docs, size=2)
        D[i] = np.nextafter(D[j], np.float32(np.inf))
    if draw(st.booleans()):  # a run of identical documents
        a = int(rng.integers(n_docs))
        D[a:a + int(rng.integers(1, 10))] = D[a]
    n_queries = draw(st.integers(1, 7))
    Q = rng.standard_normal((n_queries, dim)).astype(np.float32)
    if draw(st.booleans()):
        Q[0] = D[0]  # a query equal to a document
    gold, exclude = [], []
    for _ in range(n_queries):
        g = rng.choice(n_docs, size=int(rng.integers(1, min(n_docs, 6) + 1)), replace=False)
        rest = np.setdiff1d(np.arange(n_docs), g)
        exclude.append(rng.choice(rest, size=int(rng.integers(0, len(rest) + 1)), replace=False))
        gold.append(g)
    cuts = sorted(draw(st.lists(st.integers(0, n_docs), min_size=3, max_size=3)))
    return dict(Q=Q, D=D, gold=gold, exclude=exclude if draw(st.booleans()) else None,
                masks={"m": rng.random(n_docs) < 0.5} if draw(st.booleans()) else None,
                top_k=draw(st.integers(0, n_docs + 2)), bounds=[0, *cuts, n_docs],
                chunk_size=draw(st.integers(1, 20)), query_batch=draw(st.integers(1, 5)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools())
def test_four_shards_equal_one_machine(case):
    kw = dict(exclude=case["exclude"], masks=case["masks"], top_k=case["top_k"])
    single = gold_ranks(case["Q"], case["D"], case["gold"], **kw)
    # Different blocking on the workers than on the single machine: the result may not move.
    four = sharded(case["Q"], case["D"], case["gold"], case["bounds"], chunk_size=case["chunk_size"],
                   query_batch=case["query_batch"], **kw)
    assert_identical(single, four)


@pytest.mark.parametrize("device, tf32", [("torch-cpu", False), ("cuda", False), ("cuda", True)])
def test_shards_on_torch_equal_numpy(device, tf32):
    """Another device, and on CUDA even TF32 matmuls (10-bit inputs): the same ranks and top-k."""
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    rng = np.random.default_rng(4)
    base = rng.standard_normal((50, 384)).astype(np.float32)
    D = base[rng.integers(0, 50, size=300)]
    Q = rng.standard_normal((12, 384)).astype(np.float32)
    gold = [rng.choice(300, size=3, replace=False) for _ in range(12)]
    masks = {"first half": np.arange(300) < 150}
    single = gold_ranks(Q, D, gold, top_k=7, masks=masks)
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        assert_identical(single, sharded(Q, D, gold, [0, 13, 150, 151, 300], top_k=7, chunk_size=29,
                                         masks=masks, device=device))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def test_lost_or_repeated_shards_are_refused():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((10, 4)).astype(np.float32)
    Q = rng.standard_normal((2, 4)).astype(np.float32)
    plan = plan_ranking(Q, [[0], [1]], D[[0, 1]], n_docs=10)
    a, b = rank_shard(plan, D[:5], 0), rank_shard(plan, D[5:], 5)
    with pytest.raises(ValueError, match="cover documents 0..4 but the pool has 10"):
        merge_partials(plan, [a])
    with pytest.raises(ValueError, match="overlap"):
        merge_partials(plan, [a, b, b])
    with pytest.raises(ValueError, match="gap"):
        merge_partials(plan, [b])
    other = plan_ranking(Q, [[0, 2], [1]], D[[0, 2, 1]], n_docs=10)
    with pytest.raises(ValueError, match="made for another plan"):
        merge_partials(plan, [a, rank_shard(other, D[5:], 5)])
    with pytest.raises(ValueError, match="outside the pool"):
        rank_shard(plan, D[5:], 6)
    with pytest.raises(ValueError, match="gold_vectors must have shape"):
        plan_ranking(Q, [[0], [1]], D[[0]], n_docs=10)
