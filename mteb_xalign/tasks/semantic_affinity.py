"""SemanticAffinity: word-level cross-lingual alignment (Semanscope's SA) as an MTEB task.

Subsets: `<pivot>-X` for every other language X (pivot: English when present), and `all`,
the N-way comparison over every language that has a concept. Each subset reports SA (main
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
from pathlib import Path
from typing import Any

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.errors import DataError
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics.affinity import AffinityResult, affinity_matrix, semantic_affinity
from mteb_xalign.tasks.base import LocalDataTask, folder_revision
from mteb_xalign.wordlists import WordList, read_wordlist

ALL = "all"
DESCRIPTION = (
    "Word-level cross-lingual alignment: Semanscope's Semantic Affinity SA = 1/(1+SR), SR = mean "
    "cosine distance between translations (over the cross product of each concept's variants) / "
    "mean cosine distance between words of one language. 0.5 = translations no closer than random "
    "words, 1 = translations coincide. Subsets <pivot>-X and 'all' (N-way). Reported under mteb's "
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


class SemanticAffinityTask(LocalDataTask):
    """The generic task kind; `make_semantic_affinity_task` makes a concrete task from a word list."""

    data_path: Path
    #: subset name -> the languages it compares
    subset_languages: dict[str, list[str]]
    abstask_prompt = "Retrieve words with the same meaning in other languages."

    def _read_data(self) -> None:
        words = read_wordlist(self.data_path)
        expected = self.subset_languages[ALL]
        if set(words.languages) != set(expected):
            raise DataError(f"word list languages {words.languages} differ from the task's {expected}", path=self.data_path)
        self.words: WordList = words

    def unload_data(self) -> None:
        super().unload_data()
        self._model = None

    def _needed_languages(self) -> list[str]:
        needed: dict[str, None] = {}
        for subset in self.hf_subsets:
            needed.update(dict.fromkeys(self.subset_languages[subset]))
        return list(needed)

    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts

        self._model, self._encode_kwargs = model, encode_kwargs  # see _score_subset
        texts = self.words.unique_words(self._needed_languages())
        vectors = embed_texts(
            model, texts, prompt_type=None, task_metadata=self.metadata, hf_split=split,
            encode_kwargs=encode_kwargs,
        )
        # One row per distinct string: the same string in two languages (pt/ro "eu") is one
        # text for the model, hence one vector, but a word of each language for the metric.
        return {"row": {text: i for i, text in enumerate(texts)}, "vectors": vectors}

    def concept_rows(self, row: dict[str, int], languages: list[str]) -> list[dict[str, list[int]]]:
        return [
            {lang: [row[w] for w in concept.words.get(lang, [])] for lang in languages}
            for concept in self.words.concepts
        ]

    def _score_subset(self, subset: str, embeddings) -> dict[str, Any]:
        languages = self.subset_languages[subset]
        if any(w not in embeddings["row"] for w in self.words.unique_words(languages)):
            # hf_subsets grew since the first subset was encoded: embed again (the cache
            # serves what is already known) rather than fail.
            embeddings.update(self._embed_all(self._model, encode_kwargs=self._encode_kwargs, split="test"))
        vectors = embeddings["vectors"]
        concepts = self.concept_rows(embeddings["row"], languages)
        cosine = semantic_affinity(vectors, concepts, languages, metric="cosine")
        euclid = semantic_affinity(vectors, concepts, languages, metric="euclidean")
        scores = scores_from(cosine, euclid)
        scores["subset_languages"] = list(languages)
        if subset == ALL:
            matrix = affinity_matrix(vectors, concepts, languages, metric="cosine")
            scores["sa_matrix"] = {
                "languages": list(languages),
                "sa": [[_finite(v) for v in row] for row in matrix],
            }
        return scores

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


def subsets_for(languages: list[str], pivot: str) -> dict[str, list[str]]:
    subsets = {f"{pivot}-{lang}": [pivot, lang] for lang in languages if lang != pivot}
    subsets[ALL] = list(languages)
    return subsets


def make_semantic_affinity_task(
    name: str,
    path: str | Path,
    *,
    languages: list[str],
    card: dict[str, Any] | None = None,
    pivot: str | None = None,
) -> type[SemanticAffinityTask]:
    """A task class over the word list at `path` whose languages are `languages`."""
    path = Path(path)
    card = card or {}
    pivot = pivot or ("en" if "en" in languages else languages[0])
    ordered = [pivot] + [lang for lang in languages if lang != pivot]
    subsets = subsets_for(ordered, pivot)
    try:
        eval_langs = {s: [to_mteb(lang) for lang in langs] for s, langs in subsets.items()}
    except KeyError as exc:
        raise DataError(str(exc).strip("'\""), path=path) from None
    metadata = TaskMetadata(
        name=name,
        description=DESCRIPTION + (f" Word list: {card['name']}." if card.get("name") else ""),
        reference=card.get("reference", "https://github.com/digital-duck/semanscope"),
        dataset={"path": f"mteb-xalign/{path.stem}", "revision": card.get("revision") or folder_revision(path)},
        type="BitextMining",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs,
        main_score="semantic_affinity",
        date=tuple(card["date"]) if card.get("date") else None,
        domains=card.get("domains"),
        task_subtypes=[],
        license=card.get("license", "not specified"),
        annotations_creators="human-annotated" if card else None,
        dialect=[],
        sample_creation="found" if card else None,
        bibtex_citation=card.get("citation", ""),
    )
    return type(name, (SemanticAffinityTask,), {
        "metadata": metadata, "data_path": path, "subset_languages": subsets, "__module__": __name__,
    })


def semantic_affinity_task(path: str | Path, name: str) -> type[SemanticAffinityTask]:
    """A SemanticAffinity task over a custom word list (Swadesh-layout JSONL or Semanscope CSV).

    The file is read (and checked) now, since its languages define the subsets.
    """
    words = read_wordlist(path)
    return make_semantic_affinity_task(name, words.path, languages=words.languages)


def bundled_semantic_affinity(datasets: Path) -> type[SemanticAffinityTask]:
    """SemanticAffinity on the shipped Swadesh-207 (languages from its card; file read lazily)."""
    import json

    folder = datasets / "swadesh207"
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    return make_semantic_affinity_task(
        "SemanticAffinity", folder / "swadesh207.jsonl", languages=list(card["languages"]), card=card,
    )
