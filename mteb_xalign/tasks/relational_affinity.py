"""RelationalAffinity: does a relation between two words point the same way in every language?

Data: Semanscope's 11 Relational Affinity sets (`datasets/semanscope/NeurIPS-*-v2.5-RA.csv`,
50 relations each, 550 in all: family, royalty, gendered occupations, comparative/superlative,
opposites, animal gender, sequences, hierarchies, part-whole, size/scale, cause-effect) in
en, zh, es, de, tr; machine-translated, their `verified` column says "pending".

Subsets: every language pair (en-zh, en-es, en-de, en-tr first, then zh-es, ..., de-tr). Per
subset, over the 550 relations pooled (`metrics/relational.py`):
- `relational_affinity` (main score): mean over relations of cos(R_a(r), R_b(r)), R = u(word2) -
  u(word1) of unit vectors; 1 = every relation points the same way in both languages, ~0 =
  unrelated. mteb's task score is its mean over the 10 pairs.
- `relational_affinity_sem`: standard error of that mean over relations (std / sqrt(n); treats
  relations as independent), `relational_affinity_per_set`: the mean within each of the 11 sets.
- `n_relations`, `n_relations_defined`, `status`: a relation whose two words are one string in a
  language (Turkish "garson" is both waiter and waitress) or one vector for the model has no
  relation vector there: it is left out of that pair for both languages and counted ("partial");
  none defined gives NaN ("undefined"), e.g. for a constant model.
- `within_language_consistency`: mean of the two languages' consistency (mean pairwise cosine of
  a language's relation vectors within a set, then over sets), and per language.

The defined per-relation cosines are the subset's per-query outcomes (per_query.py: one row and
one resampling cluster per relation, "<set>/<relation_id>"), so `main_score_ci95_*` is a bootstrap
over relations; `relation_outcomes(subset)` also gives them, NaN where undefined, for the last model.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics.relational import (
    STATUS_UNDEFINED,
    cross_lingual_ra,
    summarize,
    within_language_consistency,
)
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import intervals
from mteb_xalign.task_rules import Column, ScoreRule, subset_regex
from mteb_xalign.tasks.base import LocalDataTask, folder_revision
from mteb_xalign.tasks.semanscope import CITATION, COMMON, RELATION_LANGUAGES, RELATION_TOPICS, SEMANSCOPE
from mteb_xalign.wordlists import Relation, read_relations

RA_FILES = {f"NeurIPS-{topic}": SEMANSCOPE / f"NeurIPS-{topic}-v2.5-RA.csv" for topic in RELATION_TOPICS}
TOL = 1e-6


def pair_subsets(languages: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Every unordered language pair, pairs with the first language (the pivot) first."""
    return {f"{a}-{b}": (a, b) for a, b in itertools.combinations(languages, 2)}


@dataclass
class PairSubset:
    name: str
    languages: tuple[str, str]


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _undefined(subset: str, entry: dict) -> bool:
    return entry.get("status") == STATUS_UNDEFINED


def _not_ok(subset: str, entry: dict) -> bool:
    return entry.get("status") != "ok"


class RelationalAffinity(LocalDataTask):
    metadata = TaskMetadata(
        name="RelationalAffinity",
        description="Relational Affinity (after Semanscope): whether a relation between two words (husband->wife, "
                    "big->bigger, cause->effect) points the same way in two languages. RA of a language pair = mean "
                    "over 550 relations (Semanscope's 11 sets) of the cosine between the two languages' relation "
                    "vectors u(word2)-u(word1) of L2-normalised embeddings; 1 = same direction, ~0 = unrelated. "
                    "Relations whose two words coincide in a language are left out of its pairs (counted). "
                    "Reported under mteb's BitextMining type (the closest fixed type), scored by RA, not mining. "
                    "Data: Semanscope (github.com/digital-duck/semanscope, MIT, Copyright (c) 2026 digital-duck), "
                    "machine-translated (Claude, DeepL); the source marks them 'verified: pending': not human "
                    "translations.",
        dataset={"path": "mteb-xalign/semanscope-relations", "revision": folder_revision(*RA_FILES.values())},
        eval_langs={name: [to_mteb(a), to_mteb(b)] for name, (a, b) in pair_subsets(RELATION_LANGUAGES).items()},
        sample_creation="machine-translated",
        **{**COMMON, "main_score": "relational_affinity", "bibtex_citation": CITATION},
    )
    files = RA_FILES
    score_shown_as_is = True  # RA: a mean cosine in [-1, 1], read with three decimals
    languages = RELATION_LANGUAGES
    abstask_prompt = "Retrieve words with the same meaning in other languages."

    score_rules: ClassVar[dict[str, ScoreRule]] = {
        r"relational_affinity": ScoreRule(-1.0, 1.0, nan_allowed=_undefined,
                                          why_nan='allowed only with status "undefined"'),
        r"relational_affinity_sem|within_language_consistency": ScoreRule(
            -1.0, 1.0, nan_allowed=_not_ok, why_nan='allowed only with status "partial" or "undefined"'),
        r"n_relations|n_relations_defined": ScoreRule(0, None, integer=True),
        **intervals.score_rules(-1.0, 1.0),
    }
    leaderboard_columns = (
        Column(id="relational_affinity", task="RelationalAffinity", key="relational_affinity",
               selects=subset_regex(r".+-.+"), label="RA", decimals=3,
               title="Relational Affinity (-1..1, higher is better; ~0 = unrelated): mean cosine between two "
                     "languages' vectors of the same relation, mean over the 10 pairs of en, zh, es, de, tr: "
                     "mteb's task score"),
        Column(id="relational_affinity_en", task="RelationalAffinity", key="relational_affinity",
               selects=subset_regex(r"en-.+"), label="RA en-X", decimals=3,
               language_of=lambda subset: subset.removeprefix("en-"),
               title="Relational Affinity of English with zh, es, de, tr (mean over the 4 pairs)"),
    )

    def _read_data(self) -> None:
        # (set, relation); ids repeat across the sets (each file numbers its own)
        self.relations: list[tuple[str, Relation]] = [
            (name, relation) for name, path in self.files.items()
            for relation in read_relations(path, list(self.languages)).relations
        ]

    def _subset_data(self, name: str) -> PairSubset:
        return PairSubset(name, pair_subsets(self.languages)[name])

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        self.load_data()
        return {name: {"n_relations": len(self.relations)} for name in self.hf_subsets}

    def _needed_languages(self) -> list[str]:
        return list(dict.fromkeys(lang for s in self.hf_subsets for lang in pair_subsets(self.languages)[s]))

    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts  # deferred: datasets is slow to import

        words = list(dict.fromkeys((lang, w) for lang in self._needed_languages()
                                   for _, rel in self.relations for w in rel.words[lang]))
        vectors = embed_texts(
            model, [w for _, w in words], prompt_type=None, task_metadata=self.metadata, hf_split=split,
            encode_kwargs=encode_kwargs, languages=[lang for lang, _ in words],
        )
        row = {key: i for i, key in enumerate(words)}
        by_language = {}
        for lang in self._needed_languages():
            first = [row[(lang, rel.words[lang][0])] for _, rel in self.relations]
            second = [row[(lang, rel.words[lang][1])] for _, rel in self.relations]
            by_language[lang] = (vectors[first], vectors[second])
        self._outcomes: dict[str, np.ndarray] = {}
        return by_language

    def relation_ids(self) -> list[str]:
        """One name per relation, "<set>/<relation_id>" (ids repeat across the sets)."""
        return [f"{name}/{rel.id}" for name, rel in self.relations]

    def relation_outcomes(self, subset: str) -> tuple[list[str], np.ndarray]:
        """(relation ids, per-relation cosine, NaN where undefined) of `subset` for the last scored model."""
        return self.relation_ids(), self._outcomes[subset]

    def _score_subset(self, data: PairSubset, embeddings) -> dict[str, Any]:
        a, b = data.languages
        result = cross_lingual_ra(*embeddings[a], *embeddings[b])
        self._outcomes[data.name] = result.per_relation
        sets = np.array([name for name, _ in self.relations], dtype=object)
        categories = [rel.category for _, rel in self.relations]
        values = result.per_relation[~np.isnan(result.per_relation)]
        sem = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) >= 2 else float("nan")
        within = {lang: within_language_consistency(*embeddings[lang], [f"{s}/{c}" for s, c in zip(sets, categories)])
                  for lang in (a, b)}
        within_values = [w.consistency for w in within.values()]
        scores = {
            "relational_affinity": float(result.relational_affinity),  # NaN, as mteb marks a missing main score
            "relational_affinity_sem": _finite(sem),
            "relational_affinity_per_set": {name: _finite(summarize(result.per_relation[sets == name]).relational_affinity)
                                            for name in self.files},
            "n_relations": result.n_relations,
            "n_relations_defined": result.n_defined,
            "status": result.status,
            "within_language_consistency": _finite(float(np.mean(within_values))),
            "within_language_consistency_per_language": {lang: _finite(w.consistency) for lang, w in within.items()},
            "subset_languages": [a, b],
        }
        if result.n_defined:
            # one row per defined relation, each its own resampling unit: RA is their plain mean
            defined = ~np.isnan(result.per_relation)
            ids = tuple(name for name, keep in zip(self.relation_ids(), defined) if keep)
            self._keep_outcomes(SubsetOutcomes(ids, ids, {"relational_affinity": result.per_relation[defined]}),
                                scores)
        return scores

    def consistency_problems(self, subset: str, scores: dict) -> list[str]:
        if subset not in self.metadata.hf_subsets:
            return [f"{subset!r} is not a subset of {self.metadata.name}"]
        problems = []
        n, defined = scores.get("n_relations"), scores.get("n_relations_defined")
        status, ra = scores.get("status"), scores.get("relational_affinity")
        if isinstance(n, int) and isinstance(defined, int):
            if defined > n:
                problems.append(f"n_relations_defined ({defined}) exceeds n_relations ({n})")
            expected = "ok" if defined == n else ("undefined" if defined == 0 else "partial")
            if status != expected:
                problems.append(f"status {status!r} but {defined} of {n} relations defined (expected {expected!r})")
        ra_missing = ra is None or (isinstance(ra, float) and math.isnan(ra))
        if ra_missing != (status == STATUS_UNDEFINED):
            problems.append(f"relational_affinity is {'NaN' if ra_missing else 'a number'} with status {status!r}")
        per_set = scores.get("relational_affinity_per_set")
        self.load_data()
        equal_sets = len({sum(1 for name, _ in self.relations if name == s) for s in self.files}) == 1
        if isinstance(per_set, dict) and not ra_missing and status == "ok" and equal_sets:
            values = [v for v in per_set.values() if isinstance(v, (int, float))]
            # every relation defined and sets of equal size: the pooled mean is the mean of the set means
            if len(values) == len(per_set) and abs(float(np.mean(values)) - ra) > 1e-5:
                problems.append(f"relational_affinity ({ra:g}) differs from the mean of the per-set values "
                                f"({float(np.mean(values)):.6f})")
        return problems + intervals.interval_problems(scores)

    def _calculate_descriptive_statistics_from_split(self, split, *, hf_subset=None, compute_overall=False,
                                                     num_proc=None) -> dict[str, Any]:
        if not self.data_loaded:
            self.load_data()
        words = {(lang, w) for _, rel in self.relations for lang in self.languages for w in rel.words[lang]}
        return {"num_samples": len(self.relations), "number_of_characters": sum(len(w) for _, w in words),
                "unique_words": len(words)}
