"""Speed and size of the uncertainty figures, on per-query files shaped like the whole XAlign benchmark.

    python benchmarks/stats_bench.py [--resamples N]

Two synthetic models (clustered per-query values, the real subsets' shapes: 1190 questions in 240
paragraphs per XQuAD subset, 207 concepts per SA subset) are written as `xalign run` writes them.
  stats_per_query_mb        the per-query files of one model, whole benchmark (target < 5 MB)
  stats_intervals_s         every task score's interval from the files (wall, best of 2)
  stats_compare_s           `xalign compare`'s work for all subsets and task scores of the two models
                            (paired intervals, permutation p-values, Holm; wall, best of 2)
  stats_total_s             the two together (target < 10 s with 10,000 resamples)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mteb_xalign import per_query
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import compare, file_intervals
from mteb_xalign.stats.resampling import N_RESAMPLES

#: task -> (number of subsets, rows per subset, rows per cluster, main score)
SHAPES = {
    "MultiRefCLIR": (22, 1190, 5, "max_at_r_norm"), "MultiRefCLIR-Multi1": (22, 1190, 5, "max_at_r_norm"),
    "MultiRefCLIR-MonoSame": (12, 1190, 5, "max_at_r_norm"), "MultiRefCLIR-MonoCross": (22, 1190, 5, "max_at_r_norm"),
    "LAReQA": (11, 1190, 5, "map"), "SemanticAffinity": (23, 207, 1, "semantic_affinity"),
    "SemanticAffinity-AllPairs": (1, 207, 1, "semantic_affinity"),
}
RETRIEVAL_KEYS = ("max_at_r", "max_at_r_norm", "complete_at_1", "complete_at_5", "complete_at_10",
                  "complete_at_20", "complete_at_100", "ndcg_at_1_pessimistic", "mrr", "map")


def _retrieval_rows(rng, n):
    max_r = np.minimum(rng.geometric(0.15, n) + 1, 480).astype(np.float64)
    norm = (np.log2(480) - np.log2(max_r)) / (np.log2(480) - 1.0)
    values = {"max_at_r": max_r, "max_at_r_norm": norm, "ndcg_at_1_pessimistic": (max_r <= 2).astype(float),
              "mrr": 1.0 / np.maximum(1.0, max_r - rng.integers(0, 2, n)), "map": (1.0 + 2.0 / max_r) / 2 / 1.5}
    for k in (1, 5, 10, 20, 100):
        values[f"complete_at_{k}"] = (max_r <= k).astype(np.float64)
    values["language_preference"] = (rng.random(n) < 0.1).astype(np.float64)
    return values


def write_model(root: Path, name: str, seed: int) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    folder = root / name / "r1"
    folder.mkdir(parents=True)
    paths = {}
    for task, (n_subsets, n, per_cluster, main) in SHAPES.items():
        ids = tuple(f"{task[:3]}{i:05d}" for i in range(n))
        clusters = tuple(f"p{i // per_cluster:04d}" for i in range(n))
        stored, rows = {}, []
        for s in range(n_subsets):
            if main == "semantic_affinity":  # tuple counts come from the word list: the same for every model
                values = {"n_tuples": np.random.default_rng(s).integers(1, 6, n).astype(np.float64),
                          "vertical_spread": rng.random(n) * 0.6 + 0.2, "horizontal_spread": np.full(n, 0.8)}
            else:
                values = _retrieval_rows(rng, n)
            out = SubsetOutcomes(ids, clusters, values)
            stored[("test", f"s{s:02d}")] = out
            scores = {key: round(v, 6) for key, v in per_query.recompute(out).items()}
            rows.append({"hf_subset": f"s{s:02d}", **scores, "main_score": scores[main], "languages": ["eng-Latn"]})
        path = folder / f"{task}.json"
        path.write_text(json.dumps({"dataset_revision": "r", "task_name": task, "mteb_version": "2.26.24",
                                    "evaluation_time": 1.0, "scores": {"test": rows}}))
        per_query._write(per_query.per_query_path(path), task, "r", stored, main)
        paths[task] = path
    return paths


def best_of(fn, repeats=2) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resamples", type=int, default=N_RESAMPLES)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = write_model(Path(tmp), "a", 1), write_model(Path(tmp), "b", 2)
        size = sum(per_query.per_query_path(path).stat().st_size for path in a.values())
        print(f"stats_per_query_mb={size / 2**20:.2f}")
        t_int = best_of(lambda: [file_intervals.task_interval_of(path, n_resamples=args.resamples) for path in a.values()])
        t_cmp = best_of(lambda: compare.compare(a, b, n_resamples=args.resamples))
        print(f"stats_resamples={args.resamples}")
        print(f"stats_intervals_s={t_int:.2f}")
        print(f"stats_compare_s={t_cmp:.2f}")
        print(f"stats_total_s={t_int + t_cmp:.2f}")
        print(f"stats_load1={os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
