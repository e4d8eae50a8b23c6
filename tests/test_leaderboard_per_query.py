"""The leaderboard takes per-query files: kept when they reproduce their result's means, refused (the
file named) when they do not, and a result without one is accepted as self-reported, with a warning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_leaderboard import N_QUERIES, lb, submit, write_results  # noqa: F401 -- lb is a fixture
from mteb_xalign import per_query
from mteb_xalign.leaderboard.problems import SubmissionError
from mteb_xalign.per_query import SubsetOutcomes


def add_per_query(result_path, shift: float = 0.0):
    """A per-query file whose rows reproduce every `map` of the result (plus `shift`)."""
    data = json.loads(result_path.read_text())
    n = int(N_QUERIES)
    ids = tuple(f"q{i}" for i in range(n))
    stored = {("test", s["hf_subset"]): SubsetOutcomes(ids, tuple(f"p{i // 5}" for i in range(n)),
                                                       {"map": np.full(n, s["map"] + shift)})
              for s in data["scores"]["test"]}
    per_query._write(per_query.per_query_path(result_path), data["task_name"], data["dataset_revision"], stored, "map")


def test_matching_per_query_file_is_stored_beside_its_result(tmp_path, lb):  # noqa: F811
    folder = write_results(tmp_path / "sub", "org/model", levels={"LAReQA": 0.4})
    add_per_query(folder / "LAReQA.json")
    report = submit(tmp_path / "sub", lb)
    stored = [p for p in report.files if p.name == "LAReQA.per_query.npz"]
    assert len(stored) == 1 and stored[0].is_file() and "warning" not in report.summary()
    assert per_query.problems(stored[0].with_name("LAReQA.json")) == []


def test_per_query_file_that_does_not_reproduce_its_means_is_refused(tmp_path, lb):  # noqa: F811
    folder = write_results(tmp_path / "sub", "org/model", levels={"LAReQA": 0.4})
    add_per_query(folder / "LAReQA.json", shift=0.01)
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "sub", lb)
    assert "LAReQA.per_query.npz" in str(err.value) and "map recomputed from its rows" in str(err.value)
    assert not lb.exists() or not list(lb.rglob("*.json"))  # nothing written


def test_result_without_per_query_file_is_self_reported(tmp_path, lb):  # noqa: F811
    write_results(tmp_path / "sub", "org/model", levels={"LAReQA": 0.4})
    report = submit(tmp_path / "sub", lb)
    assert "self-reported without per-query data" in report.summary()
    assert not any(p.name.endswith(".per_query.npz") for p in report.files)
