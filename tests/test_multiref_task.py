"""The MultiRefCLIR tasks and LAReQA end to end with a fake model: scenarios as tasks, pools, encode-once, ties."""

from __future__ import annotations

import json
import math
from collections import Counter

import mteb
import numpy as np
import pytest
from fakes import counting_model

from mteb_xalign.parallel_data import read_parallel_qa
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.multiref_clir import (
    MultiRefCLIR,
    MultiRefCLIRMonoCross,
    MultiRefCLIRMonoSame,
    MultiRefCLIRMulti1,
)

XQUAD_TASKS = ("MultiRefCLIR", "MultiRefCLIR-Multi1", "MultiRefCLIR-MonoSame", "MultiRefCLIR-MonoCross")


def evaluate(model, task):
    return mteb.evaluate(model, task, cache=None, show_progress_bar=False).task_results[0]


def scores_by_subset(result):
    return {s["hf_subset"]: s for s in result.scores["test"]}


def test_each_scenario_is_its_own_task():
    counts = {name: len(mteb.get_task(name).metadata.hf_subsets) for name in XQUAD_TASKS}
    assert counts == {"MultiRefCLIR": 22, "MultiRefCLIR-Multi1": 22, "MultiRefCLIR-MonoSame": 12,
                      "MultiRefCLIR-MonoCross": 22}
    assert all(s.startswith("multi_") for s in mteb.get_task("MultiRefCLIR").metadata.hf_subsets)
    assert "monosame_ar_q-ar" in mteb.get_task("MultiRefCLIR-MonoSame").metadata.hf_subsets
    assert {"monocross_en_q-ar", "monocross_ar_q-en"} <= set(mteb.get_task("MultiRefCLIR-MonoCross").metadata.hf_subsets)
    assert mteb.get_task("MultiRefCLIR-PerQuestion").metadata.hf_subsets == mteb.get_task("MultiRefCLIR").metadata.hf_subsets


def test_full_run_encodes_each_text_once_and_cache_serves_the_rerun(isolated_cache):
    model = counting_model()
    tasks = [mteb.get_task(name) for name in XQUAD_TASKS] + [mteb.get_task("LAReQA")]
    results = mteb.evaluate(model, tasks, cache=None, show_progress_bar=False)
    data = read_parallel_qa(DATASETS / "xquad")
    # mteb strips documents before the model sees them, so that is what we count.
    paragraphs = Counter(("document", t.strip()) for lang in data.languages for t in data.contexts[lang].values())
    questions = Counter(("query", q.text) for lang in data.languages for q in data.questions[lang])
    # Each unique (role, text) was sent exactly once, across all five tasks (they share the XQuAD texts).
    assert max(model.sent.values()) == 1
    for key in list(paragraphs) + list(questions):
        assert model.sent[key] == 1
    assert [len(r.scores["test"]) for r in results.task_results] == [22, 22, 12, 22, 11]
    # Every honest result passes the task's own consistency checks (the leaderboard runs them).
    for task, result in zip(tasks, results.task_results):
        for entry in result.scores["test"]:
            assert task.consistency_problems(entry["hf_subset"], entry) == [], (task.metadata.name, entry["hf_subset"])
    # mteb's task score is the mean main score over all subsets: the number the leaderboard shows.
    multi = results.task_results[0]
    assert multi.get_score() == pytest.approx(np.mean([s["max_at_r_norm"] for s in multi.scores["test"]]))
    again = counting_model()
    mteb.evaluate(again, tasks, cache=None, show_progress_bar=False)
    assert sum(again.sent.values()) == 0


def test_constant_model_gets_worst_ranks():
    model = counting_model(name="test/constant", constant=True)
    multi = MultiRefCLIR()
    multi.hf_subsets = ["multi_en+de_q-de", "multi_en+de_q-en"]
    s = scores_by_subset(evaluate(model, multi))
    m = s["multi_en+de_q-de"]
    assert m["max_at_r"] == 480 and m["max_at_r_norm"] == 0 and m["mean_pool_size"] == 480
    # Pessimistic total order: the 478 irrelevant ties first, then the two golds at 479 and 480.
    assert m["mrr"] == pytest.approx(1 / 479) and m["complete_at_100"] == 0
    assert m["ndcg_at_1_pessimistic"] == 0
    # Every tie counts against the gold, in both directions; chance: 1 - 1/240 (239 other-language irrelevant).
    for name in ("multi_en+de_q-de", "multi_en+de_q-en"):
        assert s[name]["language_preference"] == 1.0
        assert s[name]["language_preference_chance"] == pytest.approx(1 - 1 / 240)
    multi1 = MultiRefCLIRMulti1()
    multi1.hf_subsets = ["multi1_en+de_q-en"]
    m1 = scores_by_subset(evaluate(model, multi1))["multi1_en+de_q-en"]
    assert m1["max_at_r"] == 479 and m1["mean_pool_size"] == 479 and "language_preference" not in m1
    same = MultiRefCLIRMonoSame()
    same.hf_subsets = ["monosame_de_q-de"]
    assert scores_by_subset(evaluate(model, same))["monosame_de_q-de"]["max_at_r"] == 240


def write_corpus(folder):
    """A 3-paragraph en/de corpus; question texts are chosen so the table model embeds them as we say."""
    contexts = {"en": ["E0", "E1", "E2"], "de": ["D0", "D1", "D2"]}
    questions = {"en": [("q0", "c0", "QE0"), ("q1", "c1", "QE1")], "de": [("q0", "c0", "QD0"), ("q1", "c1", "QD1")]}
    for lang in ("en", "de"):
        (folder / f"{lang}.contexts.jsonl").write_text(
            "".join(json.dumps({"id": f"c{i}", "text": t}) + "\n" for i, t in enumerate(contexts[lang])))
        (folder / f"{lang}.questions.jsonl").write_text(
            "".join(json.dumps({"id": q, "context_id": c, "text": t}) + "\n" for q, c, t in questions[lang]))


def table_model(table):
    """Embeds each text to the vector we choose, so ranks can be worked out by hand."""
    model = counting_model(name="test/table", dim=3)
    model.embed = lambda texts, prompt_type, **kwargs: np.array([table[t] for t in texts], dtype=np.float32)
    return model


def test_hand_made_english_inclination(tmp_path):
    write_corpus(tmp_path)
    # Directions on the unit circle: the German query QD0 sits nearest to *English* docs.
    angle = {"E0": 0, "D0": 50, "E1": 25, "D1": 80, "E2": 30, "D2": 90,
             "QE0": 0, "QE1": 20, "QD0": 10, "QD1": 75}
    table = {t: [math.cos(math.radians(a)), math.sin(math.radians(a)), 0.0] for t, a in angle.items()}
    model = table_model(table)
    s = {}
    for kind in (MultiRefCLIR, MultiRefCLIRMulti1, MultiRefCLIRMonoSame, MultiRefCLIRMonoCross):
        task = kind.from_folder(tmp_path, f"Tiny{kind.__name__}")()
        s.update(scores_by_subset(evaluate(model, task)))
    assert len(s) == 2 + 2 + 2 + 2
    # QD0 at 10deg, angular distances: E0 10, E1 15, E2 20, D0 40, D1 70, D2 80
    #   gold {D0, E0}: E0 rank 1, D0 rank 4 -> Max@R 4.
    # QD1 at 75deg: D1 5, D2 15, D0 25, E2 45, E1 50, E0 75 -> gold {D1 r1, E1 r5} -> Max@R 5.
    m = s["multi_en+de_q-de"]
    assert m["max_at_r"] == pytest.approx((4 + 5) / 2)
    norm = lambda r: (math.log2(6) - math.log2(r)) / (math.log2(6) - 1)  # noqa: E731
    assert m["max_at_r_norm"] == pytest.approx((norm(4) + norm(5)) / 2)
    assert m["main_score"] == m["max_at_r_norm"]
    # English preference: QD0's same-language gold D0 is beaten by irrelevant E1, E2; QD1's D1 is first.
    # Chance: 2 irrelevant English paragraphs per query -> 1 - 1/3.
    assert m["language_preference"] == pytest.approx(0.5)
    assert m["language_preference_chance"] == pytest.approx(2 / 3)
    # The mirror on English queries: QE0 (0deg) -> E0 first; QE1 (20deg) -> E1 at 5deg, then E2 10deg:
    # no German paragraph above either English gold.
    assert s["multi_en+de_q-en"]["language_preference"] == 0.0
    assert m["mrr"] == pytest.approx(1.0) and m["ndcg_at_1_pessimistic"] == pytest.approx(1.0)
    assert m["complete_at_1"] == 0 and m["complete_at_5"] == 1
    # Multi-1 for de queries: only the English copy is gold, pool of 5 (the German gold left out).
    m1 = s["multi1_en+de_q-de"]
    assert m1["max_at_r"] == pytest.approx((1 + 4) / 2) and m1["mean_pool_size"] == 5
    # Mono-Cross: de queries against English docs only: QD0 -> E0 first; QD1 -> E2, then E1.
    assert s["monocross_en_q-de"]["max_at_r"] == pytest.approx((1 + 2) / 2)
    # Mono-Same: QD0 -> D0 first among German docs; QD1 -> D1 first.
    assert s["monosame_de_q-de"]["max_at_r"] == pytest.approx(1.0)


def test_per_question_pool_is_an_option_of_from_folder(tmp_path):
    write_corpus(tmp_path)
    # add a second question on paragraph c0, so c0 appears twice per language in the per-question pool
    for lang, text in (("en", "QE2"), ("de", "QD2")):
        with open(tmp_path / f"{lang}.questions.jsonl", "a") as f:
            f.write(json.dumps({"id": "q2", "context_id": "c0", "text": text}) + "\n")
    table = {t: np.random.default_rng(i).standard_normal(3).tolist()
             for i, t in enumerate(["E0", "E1", "E2", "D0", "D1", "D2", "QE0", "QE1", "QE2", "QD0", "QD1", "QD2"])}
    cls = MultiRefCLIR.from_folder(tmp_path, "TinyPQ", pool="per-question")
    assert cls.pool == "per-question" and cls.scenarios == ("multi",)
    task = cls()
    s = scores_by_subset(evaluate(table_model(table), task))["multi_en+de_q-de"]
    # 3 questions x 2 languages = 6 documents; q0 and q2 each lose the 2 duplicate copies of c0.
    assert s["mean_pool_size"] == pytest.approx((4 + 6 + 4) / 3)
    assert s["pool"] == "per-question"
    # The paper's normalisation of the mean Max@R uses the nominal |D| = 6.
    expected = (math.log2(6) - math.log2(s["max_at_r"])) / (math.log2(6) - 1)
    assert s["max_at_r_norm_of_mean"] == pytest.approx(expected)
    assert task.consistency_problems("multi_en+de_q-de", s) == []


def test_bundled_per_question_task_is_found_as_a_variant():
    from mteb_xalign.tasks.variants import variant_of
    from mteb_xalign.tasks.multiref_clir import MultiRefCLIRPerQuestion

    assert variant_of(MultiRefCLIR, pool="per-question") is MultiRefCLIRPerQuestion
    assert variant_of(MultiRefCLIRMonoSame, pool="per-question") is None


def test_custom_data_cli_writes_results_under_the_name(tmp_path, cli):
    write_corpus(tmp_path)
    out = cli("xalign", "run", "-t", "MultiRefCLIR", "MultiRefCLIR-MonoCross", "--data", str(tmp_path),
              "--name", "TinyXQ", "-m", "xalign/multilingual-e5-small-q4", "--output", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    subsets = {}
    for name in ("TinyXQ-MultiRefCLIR", "TinyXQ-MultiRefCLIR-MonoCross"):
        files = list((tmp_path / "out").rglob(f"{name}.json"))
        assert len(files) == 1, name
        subsets[name] = {s["hf_subset"] for s in json.loads(files[0].read_text())["scores"]["test"]}
    assert subsets == {"TinyXQ-MultiRefCLIR": {"multi_en+de_q-en", "multi_en+de_q-de"},
                       "TinyXQ-MultiRefCLIR-MonoCross": {"monocross_en_q-de", "monocross_de_q-en"}}


def test_custom_data_cli_reports_bad_line(tmp_path, cli):
    write_corpus(tmp_path)
    with open(tmp_path / "de.questions.jsonl", "a") as f:
        f.write('{"id": "q9", "context_id": "nope", "text": "?"}\n')
    out = cli("xalign", "run", "-t", "MultiRefCLIR", "--data", str(tmp_path), "--name", "Bad",
              "-m", "xalign/multilingual-e5-small-q4", "--output", str(tmp_path / "out"))
    assert out.returncode == 1
    assert "de.questions.jsonl:3:" in out.stderr and "unknown context_id 'nope'" in out.stderr
    assert "Traceback" not in out.stderr


def _run_args(**overrides):
    import argparse

    values = dict(task=["MultiRefCLIR"], all=False, data=None, name=None, pivot="en", pool="paragraph", subsets=None)
    return argparse.Namespace(**{**values, **overrides})


def test_run_names_no_task_options_pick_the_variant_or_build_from_the_folder(tmp_path):
    from mteb_xalign.errors import UserError
    from mteb_xalign.run import build_tasks
    from mteb_xalign.tasks.multiref_clir import MultiRefCLIRPerQuestion

    [task] = build_tasks(_run_args(pool="per-question"))
    assert type(task) is MultiRefCLIRPerQuestion
    with pytest.raises(UserError, match="no registered variant of MultiRefCLIR-MonoSame with --pool per-question"):
        build_tasks(_run_args(task=["MultiRefCLIR-MonoSame"], pool="per-question"))
    write_corpus(tmp_path)
    [custom] = build_tasks(_run_args(task=["MultiRefCLIR-Multi1"], data=tmp_path, name="Mine", pool="per-question"))
    assert custom.metadata.name == "Mine" and custom.pool == "per-question" and custom.scenarios == ("multi1",)
    assert custom.data_loaded  # read and checked before any model loads
    with pytest.raises(UserError, match="--pool does not apply to SemanticAffinity"):
        build_tasks(_run_args(task=["SemanticAffinity"], data=tmp_path, pool="per-question"))
    with pytest.raises(UserError, match="cannot be built from a folder"):
        build_tasks(_run_args(task=["STS12"], data=tmp_path))
