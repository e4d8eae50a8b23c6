"""Real models, real data, the real `mteb` command: what a new user would try first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO


def test_mteb_run_use_greek_far_worse_than_spanish(cli, tmp_path):
    """USE multilingual v3 was trained without Greek: its Greek Max@R_norm collapses, Spanish does not.

    Restricted to the Greek and Spanish subsets with mteb's own language filter, to keep the test short;
    the full 78-subset run is what `make run` ships in leaderboards/ (checked below).
    """
    out = cli("mteb", "run", "-t", "MultiRefCLIR", "-m", "xalign/use-multilingual-v3", "-l", "ell", "spa",
              "--output-folder", str(tmp_path / "out"), "-v", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    [path] = list((tmp_path / "out").rglob("MultiRefCLIR.json"))
    scores = {s["hf_subset"]: s for s in json.loads(path.read_text())["scores"]["test"]}
    assert {"multi_en+el_q-el", "multi_en+es_q-es", "multi1_en+el_q-en", "monosame_el_q-el",
            "monocross_en_q-es"} <= set(scores)
    el, es = scores["multi_en+el_q-el"], scores["multi_en+es_q-es"]
    assert el["max_at_r_norm"] < 40 < 80 < es["max_at_r_norm"]
    for key in ("max_at_r", "max_at_r_norm_of_mean", "complete_at_10", "ndcg_at_1", "mrr", "english_preference",
                "ndcg_at_10", "recall_at_100"):
        assert key in es
    assert es["n_queries"] == 1190 and es["mean_pool_size"] == 480


def test_shipped_leaderboard_results_are_complete_and_valid():
    """The results `make run` produced and the repository ships still validate against the tasks."""
    from mteb_xalign.leaderboard.validate import validate_submission

    root = REPO / "leaderboards" / "results"
    if not any(root.rglob("*.json")):
        pytest.fail("leaderboards/results holds no results: run `make run` and commit them")
    models = validate_submission(root)  # raises, listing every problem, if anything is off
    from mteb_xalign.run import BUNDLED_MODELS, BUNDLED_TASKS

    by_model = {m.name: {r.task_name for r in m.results} for m in models}
    for name in BUNDLED_MODELS:
        assert set(BUNDLED_TASKS) <= by_model.get(name, set()), (name, by_model)
