"""Ranking cost for `make bench`: exact gold ranks against the bare matrix product, measured honestly.

run_rank_bench() returns (name, value) pairs and prints nothing; benchmarks/run.py prints them
(`python benchmarks/rank_bench.py` prints them too). Pools are random unit vectors (dim 384) with
ties built in: ~1% of documents are copies of others, every gold document has copies elsewhere in
the pool, and each query excludes 5 documents (one a copy of its gold when there is one).

Per pool size N (1,000 queries, 2 gold documents each):
  rank_{N}_seconds, rank_{N}_matmul_seconds   best of R interleaved runs of gold_ranks and of the
                                              bare Q.D^T in the same blocks (R = 7 / 5 / 2 at 10k / 100k / 1M);
                                              rank_{N}_ratio = their quotient
  rank_{N}_peak_mb                            peak numpy memory of the ranking (tracemalloc), inputs excluded
  rank_{N}_correct                            1 when the ranks of a sample of queries equal an independent
                                              brute force (float64 products + fsum on near ties), else 0
  rank_{N}_brute_force_queries                how many queries that sample holds
  rank_{N}_load1, rank_{N}_others_cpu         the 1-minute load average before the runs, and the share of
                                              the machine's CPUs other processes used during them
  rank_{N}_under_load                         1 when others used more than UNDER_LOAD of the CPUs: the
                                              figure is then not a quiet-machine figure
Random golds sit mid-pool, where many documents score near them: every block after a query batch's
first takes the dense reduction (fused.count_and_band). At the largest size the same pool is ranked
again with each query's golds moved near it, as a working model places them (rank_near_{N}_*: the
sparse path, fused.at_least, which selects the few scores that reach a gold's band; until
2026-12-07 this path took 1.6 x the product at 1M, its numpy passes over every block). The tasks'
own shapes (rank_multirefclir_*: 1,190 queries x 480 paragraphs, 2 golds, a language mask;
rank_lareqa_*: 1,190 x 12,932 sentences, 11 golds) get the same figures, with golds near their
query too. At the largest size, rank_sharded_{N}_*: the map-reduce over 4 shards (plan, 4 workers run one after the other
here, merge) against the single-process ranking in the same run, whether it is equal bit for bit,
and the driver's peak memory (plan + merging the 4 partials). Thread counts are printed once
(rank_blas_threads, rank_torch_threads, rank_cpus).
"""

from __future__ import annotations

import math
import os
import resource
import time
import tracemalloc

import numpy as np

from mteb_xalign.metrics.ranking import gold_ranks
from mteb_xalign.metrics.ranking.sharded import merge_partials, plan_ranking, rank_shard

CHUNK = 8192
QUERY_BATCH = 1024
UNDER_LOAD = 0.25  # share of all CPUs busy with other processes during a measurement


# ----------------------------------------------------------------------------- the machine


def cpu_busy_seconds() -> float | None:
    """Seconds of CPU time the whole machine has spent busy (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class LoadWatch:
    """The share of the machine's CPUs used by OTHER processes between start() and stop(): this
    process and the children it waited for (a benchmark's own subprocesses) do not count."""

    @staticmethod
    def _own() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def start(self):
        self.wall, self.own, self.busy = time.perf_counter(), self._own(), cpu_busy_seconds()
        return self

    def stop(self) -> float:
        busy = cpu_busy_seconds()
        if busy is None or self.busy is None:
            return math.nan
        wall = time.perf_counter() - self.wall
        others = (busy - self.busy) - (self._own() - self.own)
        return max(0.0, others) / (wall * (os.cpu_count() or 1))


def thread_counts() -> list[tuple[str, float | str]]:
    out: list[tuple[str, float | str]] = [("rank_cpus", os.cpu_count() or 0)]
    try:
        from threadpoolctl import threadpool_info

        blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        out.append(("rank_blas_threads", max(blas) if blas else "unknown"))
    except ImportError:
        out.append(("rank_blas_threads", "unknown (threadpoolctl not installed)"))
    try:
        import torch

        out.append(("rank_torch_threads", torch.get_num_threads()))
    except ImportError:
        pass
    return out


# ----------------------------------------------------------------------------- pools


def unit_vectors(n: int, dim: int, seed: int, block: int = 65536) -> np.ndarray:
    """n random unit vectors in float32, generated block by block (no float64 copy of the pool)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for a in range(0, n, block):
        x = rng.standard_normal((min(block, n - a), dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[a:a + len(x)] = x
    return out


def pool_with_ties(Q: np.ndarray, n_docs: int, n_gold: int, seed: int):
    """Documents, gold lists and exclusions with exact duplicates, gold copies and excluded copies.
    About 1% of the documents are copies (of random documents, and of some queries' first gold)."""
    rng = np.random.default_rng(seed)
    D = unit_vectors(n_docs, Q.shape[1], seed)
    copies = max(1, n_docs // 200)
    D[rng.integers(0, n_docs, copies)] = D[rng.integers(0, n_docs, copies)]
    copied_golds = max(1, n_docs // 600)  # x 3 copies: 0.5% of the pool
    gold, exclude = [], []
    for q in range(len(Q)):
        g = rng.choice(n_docs, size=n_gold, replace=False)
        targets = np.setdiff1d(rng.choice(n_docs, size=3, replace=False), g)
        if q < copied_golds:
            D[targets] = D[g[0]]  # the first gold ties with up to 3 copies of itself
        rest = rng.choice(n_docs, size=5, replace=False)
        ex = np.setdiff1d(np.union1d(rest, targets[:1]), g)  # one copy of the gold leaves the pool
        gold.append(g)
        exclude.append(ex)
    # A copy made for a later query may have overwritten an earlier gold vector: that is fine,
    # gold documents are positions, and the ties are whatever the final vectors say.
    return D, gold, exclude


# ----------------------------------------------------------------------------- measurements


def bare_matmul_seconds(Q: np.ndarray, D: np.ndarray) -> float:
    """Q.D^T block by block into one reused buffer: the products gold_ranks computes, nothing else."""
    buf = np.empty(QUERY_BATCH * CHUNK, np.float32)
    t0 = time.perf_counter()
    for s in range(0, len(Q), QUERY_BATCH):
        Qb = Q[s:s + QUERY_BATCH]
        for a in range(0, len(D), CHUNK):
            Dc = D[a:a + CHUNK]
            np.matmul(Qb, Dc.T, out=buf[: len(Qb) * len(Dc)].reshape(len(Qb), len(Dc)))
    return time.perf_counter() - t0


def brute_force_ranks(Q, D, gold, exclude, sample) -> list[list[int]]:
    """The tie rule by definition for the sampled queries, by other means than the library's:
    float64 products (exact for float32 inputs) summed by BLAS, whose error is far below `window`;
    every document within `window` of a gold's score is scored exactly with math.fsum."""
    Qs = Q[sample].astype(np.float64)
    thresholds = [[np.float32(math.fsum((Qs[i] * D[g].astype(np.float64)).tolist())) for g in gold[q]]
                  for i, q in enumerate(sample)]
    windows = 1e-6 * np.linalg.norm(Qs, axis=1)  # unit documents: >> float64 error, >> a float32 ulp of a score
    counts = [[0] * len(gold[q]) for q in sample]
    for a in range(0, len(D), 16384):
        S = D[a:a + 16384].astype(np.float64) @ Qs.T  # (chunk, sampled queries)
        for i, q in enumerate(sample):
            in_pool = np.ones(len(S), bool)
            ex = np.asarray(exclude[q], np.int64)
            in_pool[ex[(ex >= a) & (ex < a + len(S))] - a] = False
            for j, t in enumerate(thresholds[i]):
                near = np.flatnonzero(in_pool & (np.abs(S[:, i] - t) <= windows[i]))
                exact = [np.float32(math.fsum((Qs[i] * D[a + d].astype(np.float64)).tolist())) for d in near]
                counts[i][j] += int((in_pool & (S[:, i] > t + windows[i])).sum()) + sum(e >= t for e in exact)
    return counts


def measure(name: str, Q, D, gold, exclude, *, repeats: int, sample_size: int, masks=None):
    """Best-of-`repeats` ranking and matmul times, memory, a brute-force check and the load."""
    out: list[tuple[str, float | str]] = [(f"{name}_load1", round(os.getloadavg()[0], 2))]
    kwargs = dict(exclude=exclude, masks=masks, chunk_size=CHUNK, query_batch=QUERY_BATCH)
    watch = LoadWatch().start()
    seconds = matmul = math.inf
    for _ in range(repeats):  # interleaved: a burst of load hits both alike; others only ever add time
        t0 = time.perf_counter()
        res = gold_ranks(Q, D, gold, **kwargs)
        seconds = min(seconds, time.perf_counter() - t0)
        matmul = min(matmul, bare_matmul_seconds(Q, D))
    others = watch.stop()
    tracemalloc.start()
    gold_ranks(Q, D, gold, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sample = np.random.default_rng(5).choice(len(Q), size=min(sample_size, len(Q)), replace=False)
    correct = brute_force_ranks(Q, D, gold, exclude, sample) == [res.ranks[q].tolist() for q in sample]
    out += [
        (f"{name}_seconds", round(seconds, 4)),
        (f"{name}_matmul_seconds", round(matmul, 4)),
        (f"{name}_ratio", round(seconds / matmul, 3)),
        (f"{name}_peak_mb", round(peak / 2**20, 1)),
        (f"{name}_correct", int(correct)),
        (f"{name}_brute_force_queries", len(sample)),
        (f"{name}_others_cpu", round(others, 2)),
        (f"{name}_under_load", int(not others <= UNDER_LOAD)),  # NaN (unknown) counts as loaded
    ]
    return out, seconds, res


def measure_sharded(name: str, Q, D, gold, exclude, single_seconds: float, single, n_shards: int = 4):
    """The map-reduce over n_shards (run one after the other here) against the single process."""
    watch = LoadWatch().start()
    t0 = time.perf_counter()
    tracemalloc.start()
    flat = np.concatenate(gold)
    plan = plan_ranking(Q, gold, D[flat], n_docs=len(D), exclude=exclude)
    driver_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    bounds = np.linspace(0, len(D), n_shards + 1).astype(int)
    partials = [rank_shard(plan, D[a:b], a, chunk_size=CHUNK, query_batch=QUERY_BATCH)
                for a, b in zip(bounds[:-1], bounds[1:])]
    tracemalloc.start()
    merged = merge_partials(plan, partials)
    driver_peak = max(driver_peak, tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
    seconds = time.perf_counter() - t0
    partial_bytes = sum(p.counts.nbytes + p.top_indices.nbytes + p.top_scores.nbytes for p in partials)
    equal = all(a.tolist() == b.tolist() for a, b in zip(merged.ranks, single.ranks))
    others = watch.stop()
    return [
        (f"{name}_seconds", round(seconds, 3)),
        (f"{name}_ratio", round(seconds / single_seconds, 3)),
        (f"{name}_equal", int(equal)),
        (f"{name}_driver_peak_mb", round((driver_peak + partial_bytes) / 2**20, 2)),
        (f"{name}_others_cpu", round(others, 2)),
        (f"{name}_under_load", int(not others <= UNDER_LOAD)),
    ]


def run_rank_bench(sizes=(10_000, 100_000, 1_000_000), n_queries: int = 1000, dim: int = 384,
                   tasks: bool = True) -> list[tuple[str, float | str]]:
    out = thread_counts()
    Q = unit_vectors(n_queries, dim, seed=1)
    for n in sizes:
        D, gold, exclude = pool_with_ties(Q, n, n_gold=2, seed=3)
        repeats, sample = (7, 200) if n <= 10_000 else (5, 50) if n <= 100_000 else (2, 20)
        figures, seconds, res = measure(f"rank_{n}", Q, D, gold, exclude, repeats=repeats, sample_size=sample)
        out += figures
        if n == max(sizes):
            out += measure_sharded(f"rank_sharded_{n}", Q, D, gold, exclude, seconds, res)
            near_golds(Q, D, gold, seed=4)  # the same pool, golds where a working model puts them
            out += measure(f"rank_near_{n}", Q, D, gold, exclude, repeats=2, sample_size=20)[0]
        del D
    if tasks:
        out += task_shapes(dim)
    return out


def near_golds(Q, D, gold, seed: int) -> None:
    """Move each query's gold documents near it (cosine about 0.9), as a working model would."""
    rng = np.random.default_rng(seed)
    for q, g in enumerate(gold):
        v = Q[q] + 0.5 * rng.standard_normal((len(g), Q.shape[1])).astype(np.float32) / np.sqrt(Q.shape[1])
        D[g] = v / np.linalg.norm(v, axis=1, keepdims=True)


def task_shapes(dim: int) -> list[tuple[str, float | str]]:
    """The two retrieval tasks' real sizes (random vectors, golds near their query)."""
    out: list[tuple[str, float | str]] = []
    Q = unit_vectors(1190, dim, seed=7)
    D, gold, exclude = pool_with_ties(Q, 480, n_gold=2, seed=8)
    near_golds(Q, D, gold, seed=8)
    mask = np.arange(480) < 240  # the pivot half of an English + X pool
    out += measure("rank_multirefclir", Q, D, gold, exclude, repeats=5, sample_size=100, masks={"pivot": mask})[0]
    D, _, exclude = pool_with_ties(Q, 12932, n_gold=11, seed=9)
    # Each question's 11 golds are the translations of its own answer: disjoint sets (the last
    # 15 questions share a set with the first ones, as questions on one answer do).
    sets = np.random.default_rng(10).permutation(12932)[: 11 * 1175].reshape(1175, 11)
    gold = [sets[q % 1175] for q in range(1190)]
    exclude = [np.setdiff1d(e, g) for e, g in zip(exclude, gold)]
    near_golds(Q, D, gold, seed=9)
    out += measure("rank_lareqa", Q, D, gold, exclude, repeats=3, sample_size=50)[0]
    return out


if __name__ == "__main__":
    sizes = tuple(int(s) for s in os.environ.get("BENCH_RANK_SIZES", "10000,100000,1000000").split(","))
    for key, value in run_rank_bench(sizes=sizes):
        print(f"{key}={value}", flush=True)
