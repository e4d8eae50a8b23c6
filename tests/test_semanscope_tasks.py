"""Semanscope's benchmark through mteb: its word lists as they are, the controls, Relational Affinity."""

from __future__ import annotations

import math

import mteb
import numpy as np
import pytest
from fakes import counting_model

from mteb_xalign.errors import DataError
from mteb_xalign.metrics.relational import cross_lingual_ra
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.bundled import benchmark_tasks, bundled_tasks
from mteb_xalign.tasks.relational_affinity import RelationalAffinity
from mteb_xalign.tasks.semanscope import RELATION_LISTS, STUDY_LISTS
from mteb_xalign.tasks.word_affinity import SemanticAffinityTask
from mteb_xalign.wordlists import read_relations, read_wordlist

SEMANSCOPE = DATASETS / "semanscope"


def evaluate(model, task):
    return mteb.evaluate(model, task, cache=None, show_progress_bar=False).task_results[0]


def by_subset(result):
    return {s["hf_subset"]: s for s in result.scores["test"]}


# -- metadata and data -------------------------------------------------------------------------
def test_metadata_credits_the_source_and_never_claims_human_translation():
    names = {"SemanticAffinity-Semanscope", "SemanticAffinity-SemanscopeRelations", "RelationalAffinity"}
    assert names <= {t.metadata.name for t in bundled_tasks()}
    assert not names & {t.metadata.name for t in benchmark_tasks()}
    for name in names:
        meta = mteb.get_task(name).metadata
        assert meta.license == "mit" and "digital-duck/semanscope" in meta.reference
        assert meta.sample_creation.startswith("machine-translated")
        assert "human-translated" not in meta.description and "not human translations" in meta.description
    assert mteb.get_task("SemanticAffinity-Semanscope").metadata.hf_subsets == list(STUDY_LISTS)
    assert mteb.get_task("RelationalAffinity").metadata.hf_subsets[:4] == ["en-zh", "en-es", "en-de", "en-tr"]
    assert len(mteb.get_task("RelationalAffinity").metadata.hf_subsets) == 10
    assert (SEMANSCOPE / "LICENSE").read_text().startswith("MIT License")
    assert "semanscope/" in (DATASETS / "LICENSES.md").read_text()


def test_the_study_lists_are_read_as_they_are():
    zinets = read_wordlist(STUDY_LISTS["ICML-4-zinets"])
    assert zinets.languages == ["zh", "en"]
    raw = STUDY_LISTS["ICML-4-zinets"].read_text(encoding="utf-8").splitlines()
    commented = sum(1 for line in raw if line.startswith("#"))
    assert commented >= 2 and any(line.startswith("# ") for line in raw)  # "#丨" and "# 㔾" both skipped
    assert len(zinets.concepts) == len(raw) - 1 - commented
    first = zinets.concepts[0]
    assert first.words == {"zh": ["一"], "en": ["one", "unity", "first"]}  # "|" variants, each its own word
    for path in RELATION_LISTS.values():
        assert read_wordlist(path).languages == ["en", "zh", "es", "de", "tr"]


def test_csv_edge_cases(tmp_path):
    """BOM, CRLF, '#' and '# ' comment lines, empty cells, '|' variants with spaces."""
    path = tmp_path / "edge.csv"
    text = ("\ufeffenglish,chinese,human\r\n#comment,注释,\r\n# 㔾,seal,\r\nred,红色,\r\n"
            "one | unity,一,\r\n,空,\r\nlonely,,\r\n")
    path.write_bytes(text.encode("utf-8"))
    words = read_wordlist(path)
    assert words.languages == ["en", "zh"]
    assert [c.words for c in words.concepts] == [
        {"en": ["red"], "zh": ["红色"]}, {"en": ["one", "unity"], "zh": ["一"]}, {"en": [], "zh": ["空"]},
        {"en": ["lonely"], "zh": []}]
    task = SemanticAffinityTask.from_folder(path, "Edge")
    result = by_subset(evaluate(counting_model(name="test/edge"), task()))
    assert result["en-zh"]["n_concepts"] == 2  # the rows with words in both languages


# -- the controls ------------------------------------------------------------------------------
def test_control_identical_strings_give_sa_one():
    """ICML-5-control: the `german` column repeats the English words (one word per cell). Identical
    strings have distance 0, so V = 0, SR = 0 and SA = 1/(1+0) = 1, the definition's maximum. The
    source's note "SA should be 0" holds for SR (the ratio of distances), not for SA = 1/(1+SR)."""
    task = SemanticAffinityTask.from_folder(SEMANSCOPE / "ICML-5-control-SA.csv", "Control5")
    scores = by_subset(evaluate(counting_model(name="test/control"), task()))
    assert scores["en-de"]["semantic_affinity"] == pytest.approx(1.0, abs=1e-12)
    assert scores["en-de"]["vertical_spread"] == pytest.approx(0.0, abs=1e-12)
    assert scores["en-de"]["semantic_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert scores["en-zh"]["semantic_affinity"] < 0.6  # the real pair of a random model: no alignment


def test_zinets_control_with_variants_gives_the_definitions_value():
    """ICML-4-zinets-control repeats `one|unity` in both columns. Each variant is its own word, so a
    concept's tuples are every (en variant, de variant) pair: (one, one) has distance 0 but
    (one, unity) does not. SA is therefore below 1, exactly 1/(1 + V/H) with V the mean distance over
    those pairs and H the English spread (the two columns hold the same vocabulary)."""
    path = SEMANSCOPE / "ICML-4-zinets-control-SA.csv"
    model = counting_model(name="test/zcontrol")
    scores = by_subset(evaluate(model, SemanticAffinityTask.from_folder(path, "ControlZ")()))["en-de"]
    words = read_wordlist(path)

    def unit(text):
        v = counting_model(name="test/zcontrol").embed([text], prompt_type=None)[0].astype(np.float64)
        return v / np.linalg.norm(v)

    total, count = 0.0, 0
    for concept in words.concepts:
        en, de = concept.words["en"], concept.words["de"]
        for a in en:
            for b in de:
                total += 1.0 - unit(a) @ unit(b)
                count += 1
    vocab = np.array([unit(w) for w in words.unique_words(["en"])])
    n = len(vocab)
    h = float(np.mean([1.0 - vocab[i] @ vocab[j] for i in range(n) for j in range(i + 1, n)]))
    v = total / count
    assert scores["n_tuples"] == count
    assert scores["semantic_affinity"] == pytest.approx(1.0 / (1.0 + v / h), abs=1e-9)
    assert 0.5 < scores["semantic_affinity"] < 1.0


# -- Relational Affinity task -------------------------------------------------------------------
def test_relational_affinity_scores_every_pair_from_the_definition():
    task = mteb.get_task("RelationalAffinity")
    model = counting_model(name="test/ra")
    scores = by_subset(evaluate(model, task))
    task.load_data()
    relations = [rel for _, rel in task.relations]
    assert len(relations) == 550
    twin = counting_model(name="test/ra")  # same hash-seeded vectors, counted separately

    def vectors(lang, side):
        return twin.embed([rel.words[lang][side] for rel in relations], prompt_type=None)

    for subset, (a, b) in (("en-zh", ("en", "zh")), ("en-tr", ("en", "tr")), ("es-de", ("es", "de"))):
        expected = cross_lingual_ra(vectors(a, 0), vectors(a, 1), vectors(b, 0), vectors(b, 1))
        same = sum(1 for rel in relations if rel.words[a][0] == rel.words[a][1] or rel.words[b][0] == rel.words[b][1])
        entry = scores[subset]
        assert entry["n_relations"] == 550 and entry["n_relations_defined"] == 550 - same
        assert entry["relational_affinity"] == pytest.approx(expected.relational_affinity, abs=1e-6)
        assert entry["status"] == ("ok" if same == 0 else "partial")
        assert task.consistency_problems(subset, entry) == []
        # a bootstrap over relations (per_query outcomes: one cluster per defined relation)
        assert entry["main_score_ci95_low"] <= entry["relational_affinity"] <= entry["main_score_ci95_high"]
        assert entry["main_score_ci95_clusters"] == 550 - same
        ids, per_relation = task.relation_outcomes(subset)
        assert len(ids) == len(set(ids)) == 550
        np.testing.assert_allclose(per_relation, expected.per_relation, atol=1e-6)  # float32 vectors
    # Turkish has one word for many gendered pairs (garson: waiter and waitress): left out, counted
    assert scores["en-tr"]["n_relations_defined"] < 500
    assert abs(scores["en-zh"]["relational_affinity"]) < 4 * scores["en-zh"]["relational_affinity_sem"] + 0.02


def test_constant_model_ra_is_nan_with_status_undefined():
    scores = by_subset(evaluate(counting_model(name="test/ra-constant", constant=True), mteb.get_task("RelationalAffinity")))
    task = RelationalAffinity()
    for subset, entry in scores.items():
        assert math.isnan(entry["relational_affinity"]) and entry["status"] == "undefined"
        assert entry["n_relations_defined"] == 0
        assert task.consistency_problems(subset, entry) == []
    assert task.consistency_problems("en-zh", {**scores["en-zh"], "relational_affinity": 0.0}) != []


RA_HEADER = "relation_id,category,word1_en,word2_en,word1_zh,word2_zh,relation_type\n"


def test_ra_file_comments_bom_crlf(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(("\ufeff" + RA_HEADER + "# a note\n# 注,x,y,z,w,v,\nR1,fam,husband,wife,丈夫,妻子,pair\n")
                     .replace("\n", "\r\n").encode())
    rel = read_relations(path)
    assert rel.languages == ["en", "zh"] and len(rel.relations) == 1 and rel.relations[0].line == 4
    assert rel.relations[0].words == {"en": ("husband", "wife"), "zh": ("丈夫", "妻子")}


@pytest.mark.parametrize("body, line, text", [
    ("R1,fam,husband,wife,丈夫,,pair\n", 2, "empty cell 'word2_zh'"),
    ("R1,fam,husband,wife,丈夫,妻子,pair\nR2,fam,,son,女儿,儿子,pair\n", 3, "empty cell 'word1_en'"),
    ("R1,fam,husband,wife,丈夫,妻子|老婆,pair\n", 2, "variants"),
    ("R1,fam,a,b,c,d,pair\nR1,fam,e,f,g,h,pair\n", 3, "already used on line 2"),
])
def test_ra_bad_rows_name_file_and_line(tmp_path, body, line, text):
    path = tmp_path / "bad.csv"
    path.write_text(RA_HEADER + body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relations(path)
    assert f"bad.csv:{line}" in str(err.value) and text in str(err.value)


def test_ra_missing_column_is_refused_before_a_model_loads(tmp_path):
    path = tmp_path / "missing.csv"
    path.write_text("relation_id,category,word1_en,word2_en,word1_zh\nR1,fam,a,b,c\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relations(path)
    assert "missing.csv:1" in str(err.value) and "word2_zh" in str(err.value)
    with pytest.raises(DataError, match="missing.csv:1"):
        read_relations(path, ["en", "zh"])
    task_cls = type("BadRA", (RelationalAffinity,), {"files": {"bad": path}, "__module__": __name__})
    model = counting_model(name="test/never")
    with pytest.raises(DataError, match="missing.csv:1"):
        evaluate(model, task_cls())
    assert not model.sent


def test_leaderboard_headline_is_the_task_score_and_results_pass_the_validator(tmp_path):
    """The first column of each task (the one its board sorts by) is mteb's task score, and an honest
    result file passes every check the leaderboard runs (ranges, consistency, sizes)."""
    from mteb.cache import ResultCache

    from mteb_xalign.leaderboard.board import column_value
    from mteb_xalign.leaderboard.columns import columns_for_task
    from mteb_xalign.leaderboard.score_checks import check_scores
    from mteb_xalign.leaderboard.task_sizes import expected_sizes

    names = ["SemanticAffinity-Semanscope", "SemanticAffinity-SemanscopeRelations", "RelationalAffinity"]
    tasks = [mteb.get_task(n) for n in names]
    results = mteb.evaluate(counting_model(name="test/board"), tasks, cache=ResultCache(tmp_path),
                            show_progress_bar=False).task_results
    for task, result in zip(tasks, results):
        subsets = by_subset(result)
        headline = columns_for_task(task.metadata.name)[0]
        assert column_value(headline, subsets) == pytest.approx(result.get_score() * headline.scale)
        problems = []
        check_scores(tmp_path / f"{task.metadata.name}.json", task, result.scores, expected_sizes(task), problems)
        assert problems == []
    # and a faked headline is caught
    faked = {**by_subset(results[2])["en-zh"], "relational_affinity": 0.99}
    assert RelationalAffinity().consistency_problems("en-zh", faked) != []
