"""Real models, real data, the real `mteb` command: what a new user would try first."""

from __future__ import annotations

import json

import pytest

from conftest import REPO


def test_mteb_run_use_greek_far_worse_than_spanish(cli, tmp_path):
    """USE multilingual v3 was trained without Greek: its Greek Max@R_norm collapses, Spanish does not.

    The real `mteb` command, restricted to Greek and Spanish with mteb's own language filter
    to keep it short; the full run is what `make run` ships in leaderboards/ (checked below).
    """
    out = cli("mteb", "run", "-t", "MultiRefCLIR", "-m", "xalign/use-multilingual-v3", "-l", "ell", "spa",
              "--output-folder", str(tmp_path / "out"), "-v", "1")
    assert out.returncode == 0, out.stderr[-3000:]
    [path] = list((tmp_path / "out").rglob("MultiRefCLIR.json"))
    scores = {s["hf_subset"]: s for s in json.loads(path.read_text())["scores"]["test"]}
    assert set(scores) == {"multi_en+el_q-el", "multi_en+el_q-en", "multi_en+es_q-es", "multi_en+es_q-en"}
    el, es = scores["multi_en+el_q-el"], scores["multi_en+es_q-es"]
    assert el["max_at_r_norm"] < 0.40 < 0.80 < es["max_at_r_norm"] <= 1.0  # stored on 0-1, as mteb does
    for key in ("max_at_r", "max_at_r_norm_of_mean", "complete_at_10", "ndcg_at_1_pessimistic", "mrr", "map",
                "language_preference", "language_preference_chance"):
        assert key in es, key
    assert not {"ndcg_at_1", "ndcg_at_10", "recall_at_100"} & set(es)  # mteb's names only for mteb's numbers
    assert es["n_queries"] == 1190 and es["mean_pool_size"] == 480


def test_shipped_leaderboard_results_are_complete_and_valid():
    """The results `make run` produced and the repository ships still validate against the tasks."""
    from mteb_xalign.leaderboard.validate import validate_submission

    root = REPO / "leaderboards" / "results"
    if not any(root.rglob("*.json")):
        pytest.fail("leaderboards/results holds no results: run `make run` and commit them")
    models = validate_submission(root)  # raises, listing every problem, if anything is off
    import mteb

    from mteb_xalign.run import BENCHMARK, BUNDLED_MODELS

    tasks = {t.metadata.name for t in mteb.get_benchmark(BENCHMARK).tasks}  # what `make run` (--all) runs
    by_model = {m.name: {r.task_name for r in m.results} for m in models}
    for name in BUNDLED_MODELS:
        assert tasks <= by_model.get(name, set()), (name, sorted(tasks - by_model.get(name, set())))


# -- the command line, as mteb users type it (no real model: a hash-seeded fake) -------------------
def _parse(*argv):
    from mteb_xalign.cli import build_parser

    return build_parser().parse_args(list(argv))


def test_mteb_forms_and_ours_parse_alike():
    ours = _parse("run", "-t", "MultiRefCLIR", "-t", "LAReQA", "-m", "a/b", "-m", "c/d", "--output", "out")
    mtebs = _parse("run", "-t", "MultiRefCLIR", "LAReQA", "-m", "a/b", "c/d", "--output-folder", "out")
    for args in (ours, mtebs):
        assert args.task == ["MultiRefCLIR", "LAReQA"] and args.model == ["a/b", "c/d"] and str(args.output) == "out"
    assert _parse("run", "--tasks", "A", "B", "--models", "m/x").task == ["A", "B"]
    assert _parse("run", "-l", "el", "es", "-q").languages == ["el", "es"]


def test_benchmark_and_all_select_the_xalign_tasks():
    import mteb

    from mteb_xalign import mteb_bridge
    from mteb_xalign.run import _select_task_names

    mteb_bridge.ensure_registered()
    expected = [t.metadata.name for t in mteb.get_benchmark("XAlign").tasks]
    assert "MultiRefCLIR" in expected and "MultiRefCLIR-PerQuestion" not in expected
    for argv in (("run", "-b", "XAlign"), ("run", "--all")):
        args = _parse(*argv)
        _select_task_names(args)
        assert args.task == expected


def test_languages_keep_only_subsets_of_those_languages():
    import mteb

    from mteb_xalign import mteb_bridge
    from mteb_xalign.run import _filter_languages

    mteb_bridge.ensure_registered()
    task = mteb.get_task("MultiRefCLIR")
    everything = list(task.hf_subsets)
    _filter_languages([task], ["el", "spa"])  # ISO 639-1 and 639-3, as mteb's -l takes them
    from mteb_xalign.tasks.multiref_subset import Subset

    def involves(name, langs):
        subset = Subset.parse(name)
        return bool(set(subset.doc_langs + (subset.query_lang,)) & langs)

    assert sorted(task.hf_subsets) == sorted(s for s in everything if involves(s, {"el", "es"}))
    assert 0 < len(task.hf_subsets) < len(everything)


@pytest.fixture
def fake_xalign(monkeypatch, capsys):
    """`xalign ...` in this process; -m test/fake-model is a hash-seeded fake, every other model is refused."""
    from mteb.models import ModelMeta

    from fakes import CountingEncoder
    from mteb_xalign import cli, evaluation, run

    meta = ModelMeta(loader=None, name="test/fake-model", revision="r1", release_date=None, languages=None,
                     n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=32, license=None,
                     open_weights=True, public_training_code=None, public_training_data=None, framework=["NumPy"],
                     similarity_fn_name="cosine", use_instructions=False, training_datasets=None)
    model = CountingEncoder("test/fake-model", dim=32)
    model.mteb_model_meta = meta
    real_meta = run.model_meta
    fake_or_real = lambda name: meta if name == meta.name else real_meta(name)  # noqa: E731
    monkeypatch.setattr(run, "model_meta", fake_or_real)
    monkeypatch.setattr(evaluation, "model_meta", fake_or_real)
    monkeypatch.setattr(evaluation, "load_model", lambda meta, device: model)

    def call(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def _tiny_corpus(folder):
    folder.mkdir()
    for lang, words in {"en": ["Cats purr.", "Dogs bark."], "de": ["Katzen schnurren.", "Hunde bellen."]}.items():
        (folder / f"{lang}.contexts.jsonl").write_text(
            "".join(json.dumps({"id": f"p{i}", "text": w}) + "\n" for i, w in enumerate(words)), encoding="utf-8")
        (folder / f"{lang}.questions.jsonl").write_text(
            "".join(json.dumps({"id": f"q{i}", "context_id": f"p{i}", "text": f"{w}?"}) + "\n"
                    for i, w in enumerate(words)), encoding="utf-8")
    return folder


def test_quiet_prints_the_results_and_nothing_else(tmp_path, fake_xalign):
    data = _tiny_corpus(tmp_path / "data")
    argv = ["run", "-t", "MultiRefCLIR", "--data", str(data), "--name", "Tiny", "-m", "test/fake-model",
            "--output-folder", str(tmp_path / "out")]
    code, out, err = fake_xalign(*argv)
    assert code == 0 and "== test/fake-model" in err and "results written under" in err
    assert "Tiny: mean main score" in out
    code, out_quiet, err_quiet = fake_xalign(*argv, "--quiet")
    assert code == 0 and err_quiet == "" and out_quiet == out


def test_models_shows_whether_each_model_runs_here_and_why(monkeypatch, capsys):
    from mteb_xalign import cli

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-3:] == ["runs", "here", "why"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "  yes  " in rows["xalign/use-multilingual-v3"] and "weights on this machine" in rows["xalign/use-multilingual-v3"]
    assert "  NO  " in rows["openai/text-embedding-3-small"]
    assert rows["openai/text-embedding-3-small"].endswith("API key missing: set OPENAI_API_KEY (service api.openai.com)")


def test_running_a_model_that_cannot_run_here_is_one_line(fake_xalign, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = fake_xalign("run", "-t", "LAReQA", "-m", "openai/text-embedding-3-small",
                                 "--output", str(tmp_path / "out"))
    assert code == 2 and err == ("xalign: error: model 'openai/text-embedding-3-small' cannot run here: "
                                 "API key missing: set OPENAI_API_KEY (service api.openai.com)\n")
