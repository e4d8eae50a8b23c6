"""gold_ranks against an obviously-correct brute force, hand-made pools, ties, and the torch path."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign.metrics.ranking import RankResult, gold_ranks

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------- brute force


def brute_force(Q, D, gold, exclude=None, masks=None, top_k=0):
    """Every quantity by definition, one query and one document at a time, in float64."""
    S = np.asarray(Q, np.float64) @ np.asarray(D, np.float64).T
    masks = masks or {}
    out = {"ranks": [], "pool_sizes": [], "mask_counts": {m: [] for m in masks}, "top": []}
    for q in range(len(Q)):
        excluded = set() if exclude is None else {int(e) for e in exclude[q]}
        pool = [d for d in range(len(D)) if d not in excluded]
        golds = [int(g) for g in gold[q]]
        out["pool_sizes"].append(len(pool))
        out["ranks"].append([sum(1 for d in pool if S[q, d] >= S[q, g]) for g in golds])
        for name, mask in masks.items():
            out["mask_counts"][name].append(
                [sum(1 for d in pool if mask[d] and d not in golds and S[q, d] >= S[q, g]) for g in golds])
        best = sorted(pool, key=lambda d: (-S[q, d], d))[:top_k]
        out["top"].append([(d, S[q, d]) for d in best])
    return out, S


def assert_matches(res: RankResult, ref, S, top_k, masks=None):
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
        idx, sc = res.top_indices[q], res.top_scores[q]
        n = len(best)
        # Scores must be exactly the top scores; which of several documents tied at the cut-off
        # come back is unspecified, but each must really carry its score and not be excluded.
        assert sc[:n].tolist() == [s for _, s in best]
        assert (idx[n:] == -1).all() and np.isneginf(sc[n:]).all()
        assert len(set(idx[:n].tolist())) == n
        allowed = {d for d, _ in best} | {d for d in range(S.shape[1]) if S[q, d] == best[-1][1]}
        for d, s in zip(idx[:n].tolist(), sc[:n].tolist()):
            assert S[q, d] == s and d in allowed and d not in ref_excluded(ref, q)
        # Ordered by score, then document index.
        assert [(-s, d) for d, s in zip(idx[:n].tolist(), sc[:n].tolist())] == sorted(
            (-s, d) for d, s in zip(idx[:n].tolist(), sc[:n].tolist()))


def ref_excluded(ref, q):
    return ref.get("excluded", [set()] * (q + 1))[q]


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
    ref, S = brute_force(case["Q"], case["D"], case["gold"], case["exclude"], case["masks"], case["top_k"])
    ref["excluded"] = [set(e) for e in case["exclude"]] if case["exclude"] is not None else [set()] * len(case["Q"])
    assert_matches(run_case(case), ref, S, case["top_k"], case["masks"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ranking_cases())
def test_torch_path_equals_numpy(case):
    a, b = run_case(case), run_case(case, device="torch-cpu")
    assert [r.tolist() for r in a.ranks] == [r.tolist() for r in b.ranks]
    assert {k: [c.tolist() for c in v] for k, v in a.mask_counts.items()} == \
        {k: [c.tolist() for c in v] for k, v in b.mask_counts.items()}
    assert a.pool_sizes.tolist() == b.pool_sizes.tolist()
    if case["top_k"]:
        assert a.top_scores.tolist() == b.top_scores.tolist()
        ref, S = brute_force(case["Q"], case["D"], case["gold"], case["exclude"], case["masks"], case["top_k"])
        ref["excluded"] = [set(e) for e in case["exclude"]] if case["exclude"] is not None else [set()] * len(case["Q"])
        assert_matches(b, ref, S, case["top_k"], case["masks"])


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
    # q0: docs 0 and 1 tie at the cut-off (either may come back); q1: tied docs by index.
    assert res.top_indices[0, :2].tolist() == [2, 3] and res.top_indices[0, 2] in (0, 1)
    assert res.top_indices[1].tolist() == [3, 0, 2]


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


def isolated_docs(s64_row, eps=1e-5):
    """Documents whose float64 score is more than eps from every different score: float32
    rounding (~1e-7 here) cannot reorder them, so float64 brute force is exact for them."""
    order = np.argsort(s64_row)
    srt = s64_row[order]
    gap = np.diff(srt)
    gap = np.where(gap == 0, np.inf, gap)  # identical vectors tie exactly, as they must
    left = np.concatenate([[np.inf], gap])
    right = np.concatenate([gap, [np.inf]])
    # a run of exact ties shares its neighbours' gaps
    ok = np.minimum(left, right) > eps
    return order[ok]


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_duplicated_float_documents_tie_exactly():
    """Real-valued 384-d vectors, each copied to several random places (the per-question pool has
    every paragraph several times). BLAS gives copies different last bits depending on their
    column; the ranks must still count every copy as a tie."""
    rng = np.random.default_rng(3)
    base = unit(rng.standard_normal((120, 384)))
    D = base[rng.integers(0, 120, size=700)]
    Q = unit(rng.standard_normal((40, 384)))
    S64 = Q.astype(np.float64) @ D.astype(np.float64).T
    gold = []
    for q in range(40):
        ok = isolated_docs(S64[q])
        # prefer gold vectors that have copies elsewhere in the pool
        copies = [d for d in ok if (D == D[d]).all(axis=1).sum() > 1]
        gold.append(rng.choice(copies, size=2, replace=False))
    ref, S = brute_force(Q, D, gold, top_k=0)
    assert max(max(r) - min(r) for r in ref["ranks"]) > 0
    for kw in ({}, {"chunk_size": 37, "query_batch": 3}, {"device": "torch-cpu", "chunk_size": 50}):
        res = gold_ranks(Q, D, gold, **kw)
        assert [r.tolist() for r in res.ranks] == ref["ranks"]


def test_gaussian_pool_against_float64_brute_force():
    rng = np.random.default_rng(11)
    D = unit(rng.standard_normal((900, 64)))
    Q = unit(rng.standard_normal((50, 64)))
    S64 = Q.astype(np.float64) @ D.astype(np.float64).T
    gold = [rng.choice(isolated_docs(S64[q]), size=int(rng.integers(1, 6)), replace=False) for q in range(50)]
    ref, S = brute_force(Q, D, gold, top_k=10)
    for kw in ({}, {"chunk_size": 128, "query_batch": 7}, {"device": "torch-cpu", "chunk_size": 200}):
        res = gold_ranks(Q, D, gold, top_k=10, **kw)
        assert [r.tolist() for r in res.ranks] == ref["ranks"]
        for q in range(50):
            top11 = np.sort(S64[q])[::-1][:11]
            if np.diff(top11).max() < -1e-5:  # no near-tie in the top: the order is defined
                assert res.top_indices[q].tolist() == [d for d, _ in ref["top"][q]]
            np.testing.assert_allclose(res.top_scores[q], [s for _, s in ref["top"][q]], atol=1e-5)


def test_long_gold_lists_wider_than_the_chunk():
    """LAReQA-like: many golds per query, chunk narrower than a gold list, duplicates inside golds."""
    rng = np.random.default_rng(5)
    D = rng.integers(-2, 3, size=(60, 4)).astype(np.float32)
    D[10:15] = D[3]
    Q = rng.integers(-2, 3, size=(8, 4)).astype(np.float32)
    gold = [rng.choice(60, size=11, replace=False) for _ in range(8)]
    gold[0] = np.array([3, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24])
    ref, S = brute_force(Q, D, gold, top_k=7)
    res = gold_ranks(Q, D, gold, chunk_size=4, query_batch=3, top_k=7)
    assert_matches(res, ref, S, 7)


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
