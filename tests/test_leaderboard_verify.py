"""`xalign leaderboard verify`: a seeded sample of subsets re-run through `evaluation.evaluate_pair` and compared.

Oracle: the honest result is what `evaluate_pair` wrote for a registered hash-seeded fake model on
small slices of the real tasks (test_leaderboard's tiny_tasks); each forgery of issue 24 item 8 is
first shown to pass validation (a coherent lie), then shown to fail verification.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mteb.models import ModelMeta

from fakes import CountingEncoder
from test_leaderboard import edit_json, subset_of, tiny_tasks  # noqa: F401 -- tiny_tasks is a fixture

MODEL = "test-verify/hashed"


def _load(model_name, revision=None, **kwargs):
    return CountingEncoder(model_name, revision, dim=32)


@pytest.fixture(scope="module")
def fake_model():
    from mteb_xalign.mteb_compat import add_model

    meta = ModelMeta(loader=_load, loader_kwargs={}, name=MODEL, revision="1", release_date=None,
                     languages=None, n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=32,
                     license=None, open_weights=True, public_training_code=None, public_training_data=None,
                     framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
                     training_datasets=None)
    add_model(meta)
    return meta


@pytest.fixture(scope="module")
def honest(tiny_tasks, fake_model, tmp_path_factory):  # noqa: F811
    """What `xalign run` writes for the fake model on the three tiny tasks."""
    import os

    from mteb_xalign.evaluation import RunOptions, evaluate_pair

    root = tmp_path_factory.mktemp("honest")
    old = os.environ.get("XALIGN_CACHE")
    os.environ["XALIGN_CACHE"] = str(root / "embeddings.sqlite3")
    try:
        evaluate_pair(MODEL, [cls() for cls in tiny_tasks.values()], root / "out", RunOptions(device="cpu"))
    finally:
        if old is None:
            os.environ.pop("XALIGN_CACHE", None)
        else:
            os.environ["XALIGN_CACHE"] = old
    return root / "out"


@pytest.fixture
def submission(honest, tmp_path) -> Path:
    shutil.copytree(honest, tmp_path / "submission")
    return tmp_path / "submission"


def _file(submission: Path, task: str) -> Path:
    return next(submission.glob(f"results/*/*/{task}.json"))


def _verify(submission, tiny_tasks, lb, **kwargs):  # noqa: F811
    from mteb_xalign.leaderboard.verify import verify

    kwargs.setdefault("seed", "test")
    kwargs.setdefault("sample", 99)  # every subset: each forgery is in the sample
    return verify(submission, lb, get_task=lambda name: tiny_tasks[name](), **kwargs)


def _valid(submission, tiny_tasks):  # noqa: F811
    from mteb_xalign.leaderboard import validate_submission

    validate_submission(submission, get_task=lambda name: tiny_tasks[name]())  # raises if refused


# -- the three forgeries of the issue ----------------------------------------------------------------

def _perfect(entry: dict) -> None:
    """Every metric of a Multi subset as a perfect model has it (both gold paragraphs on top)."""
    for key in list(entry):
        if key.startswith("complete_at_") or key in ("max_at_r_norm", "max_at_r_norm_of_mean", "map", "mrr",
                                                     "ndcg_at_1_pessimistic", "main_score"):
            entry[key] = 1.0
    entry["max_at_r"] = 2.0
    entry["complete_at_1"] = 0.0  # two gold paragraphs cannot both be first
    entry["language_preference"] = 0.0


def _forge(submission, task: str, edit) -> None:
    """Edit a result file as a forger would: coherently, and without the per-query file (whose stored
    outcomes would no longer reproduce the edited means, which validation refuses): a result without
    per-query data is accepted as self-reported, so only verification can catch the lie."""
    from mteb_xalign import per_query

    path = _file(submission, task)
    edit_json(path, edit)
    per_query.per_query_path(path).unlink()


def forge_perfect(submission):
    _forge(submission, "MultiRefCLIR", lambda d: _perfect(subset_of(d, "multi_en+de_q-de")))
    return "MultiRefCLIR", "multi_en+de_q-de"


def forge_copy(submission):
    def copy(data):
        source, target = subset_of(data, "multi_en+zh_q-zh"), subset_of(data, "multi_en+de_q-de")
        target.update({k: v for k, v in source.items() if k not in ("hf_subset", "languages")})
    _forge(submission, "MultiRefCLIR", copy)
    return "MultiRefCLIR", "multi_en+de_q-de"


def forge_sa(submission):
    def halve(data):
        entry = subset_of(data, "en-de")
        entry["semantic_ratio"] = round(entry["semantic_ratio"] / 2, 6)
        shift = round(1 / (1 + entry["semantic_ratio"]), 6) - entry["main_score"]
        entry["semantic_affinity"] = entry["main_score"] = round(1 / (1 + entry["semantic_ratio"]), 6)
        entry["vertical_spread"] = round(entry["semantic_ratio"] * entry["horizontal_spread"], 6)
        for key in ("main_score_ci95_low", "main_score_ci95_high"):  # the interval moved with it: coherent
            if key in entry:
                entry[key] = round(entry[key] + shift, 6)
    _forge(submission, "SemanticAffinity", halve)
    return "SemanticAffinity", "en-de"


@pytest.mark.parametrize("forge", [forge_perfect, forge_copy, forge_sa])
def test_each_coherent_forgery_passes_validation_and_fails_verification(submission, tiny_tasks, tmp_path, forge):  # noqa: F811
    task, subset = forge(submission)
    _valid(submission, tiny_tasks)  # the lie is coherent: validation accepts it
    report = _verify(submission, tiny_tasks, tmp_path / "lb")
    outcome = {o.task: o for o in report.outcomes}
    assert outcome[task].outcome == "mismatch"
    assert {m.subset for m in outcome[task].mismatches} == {subset}
    assert all(o.outcome == "verified" for t, o in outcome.items() if t != task)
    line = str(outcome[task].mismatches[0])
    assert line.startswith(f"{_file(submission, task)}: subset {subset!r}: key ") and "recomputed" in line
    record = json.loads(next((tmp_path / "lb" / "verifications").glob("*/*.json")).read_text())
    assert record["tasks"][task]["outcome"] == "mismatch" and record["tasks"][task]["mismatches"]


def test_an_honest_result_is_verified_and_recorded(submission, tiny_tasks, tmp_path):  # noqa: F811
    lb = tmp_path / "lb"
    report = _verify(submission, tiny_tasks, lb, sample=1, tolerance=0.0)  # same machine: identical values
    assert [o.outcome for o in report.outcomes] == ["verified"] * 3
    assert all(len(o.subsets) == 1 and o.compared_values > 5 for o in report.outcomes)
    path = lb / "verifications" / "test-verify__hashed" / "1.json"
    record = json.loads(path.read_text())
    entry = record["tasks"]["MultiRefCLIR"]
    assert entry["n_subsets"] == 4 and entry["seed"] == "test" and entry["tolerance"]["score"] == 0.0
    assert entry["machine"]["system"] and entry["versions"]["mteb-xalign"] and entry["when"]
    assert entry["cache"].startswith("on")


def test_the_seed_decides_the_sample_reproducibly(submission, tiny_tasks, tmp_path):  # noqa: F811
    from mteb_xalign.leaderboard.verify import choose_subsets

    subsets = [f"s{i}" for i in range(22)]
    draws = {seed: choose_subsets(subsets, 3, seed, "digest", "T") for seed in map(str, range(20))}
    assert all(choose_subsets(subsets, 3, seed, "digest", "T") == d for seed, d in draws.items())
    assert len({tuple(d) for d in draws.values()}) > 10  # the seed, not the submitter, picks the subsets
    assert choose_subsets(subsets, 3, "0", "other digest", "T") != draws["0"] or \
        choose_subsets(subsets, 3, "1", "other digest", "T") != draws["1"]
    assert choose_subsets(subsets, 30, "0", "digest", "T") == sorted(subsets)
    # Through verify: the same seed re-runs the same subsets; the record names them and the seed.
    one = _verify(submission, tiny_tasks, tmp_path / "a", seed="pr-123", sample=2)
    two = _verify(submission, tiny_tasks, tmp_path / "b", seed="pr-123", sample=2)
    assert [o.subsets for o in one.outcomes] == [o.subsets for o in two.outcomes]
    others = [_verify(submission, tiny_tasks, tmp_path / f"c{i}", seed=f"run-{i}", sample=2, write=False)
              for i in range(6)]
    assert len({tuple(map(tuple, (o.subsets for o in r.outcomes))) for r in others + [one]}) > 1


def test_a_model_the_verifier_cannot_run_is_self_reported_not_a_pass(submission, tiny_tasks, tmp_path):  # noqa: F811
    from mteb_xalign.leaderboard import build
    from mteb_xalign.leaderboard import submit as _submit

    lb = tmp_path / "lb"
    report = _verify(submission, tiny_tasks, lb, can_run=lambda model: "API key missing: set TEST_KEY")
    assert {o.outcome for o in report.outcomes} == {"not verifiable"}
    _submit(submission, lb, get_task=lambda name: tiny_tasks[name]())
    board = build(lb, get_task=lambda name: tiny_tasks[name](), known_models={}, task_order=list(tiny_tasks))
    check = board.rows[0].verification
    assert check.status == "self-reported" and check.summary == "not verifiable here: API key missing: set TEST_KEY"
    page = (lb / "index.html").read_text()
    assert "self-reported" in page and "not verifiable here: API key missing" in page
    assert "**self-reported**: not verifiable here" in (lb / "README.md").read_text()


def test_an_unregistered_model_is_not_verifiable(submission, tiny_tasks, tmp_path):  # noqa: F811
    folder = next(submission.glob("results/*/*"))
    edit_json(folder / "model_meta.json", lambda d: d.__setitem__("name", "test-verify/nowhere"))
    report = _verify(submission, tiny_tasks, tmp_path / "lb")
    assert {o.outcome for o in report.outcomes} == {"not verifiable"}
    assert "nowhere" in report.outcomes[0].reason


def test_the_page_shows_verified_and_failed_rows_in_words(submission, tiny_tasks, tmp_path):  # noqa: F811
    from mteb_xalign.leaderboard import build
    from mteb_xalign.leaderboard import submit as _submit

    lb = tmp_path / "lb"
    resolve = lambda name: tiny_tasks[name]()  # noqa: E731
    _submit(submission, lb, get_task=resolve)
    _verify(lb / "results", tiny_tasks, lb, sample=1)
    board = build(lb, get_task=resolve, known_models={}, task_order=list(tiny_tasks))
    check = board.rows[0].verification
    assert check.status == "verified" and check.summary.startswith("3 of ")
    assert any("MultiRefCLIR: re-ran 1 of 4 subsets" in line for line in check.details)
    page = (lb / "index.html").read_text()
    assert 'class="check check-verified">verified</span>' in page
    assert json.loads((lb / "leaderboard.json").read_text())["models"][0]["verification"]["status"] == "verified"
    # A changed result file is no longer covered by its verification.
    edit_json(_file(lb, "LAReQA"), lambda d: d.__setitem__("evaluation_time", 2.0))
    check = build(lb, get_task=resolve, known_models={}, task_order=list(tiny_tasks)).rows[0].verification
    assert check.status == "self-reported"
    assert "LAReQA: the result file changed after its verification" in check.details
    # A forged file verified: the row says it failed.
    forge_sa(lb)
    _verify(lb / "results", tiny_tasks, lb, sample=99)
    check = build(lb, get_task=resolve, known_models={}, task_order=list(tiny_tasks)).rows[0].verification
    assert check.status == "failed verification" and "SemanticAffinity" in check.summary
    assert 'check-failed-verification">failed verification</span>' in (lb / "index.html").read_text()


def test_the_cli_prints_one_line_per_mismatch_and_fails(submission, tiny_tasks, tmp_path, monkeypatch, capsys):  # noqa: F811
    from mteb_xalign import cli

    from mteb_xalign.leaderboard import registry

    monkeypatch.setattr(registry, "registered_task", lambda name: tiny_tasks[name]())
    forge_copy(submission)
    argv = ["leaderboard", "verify", str(submission), "--seed", "x", "--sample", "9", "--leaderboard",
            str(tmp_path / "lb")]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert "MISMATCH: test-verify/hashed (1) MultiRefCLIR" in out and "verified: test-verify/hashed (1) LAReQA" in out
    lines = [line for line in err.splitlines() if line.startswith("mismatch: ")]
    assert lines and all("subset 'multi_en+de_q-de': key '" in line and "submitted" in line for line in lines)
    assert cli.main(argv[:-2] + ["--no-record", "--sample", "0"]) == 2
    assert "--sample 0" in capsys.readouterr().err


def test_compare_rules_sizes_exact_scores_within_tolerance():
    from mteb_xalign.leaderboard.verify import compare_entry

    base = {"hf_subset": "a", "n_queries": 10.0, "mean_pool_size": 240.0, "map": 0.5, "max_at_r": 6786.2,
            "status": "ok", "per_language": {"en": 0.5}}
    assert compare_entry(base, dict(base), 0.0) == ([], 6)
    near = {**base, "map": 0.5009, "max_at_r": 6786.2 * 1.0009, "per_language": {"en": 0.5009}}
    assert compare_entry(base, near, 1e-3)[0] == []
    assert [k for k, *_ in compare_entry(base, near, 1e-4)[0]] == ["map", "max_at_r", "per_language.en"]
    assert [k for k, *_ in compare_entry(base, {**base, "n_queries": 10.0000001}, 1.0)[0]] == ["n_queries"]
    assert [k for k, *_ in compare_entry(base, {**base, "status": "no data"}, 1.0)[0]] == ["status"]
    assert compare_entry({"x": float("nan")}, {"x": float("nan")}, 0.0) == ([], 1)
    assert compare_entry({"x": 1.0}, {"x": float("nan")}, 1.0)[0] == [("x", 1.0, pytest.approx(float("nan"),
                                                                                                  nan_ok=True))]


def test_the_shipped_bundled_rows_are_verified():
    """`make run` ends with submit, verify and build: each bundled model's row carries a verification
    of exactly the result files the repository ships."""
    from xalign_testing import REPO

    from mteb_xalign.leaderboard.board import load_board
    from mteb_xalign.leaderboard.registry import registered_task
    from mteb_xalign.run import BUNDLED_MODELS

    board = load_board(REPO / "leaderboards", registered_task)
    status = {row.name: (row.verification.status, row.verification.summary) for row in board.rows}
    for name in BUNDLED_MODELS:
        assert status.get(name, ("absent",))[0] == "verified", (name, status.get(name))


def test_another_revision_of_a_known_model_is_not_verifiable(fake_model, tmp_path):
    from mteb_xalign.leaderboard.submission import ValidModel
    from mteb_xalign.leaderboard.verify import reachable

    same = ValidModel(folder=tmp_path, name=MODEL, revision="1", meta_raw=b"{}")
    other = ValidModel(folder=tmp_path, name=MODEL, revision="2", meta_raw=b"{}")
    assert reachable(same) is None
    assert reachable(other) == (f"this machine runs revision '1' of {MODEL}, the submission is for '2'")


def test_the_pull_request_workflow_verifies_with_a_seed_the_submitter_cannot_know():
    import yaml
    from xalign_testing import REPO

    steps = yaml.safe_load((REPO / ".github" / "workflows" / "leaderboard.yml").read_text())["jobs"]["validate"]["steps"]
    verify = next(s for s in steps if "xalign leaderboard verify \"$RUNNER_TEMP" in s.get("run", ""))
    assert "github.run_id" in verify["env"]["SEED"] and verify["env"]["XALIGN_CACHE"] == "off"
    assert '--seed "$SEED"' in verify["run"] and "--device cpu" in verify["run"]
    refuse = next(s for s in steps if "leaderboards/verifications" in s.get("run", ""))
    assert "exit 1" in refuse["run"]  # a pull request cannot bring its own verification records


def test_a_forgery_that_keeps_its_per_query_file_is_refused_at_validation(submission, tiny_tasks):  # noqa: F811
    """Edited means beside the per-query outcomes that produced the real ones: refused before verification."""
    from mteb_xalign.leaderboard import SubmissionError

    edit_json(_file(submission, "MultiRefCLIR"), lambda d: _perfect(subset_of(d, "multi_en+de_q-de")))
    with pytest.raises(SubmissionError, match=r"MultiRefCLIR\.per_query\.npz"):
        _valid(submission, tiny_tasks)
