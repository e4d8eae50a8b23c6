"""The bundled SemanticAffinity tasks on Swadesh-207 (207 basic concepts, 24 languages).

- SemanticAffinity           one subset per pair en-X (23); mteb's task score = mean SA over en-X
- SemanticAffinity-AllPairs  one subset `all`: the N-way SA over the 24 languages, with `sa_matrix`
                             (SA of every language pair, for heatmaps)
Both share the word list: each word is encoded once per model (the embedding cache).
"""

from __future__ import annotations

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.languages import to_mteb
from mteb_xalign.task_rules import Column, subset_regex
from mteb_xalign.tasks import BENCHMARK_NAME, DATASETS
from mteb_xalign.tasks.base import data_revision
from mteb_xalign.tasks.word_affinity import DESCRIPTION, SemanticAffinityTask, affinity_subsets

SWADESH = DATASETS / "swadesh207" / "swadesh207.jsonl"
#: English first: it is the pivot of the en-X pairs.
LANGUAGES = ("en", "de", "es", "fr", "zh", "ar", "ru", "ja", "ko", "hi", "th", "tr", "vi", "el", "ro", "it", "pt",
             "nl", "pl", "he", "id", "fa", "uk", "sw")
REVISION = data_revision(SWADESH)  # the file's digest: edited data are another revision
CITATION = """@article{swadesh1955towards,
  title={Towards greater accuracy in lexicostatistic dating},
  author={Swadesh, Morris},
  journal={International Journal of American Linguistics},
  volume={21},
  number={2},
  pages={121--137},
  year={1955}
}"""
_COMMON = dict(
    reference="https://en.wiktionary.org/wiki/Category:Swadesh_lists_by_language",
    dataset={"path": "mteb-xalign/swadesh207", "revision": REVISION},
    type="BitextMining",
    category="t2t",
    modalities=["text"],
    eval_splits=["test"],
    main_score="semantic_affinity",
    date=("2023-01-01", "2023-12-31"),
    domains=["Written"],
    task_subtypes=[],
    license="cc-by-sa-4.0",
    annotations_creators="human-annotated",
    dialect=[],
    sample_creation="found",
    bibtex_citation=CITATION,
)


def _eval_langs(all_pairs: bool) -> dict[str, list[str]]:
    return {name: [to_mteb(lang) for lang in langs]
            for name, langs in affinity_subsets(list(LANGUAGES), "en", all_pairs).items()}


WORDS_INSTRUCTION = "Given a word, retrieve words in other languages that have the same meaning"


class SemanticAffinity(SemanticAffinityTask):
    metadata = TaskMetadata(
        name="SemanticAffinity",
        description=DESCRIPTION + " Word list: Swadesh-207; subsets: every pair en-X.",
        eval_langs=_eval_langs(all_pairs=False),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_path = SWADESH
    default_instruction = WORDS_INSTRUCTION
    languages = LANGUAGES
    report_series = "sa"
    leaderboard_columns = (
        Column(id="semantic_affinity", task="SemanticAffinity", key="semantic_affinity",
               selects=subset_regex(r"en-.+"), label="SA", decimals=3,
               language_of=lambda subset: subset.removeprefix("en-"),
               title="Semantic Affinity on Swadesh-207 (0-1, higher is better; 0.5 = translations no closer than "
                     "random words), mean over the en-X language pairs: mteb's task score"),
    )


class SemanticAffinityAllPairs(SemanticAffinityTask):
    metadata = TaskMetadata(
        name="SemanticAffinity-AllPairs",
        description=DESCRIPTION + " Word list: Swadesh-207; one N-way subset over all 24 languages, with the "
                                  "SA of every language pair (sa_matrix).",
        eval_langs=_eval_langs(all_pairs=True),
        **_COMMON,
    )
    benchmarks = (BENCHMARK_NAME,)
    data_path = SWADESH
    default_instruction = WORDS_INSTRUCTION
    languages = LANGUAGES
    all_pairs = True
    report_series = "sa_matrix"
    leaderboard_columns = (
        Column(id="semantic_affinity_all_pairs", task="SemanticAffinity-AllPairs", key="semantic_affinity",
               selects=subset_regex("all"), label="SA (N-way)", decimals=3,
               title="Semantic Affinity over all 24 languages at once (0-1, higher is better)"),
    )
