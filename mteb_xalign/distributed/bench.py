"""Ray's costs: sharded exact ranking against the single-process ranking, and Ray's start-up.

    python -m mteb_xalign.distributed.bench [--docs 1000000] [--queries 1000] [--shards 4] [--cpus N]
    python -m mteb_xalign.distributed.bench --startup [--repeats 2]

prints name=value lines (as `make bench` does):
  sharded_rank_{N}_single_seconds   metrics.ranking.gold_ranks in this process
  sharded_rank_{N}_seconds          the map-reduce over --shards Ray tasks (plan, shards, merge)
  sharded_rank_{N}_ratio            the two divided (same run, same machine)
  sharded_rank_{N}_driver_peak_mb   the driver's peak numpy memory during the sharded run
                                    (tracemalloc): plan and partials, not the pool
  sharded_rank_{N}_pool_mb          the pool's size, for comparison
  sharded_rank_{N}_equal            1 when every rank and the top-k equal the single run
  sharded_rank_{N}_cpus, _load_average   this machine's cores and its load when the bench began
The pool is generated inside the shard workers (the driver never holds it for the sharded run);
generation is not timed. Ray runs embedded on THIS machine: workers share its cores, so the ratio
measures the map-reduce's overhead and parallelism on one machine, not a cluster.

--startup prints what `--executor ray` costs before and around the work (best of --repeats, each
in a fresh process, as a user's command starts):
  ray_init_seconds          `import ray` + ray.init of an embedded Ray (cluster.ray_session)
  ray_first_task_seconds    then a no-op task's round trip (a worker process started)
  ray_startup_seconds       the two together; ray_shutdown_seconds: ray.shutdown
  ray_grid_local_seconds    `xalign run` of a tiny grid (TINY_GRID: one model, one task), local,
                            cold cache, the whole command
  ray_grid_seconds          the same command with --executor ray
  ray_overhead_seconds      the two subtracted; ray_overhead_ratio: divided (rounds alternate the two)
  ray_grid_ready_seconds    the "Ray ready in" time the Ray run printed
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from mteb_xalign.distributed.cluster import ray_session
from mteb_xalign.distributed.ranking import rank_on_shards, shard_bounds
from mteb_xalign.metrics.ranking import gold_ranks

BLOCK = 65536
#: `xalign run` arguments of the tiny grid whose Ray overhead --startup measures (a bundled model
#: that loads in seconds, one task of a few hundred words).
TINY_GRID = ("-t", "SemanticAffinity", "--subsets", "en-de", "-m", "xalign/use-multilingual-v3", "--device", "cpu")


def pool_rows(seed: int, start: int, stop: int, dim: int) -> np.ndarray:
    """Rows start..stop-1 of a random unit-vector pool, the same whoever generates them (blocks seeded by index)."""
    out = np.empty((stop - start, dim), np.float32)
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        rng = np.random.default_rng([seed, block])
        rows = rng.standard_normal((BLOCK, dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        a, b = max(start, block * BLOCK), min(stop, (block + 1) * BLOCK)
        out[a - start:b - start] = rows[a - block * BLOCK:b - block * BLOCK]
    return out


def run_sharded_bench(n_docs: int = 1_000_000, n_queries: int = 1000, dim: int = 384, n_shards: int = 4,
                      num_cpus: int | None = None) -> list[tuple[str, float]]:
    load = os.getloadavg()[0]  # the figures are only comparable on an otherwise idle machine
    rng = np.random.default_rng(2)
    Q = pool_rows(1, 0, n_queries, dim)
    gold = [rng.choice(n_docs, size=2, replace=False).tolist() for _ in range(n_queries)]
    D = pool_rows(3, 0, n_docs, dim)
    t0 = time.perf_counter()
    single = gold_ranks(Q, D, gold, top_k=10)
    single_s = time.perf_counter() - t0
    pool_mb = D.nbytes / 2**20
    del D

    with ray_session(None, num_cpus=num_cpus) as ray:
        make = ray.remote(pool_rows)
        shards = [(a, make.remote(3, a, b, dim)) for a, b in shard_bounds(n_docs, n_shards)]
        ray.wait([ref for _, ref in shards], num_returns=len(shards))  # generated, not timed
        tracemalloc.start()
        t0 = time.perf_counter()
        sharded = rank_on_shards(Q, shards, gold, n_docs=n_docs, top_k=10)
        sharded_s = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    equal = (all(np.array_equal(a, b) for a, b in zip(sharded.ranks, single.ranks))
             and np.array_equal(sharded.top_indices, single.top_indices)
             and sharded.top_scores.tobytes() == single.top_scores.tobytes())
    name = f"sharded_rank_{n_docs}"
    return [
        (f"{name}_cpus", os.cpu_count() or 0),
        (f"{name}_load_average", round(load, 1)),  # other processes' share of the same cores
        (f"{name}_single_seconds", round(single_s, 3)),
        (f"{name}_seconds", round(sharded_s, 3)),
        (f"{name}_ratio", round(sharded_s / single_s, 3)),
        (f"{name}_shards", n_shards),
        (f"{name}_driver_peak_mb", round(peak / 2**20, 1)),
        (f"{name}_pool_mb", round(pool_mb, 1)),
        (f"{name}_equal", int(equal)),
    ]


def _noop() -> int:
    return 1


def ray_startup_once(num_cpus: int | None = None) -> list[tuple[str, float]]:
    """One embedded Ray started, used once and shut down, in this process (which must not have Ray yet)."""
    t0 = time.perf_counter()

    with ray_session(None, num_cpus=num_cpus) as ray:
        ready = time.perf_counter()
        ray.get(ray.remote(_noop).remote())
        first = time.perf_counter()
    end = time.perf_counter()
    return [("ray_init_seconds", ready - t0), ("ray_first_task_seconds", first - ready),
            ("ray_startup_seconds", first - t0), ("ray_shutdown_seconds", end - first)]


def startup_figures(repeats: int = 2) -> list[tuple[str, float | str]]:
    """Ray's start-up in fresh processes, and a tiny grid's `xalign run` with and without Ray (best of
    `repeats`, the two sides alternating so a slow spell of the machine hits both)."""
    best: dict[str, float] = {}
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-m", "mteb_xalign.distributed.bench", "--startup-once"],
                              capture_output=True, text=True, check=True)
        for line in done.stdout.splitlines():
            name, _, value = line.partition("=")
            best[name] = min(best.get(name, float("inf")), float(value))
    xalign = str(Path(sys.executable).parent / "xalign")
    local, on_ray, ready = [], [], []
    with tempfile.TemporaryDirectory(prefix="xalign-ray-bench-") as tmp:
        for i in range(repeats):
            for side, extra, times in (("local", (), local), ("ray", ("--executor", "ray"), on_ray)):
                env = {**os.environ, "XALIGN_CACHE": f"{tmp}/{side}-{i}.sqlite3"}  # cold each time
                t0 = time.perf_counter()
                done = subprocess.run([xalign, "run", *TINY_GRID, *extra, "--output", f"{tmp}/{side}-{i}"],
                                      env=env, capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if done.returncode != 0:
                    raise RuntimeError(f"xalign run ({side}) failed: {done.stderr[-1000:]}")
                if side == "ray" and (m := re.search(r"Ray ready in ([0-9.]+) s", done.stderr)):
                    ready.append(float(m.group(1)))
    figures: list[tuple[str, float | str]] = [(name, round(value, 3)) for name, value in best.items()]
    figures += [
        ("ray_grid", " ".join(TINY_GRID)),
        ("ray_grid_local_seconds", round(min(local), 3)),
        ("ray_grid_seconds", round(min(on_ray), 3)),
        ("ray_overhead_seconds", round(min(on_ray) - min(local), 3)),
        ("ray_overhead_ratio", round(min(on_ray) / min(local), 3)),
        ("ray_overhead_ratio_rounds", ",".join(f"{r / l_:.2f}" for r, l_ in zip(on_ray, local))),
    ]
    if ready:
        figures.append(("ray_grid_ready_seconds", min(ready)))
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--startup", action="store_true", help="Ray's start-up and a tiny grid's overhead, not sharding")
    p.add_argument("--startup-once", action="store_true", help=argparse.SUPPRESS)  # one fresh process's try
    p.add_argument("--repeats", type=int, default=2, help="with --startup: tries of each figure (best is kept)")
    p.add_argument("--docs", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--cpus", type=int, default=None, help="CPUs given to the embedded Ray (default: all)")
    args = p.parse_args(argv)
    if args.startup_once or args.startup:
        figures = ray_startup_once(args.cpus) if args.startup_once else startup_figures(args.repeats)
        for key, value in figures:
            print(f"{key}={value}")
        return 0
    for key, value in run_sharded_bench(args.docs, args.queries, args.dim, args.shards, args.cpus):
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
