"""The leaderboard's intervals and rank bands, computed from stored per-query files.

Results are written by mteb's own writer with per-query files whose rows reproduce every stored
mean; the page must show each score's interval (containing the score), rank models that do not
differ significantly in one band, give a clearly better model a band of its own, say when a score
has no interval, and read the SA tier from the interval.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from test_leaderboard import ISO, TASKS, get_task as stand_in_task, make_task, model_meta
from mteb_xalign import per_query
from mteb_xalign.leaderboard.uncertainty import Band, borda_bands, task_bands
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.task_rules import Column, ScoreRule, subset_regex

N, PER_CLUSTER = 60, 3  # queries per subset, queries per cluster (a paragraph)
SUBSETS = {"q-en": [ISO["en"]], "q-de": [ISO["de"]]}
BIG = make_task("BigQA", SUBSETS, "map", sizes={s: {"n_queries": N} for s in SUBSETS},
                score_rules={"map": ScoreRule(0.0, 1.0)},
                leaderboard_columns=(Column("big_map", "BigQA", "map", subset_regex(r"q-.+"), "BigQA mAP",
                                            "mean average precision x100", scale=100.0),))
SA_TASK = TASKS["SemanticAffinity"]


def get_task(name: str):
    return BIG() if name == "BigQA" else stand_in_task(name)


def _save(out, name: str, task, scores: dict[str, dict], rows: dict[str, SubsetOutcomes] | None):
    """One result through mteb's writer, and (when `rows`) its per-query file."""
    from mteb.cache import ResultCache
    from mteb.results.task_result import TaskResult

    meta = model_meta(name, "r1")
    for entry in scores.values():
        entry["main_score"] = entry[task.metadata.main_score]
    ResultCache(out).save_to_cache(TaskResult.from_task_results(task, {"test": scores}, evaluation_time=1.0), meta)
    path = out / "results" / meta.model_name_as_path() / "r1" / f"{task.metadata.name}.json"
    if rows is not None:
        data = json.loads(path.read_text())
        per_query._write(per_query.per_query_path(path), data["task_name"], data["dataset_revision"],
                         {("test", s): out_ for s, out_ in rows.items()}, task.metadata.main_score)
    return path


def write_big(out, name: str, values: dict[str, np.ndarray], with_rows: bool = True):
    """BigQA result whose `map` per subset is the mean of `values[subset]` (per query)."""
    ids = tuple(f"q{i}" for i in range(N))
    clusters = tuple(f"p{i // PER_CLUSTER}" for i in range(N))
    rows = {s: SubsetOutcomes(ids, clusters, {"map": np.asarray(v, np.float64)}) for s, v in values.items()}
    scores = {s: {"map": per_query.on_disk(per_query.recompute(r)["map"]), "n_queries": N} for s, r in rows.items()}
    return _save(out, name, BIG(), scores, rows if with_rows else None)


def write_sa(out, name: str, means: dict[str, np.ndarray], h: float = 0.5):
    """SemanticAffinity result whose rows (one per concept, one tuple each) give V = mean spread."""
    rows, scores = {}, {}
    for pair, m in means.items():
        n = len(m)
        rows[pair] = SubsetOutcomes(tuple(f"c{i}" for i in range(n)), tuple(f"c{i}" for i in range(n)),
                                    {"n_tuples": np.ones(n), "vertical_spread": np.asarray(m, np.float64),
                                     "horizontal_spread": np.full(n, h)})
        got = per_query.recompute(rows[pair])
        scores[pair] = {k: per_query.on_disk(got[k]) for k in
                        ("semantic_affinity", "semantic_ratio", "horizontal_spread", "vertical_spread")}
        scores[pair].update(n_concepts=n, status="ok")
    return _save(out, name, SA_TASK(), scores, rows)


def submit_and_build(run, lb):
    from mteb_xalign.leaderboard import build, submit

    submit(run, lb, get_task=get_task)
    build(lb, get_task=get_task, known_models={}, task_order=["BigQA", "SemanticAffinity"])
    return json.loads((lb / "leaderboard.json").read_text())


def rng_values(seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s: np.clip(rng.uniform(0.2, 0.6, N) + shift, 0.0, 1.0) for s in SUBSETS}


@pytest.fixture
def board_of_three(tmp_path):
    """org/strong clearly better; org/same and org/twin with identical per-query outcomes."""
    run, lb = tmp_path / "run", tmp_path / "leaderboards"
    write_big(run, "org/strong", rng_values(1, shift=0.35))
    write_big(run, "org/same", rng_values(2))
    write_big(run, "org/twin", rng_values(2))
    return lb, submit_and_build(run, lb)


def test_every_score_cell_shows_an_interval_that_contains_it(board_of_three):
    lb, summary = board_of_three
    html, md = (lb / "index.html").read_text(), (lb / "README.md").read_text()
    for model in summary["models"]:
        value = model["values"]["big_map"]
        low, high = model["intervals"]["big_map"]
        assert low < value < high and high - low < 30  # a real interval, on the shown (x100) scale
        shown = f"[{low:.1f}, {high:.1f}]"
        assert shown in html and f"{value:.1f} {shown}" in md
        t_low, t_high = model["task_intervals"]["BigQA"]
        assert t_low <= model["task_scores"]["BigQA"] <= t_high
    for words in ("cluster bootstrap", "95% interval", "Holm", "paired cluster permutation", "Rank band"):
        assert words in html and words in md


def test_identical_outcomes_share_a_band_and_a_clearly_better_model_has_its_own(board_of_three):
    _, summary = board_of_three
    rows = {m["name"]: m for m in summary["models"]}
    assert rows["org/strong"]["rank"] == 1 and rows["org/strong"]["rank_band"] == [1, 1]
    assert rows["org/same"]["rank_band"] == rows["org/twin"]["rank_band"] == [2, 3]
    assert rows["org/same"]["task_rank_bands"]["BigQA"] == [2, 3]
    assert rows["org/strong"]["task_rank_bands"]["BigQA"] == [1, 1]


def test_the_page_is_reproducible(board_of_three, tmp_path):
    from mteb_xalign.leaderboard import build

    lb, _ = board_of_three
    before = (lb / "index.html").read_bytes(), (lb / "leaderboard.json").read_bytes()
    build(lb, get_task=get_task, known_models={}, task_order=["BigQA", "SemanticAffinity"])
    assert ((lb / "index.html").read_bytes(), (lb / "leaderboard.json").read_bytes()) == before


def test_without_per_query_data_the_value_is_bare_and_never_ranked_apart(tmp_path):
    run, lb = tmp_path / "run", tmp_path / "leaderboards"
    write_big(run, "org/strong", rng_values(1, shift=0.35))
    write_big(run, "org/plain", rng_values(2), with_rows=False)
    summary = submit_and_build(run, lb)
    rows = {m["name"]: m for m in summary["models"]}
    assert rows["org/plain"]["intervals"]["big_map"] is None
    assert rows["org/plain"]["interval_notes"]["big_map"] == "no interval (no per-query data)"
    # The difference is large but untested: both ranks stay possible for both.
    assert rows["org/plain"]["rank_band"] == rows["org/strong"]["rank_band"] == [1, 2]
    html, md = (lb / "index.html").read_text(), (lb / "README.md").read_text()
    assert 'title="no interval (no per-query data)"' in html
    assert f"{rows['org/plain']['values']['big_map']:.1f} (no interval (no per-query data))" in md


def test_sa_tier_is_read_from_the_interval_against_chance(tmp_path):
    run, lb = tmp_path / "run", tmp_path / "leaderboards"
    rng = np.random.default_rng(5)
    # SA = 1/(1 + V/H), H = 0.5: V a little under H gives SA just above 0.5 with a wide interval.
    noisy = {p: rng.uniform(0.0, 0.95, 40) for p in ("en-de", "en-zh")}
    aligned = {p: rng.uniform(0.05, 0.25, 40) for p in ("en-de", "en-zh")}
    write_sa(run, "org/noisy", noisy)
    write_sa(run, "org/aligned", aligned)
    summary = submit_and_build(run, lb)
    rows = {m["name"]: m for m in summary["models"]}
    sa, (low, high) = rows["org/noisy"]["values"]["semantic_affinity"], rows["org/noisy"]["intervals"]["semantic_affinity"]
    assert sa > 0.5 and low < 0.5 < high  # the point alone would read "good"
    html = (lb / "index.html").read_text()
    noisy_row = next(r for r in re.findall(r"<tr data-key.*?</tr>", html, re.S) if "org/noisy" in r and "files" in r)
    assert "not above chance" in noisy_row and "tier-good" not in noisy_row
    aligned_row = next(r for r in re.findall(r"<tr data-key.*?</tr>", html, re.S) if "org/aligned" in r and "files" in r)
    assert "great" in aligned_row
    # per language (one subset each here): the subset's interval, on hover
    de_low, de_high = rows["org/aligned"]["per_language_intervals"]["semantic_affinity"]["de"]
    assert de_low < rows["org/aligned"]["per_language"]["semantic_affinity"]["de"] < de_high
    assert f"org/aligned, de: {rows['org/aligned']['per_language']['semantic_affinity']['de']:.3f}, 95% interval " \
           f"[{de_low:.3f}, {de_high:.3f}]" in html
    md = (lb / "README.md").read_text()
    assert "(not above chance)" in next(line for line in md.splitlines() if "| org/noisy |" in line)


def test_observed_ranks_lie_in_their_bands_on_random_boards():
    """Bands built from correct 'significant' claims contain the ranks the points give (borda.py)."""
    from mteb_xalign.leaderboard.borda import average_ranks, borda

    rng = np.random.default_rng(0)
    for _ in range(300):
        models = [f"m{i}" for i in range(rng.integers(2, 7))]
        tasks = [f"t{j}" for j in range(rng.integers(1, 4))]
        scores = {m: {t: (None if rng.random() < 0.2 else float(rng.integers(0, 5))) for t in tasks} for m in models}
        per_task = {}
        for t in tasks:
            # A claim is only made where the scores truly differ; some true differences go undetected.
            signs = {(a, b): (int(np.sign(scores[a][t] - scores[b][t])) if rng.random() < 0.6 else 0)
                     for i, a in enumerate(models) for b in models[i + 1:]
                     if scores[a][t] is not None and scores[b][t] is not None}
            per_task[t] = ({m: scores[m][t] for m in models}, signs)
            bands = task_bands(*per_task[t])
            for m, r in average_ranks({m: scores[m][t] for m in models if scores[m][t] is not None}).items():
                assert bands[m].low <= r <= bands[m].high
        _, ranks = borda(scores)
        for m, band in borda_bands(len(models), per_task, models).items():
            assert band.low <= ranks[m] <= band.high


def test_with_every_difference_claimed_the_band_is_the_rank():
    from mteb_xalign.leaderboard.borda import borda

    rng = np.random.default_rng(1)
    for _ in range(200):
        models = [f"m{i}" for i in range(rng.integers(2, 7))]
        tasks = [f"t{j}" for j in range(rng.integers(1, 4))]
        scores = {m: {t: float(v) for t, v in zip(tasks, rng.random(len(tasks)))} for m in models}
        per_task = {t: ({m: scores[m][t] for m in models},
                        {(a, b): int(np.sign(scores[a][t] - scores[b][t]))
                         for i, a in enumerate(models) for b in models[i + 1:]}) for t in tasks}
        _, ranks = borda(scores)
        for m, band in borda_bands(len(models), per_task, models).items():
            assert band.low == ranks[m], (scores, m, band)
            for t in tasks:
                assert task_bands(*per_task[t])[m].low == task_bands(*per_task[t])[m].high


def test_one_untested_model_does_not_blur_a_significant_pair():
    """a above b on both tasks, c untested: a is 1-2, b 2-3 (interval arithmetic on points would say 1-3)."""
    scores = {"a": 0.9, "b": 0.5, "c": 0.7}
    per_task = {t: (scores, {("a", "b"): 1, ("a", "c"): 0, ("b", "c"): 0}) for t in ("t1", "t2")}
    bands = borda_bands(3, per_task, ["a", "b", "c"])
    assert (bands["a"], bands["b"], bands["c"]) == (Band(1, 2), Band(2, 3), Band(1, 3))


def test_band_words():
    assert str(Band(2, 2)) == "2" and str(Band(1, 3)) == "1–3"
