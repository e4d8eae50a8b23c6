"""The bundled MultiRefCLIR tasks on XQuAD (12 languages, English pivot): one task per scenario.

mteb scores a task as the mean main score over all its subsets (ResultCache, its summaries
and leaderboard), so each scenario is its own task and that mean is the number we show:
- MultiRefCLIR              Multi: pool en+X, both copies gold (22 subsets)
- MultiRefCLIR-Multi1       Multi-1: the query's same-language copy left out (22)
- MultiRefCLIR-MonoSame     a pool in the query's language (12)
- MultiRefCLIR-MonoCross    a pool in the other language: conventional CLIR (22)
- MultiRefCLIR-PerQuestion  Multi with the paper's pool, one document per question (22)
All five share the XQuAD texts: each text is encoded once per model (the embedding cache).
"""

from __future__ import annotations

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.tasks import BENCHMARK_NAME, DATASETS
from mteb_xalign.tasks.base import data_revision
from mteb_xalign.task_rules import Column, subset_regex
from mteb_xalign.tasks.multi_reference import MultiReferenceRetrieval, multiref_eval_langs
from mteb_xalign.tasks.multiref_subset import target_language

XQUAD = DATASETS / "xquad"
LANGUAGES = ["en", "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
REVISION = data_revision(XQUAD, label="xquad-7d30520")  # source commit, then the files' digest
CITATION = """@inproceedings{artetxe2020cross,
  title={On the Cross-lingual Transferability of Monolingual Representations},
  author={Artetxe, Mikel and Ruder, Sebastian and Yogatama, Dani},
  booktitle={Proceedings of ACL},
  pages={4623--4637},
  year={2020}
}"""
_ABOUT = (
    "The pool holds XQuAD's 240 paragraphs in English and/or a target language X; 1190 questions per "
    "language. Ranks are exact over the full pool (pessimistic ties). Main score Max@R_norm (0-1): 1 = every "
    "gold paragraph on top, 0 = the worst gold last."
)
_COMMON = dict(
    reference="https://arxiv.org/abs/1910.11856",
    dataset={"path": "mteb-xalign/xquad", "revision": REVISION},
    type="Retrieval",
    category="t2t",
    modalities=["text"],
    eval_splits=["test"],
    main_score="max_at_r_norm",
    date=("2019-10-01", "2019-10-31"),
    domains=["Encyclopaedic", "Written"],
    task_subtypes=["Question answering"],
    license="cc-by-sa-4.0",
    annotations_creators="human-annotated",
    dialect=[],
    sample_creation="human-translated",
    bibtex_citation=CITATION,
    prompt={"query": "Given a question, retrieve the paragraph that answers it"},
)


def _headline(task: str, label: str, what: str) -> Column:
    return Column(id=f"{task.lower().replace('-', '_')}_max_at_r_norm", task=task, key="max_at_r_norm",
                  selects=subset_regex(r".+"), label=label, scale=100.0,
                  title=f"Mean Max@R_norm (x100, higher is better) over every subset of {task}: {what}. "
                        "mteb's own task score, so failing one query language cannot hide.")


#: Cross-lingual: "in any language", so the model is not nudged towards documents in the query's language.
PASSAGES_INSTRUCTION = "Given a question, retrieve passages in any language that answer the question"


class MultiRefCLIR(MultiReferenceRetrieval):
    metadata = TaskMetadata(
        name="MultiRefCLIR",
        description="Multi-reference cross-lingual retrieval, Multi scenario: for each X, a pool of every "
                    "paragraph in English and in X; a question (in English or X) has both copies as gold, so "
                    "Max@R is small only when the model finds the answer in both languages. " + _ABOUT,
        eval_langs=multiref_eval_langs(LANGUAGES, "en", ("multi",)),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_folder = XQUAD
    scenarios = ("multi",)
    report_scenario = "multi"
    default_instruction = PASSAGES_INSTRUCTION
    leaderboard_columns = (
        _headline("MultiRefCLIR", "MultiRefCLIR Max@R_norm", "pools of English + X paragraphs, queries in "
                  "English and in X, both copies relevant"),
        Column(id="multirefclir_max_at_r_norm_q_x", task="MultiRefCLIR", key="max_at_r_norm",
               selects=lambda s: target_language(s) is not None, label="Max@R_norm, X queries", scale=100.0,
               language_of=target_language,
               title="Mean Max@R_norm (x100) over the subsets multi_en+X_q-X (queries in the target language)"),
        Column(id="english_preference", task="MultiRefCLIR", key="language_preference",
               selects=subset_regex(r"multi_en\+(?P<x>[^_]+)_q-(?P=x)"), label="English preference %",
               scale=100.0, higher_is_better=False,
               title="Share of X-language questions (%) whose X gold paragraph is outranked or tied by an "
                     "unrelated English paragraph (subsets multi_en+X_q-X); lower is better"),
        Column(id="english_preference_chance", task="MultiRefCLIR", key="language_preference_chance",
               selects=subset_regex(r"multi_en\+(?P<x>[^_]+)_q-(?P=x)"), label="chance %", scale=100.0,
               higher_is_better=None, chance_of="english_preference",
               title="English preference of a random model (%): what a model with no alignment at all gets"),
        Column(id="x_preference", task="MultiRefCLIR", key="language_preference",
               selects=subset_regex(r"multi_en\+[^_]+_q-en"), label="X preference %", scale=100.0,
               higher_is_better=False,
               title="The mirror: share of English questions (%) whose English gold paragraph is outranked or "
                     "tied by an unrelated X paragraph (subsets multi_en+X_q-en); lower is better"),
        Column(id="x_preference_chance", task="MultiRefCLIR", key="language_preference_chance",
               selects=subset_regex(r"multi_en\+[^_]+_q-en"), label="chance %", scale=100.0,
               higher_is_better=None, chance_of="x_preference",
               title="X preference of a random model (%)"),
        Column(id="own_preference_x", task="MultiRefCLIR", key="same_language_preference",
               selects=subset_regex(r"multi_en\+(?P<x>[^_]+)_q-(?P=x)"), label="X-over-English pref. % (q-X)",
               scale=100.0, higher_is_better=False,
               title="The other bias: share of X-language questions (%) whose English gold paragraph is "
                     "outranked or tied by an unrelated X paragraph (a model that keeps languages apart); "
                     "subsets multi_en+X_q-X; lower is better"),
        Column(id="own_preference_x_chance", task="MultiRefCLIR", key="same_language_preference_chance",
               selects=subset_regex(r"multi_en\+(?P<x>[^_]+)_q-(?P=x)"), label="chance %", scale=100.0,
               higher_is_better=None, chance_of="own_preference_x",
               title="X-over-English preference of a random model (%)"),
        Column(id="own_preference_en", task="MultiRefCLIR", key="same_language_preference",
               selects=subset_regex(r"multi_en\+[^_]+_q-en"), label="English-over-X pref. % (q-en)", scale=100.0,
               higher_is_better=False,
               title="Its mirror: share of English questions (%) whose X gold paragraph is outranked or tied by "
                     "an unrelated English paragraph (subsets multi_en+X_q-en); lower is better"),
        Column(id="own_preference_en_chance", task="MultiRefCLIR", key="same_language_preference_chance",
               selects=subset_regex(r"multi_en\+[^_]+_q-en"), label="chance %", scale=100.0,
               higher_is_better=None, chance_of="own_preference_en",
               title="English-over-X preference of a random model (%)"),
    )


class MultiRefCLIRMulti1(MultiReferenceRetrieval):
    metadata = TaskMetadata(
        name="MultiRefCLIR-Multi1",
        description="Multi-reference cross-lingual retrieval, Multi-1 scenario: the Multi pool without the "
                    "question's same-language copy, so only the other-language copy is gold. " + _ABOUT,
        eval_langs=multiref_eval_langs(LANGUAGES, "en", ("multi1",)),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_folder = XQUAD
    scenarios = ("multi1",)
    report_scenario = "multi1"
    default_instruction = PASSAGES_INSTRUCTION
    leaderboard_columns = (_headline("MultiRefCLIR-Multi1", "Multi-1 Max@R_norm",
                                     "the other-language copy must outrank the query's own language"),)


class MultiRefCLIRMonoSame(MultiReferenceRetrieval):
    metadata = TaskMetadata(
        name="MultiRefCLIR-MonoSame",
        description="MultiRefCLIR's monolingual baseline: a pool of the 240 paragraphs in the question's "
                    "language. " + _ABOUT,
        eval_langs=multiref_eval_langs(LANGUAGES, "en", ("monosame",)),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_folder = XQUAD
    scenarios = ("monosame",)
    report_scenario = "monosame"
    default_instruction = PASSAGES_INSTRUCTION
    leaderboard_columns = (_headline("MultiRefCLIR-MonoSame", "Mono-Same Max@R_norm",
                                     "monolingual retrieval in each language"),)


class MultiRefCLIRMonoCross(MultiReferenceRetrieval):
    metadata = TaskMetadata(
        name="MultiRefCLIR-MonoCross",
        description="MultiRefCLIR's conventional CLIR baseline: a pool of the 240 paragraphs in the other "
                    "language (English pool for X questions, X pool for English questions). " + _ABOUT,
        eval_langs=multiref_eval_langs(LANGUAGES, "en", ("monocross",)),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_folder = XQUAD
    scenarios = ("monocross",)
    report_scenario = "monocross"
    default_instruction = PASSAGES_INSTRUCTION
    leaderboard_columns = (_headline("MultiRefCLIR-MonoCross", "Mono-Cross Max@R_norm",
                                     "conventional cross-lingual retrieval"),)


class MultiRefCLIRPerQuestion(MultiReferenceRetrieval):
    metadata = TaskMetadata(
        name="MultiRefCLIR-PerQuestion",
        description="MultiRefCLIR's Multi scenario with the ICLR 2026 paper's pool: one document per question "
                    "(|D| = 2 x 1190, paragraphs repeated; a question's duplicate gold copies left out of its "
                    "pool). The paper's tables report max_at_r_norm_of_mean with the nominal |D|. " + _ABOUT,
        eval_langs=multiref_eval_langs(LANGUAGES, "en", ("multi",)),
        **_COMMON,
    )
    data_folder = XQUAD
    scenarios = ("multi",)
    default_instruction = PASSAGES_INSTRUCTION
    pool = "per-question"
