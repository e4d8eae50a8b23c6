"""Ranking cost vs pool size for `make bench`: exact gold ranks against the bare matrix product.

run_rank_bench() returns (name, value) pairs and prints nothing; benchmarks/run.py prints them.
For each pool size N (random unit vectors, 2 random gold documents per query):
  rank_{N}_seconds         gold_ranks over the full pool (best of 5 up to 10k, of 3 up to 100k documents)
  rank_{N}_matmul_seconds  the bare Q.D^T in the same blocks (query_batch x chunk_size), no ranking
  rank_{N}_ratio           the two divided: the cost of exact ranking over the product itself
  rank_{N}_peak_mb         peak numpy memory of the ranking (tracemalloc), inputs excluded
and rank_10000_correct = 1 when every rank at 10k agrees with a float64 brute force (up to
float32 rounding: a rank must lie between the counts of documents clearly above and level).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from mteb_xalign.metrics.ranking import gold_ranks

CHUNK = 8192
QUERY_BATCH = 1024


def unit_vectors(n: int, dim: int, seed: int, block: int = 65536) -> np.ndarray:
    """n random unit vectors in float32, generated block by block (no float64 copy of the pool)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for a in range(0, n, block):
        x = rng.standard_normal((min(block, n - a), dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[a:a + len(x)] = x
    return out


def bare_matmul_seconds(Q: np.ndarray, D: np.ndarray, device=None) -> float:
    """Q.D^T block by block into one reused buffer, exactly the products gold_ranks computes."""
    if device not in (None, "cpu"):
        import torch

        dev = torch.device("cpu" if device == "torch-cpu" else device)
        t0 = time.perf_counter()
        for s in range(0, len(Q), QUERY_BATCH):
            Qd = torch.from_numpy(Q[s:s + QUERY_BATCH]).to(dev)
            for a in range(0, len(D), CHUNK):
                S = Qd @ torch.from_numpy(D[a:a + CHUNK]).to(dev).T
        if dev.type == "cuda":
            torch.cuda.synchronize()
        del S
        return time.perf_counter() - t0
    buf = np.empty(QUERY_BATCH * CHUNK, np.float32)
    t0 = time.perf_counter()
    for s in range(0, len(Q), QUERY_BATCH):
        Qb = Q[s:s + QUERY_BATCH]
        for a in range(0, len(D), CHUNK):
            Dc = D[a:a + CHUNK]
            np.matmul(Qb, Dc.T, out=buf[: len(Qb) * len(Dc)].reshape(len(Qb), len(Dc)))
    return time.perf_counter() - t0


def ranks_agree_with_brute_force(Q, D, gold, ranks, eps: float = 1e-6) -> bool:
    S = Q.astype(np.float64) @ D.astype(np.float64).T
    for q, g in enumerate(gold):
        s = S[q, g][:, None]
        clearly_above = (S[q] > s + eps).sum(axis=1)
        level_or_above = (S[q] >= s - eps).sum(axis=1)
        if not ((clearly_above < ranks[q]) & (ranks[q] <= level_or_above)).all():
            return False
    return True


def run_rank_bench(sizes=(10_000, 100_000, 1_000_000), n_queries: int = 1000, dim: int = 384,
                   device=None) -> list[tuple[str, float | str]]:
    out: list[tuple[str, float | str]] = []
    Q = unit_vectors(n_queries, dim, seed=1)
    rng = np.random.default_rng(2)
    for n in sizes:
        D = unit_vectors(n, dim, seed=3)
        gold = [rng.choice(n, size=2, replace=False) for _ in range(n_queries)]
        kwargs = dict(chunk_size=CHUNK, query_batch=QUERY_BATCH, device=device)

        # Best of a few interleaved runs where cheap: other processes only ever add time.
        seconds = matmul = float("inf")
        for _ in range(5 if n <= 10_000 else 3 if n <= 100_000 else 1):
            t0 = time.perf_counter()
            res = gold_ranks(Q, D, gold, **kwargs)
            seconds = min(seconds, time.perf_counter() - t0)
            matmul = min(matmul, bare_matmul_seconds(Q, D, device))

        tracemalloc.start()
        tracemalloc.reset_peak()
        gold_ranks(Q, D, gold, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        out += [
            (f"rank_{n}_seconds", round(seconds, 3)),
            (f"rank_{n}_matmul_seconds", round(matmul, 3)),
            (f"rank_{n}_ratio", round(seconds / matmul, 3)),
            (f"rank_{n}_peak_mb", round(peak / 2**20, 1)),
        ]
        if n == 10_000:
            out.append((f"rank_{n}_correct", int(ranks_agree_with_brute_force(Q, D, gold, res.ranks))))
        del D
    return out


if __name__ == "__main__":
    for name, value in run_rank_bench():
        print(f"{name}={value}")
