"""Per-query files: written beside each result by a real run, read back, every stored mean recomputed
bit for bit; files that do not match their result are refused with the file named."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from test_results_io import corpus, fake_model_run  # noqa: F401 -- fixture
from mteb_xalign import per_query
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import file_intervals, intervals


def word_list(path):
    rows = []
    for i in range(12):
        rows.append({"id": f"c{i:02d}", "words": {"en": [f"word{i}"], "de": [f"Wort{i}", f"Wörtchen{i}"],
                                                   "fr": [f"mot{i}"] if i % 4 else []}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def run_with_capture(tmp_path, fake_model_run, monkeypatch):  # noqa: F811
    """`xalign run` on small data; every TaskResult as saved (full floats, before mteb rounds them)."""
    call, _ = fake_model_run
    saved = {}
    original = per_query.save_beside

    def capture(result_path, task_result, model_name, model_revision=None):
        saved[task_result.task_name] = copy.deepcopy(task_result.scores)
        original(result_path, task_result, model_name, model_revision)

    monkeypatch.setattr(per_query, "save_beside", capture)

    def run(task, data, name):
        code, out, err = call("run", "-t", task, "--data", str(data), "--name", name, "-m", "test/fake-model",
                              "--output", str(tmp_path / "out"))
        assert code == 0, err
        [path] = (tmp_path / "out").rglob(f"{name}.json")
        return path

    return run, saved


def test_every_stored_mean_is_recomputed_bit_for_bit(tmp_path, run_with_capture):
    run, saved = run_with_capture
    paths = {"Tiny": run("MultiRefCLIR", corpus(tmp_path / "qa"), "Tiny"),
             "TinySA": run("SemanticAffinity", word_list(tmp_path / "words.jsonl"), "TinySA")}
    for name, path in paths.items():
        assert per_query.per_query_path(path).is_file()
        assert per_query.problems(path) == []
        stored = per_query.load(path)
        header = per_query.load_header(path)
        assert header["dataset_revision"] == json.loads(path.read_text())["dataset_revision"]
        checked = 0
        for split, rows in saved[name].items():
            for scores in rows:
                out = stored[(split, scores["hf_subset"])]
                for key, value in per_query.recompute(out).items():
                    if key in scores:
                        assert value == scores[key], (name, scores["hf_subset"], key)  # exact, not approx
                        checked += 1
                main = header["main_score"]
                ci = intervals.subset_interval(out, main) if len(set(out.clusters)) > 1 else None
                if ci is not None:  # the stored interval and point are the ones recomputed from the file
                    assert ci.point == scores["main_score"]
                    assert (ci.low, ci.high) == (scores["main_score_ci95_low"], scores["main_score_ci95_high"])
        assert checked >= 10
    # Values kept per query: every retrieval mean, with ids and clusters (the paragraph).
    tiny = per_query.load(paths["Tiny"])[("test", "multi_en+de_q-de")]
    # No titles in this corpus: each paragraph is its own cluster (XQuAD's clusters are its articles).
    assert tiny.ids == ("q0", "q1", "q2") and tiny.clusters == ("paragraph:p0", "paragraph:p1", "paragraph:p2")
    assert {"max_at_r", "max_at_r_norm", "map", "mrr", "ndcg_at_1_pessimistic", "complete_at_1",
            "language_preference"} <= set(tiny.values)
    assert all(v.dtype == np.float64 for v in tiny.values.values())


def test_task_interval_from_the_file(tmp_path, run_with_capture):
    run, _ = run_with_capture
    path = run("MultiRefCLIR", corpus(tmp_path / "qa"), "Tiny")
    ci = file_intervals.task_interval_of(path)
    result = json.loads(path.read_text())
    mains = [s["main_score"] for s in result["scores"]["test"]]
    assert round(ci.point, 6) == round(float(np.mean(mains)), 6)
    assert ci.low <= ci.point <= ci.high and ci.n_clusters == 3


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_files_that_do_not_match_their_result_are_refused(tmp_path, run_with_capture):
    run, _ = run_with_capture
    path = run("MultiRefCLIR", corpus(tmp_path / "qa"), "Tiny")
    good = path.read_text()
    name = per_query.per_query_path(path).name

    edit(path, lambda d: d["scores"]["test"][0].update(map=0.123456))  # an edited mean
    [problem] = per_query.problems(path)
    assert name in problem and "map recomputed from its rows" in problem and "0.123456" in problem
    assert file_intervals.task_interval_of(path) is None  # never used

    path.write_text(good)
    edit(path, lambda d: d.update(dataset_revision="other"))
    [problem] = per_query.problems(path)
    assert name in problem and "dataset revision" in problem and "stale" in problem

    path.write_text(good)
    edit(path, lambda d: d["scores"]["test"].append({**d["scores"]["test"][0], "hf_subset": "multi_en+xx_q-xx"}))
    [problem] = per_query.problems(path)
    assert name in problem and "no per-query outcomes for subset 'multi_en+xx_q-xx'" in problem

    path.write_text(good)
    per_query.per_query_path(path).write_bytes(b"not a zip")
    [problem] = per_query.problems(path)
    assert name in problem and "unreadable" in problem


def test_missing_queries_are_refused(tmp_path):
    result = tmp_path / "T.json"
    result.write_text(json.dumps({"task_name": "T", "dataset_revision": "r", "scores": {"test": [
        {"hf_subset": "s", "map": 0.5, "n_queries": 3.0, "main_score": 0.5}]}}))
    out = SubsetOutcomes(("a", "b"), ("p", "p"), {"map": np.array([0.25, 0.75])})
    per_query._write(per_query.per_query_path(result), "T", "r", {("test", "s"): out})
    [problem] = per_query.problems(result)
    assert "has 2 rows, its result 3 queries" in problem and "T.per_query.npz" in problem


def test_written_atomically_merged_on_resume_and_float64_exact(tmp_path):
    from mteb.results import TaskResult

    result_path = tmp_path / "T.json"
    tricky = np.array([0.1, 1 / 3, np.nextafter(0.5, 1), 5e-324, 1e308])
    per_query.record("T", "m", "r1", "test", "s1", SubsetOutcomes(tuple("abcde"), tuple("ppqqr"), {"map": tricky}))
    first = TaskResult(dataset_revision="d1", task_name="T", mteb_version="2.26.24", evaluation_time=1.0,
                       scores={"test": [{"hf_subset": "s1", "main_score": 0.0, "languages": ["eng-Latn"]}]})
    per_query.save_beside(result_path, first, "m", "r1")
    assert per_query.load(result_path)[("test", "s1")].values["map"].tobytes() == tricky.tobytes()
    # A resumed run saves the result again with one more subset: both kept.
    per_query.record("T", "m", "r1", "test", "s2", SubsetOutcomes(("a",), ("p",), {"map": np.array([1.0])}))
    assert ("test", "s1") not in per_query.recorded("T", "m", "r1")  # saved: only on disk now
    second = first.model_copy(deep=True)
    second.scores["test"].append({"hf_subset": "s2", "main_score": 1.0, "languages": ["eng-Latn"]})
    per_query.save_beside(result_path, second, "m", "r1")
    assert set(per_query.load(result_path)) == {("test", "s1"), ("test", "s2")}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temporary left
    # Another dataset revision: the old subsets are not merged in.
    per_query.record("T", "m", "r1", "test", "s1", SubsetOutcomes(("a",), ("p",), {"map": np.array([0.0])}))
    third = second.model_copy(deep=True)
    third.dataset_revision = "d2"
    per_query.save_beside(result_path, third, "m", "r1")
    assert per_query.load_header(result_path)["dataset_revision"] == "d2"
    assert set(per_query.load(result_path)) == {("test", "s1")}  # the old revision's s2 is not carried over
    assert os.stat(per_query.per_query_path(result_path)).st_size < 10_000


def test_xquad_questions_are_clustered_by_article():
    from mteb_xalign.parallel_data import read_parallel_qa
    from mteb_xalign.tasks import DATASETS

    qa = read_parallel_qa(DATASETS / "xquad", pivot="en")
    articles = {qa.article(q.context_id) for q in qa.questions["de"]}
    assert len(articles) == 48 and all(a.startswith("article:") for a in articles)
    assert qa.article("p000") == "article:Super_Bowl_50"
