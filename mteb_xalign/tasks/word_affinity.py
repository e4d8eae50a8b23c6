"""The word-affinity task kind: word-level cross-lingual alignment (Semanscope's SA) on a word list.

Subsets: `<pivot>-X` for every other language X (pivot: English when present), or, for an
all-pairs task, `all`: the N-way comparison over every language. Each subset reports SA (main
score), SR, their standard errors, the spreads, the concept-weighted SA and the Euclidean
variant (see `mteb_xalign.metrics.affinity`), plus a `status` string: "ok", "collapsed"
(all embeddings nearly equal, or zero within-language spread: SA = 0) or "no_data" (no
concept in two of the subset's languages: SA = NaN, as mteb marks missing scores). The
`all` subset also holds `sa_matrix` = {"languages": [...], "sa": [[...]]}: SA of every
language pair (null on the diagonal), for heatmaps.

mteb 2.26 accepts only its fixed task types; we report under "BitextMining", the closest one
(the data are word-level translation pairs, and like mteb's bitext tasks words are encoded
without a query/document prompt: prompt_type=None), but this is not a mining task: no
nearest-neighbour search happens, the score is SA.

Every distinct word string of the languages the selected subsets need is encoded once per
model (through the shared embedding cache), on the first subset; every subset is scored
from those vectors. Each variant is encoded on its own and missing words are simply absent
(Semanscope's reference code reuses a row's first variant and encodes empty cells as "nan").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign import per_query

from mteb_xalign.errors import DataError
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics.affinity import AffinityResult, affinity_matrix, semantic_affinity
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import intervals
from mteb_xalign.task_rules import ScoreRule
from mteb_xalign.tasks import consistency
from mteb_xalign.tasks.base import LocalDataTask, custom_task_class, folder_revision
from mteb_xalign.wordlists import WordList, read_wordlist

ALL = "all"
DESCRIPTION = (
    "Word-level cross-lingual alignment: Semanscope's Semantic Affinity SA = 1/(1+SR), SR = mean "
    "cosine distance between translations (over the cross product of each concept's variants) / "
    "mean cosine distance between words of one language. 0.5 = translations no closer than random "
    "words, 1 = translations coincide. Reported under mteb's "
    "BitextMining type (the closest fixed type: word-level translation pairs), but scored with SA, "
    "not by mining."
)


def _finite(value: float) -> float | None:
    """JSON-safe: the result files are read by strict JSON parsers too (leaderboard)."""
    return float(value) if value is not None and math.isfinite(value) else None


def scores_from(result: AffinityResult, euclidean: AffinityResult | None = None) -> dict[str, Any]:
    scores: dict[str, Any] = {
        # NaN, not null, when there is no data: mteb's own convention for a missing main score.
        "semantic_affinity": float(result.semantic_affinity),
        "semantic_ratio": _finite(result.semantic_ratio),
        "sa_sem": _finite(result.sa_sem),
        "sr_sem": _finite(result.sr_sem),
        "horizontal_spread": _finite(result.horizontal_spread),
        "horizontal_sem": _finite(result.horizontal_sem),
        "vertical_spread": _finite(result.vertical_spread),
        "vertical_sem": _finite(result.vertical_sem),
        "semantic_affinity_concept_mean": _finite(result.semantic_affinity_concept_mean),
        "n_concepts": result.n_concepts,
        "n_tuples": result.n_tuples,
        "n_languages": result.n_languages,
        "status": result.status,
        "horizontal_spread_per_language": {k: _finite(v) for k, v in result.per_language_spread.items()},
    }
    if euclidean is not None:
        scores["semantic_affinity_euclidean"] = _finite(euclidean.semantic_affinity)
        scores["sa_sem_euclidean"] = _finite(euclidean.sa_sem)
        scores["status_euclidean"] = euclidean.status
        if euclidean.vertical_sampled:
            scores["euclidean_vertical_sampled"] = True
    return scores


def concept_outcomes(result: AffinityResult, concept_ids: list[str]) -> SubsetOutcomes:
    """One row per concept used (in >= 2 of the subset's languages): its tuple count and mean vertical
    spread, and H. Each concept is its own resampling unit: concepts are the sampled items (words of
    one concept share meaning, words of different concepts do not). H, the spread of each language's
    whole vocabulary, is held fixed under resampling: the interval is conditional on the word list's
    vocabulary and covers the sampling of concepts into V only."""
    used = [i for i, m in enumerate(result.concept_vertical) if m is not None]
    ids = tuple(concept_ids[i] for i in used)
    return SubsetOutcomes(ids, ids, {
        per_query.SA_WEIGHT: np.array([result.concept_tuples[i] for i in used], np.float64),
        per_query.SA_VERTICAL: np.array([result.concept_vertical[i] for i in used], np.float64),
        per_query.SA_HORIZONTAL: np.full(len(used), result.horizontal_spread, np.float64),
    })


def _not_ok(subset: str, entry: dict) -> bool:
    """Null spreads/ratios: a collapsed model (SR infinite) or no data."""
    return entry.get("status") in ("collapsed", "no_data")


def _no_data(subset: str, entry: dict) -> bool:
    return entry.get("status") == "no_data"


_NULL_IF_NOT_OK = dict(nan_allowed=_not_ok, why_nan='allowed only with status "collapsed" or "no_data"')


def affinity_subsets(languages: list[str], pivot: str, all_pairs: bool) -> dict[str, list[str]]:
    """subset name -> the languages it compares: `<pivot>-X` pairs, or the one N-way subset `all`."""
    if all_pairs:
        return {ALL: list(languages)}
    return {f"{pivot}-{lang}": [pivot, lang] for lang in languages if lang != pivot}


@dataclass
class AffinitySubset:
    name: str
    languages: list[str]


class SemanticAffinityTask(LocalDataTask):
    """The task kind. A concrete task sets `metadata`, `data_path`, `languages` (pivot first), `all_pairs`."""

    data_path: ClassVar[Path]
    languages: ClassVar[tuple[str, ...]]
    all_pairs: ClassVar[bool] = False
    score_shown_as_is = True  # SA lives on 0-1 and is read with three decimals
    abstask_prompt = "Retrieve words with the same meaning in other languages."

    score_rules: ClassVar[dict[str, ScoreRule]] = {
        r"semantic_affinity": ScoreRule(0.0, 1.0, nan_allowed=_no_data, why_nan='allowed only with status "no_data"'),
        r"semantic_affinity_(concept_mean|euclidean)": ScoreRule(0.0, 1.0, **_NULL_IF_NOT_OK),
        r"semantic_ratio|sa_sem|sr_sem|sa_sem_euclidean|(horizontal|vertical)_(spread|sem)": ScoreRule(
            0.0, None, **_NULL_IF_NOT_OK),
        r"n_concepts|n_tuples|n_languages": ScoreRule(0, None, integer=True),
        **intervals.score_rules(0.0, 1.0),
    }

    @property
    def subset_languages(self) -> dict[str, list[str]]:
        return affinity_subsets(list(self.languages), self.languages[0], self.all_pairs)

    @classmethod
    def from_folder(cls, path: str | Path, name: str, *, pivot: str | None = None,
                    **options: Any) -> type[SemanticAffinityTask]:
        """This task's kind over a word list (Swadesh-layout JSONL or Semanscope CSV), under `name`.

        The file is read (and checked) now, since its languages define the subsets; the pivot
        is English when present (else the first language), or `pivot=`.
        """
        if options:
            raise TypeError(f"{cls.__name__}.from_folder: unknown option(s) {sorted(options)}")
        words = read_wordlist(path)
        languages = list(words.languages)
        pivot = pivot or ("en" if "en" in languages else languages[0])
        if pivot not in languages:
            raise DataError(f"pivot language {pivot!r} not among {languages}", path=words.path)
        ordered = [pivot] + [lang for lang in languages if lang != pivot]
        subsets = affinity_subsets(ordered, pivot, cls.all_pairs)
        try:
            eval_langs = {s: [to_mteb(lang) for lang in langs] for s, langs in subsets.items()}
        except KeyError as exc:
            raise DataError(str(exc).strip("'\""), path=words.path) from None
        metadata = TaskMetadata(
            name=name,
            description=DESCRIPTION + f" Word list: {words.path.name}.",
            reference="https://github.com/digital-duck/semanscope",
            dataset={"path": f"mteb-xalign/{words.path.stem}", "revision": folder_revision(words.path)},
            type="BitextMining",
            category="t2t",
            modalities=["text"],
            eval_splits=["test"],
            eval_langs=eval_langs,
            main_score="semantic_affinity",
            date=None,
            domains=None,
            task_subtypes=[],
            license="not specified",
            annotations_creators=None,
            dialect=[],
            sample_creation=None,
            bibtex_citation="",
        )
        return custom_task_class(cls, name, metadata, data_path=words.path, languages=tuple(ordered))

    def _read_data(self) -> None:
        words = read_wordlist(self.data_path)
        if set(words.languages) != set(self.languages):
            raise DataError(f"word list languages {words.languages} differ from the task's {list(self.languages)}",
                            path=self.data_path)
        self.words: WordList = words

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        """{subset: {"n_concepts": count}} from the word list, for the leaderboard's validator: the
        concepts with words in at least two of the subset's languages (what the metric scores)."""
        self.load_data()
        return {name: {"n_concepts": sum(
                    1 for concept in self.words.concepts
                    if sum(1 for lang in self.subset_languages[name] if concept.words.get(lang)) >= 2)}
                for name in self.hf_subsets}

    def _subset_data(self, name: str) -> AffinitySubset:
        return AffinitySubset(name, self.subset_languages[name])

    def _needed_languages(self) -> list[str]:
        needed: dict[str, None] = {}
        for subset in self.hf_subsets:
            needed.update(dict.fromkeys(self.subset_languages[subset]))
        return list(needed)

    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts  # deferred: datasets is slow to import

        # One row per (language, word): the same string in two languages (pt/ro "eu") is one
        # text for a plain model (embed_texts sends it once: its cache key has no language), but
        # a per-language adapter (an alignment map) must embed it once per language.
        words = self.words_to_embed(self._needed_languages())
        vectors = embed_texts(
            model, [word for _, word in words], prompt_type=None, task_metadata=self.metadata, hf_split=split,
            encode_kwargs=encode_kwargs, languages=[lang for lang, _ in words],
        )
        return {"row": {key: i for i, key in enumerate(words)}, "vectors": vectors}

    def words_to_embed(self, languages: list[str]) -> list[tuple[str, str]]:
        """(language, word) for every distinct word of each language: the rows `concept_rows` indexes."""
        return [(lang, word) for lang in languages for word in self.words.unique_words([lang])]

    def concept_rows(self, row: dict[tuple[str, str], int], languages: list[str],
                     words: WordList | None = None) -> list[dict[str, list[int]]]:
        return [
            {lang: [row[(lang, w)] for w in concept.words.get(lang, [])] for lang in languages}
            for concept in (words or self.words).concepts
        ]

    def subset_words(self, data: AffinitySubset) -> WordList:
        """The word list a subset is scored on (one per task here; one per subset in a multi-list task)."""
        return self.words

    def _score_subset(self, data: AffinitySubset, embeddings) -> dict[str, Any]:
        languages = data.languages
        vectors = embeddings["vectors"]
        concepts = self.concept_rows(embeddings["row"], languages, self.subset_words(data))
        cosine = semantic_affinity(vectors, concepts, languages, metric="cosine")
        euclid = semantic_affinity(vectors, concepts, languages, metric="euclidean")
        scores = scores_from(cosine, euclid)
        if cosine.status == "ok":
            self._keep_outcomes(concept_outcomes(cosine, [c.id for c in self.subset_words(data).concepts]), scores)
        scores["subset_languages"] = list(languages)
        if data.name == ALL:
            matrix = affinity_matrix(vectors, concepts, languages, metric="cosine")
            scores["sa_matrix"] = {
                "languages": list(languages),
                "sa": [[_finite(v) for v in row] for row in matrix],
            }
        return scores

    def consistency_problems(self, subset: str, scores: dict) -> list[str]:
        if subset not in self.metadata.hf_subsets:
            return [f"{subset!r} is not a subset of {self.metadata.name}"]
        return consistency.affinity_problems(scores) + intervals.interval_problems(scores)

    def _calculate_descriptive_statistics_from_split(self, split, *, hf_subset=None, compute_overall=False, num_proc=None):
        if not self.data_loaded:
            self.load_data()
        subsets = [hf_subset] if hf_subset else list(self.metadata.hf_subsets)
        languages = sorted({lang for s in subsets for lang in self.subset_languages[s]})
        words = self.words.unique_words(languages)
        per_lang = {lang: sum(len(c.words.get(lang, [])) for c in self.words.concepts) for lang in languages}
        return {
            "num_samples": len(self.words.concepts),
            "number_of_characters": sum(len(w) for w in words),
            "unique_words": len(words),
            "words_per_language": per_lang,
        }
