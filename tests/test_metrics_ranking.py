"""gold_ranks against an obviously-correct brute force, hand-made pools, ties, and the torch path."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics.ranking import RankResult, gold_ranks

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------- brute force


def fsum_score(q, d) -> np.float32:
    """The score's definition: the exact dot product of the float32 vectors (fsum of the float64
    products, which are exact), rounded to float32; +0.0 for zero."""
    products = np.asarray(q, np.float32).astype(np.float64) * np.asarray(d, np.float32).astype(np.float64)
    return np.float32(math.fsum(products.tolist())) + np.float32(0.0)


def exact_score_matrix(Q, D):
    """score(q, d) by its definition (math.fsum of the float64 products, exact, then float32), with
    no BLAS anywhere, and each DISTINCT document vector scored once: identical vectors tie because
    they share one number, so the oracle is right on any machine and any kernel."""
    D = np.asarray(D, np.float32) + np.float32(0)  # -0.0 -> +0.0: the same scores
    distinct, first_of = np.unique(D, axis=0, return_inverse=True)
    per_distinct = np.array([[fsum_score(q, d) for d in distinct] for q in np.asarray(Q, np.float32)],
                            np.float32).reshape(len(Q), len(distinct))
    return per_distinct[:, np.asarray(first_of).ravel()]


def brute_force(Q, D, gold, exclude=None, masks=None, top_k=0):
    """Every quantity by definition, one query and one document at a time, on exact scores."""
    S = exact_score_matrix(Q, D)
    masks = masks or {}
    out = {"ranks": [], "pool_sizes": [], "mask_counts": {m: [] for m in masks}, "top": [], "excluded": []}
    for q in range(len(Q)):
        excluded = set() if exclude is None else {int(e) for e in exclude[q]}
        pool = [d for d in range(len(D)) if d not in excluded]
        golds = [int(g) for g in gold[q]]
        out["excluded"].append(excluded)
        out["pool_sizes"].append(len(pool))
        out["ranks"].append([sum(1 for d in pool if S[q, d] >= S[q, g]) for g in golds])
        for name, mask in masks.items():
            out["mask_counts"][name].append(
                [sum(1 for d in pool if mask[d] and d not in golds and S[q, d] >= S[q, g]) for g in golds])
        best = sorted(pool, key=lambda d: (-S[q, d], d))[:top_k]  # the documented order, ties by index
        out["top"].append([(d, S[q, d]) for d in best])
    return out, S


def assert_matches(res: RankResult, ref, top_k, masks=None):
    assert [r.tolist() for r in res.ranks] == ref["ranks"]
    assert all(r.dtype == np.int64 for r in res.ranks)
    assert res.pool_sizes.tolist() == ref["pool_sizes"]
    assert res.n_relevant.tolist() == [len(r) for r in ref["ranks"]]
    assert sorted(res.mask_counts) == sorted(masks or {})
    for name in masks or {}:
        assert [c.tolist() for c in res.mask_counts[name]] == ref["mask_counts"][name]
    if not top_k:
        assert res.top_indices is None and res.top_scores is None
        return
    assert res.top_indices.shape == res.top_scores.shape == (len(ref["top"]), top_k)
    for q, best in enumerate(ref["top"]):
        n = len(best)
        assert res.top_indices[q, :n].tolist() == [d for d, _ in best]
        assert res.top_scores[q, :n].tobytes() == np.array([s for _, s in best], np.float32).tobytes()
        assert (res.top_indices[q, n:] == -1).all() and np.isneginf(res.top_scores[q, n:]).all()


# ----------------------------------------------------------------------------- random cases


@st.composite
def ranking_cases(draw):
    """Small exact-arithmetic cases: integer or dyadic vectors (so float32 is exact and ties are
    real), duplicated documents, |R| up to |D|, excludes, masks, tiny and huge chunks."""
    n_docs = draw(st.integers(1, 30))
    n_queries = draw(st.integers(1, 6))
    dim = draw(st.integers(1, 5))
    scale = draw(st.sampled_from([1.0, 0.25]))
    ints = st.integers(-2, 2)
    D = np.array(draw(st.lists(st.lists(ints, min_size=dim, max_size=dim), min_size=n_docs, max_size=n_docs)),
                 np.float32).reshape(n_docs, dim) * scale
    n_copies = draw(st.integers(0, n_docs - 1)) if n_docs > 1 else 0
    for _ in range(n_copies):  # exact duplicates at random positions
        src, dst = draw(st.integers(0, n_docs - 1)), draw(st.integers(0, n_docs - 1))
        D[dst] = D[src]
    Q = np.array(draw(st.lists(st.lists(ints, min_size=dim, max_size=dim), min_size=n_queries,
                               max_size=n_queries)), np.float32).reshape(n_queries, dim) * scale
    gold, exclude = [], []
    for _ in range(n_queries):
        g = draw(st.lists(st.integers(0, n_docs - 1), min_size=1, max_size=min(n_docs, 5), unique=True))
        rest = [d for d in range(n_docs) if d not in g]
        e = draw(st.lists(st.sampled_from(rest), max_size=len(rest), unique=True)) if rest else []
        gold.append(g)
        exclude.append(e)
    use_exclude = draw(st.booleans())
    masks = {f"m{i}": np.array(draw(st.lists(st.booleans(), min_size=n_docs, max_size=n_docs)), bool)
             for i in range(draw(st.integers(0, 2)))}
    return dict(Q=Q, D=D, gold=gold, exclude=exclude if use_exclude else None, masks=masks,
                top_k=draw(st.integers(0, n_docs + 3)), chunk_size=draw(st.integers(1, 40)),
                query_batch=draw(st.integers(1, 8)))


def run_case(case, device=None):
    return gold_ranks(case["Q"], case["D"], case["gold"], exclude=case["exclude"], masks=case["masks"] or None,
                      top_k=case["top_k"], chunk_size=case["chunk_size"], query_batch=case["query_batch"],
                      device=device)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ranking_cases())
def test_matches_brute_force(case):
    ref, _ = brute_force(case["Q"], case["D"], case["gold"], case["exclude"], case["masks"], case["top_k"])
    assert_matches(run_case(case), ref, case["top_k"], case["masks"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ranking_cases())
def test_torch_path_equals_numpy(case):
    a, b = run_case(case), run_case(case, device="torch-cpu")
    assert [r.tolist() for r in a.ranks] == [r.tolist() for r in b.ranks]
    assert {k: [c.tolist() for c in v] for k, v in a.mask_counts.items()} == \
        {k: [c.tolist() for c in v] for k, v in b.mask_counts.items()}
    assert a.pool_sizes.tolist() == b.pool_sizes.tolist()
    if case["top_k"]:
        assert a.top_indices.tolist() == b.top_indices.tolist()
        assert a.top_scores.tobytes() == b.top_scores.tobytes()


# ----------------------------------------------------------------------------- hand-made pools


def test_four_document_pool_by_hand():
    # Scores for the query [1, 0]: doc0 1.0, doc1 0.5, doc2 0.5, doc3 0.0.
    Q = np.array([[1.0, 0.0]], np.float32)
    D = np.array([[1.0, 0.0], [0.5, 0.0], [0.5, 0.0], [0.0, 1.0]], np.float32)
    english = np.array([True, True, False, False])
    res = gold_ranks(Q, D, [[2, 0]], masks={"en": english}, top_k=3)
    assert res.ranks[0].tolist() == [3, 1]  # doc2 ties with doc1: pessimistic rank 3, not 2
    assert res.pool_sizes.tolist() == [4] and res.n_relevant.tolist() == [2]
    assert res.mask_counts["en"][0].tolist() == [1, 0]  # doc1 (English, not gold) ties doc2
    assert res.top_indices.tolist() == [[0, 1, 2]]
    assert res.top_scores.tolist() == [[1.0, 0.5, 0.5]]

    # Multi-1: drop doc1 from the pool: doc2 no longer has a competitor above or level with it.
    res = gold_ranks(Q, D, [[2, 0]], exclude=[[1]], masks={"en": english}, top_k=4)
    assert res.ranks[0].tolist() == [2, 1]
    assert res.pool_sizes.tolist() == [3]
    assert res.mask_counts["en"][0].tolist() == [0, 0]
    assert res.top_indices.tolist() == [[0, 2, 3, -1]]
    assert res.top_scores[0, :3].tolist() == [1.0, 0.5, 0.0] and np.isneginf(res.top_scores[0, 3])


def test_two_queries_by_hand():
    # q0 = [0, 1] scores: 0.0, 0.0, 1.0, 0.6 ; q1 = [1, 1] scores: 1.0, 0.5, 1.0, 1.4
    Q = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)
    D = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.8, 0.6]], np.float32)
    res = gold_ranks(Q, D, [[3], [0, 2, 1]], chunk_size=1, query_batch=1, top_k=3)
    assert res.ranks[0].tolist() == [2]
    assert res.ranks[1].tolist() == [3, 3, 4]
    # Tied documents come back by index: q0's docs 0 and 1 tie at the cut-off, doc 0 is kept.
    assert res.top_indices.tolist() == [[2, 3, 0], [3, 0, 2]]


def test_constant_score_model_gets_the_last_rank():
    # Every document the same (non-trivial float) vector: every gold ties with the whole pool.
    rng = np.random.default_rng(7)
    v = rng.standard_normal(384).astype(np.float32)
    v /= np.linalg.norm(v)
    D = np.tile(v, (777, 1))
    Q = rng.standard_normal((9, 384)).astype(np.float32)
    gold = [rng.choice(777, size=k, replace=False) for k in (1, 2, 3, 2, 1, 2, 11, 2, 1)]
    exclude = [[], [5], [], [], [0, 1, 2], [], [], [], []]
    for device in (None, "torch-cpu"):
        res = gold_ranks(Q, D, gold, exclude=[[e for e in ex if e not in g] for ex, g in zip(exclude, gold)],
                         chunk_size=100, query_batch=4, device=device)
        for q, r in enumerate(res.ranks):
            assert r.tolist() == [res.pool_sizes[q]] * len(gold[q])
    # Identical queries and documents alike: the same holds for all-identical query vectors.
    res = gold_ranks(np.tile(v, (3, 1)), D, [[0, 1]] * 3, chunk_size=64)
    assert [r.tolist() for r in res.ranks] == [[777, 777]] * 3


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_duplicated_float_documents_tie_exactly():
    """Real-valued 384-d vectors, each copied to several random places (the per-question pool has
    every paragraph several times). BLAS gives copies different last bits depending on their
    column; the ranks must still count every copy as a tie, whatever the blocking or device."""
    rng = np.random.default_rng(3)
    base = unit(rng.standard_normal((120, 384)))
    Q = unit(rng.standard_normal((40, 384)))
    which = rng.integers(0, 120, size=700)  # the base vector of each document
    D = base[which]
    copies = np.flatnonzero(np.bincount(which, minlength=120)[which] > 1)
    gold = [rng.choice(copies, size=2, replace=False) for _ in range(40)]  # golds with copies elsewhere
    ref, _ = brute_force(Q, D, gold, top_k=5)
    assert max(max(r) - min(r) for r in ref["ranks"]) > 0
    # Each gold ties with all its copies: its rank counts them all.
    for q in range(40):
        for g, r in zip(gold[q], ref["ranks"][q]):
            assert r >= int((which == which[g]).sum()) > 1
    for kw in ({}, {"chunk_size": 37, "query_batch": 3}, {"device": "torch-cpu", "chunk_size": 50}):
        assert_matches(gold_ranks(Q, D, gold, top_k=5, **kw), ref, 5)


def test_gaussian_pool_against_the_definition():
    rng = np.random.default_rng(11)
    D = unit(rng.standard_normal((900, 64)))
    Q = unit(rng.standard_normal((50, 64)))
    gold = [rng.choice(900, size=int(rng.integers(1, 6)), replace=False) for _ in range(50)]
    exclude = [np.setdiff1d(rng.choice(900, size=20, replace=False), g) for g in gold]
    ref, _ = brute_force(Q, D, gold, exclude=exclude, top_k=10)
    for kw in ({}, {"chunk_size": 128, "query_batch": 7}, {"device": "torch-cpu", "chunk_size": 200}):
        assert_matches(gold_ranks(Q, D, gold, exclude=exclude, top_k=10, **kw), ref, 10)


@pytest.mark.parametrize("case", ["one doc", "all gold", "all tied", "all tied with excludes", "near ties"])
def test_edge_pools_by_definition(case):
    rng = np.random.default_rng(len(case))
    Q = rng.standard_normal((3, 8)).astype(np.float32)
    exclude = None
    if case == "one doc":
        D, gold = rng.standard_normal((1, 8)).astype(np.float32), [[0]] * 3
    elif case == "all gold":  # |R| = |D|
        D = rng.standard_normal((5, 8)).astype(np.float32)
        gold = [[4, 0, 1, 2, 3], [0, 1, 2, 3, 4], [2, 4, 1, 3, 0]]
    elif case.startswith("all tied"):
        D = np.tile(rng.standard_normal((1, 8)).astype(np.float32), (9, 1))
        gold = [[0], [8, 3], [5]]
        exclude = [[1, 2], [], [0, 1, 2, 3, 4, 6, 7, 8]] if "excludes" in case else None
    else:  # documents one ulp apart in one coordinate: distinct vectors, nearly equal scores
        D = np.tile(rng.standard_normal((1, 8)).astype(np.float32), (12, 1))
        for i in range(1, 12):  # steps of 0, 1 or 2 ulps: some copies, some neighbours
            D[i, 0] = D[i - 1, 0]
            for _ in range(i % 3):
                D[i, 0] = np.nextafter(D[i, 0], np.float32(np.inf))
        gold = [[0, 11], [5], [3, 4]]
    ref, _ = brute_force(Q, D, gold, exclude=exclude, top_k=len(D))
    for kw in ({}, {"chunk_size": 1, "query_batch": 1}, {"device": "torch-cpu", "chunk_size": 2}):
        assert_matches(gold_ranks(Q, D, gold, exclude=exclude, top_k=len(D), **kw), ref, len(D))
    if case.startswith("all tied"):
        assert all(r == [ref["pool_sizes"][q]] * len(gold[q]) for q, r in enumerate(ref["ranks"]))


def test_long_gold_lists_wider_than_the_chunk():
    """LAReQA-like: many golds per query, chunk narrower than a gold list, duplicates inside golds."""
    rng = np.random.default_rng(5)
    D = rng.integers(-2, 3, size=(60, 4)).astype(np.float32)
    D[10:15] = D[3]
    Q = rng.integers(-2, 3, size=(8, 4)).astype(np.float32)
    gold = [rng.choice(60, size=11, replace=False) for _ in range(8)]
    gold[0] = np.array([3, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24])
    ref, _ = brute_force(Q, D, gold, top_k=7)
    res = gold_ranks(Q, D, gold, chunk_size=4, query_batch=3, top_k=7)
    assert_matches(res, ref, 7)


def test_memory_is_bounded_by_the_block_not_the_pool():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((50_000, 8)).astype(np.float32)
    Q = rng.standard_normal((200, 8)).astype(np.float32)
    gold = [rng.choice(50_000, size=2, replace=False) for _ in range(200)]
    tracemalloc.start()
    try:
        gold_ranks(Q, D, gold, chunk_size=1024, query_batch=32, top_k=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_matrix = 200 * 50_000 * 4  # 40 MB
    assert peak < full_matrix / 4, peak


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(gold=[[0], []]), r"gold\[1\] is empty"),
        (dict(gold=[[0], [4]]), r"gold\[1\] contains document index 4, outside 0..3"),
        (dict(gold=[[0], [-1]]), r"gold\[1\] contains document index -1"),
        (dict(gold=[[0, 0], [1]]), r"gold\[0\] lists document 0 more than once"),
        (dict(gold=[[0]]), r"gold has 1 entries but there are 2 queries"),
        (dict(gold=[[0.0], [1]]), r"gold\[0\] must hold integer"),
        # equal-length lists take one conversion for the whole table: the same checks and messages
        (dict(gold=[[True], [False]]), r"gold\[0\] must hold integer"),
        (dict(gold=np.array([[0], [4]])), r"gold\[1\] contains document index 4, outside 0..3"),
        (dict(gold=np.array([[0, 1], [2, 2]])), r"gold\[1\] lists document 2 more than once"),
        (dict(gold=np.array([[0, 1], [2, 3]]), exclude=[[2, 3], [3, 1]]), r"exclude\[1\] removes document 3"),
        (dict(gold=np.zeros((2, 0), int)), r"gold\[0\] is empty"),
        (dict(gold=[[0, 1], [2, 3.5]]), r"gold\[1\] must hold integer"),
        (dict(exclude=[[1], [1]]), r"exclude\[1\] removes document 1, which is a gold document of query 1"),
        (dict(exclude=[[9], []]), r"exclude\[0\] contains document index 9"),
        (dict(masks={"en": np.ones(3, bool)}), r"mask 'en' must be a boolean array of shape \(4,\)"),
        (dict(masks={"en": np.ones(4, int)}), r"mask 'en' must be a boolean array"),
        (dict(chunk_size=0), r"chunk_size must be a positive integer"),
        (dict(top_k=-1), r"top_k must be a non-negative integer"),
        (dict(device="nonsense"), r"unknown device 'nonsense'"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    Q = np.eye(2, 3, dtype=np.float32)
    D = np.eye(4, 3, dtype=np.float32)
    args = dict(gold=[[0], [1]]) | kwargs
    with pytest.raises(ValueError, match=message):
        gold_ranks(Q, D, **args)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_first_bad_document_is_named_when_norms_are_taken_block_by_block(monkeypatch, workers):
    """Block norms are taken as the blocks are reached, each thread on its own part of the pool:
    the pool's first bad row is still the one named (here in the second part, the first part
    clean), and one bad row anywhere refuses the whole."""
    from mteb_xalign.metrics.ranking import backends, ranker

    monkeypatch.setattr(backends, "SMALL_WORK", 0)
    monkeypatch.setattr(ranker, "MIN_PART_DOCS", 1)
    monkeypatch.setattr(backends, "blas_threads", lambda: workers)
    rng = np.random.default_rng(0)
    Q, D = rng.standard_normal((8, 4), dtype=np.float32), rng.standard_normal((50, 4), dtype=np.float32)
    D[37, 2], D[41, 0] = np.inf, np.nan
    for chunk_size in (4, 7, 50):
        with pytest.raises(ValueError, match=r"docs\[37\] contains a NaN or infinite"):
            gold_ranks(Q, D, [[0]] * 8, chunk_size=chunk_size, query_batch=4)


def test_bad_matrices_are_named():
    Q = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="dimension 3 but docs have dimension 4"):
        gold_ranks(Q, np.ones((5, 4), np.float32), [[0], [1]])
    D = np.ones((5, 3), np.float32)
    D[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"docs\[3\] contains a NaN"):
        gold_ranks(Q, D, [[0], [1]])
    Q[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"queries\[1\] contains a NaN or infinite"):
        gold_ranks(Q, np.ones((5, 3), np.float32), [[0], [1]])
    with pytest.raises(ValueError, match="must be a 2-D array"):
        gold_ranks(np.ones(3, np.float32), np.ones((5, 3), np.float32), [[0]])
    with pytest.raises(ValueError, match="docs is empty"):
        gold_ranks(np.ones((1, 3), np.float32), np.ones((0, 3), np.float32), [[0]])


def test_negative_zero_is_a_duplicate_of_zero():
    Q = np.array([[1.0, 1.0]], np.float32)
    D = np.array([[0.5, 0.0], [0.5, -0.0], [0.1, 0.0]], np.float32)
    assert gold_ranks(Q, D, [[0]]).ranks[0].tolist() == [2]
    assert gold_ranks(Q, D, [[1]]).ranks[0].tolist() == [2]


def test_no_queries_and_float64_input():
    res = gold_ranks(np.zeros((0, 3), np.float32), np.ones((4, 3), np.float32), [], top_k=2)
    assert res.ranks == [] and res.top_indices.shape == (0, 2)
    res = gold_ranks(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]), [[1]])
    assert res.ranks[0].tolist() == [1]


@pytest.mark.parametrize("golds_at", ["top", "bottom"])
def test_sparse_and_dense_counting_paths(golds_at, monkeypatch):
    """Golds near the top take the one-pass sparse path, golds low in the pool the per-gold dense
    passes; both against the definition, with exclusions, masks and gold copies."""
    from mteb_xalign.metrics.ranking import ranker

    calls = []
    real = ranker._ShardLoop._count_sparse
    monkeypatch.setattr(ranker._ShardLoop, "_count_sparse", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(21)
    D = unit(rng.standard_normal((400, 24)))
    Q = unit(rng.standard_normal((30, 24)))
    S = Q @ D.T
    order = np.argsort(-S, axis=1) if golds_at == "top" else np.argsort(S, axis=1)
    gold = [order[q, [0, 2, 5]] for q in range(30)]
    D[order[:, 1]] = D[order[:, 0]]  # each query's first gold has a copy right beside it
    exclude = [np.setdiff1d(order[q, 3:5], gold[q]) for q in range(30)]
    masks = {"half": np.arange(400) % 2 == 0}
    ref, _ = brute_force(Q, D, gold, exclude=exclude, masks=masks)
    for kw in ({}, {"chunk_size": 64, "query_batch": 8}):
        assert_matches(gold_ranks(Q, D, gold, exclude=exclude, masks=masks, **kw), ref, 0, masks)
    assert bool(calls) == (golds_at == "top")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 4000), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_row_counts_by_words_equal_a_plain_count(rows, cols, density, seed):
    """The uint64-word count (8 flags a word, byte lanes that must never carry) against a plain sum,
    on widths that are and are not whole words, across the 255-word segments."""
    from mteb_xalign.metrics.ranking.backends import _row_counts

    flags = np.random.default_rng(seed).random((rows, cols)) < density
    assert _row_counts(flags).tolist() == [sum(row) for row in flags.tolist()]
    assert _row_counts(np.ones((rows, 8 * 255 * 2), bool)).tolist() == [8 * 255 * 2] * rows  # every lane full


@pytest.mark.parametrize("workers", [2, 3])
def test_reductions_shared_over_threads_equal_the_definition(workers, monkeypatch):
    """Large-pool settings forced on a small pool: the pool cut into parts ranked by several
    threads (3 does not divide 300 documents' blocks evenly), tiles of 8 rows, with masks (BLAS
    counts), exclusions, gold copies, dense and sparse blocks, golds all over the pool, top-k
    lists merged over the parts; band pairs scored a few at a time (the pending limit) as well as
    all at the end of a batch; blocks of one document per thread (chunk_size < workers)."""
    from mteb_xalign.metrics.ranking import backends, ranker

    monkeypatch.setattr(ranker, "MIN_PART_DOCS", 1)

    pools = []
    real_pool = ranker.ThreadPoolExecutor
    monkeypatch.setattr(ranker, "ThreadPoolExecutor", lambda n, **kw: pools.append(n) or real_pool(n, **kw))
    monkeypatch.setattr(backends, "SMALL_WORK", 0)
    monkeypatch.setattr(backends, "TILE_BYTES", 64)
    monkeypatch.setattr(backends, "blas_threads", lambda: workers)
    rng = np.random.default_rng(workers)
    D = unit(rng.standard_normal((300, 16)))
    Q = unit(rng.standard_normal((45, 16)))
    order = np.argsort(-(Q @ D.T), axis=1)
    gold = [order[q, [q % 7, 100 + q, 290 - q % 5]] for q in range(45)]
    D[order[:, 1]] = D[order[:, 0]]  # ties with a gold for some queries
    D[::17] = D[5]  # exact duplicates across the pool
    exclude = [np.setdiff1d(order[q, 3:6], gold[q]) for q in range(45)]
    masks = {"even": np.arange(300) % 2 == 0, "low": np.arange(300) < 50}
    ref, _ = brute_force(Q, D, gold, exclude=exclude, masks=masks, top_k=4)
    for pending in (3, ranker.PENDING_PAIRS):
        monkeypatch.setattr(ranker, "PENDING_PAIRS", pending)
        for kw in ({"chunk_size": 64, "query_batch": 40}, {"chunk_size": 300, "query_batch": 45},
                   {"chunk_size": 7, "query_batch": 2}, {"chunk_size": 1, "query_batch": 45}):
            assert_matches(gold_ranks(Q, D, gold, exclude=exclude, masks=masks, top_k=4, **kw), ref, 4, masks)
    assert pools and set(pools) == {workers}  # the threads did run


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), st.integers(1, 300), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_fused_block_reduction_equals_the_definition(rows, cols, slots, seed):
    """The compiled reduction (fused.py) against plain comparisons: counts above hi, every entry in
    [lo, hi], on blocks full of ties, -inf (excluded) entries, +inf pads, empty and one-point bands,
    widths across its 64-column search segments."""
    from mteb_xalign.metrics.ranking import fused

    rng = np.random.default_rng(seed)
    S = rng.integers(-4, 5, (rows, cols)).astype(np.float32) / 4
    S[rng.random((rows, cols)) < 0.05] = -np.inf
    lo = rng.integers(-5, 5, (rows, slots)).astype(np.float32) / 4
    hi = lo + rng.integers(0, 3, (rows, slots)).astype(np.float32) / 4
    pad = rng.random((rows, slots)) < 0.1
    lo[pad], hi[pad] = np.inf, np.inf  # ragged gold lists
    counts, r, c, j = fused.count_and_band(S, lo, hi)
    assert counts.shape == (rows, slots, 1)
    assert counts[:, :, 0].tolist() == [[int((S[i] > hi[i, k]).sum()) for k in range(slots)] for i in range(rows)]
    want = {(i, x, k) for i in range(rows) for k in range(slots) for x in range(cols) if lo[i, k] <= S[i, x] <= hi[i, k]}
    got = list(zip(r.tolist(), c.tolist(), j.tolist()))
    assert len(got) == len(set(got)) and set(got) == want


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 9), st.integers(1, 300), st.integers(0, 3000), st.integers(0, 2**32 - 1))
def test_fused_selection_equals_the_definition_or_refuses_past_its_limit(rows, cols, limit, seed):
    """The compiled selection (fused.at_least) against plain comparisons: every entry >= its row's
    cut, row-major, with its score, on blocks of ties, -inf (excluded) entries, NaN and +inf, cuts of
    -inf and +inf, widths across its 64-column segments; None exactly when there are more than
    `limit` (also when the limit falls inside a segment or the count equals it)."""
    from mteb_xalign.metrics.ranking import fused

    rng = np.random.default_rng(seed)
    S = rng.integers(-4, 5, (rows, cols)).astype(np.float32) / 4
    S[rng.random((rows, cols)) < 0.05] = -np.inf
    S[rng.random((rows, cols)) < 0.02] = np.nan
    S[rng.random((rows, cols)) < 0.02] = np.inf
    cut = rng.integers(-5, 6, rows).astype(np.float32) / 4
    cut[rng.random(rows) < 0.1] = -np.inf
    cut[rng.random(rows) < 0.1] = np.inf
    r, c = np.nonzero(S >= cut[:, None])
    for lim in (limit, len(r), max(len(r) - 1, 0)):
        got = fused.at_least(S, cut, lim)
        if len(r) > lim:
            assert got is None
        else:
            assert got[0].tolist() == r.tolist() and got[1].tolist() == c.tolist()
            np.testing.assert_array_equal(got[2], S[r, c])


@pytest.mark.parametrize("fused", [True, False])
def test_sparse_blocks_by_either_selection(fused, monkeypatch):
    """Golds near the top of the pool (every block sparse, the path a working model takes), masks
    and exclusions: the compiled selection and numpy's, against the definition."""
    from mteb_xalign.metrics.ranking import backends
    from mteb_xalign.metrics.ranking import fused as compiled

    calls = []
    real = compiled.at_least
    monkeypatch.setattr(compiled, "at_least", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(backends, "FUSED", fused)
    rng = np.random.default_rng(11)
    D = unit(rng.standard_normal((600, 16)))
    Q = unit(rng.standard_normal((30, 16)))
    order = np.argsort(-(Q @ D.T), axis=1)  # descending: golds near the top
    gold = [order[q, [0, 2 + q % 5]] for q in range(30)]
    D[order[:, 3]] = D[order[:, 0]]  # a tie with each query's first gold
    exclude = [order[q, 1:2] for q in range(30)]
    masks = {"even": np.arange(600) % 2 == 0}
    ref, _ = brute_force(Q, D, gold, exclude=exclude, masks=masks, top_k=2)
    for kw in ({"chunk_size": 64, "query_batch": 16}, {"chunk_size": 600, "query_batch": 30}):
        assert_matches(gold_ranks(Q, D, gold, exclude=exclude, masks=masks, top_k=2, **kw), ref, 2, masks)
    assert bool(calls) == fused


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 400), st.floats(-30, 30), st.integers(0, 2**32 - 1))
def test_block_norm_bound_holds_and_bad_rows_are_seen(rows, dim, log_scale, seed):
    """The compiled largest squared norm (fused.py), through norm_bound, bounds every row's exact
    norm (float64 of float32 values) at any scale and length; a NaN, inf or overflowing row makes it
    inf, so the ranker looks for the row to name."""
    from mteb_xalign.metrics.ranking import fused
    from mteb_xalign.metrics.ranking.exact import norm_bound

    rng = np.random.default_rng(seed)
    D = (rng.standard_normal((rows, dim)) * 2.0**log_scale).astype(np.float32)
    exact = max((math.sqrt(math.fsum(x * x for x in r)) for r in D.astype(np.float64).tolist()), default=0.0)
    assert norm_bound(fused.max_squared_norm(D), dim) >= exact
    if rows:
        for bad in (np.nan, np.inf, -np.inf, np.float32(3e19)):
            E = D.copy()
            E[rng.integers(rows), rng.integers(dim)] = bad
            assert fused.max_squared_norm(E) == np.inf


@pytest.mark.parametrize("capacity", [1, 2, 3, 4, 5])
def test_fused_kernel_keeps_its_entries_when_the_buffers_fill_exactly(capacity):
    """The kernel writes every column of a segment holding band entries and keeps only the hits:
    with exactly as many hits as its buffers hold, the columns after the last hit must not
    overwrite it (and more hits than that are counted, for the caller to call again)."""
    from mteb_xalign.metrics.ranking import fused

    reduce_block = fused._kernels()[0]
    S = np.zeros((1, 100), np.float32)
    S[0, [2, 5, 9]] = 1.0  # three band entries, then 90 columns that are not
    lo = hi = np.ones((1, 1), np.float32)
    above = np.empty((1, 1), np.int64)
    rows, cols, slots = (np.full(capacity + 1, -7, np.int64) for _ in range(3))
    n = reduce_block(S, lo, hi, above, rows, cols, slots)
    assert n == 3 and above[0, 0] == 0
    kept = min(n, capacity)
    assert cols[:kept].tolist() == [2, 5, 9][:kept]
    assert rows[:kept].tolist() == [0] * kept and slots[:kept].tolist() == [0] * kept


def test_fused_reduction_filling_its_first_buffers_exactly_keeps_every_entry():
    from mteb_xalign.metrics.ranking import fused

    S = np.zeros((1, 4200), np.float32)
    S[0, :4096] = 1.0  # as many band entries as the first buffers hold (4,096), then others
    _, r, c, j = fused.count_and_band(S, np.ones((1, 1), np.float32), np.ones((1, 1), np.float32))
    assert c.tolist() == list(range(4096)) and set(r.tolist()) == set(j.tolist()) == {0}


def test_fused_block_reduction_with_more_band_entries_than_room():
    """Every score ties its gold (a constant model): more band entries than the kernel's first
    buffers hold; the call runs again with room for all of them and loses none."""
    from mteb_xalign.metrics.ranking import fused

    S = np.full((64, 200), 0.5, np.float32)
    S[3, 7] = -np.inf  # an excluded pair is never a band entry
    lo = hi = np.full((64, 2), 0.5, np.float32)
    counts, r, c, j = fused.count_and_band(S, lo, hi)
    assert (counts == 0).all()
    got = set(zip(r.tolist(), c.tolist(), j.tolist()))
    assert len(r) == len(got) == 64 * 200 * 2 - 2 > max(4096, 8 * 64 * 2)
    assert got == {(i, x, k) for i in range(64) for x in range(200) for k in range(2)} - {(3, 7, 0), (3, 7, 1)}


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_dense_blocks_without_masks_by_either_reduction(fused, threads, monkeypatch):
    """Golds low in the pool (every block dense), no masks: the compiled reduction and the numpy
    passes, on one thread and shared over two, against the definition, with ties and exclusions."""
    from mteb_xalign.metrics.ranking import backends
    from mteb_xalign.metrics.ranking import fused as compiled

    calls = []
    real = compiled.count_and_band
    monkeypatch.setattr(compiled, "count_and_band", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(backends, "FUSED", fused)
    monkeypatch.setattr(backends, "SMALL_WORK", 0)
    monkeypatch.setattr(backends, "blas_threads", lambda: threads)
    rng = np.random.default_rng(5)
    D = unit(rng.standard_normal((500, 16)))
    Q = unit(rng.standard_normal((33, 16)))
    order = np.argsort(Q @ D.T, axis=1)  # ascending: golds near the bottom
    gold = [order[q, [1, 40 + q, 200]] for q in range(33)]
    D[order[:, 0]] = D[order[:, 1]]  # a copy of each query's first gold
    D[::23] = D[7]
    exclude = [order[q, 2:4] for q in range(33)]
    ref, _ = brute_force(Q, D, gold, exclude=exclude, top_k=3)
    for kw in ({"chunk_size": 100, "query_batch": 16}, {"chunk_size": 500, "query_batch": 33}):
        assert_matches(gold_ranks(Q, D, gold, exclude=exclude, top_k=3, **kw), ref, 3)
    assert bool(calls) == fused


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("pairs_per_query", [1, 3, 40])
def test_exact_scores_by_either_float64_path_equal_the_definition(pairs_per_query, compiled, monkeypatch):
    """exact_scores computes its float64 dots by a gathered einsum (few pairs per query) or by one
    matrix-vector product per query (many): either way, every score is the definition's, including
    near ties built from a shared vector plus one-ulp changes, in any order of the pairs."""
    from mteb_xalign.metrics.ranking import exact
    from mteb_xalign.metrics.ranking.exact import exact_scores

    monkeypatch.setattr(exact, "FUSED_DOTS", compiled)  # the compiled loop, or numpy's two paths
    rng = np.random.default_rng(pairs_per_query)
    Q = rng.standard_normal((6, 48)).astype(np.float32)
    D = rng.standard_normal((300, 48)).astype(np.float32)
    D[100:150] = D[0]
    D[100:150, 7] = np.nextafter(D[0, 7], np.float32(np.inf))  # one ulp from document 0
    rows = np.repeat(np.arange(6), pairs_per_query)
    cols = rng.integers(0, 300, len(rows))
    cols[::2] = rng.integers(100, 150, len(cols[::2]))  # half the pairs among the near-copies
    order = rng.permutation(len(rows))  # pairs need not come grouped by query
    rows, cols = rows[order], cols[order]
    got = exact_scores(Q, D, rows, cols)
    want = np.array([fsum_score(Q[r], D[c]) for r, c in zip(rows, cols)], np.float32)
    assert got.tobytes() == want.tobytes()
    norms = np.linalg.norm(Q.astype(np.float64), axis=1)
    bound = float(np.linalg.norm(D.astype(np.float64), axis=1).max()) * (1 + 1e-12)
    assert exact_scores(Q, D, rows, cols, norms, bound).tobytes() == want.tobytes()
