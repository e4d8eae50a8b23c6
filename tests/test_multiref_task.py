"""MultiRefCLIR and LAReQA end to end with a fake model: pools, scenarios, encode-once, ties."""

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
from mteb_xalign.tasks.multi_reference import make_multiref_task


def evaluate(model, task, tmp_path=None):
    return mteb.evaluate(model, task, cache=None, show_progress_bar=False).task_results[0]


def scores_by_subset(result):
    return {s["hf_subset"]: s for s in result.scores["test"]}


def test_full_run_encodes_each_text_once_and_cache_serves_the_rerun(isolated_cache):
    model = counting_model()
    tasks = [mteb.get_task("MultiRefCLIR"), mteb.get_task("LAReQA")]
    results = mteb.evaluate(model, tasks, cache=None, show_progress_bar=False)
    data = read_parallel_qa(DATASETS / "xquad")
    # mteb strips documents before the model sees them, so that is what we count.
    paragraphs = Counter(("document", t.strip()) for lang in data.languages for t in data.contexts[lang].values())
    questions = Counter(("query", q.text) for lang in data.languages for q in data.questions[lang])
    # Each unique (role, text) was sent exactly once, across both tasks (LAReQA reuses the questions).
    assert max(model.sent.values()) == 1
    for key in list(paragraphs) + list(questions):
        assert model.sent[key] == 1
    assert len(scores_by_subset(results.task_results[0])) == 78
    # A second run with the same cache file sends nothing at all.
    again = counting_model()
    mteb.evaluate(again, tasks, cache=None, show_progress_bar=False)
    assert sum(again.sent.values()) == 0


def test_constant_model_gets_worst_ranks():
    task = mteb.get_task("MultiRefCLIR")
    task.hf_subsets = ["multi_en+de_q-de", "multi1_en+de_q-en", "monosame_de_q-de"]
    s = scores_by_subset(evaluate(counting_model(name="test/constant", constant=True), task))
    multi = s["multi_en+de_q-de"]
    assert multi["max_at_r"] == 480 and multi["max_at_r_norm"] == 0 and multi["mean_pool_size"] == 480
    # Pessimistic total order: the 478 irrelevant ties first, then the two golds at 479 and 480.
    assert multi["mrr"] == pytest.approx(1 / 479) and multi["complete_at_100"] == 0
    assert multi["english_preference"] == 1.0  # every tie counts against the gold
    assert s["multi1_en+de_q-en"]["max_at_r"] == 479 and s["multi1_en+de_q-en"]["mean_pool_size"] == 479
    assert s["monosame_de_q-de"]["max_at_r"] == 240


def write_corpus(folder, vectors_by_text):
    """A 3-paragraph en/de corpus; question texts are chosen so the fake model embeds them as we say."""
    contexts = {"en": ["E0", "E1", "E2"], "de": ["D0", "D1", "D2"]}
    questions = {"en": [("q0", "c0", "QE0"), ("q1", "c1", "QE1")], "de": [("q0", "c0", "QD0"), ("q1", "c1", "QD1")]}
    for lang in ("en", "de"):
        (folder / f"{lang}.contexts.jsonl").write_text(
            "".join(json.dumps({"id": f"c{i}", "text": t}) + "\n" for i, t in enumerate(contexts[lang])))
        (folder / f"{lang}.questions.jsonl").write_text(
            "".join(json.dumps({"id": q, "context_id": c, "text": t}) + "\n" for q, c, t in questions[lang]))


class TableModel:
    """Embeds each text to a vector we choose, so ranks can be worked out by hand."""

    def __new__(cls, table):
        model = counting_model(name="test/table", dim=3)
        model.embed = lambda texts, prompt_type: np.array([table[t] for t in texts], dtype=np.float32)
        return model


def test_hand_made_english_inclination(tmp_path):
    write_corpus(tmp_path, None)
    # Directions on the unit circle: the German query QD0 sits nearest to *English* docs.
    angle = {"E0": 0, "D0": 50, "E1": 25, "D1": 80, "E2": 30, "D2": 90,
             "QE0": 0, "QE1": 20, "QD0": 10, "QD1": 75}
    table = {t: [math.cos(math.radians(a)), math.sin(math.radians(a)), 0.0] for t, a in angle.items()}
    cls = make_multiref_task("Tiny", tmp_path)
    s = scores_by_subset(evaluate(TableModel(table), cls()))
    # QD0 at 10deg, angular distances: E0 10, E1 15, E2 20, D0 40, D1 70, D2 80
    #   gold {D0, E0}: E0 rank 1, D0 rank 4 -> Max@R 4.
    # QD1 at 75deg: D1 5, D2 15, D0 25, E2 45, E1 50, E0 75 -> gold {D1 r1, E1 r5} -> Max@R 5.
    m = s["multi_en+de_q-de"]
    assert m["max_at_r"] == pytest.approx((4 + 5) / 2)
    norm = lambda r: 100 * (math.log2(6) - math.log2(r)) / (math.log2(6) - 1)
    assert m["max_at_r_norm"] == pytest.approx((norm(4) + norm(5)) / 2)
    # English preference: QD0's same-language gold D0 is beaten by irrelevant E1, E2; QD1's D1 is first.
    assert m["english_preference"] == pytest.approx(0.5)
    assert m["mrr"] == pytest.approx(1.0) and m["ndcg_at_1"] == pytest.approx(1.0)
    assert m["complete_at_1"] == 0 and m["complete_at_5"] == 1
    # Multi-1 for de queries: only the English copy is gold, pool of 5 (the German gold left out).
    m1 = s["multi1_en+de_q-de"]
    assert m1["max_at_r"] == pytest.approx((1 + 4) / 2) and m1["mean_pool_size"] == 5
    # Mono-Cross: de queries against English docs only: QD0 -> E0 first; QD1 -> E2, then E1.
    assert s["monocross_en_q-de"]["max_at_r"] == pytest.approx((1 + 2) / 2)
    # Mono-Same: QD0 -> D0 first among German docs; QD1 -> D1 first.
    assert s["monosame_de_q-de"]["max_at_r"] == pytest.approx(1.0)
    assert s["multi_en+de_q-de"]["main_score"] == m["max_at_r_norm"]


def test_per_question_pool_leaves_out_duplicates_of_the_gold(tmp_path):
    write_corpus(tmp_path, None)
    # add a second question on paragraph c0, so c0 appears twice per language in the per-question pool
    for lang, text in (("en", "QE2"), ("de", "QD2")):
        with open(tmp_path / f"{lang}.questions.jsonl", "a") as f:
            f.write(json.dumps({"id": "q2", "context_id": "c0", "text": text}) + "\n")
    table = {t: np.random.default_rng(i).standard_normal(3).tolist()
             for i, t in enumerate(["E0", "E1", "E2", "D0", "D1", "D2", "QE0", "QE1", "QE2", "QD0", "QD1", "QD2"])}
    cls = make_multiref_task("TinyPQ", tmp_path, pool="per-question")
    s = scores_by_subset(evaluate(TableModel(table), cls()))["multi_en+de_q-de"]
    # 3 questions x 2 languages = 6 documents; q0 and q2 each lose the 2 duplicate copies of c0.
    assert s["mean_pool_size"] == pytest.approx((4 + 6 + 4) / 3)
    assert s["pool"] == "per-question"


def test_custom_data_cli_writes_results_under_the_name(tmp_path, cli):
    write_corpus(tmp_path, None)
    out = cli("xalign", "run", "-t", "MultiRefCLIR", "--data", str(tmp_path), "--name", "TinyXQ",
              "-m", "xalign/multilingual-e5-small-q4", "--output", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    files = list((tmp_path / "out").rglob("TinyXQ.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    subsets = {s["hf_subset"] for s in result["scores"]["test"]}
    assert subsets == {"multi_en+de_q-en", "multi_en+de_q-de", "multi1_en+de_q-en", "multi1_en+de_q-de",
                       "monosame_en_q-en", "monosame_de_q-de", "monocross_en_q-de", "monocross_de_q-en"}


def test_custom_data_cli_reports_bad_line(tmp_path, cli):
    write_corpus(tmp_path, None)
    with open(tmp_path / "de.questions.jsonl", "a") as f:
        f.write('{"id": "q9", "context_id": "nope", "text": "?"}\n')
    out = cli("xalign", "run", "-t", "MultiRefCLIR", "--data", str(tmp_path), "--name", "Bad",
              "-m", "xalign/multilingual-e5-small-q4", "--output", str(tmp_path / "out"))
    assert out.returncode == 2
    assert "de.questions.jsonl:3:" in out.stderr and "unknown context_id 'nope'" in out.stderr
    assert "Traceback" not in out.stderr
