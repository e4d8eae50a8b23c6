"""The bundled LAReQA task on XQuAD-R (11 languages): one pool of every language's answer sentences."""

from __future__ import annotations

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.task_rules import Column, subset_regex
from mteb_xalign.tasks import BENCHMARK_NAME, DATASETS
from mteb_xalign.tasks.base import data_revision
from mteb_xalign.tasks.language_agnostic import LanguageAgnosticRetrieval
from mteb_xalign.languages import to_mteb

LANGUAGES = ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")


class LAReQA(LanguageAgnosticRetrieval):
    metadata = TaskMetadata(
        name="LAReQA",
        description=(
            "LAReQA (XQuAD-R): answer-sentence retrieval from a pool of the sentences of all 11 languages; "
            "a question's gold set is its answer sentence in every language. Main score: mean average "
            "precision over the full pool, as LAReQA and XTREME compute it."
        ),
        reference="https://arxiv.org/abs/2004.05484",
        # source commit, then the digest of the sentence files and of the XQuAD questions they answer
        dataset={"path": "mteb-xalign/xquad_r",
                 "revision": data_revision(DATASETS / "xquad_r", DATASETS / "xquad", label="xquad_r-9bc8c7f")},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs={f"q-{lang}": sorted(to_mteb(x) for x in LANGUAGES) for lang in LANGUAGES},
        main_score="map",
        date=("2020-04-01", "2020-04-30"),
        domains=["Encyclopaedic", "Written"],
        task_subtypes=["Question answering"],
        license="cc-by-sa-4.0",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="human-translated",
        bibtex_citation="""@inproceedings{roy2020lareqa,
  title={LAReQA: Language-agnostic answer retrieval from a multilingual pool},
  author={Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  booktitle={Proceedings of EMNLP},
  pages={5919--5930},
  year={2020}
}""",
        prompt={"query": "Given a question, retrieve the sentence that answers it"},
    )
    benchmarks = (BENCHMARK_NAME,)
    default_instruction = "Given a question, retrieve the sentence in any language that answers the question"
    sentences_folder = DATASETS / "xquad_r"
    questions_folder = DATASETS / "xquad"
    languages = LANGUAGES
    report_series = "lareqa"
    leaderboard_columns = (
        Column(id="lareqa_map", task="LAReQA", key="map", selects=subset_regex(r"q-.+"), label="LAReQA mAP",
               scale=100.0, title="LAReQA mean average precision (x100, higher is better), mean over query "
                                  "languages: mteb's task score"),
    )
