"""The README's "Semanscope's benchmark" table, measured: SA of the bundled models on Swadesh-207 and
Semanscope's four word lists, the relative drop from general vocabulary (ICML-1) to ZiNets (ICML-4),
and RA per language pair, each with a 95% bootstrap interval.

Intervals: scipy.stats.bootstrap (percentile, 300 resamples, seeded) over the concepts of a word
list (SA: the metric recomputed on each resample of concepts) or over the relations (RA: the
defined per-relation cosines). Swadesh-207's score is a mean over 23 en-X pairs (23 SA per
resample): shown with the mean of its pairs' `sa_sem` instead, Semanscope's standard error. The drop resamples the two
lists independently. Points are computed by the tasks' own code and checked against the result
files of `xalign run` (--results), so the table shows the task scores the leaderboard shows.

    XALIGN_CACHE=... python benchmarks/semanscope_table.py --results DIR [-m MODEL ...]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import mteb
import numpy as np
from scipy.stats import bootstrap

from mteb_xalign.metrics.affinity import semantic_affinity
from mteb_xalign.model_loading import load_model
from mteb_xalign.run import BUNDLED_MODELS

RESAMPLES = 300  # percentile intervals; each resample recomputes SA (~50 ms on a busy 2-core box)


def _interval(data, statistic) -> tuple[float, float]:
    res = bootstrap(data, statistic, n_resamples=RESAMPLES, method="percentile", vectorized=False,
                    paired=False, random_state=np.random.default_rng(0))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _stored(results: Path, model: str, task: str) -> dict[str, float]:
    files = list((results / model.replace("/", "__")).glob(f"*/{task}.json"))
    if len(files) != 1:
        raise SystemExit(f"{model}: expected one {task}.json under {results}, found {len(files)}")
    return {s["hf_subset"]: s["main_score"] for s in json.loads(files[0].read_text())["scores"]["test"]}


def sa_rows(model, task_name: str, stored: dict[str, float]):
    """{subset: (SA, interval, concept rows, languages, vectors)} from the task's own embedding and rows."""
    task = mteb.get_task(task_name)
    task.load_data()
    emb = task._embed_all(model, encode_kwargs={}, split="test")
    out = {}
    for subset in task.hf_subsets:
        data = task.dataset[subset]["test"]
        concepts = task.concept_rows(emb["row"], data.languages, task.subset_words(data))
        value = semantic_affinity(emb["vectors"], concepts, data.languages).semantic_affinity
        assert abs(value - stored[subset]) <= 5e-7, (task_name, subset, value, stored[subset])  # files: 6 decimals
        out[subset] = (value, concepts, data.languages, emb["vectors"])
    return out


def sa_of(entry, idx) -> float:
    _, concepts, languages, vectors = entry
    return semantic_affinity(vectors, [concepts[int(i)] for i in idx], languages).semantic_affinity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("-m", "--model", action="append", default=None)
    args = parser.parse_args()
    lines_sa = ["| model | Swadesh-207 (mean en-X) | ICML-1 general | ICML-2 cultural | ICML-3 challenge | "
                "ICML-4 ZiNets | drop ICML-1 -> ICML-4 |", "|---|" + "---:|" * 6]
    lines_ra = []
    for name in args.model or BUNDLED_MODELS:
        model = load_model(name, None)
        swadesh = sa_rows(model, "SemanticAffinity", _stored(args.results, name, "SemanticAffinity"))
        sw_value = float(np.mean([v[0] for v in swadesh.values()]))
        sw_sem = float(np.mean([semantic_affinity(e[3], e[1], e[2]).sa_sem for e in swadesh.values()]))
        cells = [f"{sw_value:.3f} ± {sw_sem:.3f} (sem)"]
        lists = sa_rows(model, "SemanticAffinity-Semanscope", _stored(args.results, name, "SemanticAffinity-Semanscope"))
        for subset, entry in lists.items():
            low, high = _interval((np.arange(len(entry[1])),), lambda idx, e=entry: sa_of(e, idx))
            cells.append(f"{entry[0]:.3f} [{low:.3f}, {high:.3f}]")
        first, last = lists["ICML-1-general"], lists["ICML-4-zinets"]
        drop = last[0] / first[0] - 1
        d_low, d_high = _interval((np.arange(len(first[1])), np.arange(len(last[1]))),
                                  lambda i1, i4: sa_of(last, i4) / sa_of(first, i1) - 1)
        cells.append(f"{100 * drop:+.1f}% [{100 * d_low:+.1f}, {100 * d_high:+.1f}]")
        lines_sa.append(f"| {name} | " + " | ".join(cells) + " |")

        task = mteb.get_task("RelationalAffinity")
        task.load_data()
        emb = task._embed_all(model, encode_kwargs={}, split="test")
        stored = _stored(args.results, name, "RelationalAffinity")
        cells = []
        for subset in task.hf_subsets:
            score = task._score_subset(task.dataset[subset]["test"], emb)
            value = score["relational_affinity"]
            assert abs(value - stored[subset]) <= 5e-7 or (math.isnan(value) and math.isnan(stored[subset]))
            _, per_relation = task.relation_outcomes(subset)
            defined = per_relation[~np.isnan(per_relation)]
            low, high = _interval((defined,), lambda x: float(np.mean(x)))
            cells.append(f"{value:.3f} [{low:.3f}, {high:.3f}] (n={len(defined)})")
        if not lines_ra:
            lines_ra = ["| model | " + " | ".join(task.hf_subsets) + " |", "|---|" + "---:|" * len(task.hf_subsets)]
        lines_ra.append(f"| {name} | " + " | ".join(cells) + " |")
        print(f"done: {name}", flush=True)
    print("\n".join(lines_sa))
    print()
    print("\n".join(lines_ra))


if __name__ == "__main__":
    main()
