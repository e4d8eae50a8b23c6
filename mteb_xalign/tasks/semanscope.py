"""Semanscope's own benchmark word lists as SemanticAffinity tasks: one subset per word list.

- SemanticAffinity-Semanscope          the four word lists of Semanscope's cross-lingual study
                                       (en-zh): ICML-1 general vocabulary, ICML-2 culture-laden
                                       concepts, ICML-3 untranslatable words / polysemes / false
                                       friends, ICML-4 ZiNets (Chinese character primitives)
- SemanticAffinity-SemanscopeRelations the words of its 11 Relational Affinity sets, N-way SA over
                                       en, zh, es, de, tr (one subset per set)

The CSVs are Semanscope's files unchanged (github.com/digital-duck/semanscope, commit 0113137f,
MIT; `datasets/semanscope/LICENSE`), read by `wordlists.read_wordlist` (`|` variants, `#`
comment lines, empty cells). Their translations were made by machine (Claude, DeepL) and
reviewed, by the repository's own notes: not human translations. SA is this project's
definition (`metrics/affinity.py`: every variant its own word), not the reference code's.

The two control lists (ICML-4-zinets-control, ICML-5-control: a `german` column repeating the
English text) are shipped for the tests, not as subsets: identical strings have distance 0, so
a pair of identical single words adds V = 0 and SA = 1 exactly (see tests/test_semanscope_tasks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.errors import DataError
from mteb_xalign.languages import to_mteb
from mteb_xalign.task_rules import Column, subset_regex
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.base import folder_revision
from mteb_xalign.tasks.word_affinity import DESCRIPTION, AffinitySubset, SemanticAffinityTask
from mteb_xalign.wordlists import WordList, read_wordlist

SEMANSCOPE = DATASETS / "semanscope"
SOURCE = "https://github.com/digital-duck/semanscope"
#: The word lists of the seed study, subset name -> file (subset order = the study's order).
STUDY_LISTS = {
    "ICML-1-general": SEMANSCOPE / "ICML-1-peterg-SA.csv",
    "ICML-2-cultural": SEMANSCOPE / "ICML-2-cultural-nuance-SA.csv",
    "ICML-3-challenge": SEMANSCOPE / "ICML-3-challenge-SA.csv",
    "ICML-4-zinets": SEMANSCOPE / "ICML-4-zinets-SA.csv",
}
RELATION_TOPICS = ("01-family-relations", "02-royalty-hierarchy", "03-gendered-occupations",
                   "04-comparative-superlative", "05-opposite-relations", "06-animal-gender",
                   "07-sequential-mathematical", "08-hierarchical-relations", "09-part-whole", "10-size-scale",
                   "11-cause-effect")
RELATION_LISTS = {f"NeurIPS-{topic}": SEMANSCOPE / f"NeurIPS-{topic}-v2.5-SA.csv" for topic in RELATION_TOPICS}
RELATION_LANGUAGES = ("en", "zh", "es", "de", "tr")
CITATION = """@software{semanscope2026,
  title={Semanscope: semantic affinity and relational affinity of multilingual embeddings},
  author={{digital-duck}},
  year={2026},
  url={https://github.com/digital-duck/semanscope},
  note={commit 0113137fa2de5ba4fa6fdefca4dd663bf9a5f5a7, data/input/, MIT licence}
}"""
PROVENANCE = (" Data: Semanscope's word lists (github.com/digital-duck/semanscope, MIT, Copyright (c) 2026 "
              "digital-duck), machine-translated (Claude, DeepL) and reviewed by the authors: not human "
              "translations.")
COMMON = dict(
    reference=SOURCE,
    type="BitextMining",
    category="t2t",
    modalities=["text"],
    eval_splits=["test"],
    main_score="semantic_affinity",
    date=("2026-02-22", "2026-02-22"),  # the snapshot's commit date; the lists' own dates are not stated
    domains=["Written"],
    task_subtypes=[],
    license="mit",
    annotations_creators="LM-generated and reviewed",
    dialect=[],
    bibtex_citation=CITATION,
)


@dataclass
class ListSubset(AffinitySubset):
    words: WordList


class MultiListAffinityTask(SemanticAffinityTask):
    """SA with one word list per subset, each compared over all of the task's `languages` (N-way)."""

    word_lists: ClassVar[dict[str, Path]]

    @property
    def subset_languages(self) -> dict[str, list[str]]:
        return {name: list(self.languages) for name in self.word_lists}

    def _read_data(self) -> None:
        self.lists: dict[str, WordList] = {}
        for name, path in self.word_lists.items():
            words = read_wordlist(path)
            missing = [lang for lang in self.languages if lang not in words.languages]
            if missing:
                raise DataError(f"word list has no words in {missing} (the task compares {list(self.languages)})",
                                path=path)
            self.lists[name] = words

    def _subset_data(self, name: str) -> ListSubset:
        return ListSubset(name, list(self.languages), self.lists[name])

    def subset_words(self, data: ListSubset) -> WordList:
        return data.words

    def words_to_embed(self, languages: list[str]) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for name in self.hf_subsets:
            seen.update(dict.fromkeys((lang, w) for lang in languages for w in self.lists[name].unique_words([lang])))
        return list(seen)

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        self.load_data()
        return {name: {"n_concepts": sum(1 for c in self.lists[name].concepts
                                         if sum(1 for lang in self.languages if c.words.get(lang)) >= 2)}
                for name in self.hf_subsets}

    def _calculate_descriptive_statistics_from_split(self, split, *, hf_subset=None, compute_overall=False,
                                                     num_proc=None) -> dict[str, Any]:
        if not self.data_loaded:
            self.load_data()
        subsets = [hf_subset] if hf_subset else list(self.metadata.hf_subsets)
        words = {(lang, w) for s in subsets for lang in self.languages for w in self.lists[s].unique_words([lang])}
        return {
            "num_samples": sum(len(self.lists[s].concepts) for s in subsets),
            "number_of_characters": sum(len(w) for _, w in words),
            "unique_words": len(words),
            "words_per_language": {lang: sum(len(c.words.get(lang, [])) for s in subsets for c in self.lists[s].concepts)
                                   for lang in self.languages},
        }


class SemanticAffinitySemanscope(MultiListAffinityTask):
    metadata = TaskMetadata(
        name="SemanticAffinity-Semanscope",
        description=DESCRIPTION + " Word lists: the four of Semanscope's cross-lingual study (en-zh), one subset "
                                  "each: ICML-1 general vocabulary, ICML-2 culture-laden concepts, ICML-3 "
                                  "untranslatable words/polysemes/false friends, ICML-4 ZiNets (Chinese character "
                                  "primitives of the oracle-bone era)." + PROVENANCE,
        dataset={"path": "mteb-xalign/semanscope-icml", "revision": folder_revision(*STUDY_LISTS.values())},
        eval_langs={name: [to_mteb("en"), to_mteb("zh")] for name in STUDY_LISTS},
        sample_creation="machine-translated and verified",
        **COMMON,
    )
    word_lists = STUDY_LISTS
    languages = ("en", "zh")
    leaderboard_columns = (
        Column(id="sa_semanscope", task="SemanticAffinity-Semanscope", key="semantic_affinity",
               selects=subset_regex(r"ICML-.+"), label="SA Sem.", decimals=3,
               title="Semantic Affinity en-zh on Semanscope's four word lists (0-1, higher is better), mean over "
                     "the lists: mteb's task score"),
        Column(id="sa_semanscope_general", task="SemanticAffinity-Semanscope", key="semantic_affinity",
               selects=subset_regex("ICML-1-general"), label="SA gen.", decimals=3,
               title="Semantic Affinity en-zh on Semanscope's general vocabulary (ICML-1)"),
        Column(id="sa_semanscope_zinets", task="SemanticAffinity-Semanscope", key="semantic_affinity",
               selects=subset_regex("ICML-4-zinets"), label="SA ZiNets", decimals=3,
               title="Semantic Affinity en-zh on Semanscope's ZiNets list (ICML-4: Chinese character primitives)"),
    )


class SemanticAffinitySemanscopeRelations(MultiListAffinityTask):
    metadata = TaskMetadata(
        name="SemanticAffinity-SemanscopeRelations",
        description=DESCRIPTION + " Word lists: the words of Semanscope's 11 Relational Affinity sets; one subset "
                                  "per set, N-way SA over en, zh, es, de, tr." + PROVENANCE,
        dataset={"path": "mteb-xalign/semanscope-relations-sa",
                 "revision": folder_revision(*RELATION_LISTS.values())},
        eval_langs={name: [to_mteb(lang) for lang in RELATION_LANGUAGES] for name in RELATION_LISTS},
        sample_creation="machine-translated",
        **COMMON,
    )
    word_lists = RELATION_LISTS
    languages = RELATION_LANGUAGES
    leaderboard_columns = (
        Column(id="sa_semanscope_relations", task="SemanticAffinity-SemanscopeRelations", key="semantic_affinity",
               selects=subset_regex(r"NeurIPS-.+"), label="SA rel.", decimals=3,
               title="Semantic Affinity over en, zh, es, de, tr on the words of Semanscope's 11 relation sets "
                     "(0-1, higher is better), mean over the sets: mteb's task score"),
    )
