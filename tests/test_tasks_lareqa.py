"""LAReQA: the bundled task's metadata, and its kind built from a folder in the XQuAD-R layout."""

from __future__ import annotations

import json
import math

import mteb
import numpy as np
import pytest
from fakes import counting_model

from mteb_xalign.errors import DataError
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.base import folder_revision
from mteb_xalign.tasks.lareqa import LAReQA

PARAGRAPHS = {"p000", "p001", "p002"}


def _slice(src, dst, keep):
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if keep(json.loads(line))]
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def tiny(tmp_path):
    """XQuAD-R sentences + qrels and XQuAD paragraphs + questions of three paragraphs, in de and en, one folder."""
    for lang in ("de", "en"):
        _slice(DATASETS / "xquad" / f"{lang}.contexts.jsonl", tmp_path / f"{lang}.contexts.jsonl",
               lambda o: o["id"] in PARAGRAPHS)
        for folder, suffix in (("xquad_r", "sentences"), ("xquad_r", "qrels"), ("xquad", "questions")):
            _slice(DATASETS / folder / f"{lang}.{suffix}.jsonl", tmp_path / f"{lang}.{suffix}.jsonl",
                   lambda o: o["context_id"] in PARAGRAPHS)
    return tmp_path


def test_bundled_metadata():
    meta = mteb.get_task("LAReQA").metadata
    assert meta.main_score == "map" and meta.type == "Retrieval"
    assert meta.hf_subsets[0] == "q-en" and len(meta.hf_subsets) == 11
    assert LAReQA().ks == (1, 5, 10, 11, 20, 100)


def test_from_folder_scores_every_query_language_and_passes_its_checks(tiny):
    cls = LAReQA.from_folder(tiny, "TinyLAReQA")
    assert cls.languages == ("en", "de") and cls.metadata.hf_subsets == ["q-en", "q-de"]
    assert cls.metadata.dataset["revision"] == folder_revision(tiny, tiny)
    assert cls.leaderboard_columns == ()  # a custom task has no leaderboard column of the bundled name
    task = cls()
    result = mteb.evaluate(counting_model(), task, cache=None, show_progress_bar=False).task_results[0]
    scores = {s["hf_subset"]: s for s in result.scores["test"]}
    n_sentences = sum(1 for lang in ("de", "en") for _ in open(tiny / f"{lang}.sentences.jsonl", encoding="utf-8"))
    for name, entry in scores.items():
        assert entry["mean_pool_size"] == n_sentences
        assert entry["main_score"] == entry["map"] and 0 < entry["map"] <= 1
        assert "complete_at_2" in entry  # k = the number of languages: one gold per language
        assert task.consistency_problems(name, entry) == []
    faked = {**scores["q-de"], "map": 1.0, "max_at_r_norm": 1.0}
    assert task.consistency_problems("q-de", faked) != []
    assert task.expected_result_sizes() == {"q-en": {"n_queries": scores["q-en"]["n_queries"]},
                                            "q-de": {"n_queries": scores["q-de"]["n_queries"]}}
    assert math.isclose(result.get_score(), np.mean([s["map"] for s in scores.values()]))


def test_from_folder_refuses_a_folder_without_sentences(tmp_path):
    with pytest.raises(DataError, match="no <lang>.sentences.jsonl"):
        LAReQA.from_folder(tmp_path, "Empty")
    with pytest.raises(TypeError, match="unknown option"):
        LAReQA.from_folder(tmp_path, "X", pool="per-question")
