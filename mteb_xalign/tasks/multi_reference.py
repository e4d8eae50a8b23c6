"""The multi-reference retrieval task kind, on any parallel QA corpus in the XQuAD layout.

For every pair (pivot, X) the document pool holds the pivot and X copies of every
paragraph, so a question has two gold documents. A model that is well aligned ranks both
copies on top; a model with "English inclination" ranks unrelated pivot-language
paragraphs above the same-language gold one. Four scenarios, each its own task (so mteb's
task score, the mean main score over the task's subsets, is one scenario's number), with
subsets named `<scenario>_<document languages joined by +>_q-<query language>`:

- `multi_P+X_q-Q`   pool P+X, gold = the paragraph in P and in X
- `multi1_P+X_q-Q`  the same pool without the query's same-language copy: only the other
                    copy is gold (|D| shrinks by one for that query)
- `monosame_Q_q-Q`  pool Q only (monolingual retrieval)
- `monocross_L_q-Q` pool L only, L != Q (conventional CLIR)

`pool="per-question"` reproduces the ICLR 2026 paper's protocol: one document per question
(|D| = 2 x #questions), paragraphs repeated; a question's own gold copies are identical to
the copies made for the other questions on the same paragraph, so those duplicates are left
out of its pool (their order against the gold would be arbitrary). Its tables use
`max_at_r_norm_of_mean` with the nominal |D|, reported here the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.types import PromptType

from mteb_xalign.errors import DataError
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics import ranking, retrieval
from mteb_xalign.parallel_data import (CONTEXTS_SUFFIX, QUESTIONS_SUFFIX, ParallelQA, Question, folder_languages,
                                      read_parallel_qa)
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import intervals
from mteb_xalign.task_rules import ScoreRule
from mteb_xalign.tasks import consistency
from mteb_xalign.tasks.base import LocalDataTask, custom_task_class, data_revision
from mteb_xalign.tasks.card import read_card
from mteb_xalign.tasks.multiref_subset import Subset

POOL_MODES = ("paragraph", "per-question")
UNIT = ScoreRule(0.0, 1.0)


def multiref_subsets(languages: list[str], pivot: str, scenarios: tuple[str, ...]) -> list[Subset]:
    """The subsets of `scenarios`, in this order: for XQuAD's 12 languages 22 multi, 22 multi1,
    12 monosame, 22 monocross."""
    others = [lang for lang in languages if lang != pivot]
    subsets: list[Subset] = []
    for scenario in scenarios:
        if scenario in ("multi", "multi1"):
            subsets += [Subset(scenario, (pivot, x), q) for x in others for q in (pivot, x)]
        elif scenario == "monosame":
            subsets += [Subset("monosame", (lang,), lang) for lang in languages]
        elif scenario == "monocross":
            subsets += [s for x in others for s in (Subset("monocross", (pivot,), x), Subset("monocross", (x,), pivot))]
        else:
            raise ValueError(f"unknown scenario {scenario!r}")
    return subsets


def multiref_eval_langs(languages: list[str], pivot: str, scenarios: tuple[str, ...]) -> dict[str, list[str]]:
    """mteb's `eval_langs`: subset name -> the MTEB codes of its document and query languages."""
    return {s.name: sorted({to_mteb(lang) for lang in (*s.doc_langs, s.query_lang)})
            for s in multiref_subsets(languages, pivot, scenarios)}


@dataclass
class Pool:
    """One subset's documents and gold sets, as rows of the subset's document matrix."""

    doc_keys: list[tuple[str, str]]  # (language, context id) of each pool row
    gold: list[np.ndarray]            # per query; the same-language copy first when present
    exclude: list[np.ndarray] | None
    is_pivot: np.ndarray


@dataclass
class SubsetData:
    subset: Subset
    questions: list[Question]
    pool: Pool


class MultiReferenceRetrieval(LocalDataTask):
    """The task kind. A concrete task sets `metadata`, `data_folder`, `scenarios` (and `pivot`, `pool`)."""

    data_folder: ClassVar[Path]
    scenarios: ClassVar[tuple[str, ...]] = ("multi",)
    pivot: ClassVar[str] = "en"
    pool: ClassVar[str] = "paragraph"

    score_rules: ClassVar[dict[str, ScoreRule]] = {
        r"max_at_r_norm(_of_mean)?": UNIT,
        r"max_at_r": ScoreRule(1.0, None),
        r"complete_at_\d+|ndcg_at_1_pessimistic|mrr|map": UNIT,
        r"(same_)?language_preference(_chance)?": UNIT,
        r"n_queries": ScoreRule(1, None, integer=True),
        r"mean_pool_size": ScoreRule(1.0, None),
        **intervals.score_rules(0.0, 1.0),
    }

    @classmethod
    def from_folder(cls, path: str | Path, name: str, *, pivot: str | None = None, pool: str | None = None,
                    **options: Any) -> type[MultiReferenceRetrieval]:
        """This task's kind and scenarios over any folder in the XQuAD layout, under `name`.

        `card.json` in the folder adds licence, citation and reference; `pivot` and `pool`
        default to this task's.
        """
        if options:
            raise TypeError(f"{cls.__name__}.from_folder: unknown option(s) {sorted(options)}")
        folder = Path(path)
        pivot = pivot or cls.pivot
        pool = pool or cls.pool
        if pool not in POOL_MODES:
            raise ValueError(f"unknown pool mode {pool!r}; use one of {POOL_MODES}")
        found = _languages_in(folder)
        card = read_card(folder, found)
        languages = card.get("languages") or found
        if pivot not in languages:
            raise DataError(f"pivot language {pivot!r} not among {languages}", path=folder)
        languages = [pivot] + sorted(lang for lang in languages if lang != pivot)
        metadata = TaskMetadata(
            name=name,
            description=(
                f"Multi-reference cross-lingual retrieval on {card.get('name', folder.name)}, scenario(s) "
                f"{', '.join(cls.scenarios)}: exact ranks over the full pool; Max@R (worst gold rank) exposes "
                f"models that prefer unrelated {pivot} documents to the same-language gold one."
                + (" Pool: one document per question (paper protocol)." if pool == "per-question" else "")
            ),
            reference=card.get("reference", "https://github.com/google-deepmind/xquad"),
            dataset={"path": f"mteb-xalign/{folder.name}", "revision": data_revision(
                folder, label=card.get("revision") if isinstance(card.get("revision"), str) else None,
                options={key: value for key, value, default in (("pivot", pivot, "en"), ("pool", pool, "paragraph"))
                         if value != default})},
            type="Retrieval",
            category="t2t",
            modalities=["text"],
            eval_splits=["test"],
            eval_langs=multiref_eval_langs(languages, pivot, cls.scenarios),
            main_score="max_at_r_norm",
            date=tuple(card["date"]) if card.get("date") else None,
            domains=card.get("domains"),
            task_subtypes=["Question answering"],
            license=card.get("license", "not specified"),
            annotations_creators="human-annotated",
            dialect=[],
            sample_creation="human-translated" if card else "found",
            bibtex_citation=card.get("citation", ""),
            prompt={"query": "Given a question, retrieve the paragraph that answers it"},
        )
        return custom_task_class(cls, name, metadata, data_folder=folder, pivot=pivot, pool=pool)

    # -- data -------------------------------------------------------------------------
    def _read_data(self) -> None:
        self.corpus: ParallelQA = read_parallel_qa(self.data_folder, pivot=self.pivot)

    def _subset_data(self, name: str) -> SubsetData:
        subset = Subset.parse(name)
        questions = self.corpus.questions[subset.query_lang]
        pool = build_pool(self.corpus, subset, questions, self.pool, self.pivot)
        check_something_to_rank(self.corpus, subset, questions, pool, self.pool)
        return SubsetData(subset, questions, pool)

    def _subset_statistics(self, data: SubsetData) -> dict[str, int]:
        return {"num_samples": len(data.questions) + len(data.pool.doc_keys),
                "number_of_queries": len(data.questions), "number_of_documents": len(data.pool.doc_keys),
                "number_of_relevant_docs": sum(map(len, data.pool.gold))}

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        """{subset: {"n_queries": count}} from the data, for the leaderboard's validator."""
        self.load_data()
        return {name: {"n_queries": len(self.dataset[name][split].questions)}
                for name in self.hf_subsets for split in self.metadata.eval_splits[:1]}

    # -- encoding ---------------------------------------------------------------------
    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts  # deferred: datasets is slow to import

        doc_langs, query_langs = set(), set()
        for name in self.hf_subsets:
            subset = Subset.parse(name)
            doc_langs.update(subset.doc_langs)
            query_langs.add(subset.query_lang)
        corpus = self.corpus
        doc_order = [(lang, cid) for lang in corpus.languages if lang in doc_langs for cid in corpus.contexts[lang]]
        query_order = [(lang, i) for lang in corpus.languages if lang in query_langs
                       for i in range(len(corpus.questions[lang]))]
        common = dict(task_metadata=self.metadata, hf_split=split, encode_kwargs=encode_kwargs)
        doc_vecs = embed_texts(model, [corpus.contexts[lang][cid] for lang, cid in doc_order],
                               prompt_type=PromptType.document, **common,
                               languages=[lang for lang, _ in doc_order])
        query_vecs = embed_texts(model, [corpus.questions[lang][i].text for lang, i in query_order],
                                 prompt_type=PromptType.query, **common,
                                 languages=[lang for lang, _ in query_order])
        docs: dict[str, dict[str, np.ndarray]] = {}
        for (lang, cid), vec in zip(doc_order, doc_vecs):
            docs.setdefault(lang, {})[cid] = vec
        queries: dict[str, list[np.ndarray]] = {}
        for (lang, _), vec in zip(query_order, query_vecs):
            queries.setdefault(lang, []).append(vec)
        return {"docs": docs, "queries": {lang: np.stack(v) for lang, v in queries.items()}}

    # -- scoring ----------------------------------------------------------------------
    def _score_subset(self, data: SubsetData, embeddings) -> dict[str, Any]:
        subset, pool = data.subset, data.pool
        doc_matrix = np.stack([embeddings["docs"][lang][cid] for lang, cid in pool.doc_keys])
        query_matrix = embeddings["queries"][subset.query_lang]
        result = ranking.gold_ranks(
            query_matrix, doc_matrix, pool.gold, exclude=pool.exclude,
            masks={"pivot": pool.is_pivot, "other": ~pool.is_pivot},
            device="auto",  # the GPU when there is one, else numpy
        )
        # The paper normalises the mean Max@R of its per-question pool with the nominal |D| = 2 x #questions.
        nominal = len(pool.doc_keys) if self.pool == "per-question" else None
        values = retrieval.per_query_values(result, ks=retrieval.DEFAULT_KS)
        scores: dict[str, Any] = retrieval.summarize(result, ks=retrieval.DEFAULT_KS, nominal_pool=nominal,
                                                     values=values)
        if subset.scenario == "multi":
            mask = _other_mask(subset, self.pivot)
            # gold position 0 is the same-language copy (build_pool puts it first)
            values["language_preference"] = retrieval.language_preference_indicator(result, mask, 0)
            scores["language_preference"] = float(values["language_preference"].mean())
            scores["language_preference_chance"] = retrieval.language_preference_chance(result, mask)
            # The other direction: the other-language gold (position 1) outranked or tied by an
            # irrelevant paragraph of the question's own language (a model that separates languages).
            same = "pivot" if mask == "other" else "other"
            values["same_language_preference"] = retrieval.language_preference_indicator(result, same, 1)
            scores["same_language_preference"] = float(values["same_language_preference"].mean())
            scores["same_language_preference_chance"] = retrieval.language_preference_chance(result, same)
        scores["pool"] = self.pool
        self._keep_outcomes(SubsetOutcomes(tuple(q.id for q in data.questions),
                                           tuple(self.corpus.article(q.context_id) for q in data.questions),
                                           values), scores)
        return scores

    # -- declared rules ---------------------------------------------------------------
    def consistency_problems(self, subset: str, scores: dict) -> list[str]:
        parsed = Subset.try_parse(subset)
        if parsed is None or subset not in self.metadata.hf_subsets:
            return [f"{subset!r} is not a subset of {self.metadata.name}"]
        self.load_data()
        data: SubsetData = self.dataset[subset][self.metadata.eval_splits[0]]
        n_gold = float(np.mean([len(g) for g in data.pool.gold]))
        n_rows = len(data.pool.doc_keys)
        sizes = [n_rows - (len(e) if data.pool.exclude is not None else 0)
                 for e in (data.pool.exclude or [()] * len(data.questions))]
        same_pool = len(set(sizes)) == 1
        problems = consistency.retrieval_problems(scores, n_gold=n_gold, pool_size=float(np.mean(sizes)),
                                                  same_pool_for_every_query=same_pool)
        problems += consistency.equal_count_problem(scores, "n_queries", len(data.questions),
                                                    "the task's number of questions")
        problems += consistency.equal_count_problem(scores, "mean_pool_size", float(np.mean(sizes)),
                                                    "the task's pool size")
        nominal = n_rows if self.pool == "per-question" else float(np.mean(sizes))
        problems += consistency.norm_of_mean_problem(scores, pool=nominal, n_gold=n_gold)
        problems += intervals.interval_problems(scores)
        if parsed.scenario == "multi" and self.pool == "paragraph":
            # Every query has the same number of irrelevant other-language documents.
            chance = _language_preference_chance(data.pool, parsed, self.pivot)
            problems += consistency.equal_count_problem(scores, "language_preference_chance", chance,
                                                        "its value for this pool")
            same = _language_preference_chance(data.pool, parsed, self.pivot, same_language=True)
            problems += consistency.equal_count_problem(scores, "same_language_preference_chance", same,
                                                        "its value for this pool")
        return problems


def _other_mask(subset: Subset, pivot: str) -> str:
    """The mask of the pool language that is not the query's: pivot docs for X queries, X docs for pivot queries."""
    return "other" if subset.query_lang == pivot else "pivot"


def _language_preference_chance(pool: Pool, subset: Subset, pivot: str, same_language: bool = False) -> float:
    """language_preference_chance from the pool alone (no scores): the mean over queries of
    1 - 1/(n + 1), n = irrelevant (not gold, not excluded) documents of the other pool language
    (`same_language`: of the query's own language, for same_language_preference_chance)."""
    other = ~pool.is_pivot if (subset.query_lang == pivot) != same_language else pool.is_pivot
    values = []
    for q, gold in enumerate(pool.gold):
        left_out = set(gold.tolist()) | (set(pool.exclude[q].tolist()) if pool.exclude is not None else set())
        n = int(other.sum()) - sum(1 for d in left_out if other[d])
        values.append(1.0 - 1.0 / (n + 1))
    return float(np.mean(values))


def build_pool(corpus: ParallelQA, subset: Subset, questions: list[Question], pool_mode: str, pivot: str) -> Pool:
    q_lang = subset.query_lang
    # Same-language copy first: language_preference looks at gold position 0.
    gold_langs = sorted(subset.doc_langs, key=lambda lang: lang != q_lang)
    if subset.scenario == "multi1":
        gold_langs = [lang for lang in gold_langs if lang != q_lang]
    if pool_mode == "paragraph":
        doc_keys = [(lang, cid) for lang in subset.doc_langs for cid in corpus.contexts[lang]]
        row = {key: i for i, key in enumerate(doc_keys)}
        gold = [np.array([row[(lang, q.context_id)] for lang in gold_langs]) for q in questions]
        exclude = None
        if subset.scenario == "multi1":
            exclude = [np.array([row[(q_lang, q.context_id)]]) for q in questions]
    elif pool_mode == "per-question":
        n = len(questions)
        doc_keys = [(lang, q.context_id) for lang in subset.doc_langs for q in questions]
        offset = {lang: k * n for k, lang in enumerate(subset.doc_langs)}
        by_context: dict[str, list[int]] = {}
        for i, q in enumerate(questions):
            by_context.setdefault(q.context_id, []).append(i)
        gold = [np.array([offset[lang] + i for lang in gold_langs]) for i in range(n)]
        exclude = []
        for i, q in enumerate(questions):
            dup = [offset[lang] + j for lang in subset.doc_langs for j in by_context[q.context_id] if j != i]
            if subset.scenario == "multi1":
                dup.append(offset[q_lang] + i)
            exclude.append(np.array(sorted(dup), dtype=np.int64))
    else:
        raise ValueError(f"unknown pool mode {pool_mode!r}; use one of {POOL_MODES}")
    is_pivot = np.array([lang == pivot for lang, _ in doc_keys])
    return Pool(doc_keys, gold, exclude, is_pivot)


def check_something_to_rank(corpus: ParallelQA, subset: Subset, questions: list[Question], pool: Pool,
                            pool_mode: str) -> None:
    """Refuse a pool no larger than a query's gold set: Max@R_norm is 0/0 there, and every metric would
    call any model perfect, a constant one included (e.g. one paragraph per language)."""
    for q, question in enumerate(questions):
        size = len(pool.doc_keys) - (len(pool.exclude[q]) if pool.exclude is not None else 0)
        if size > len(pool.gold[q]):
            continue
        if pool_mode == "per-question":
            path = corpus.folder / f"{subset.query_lang}{QUESTIONS_SUFFIX}"
            cause = (f"all {len(questions)} questions are on paragraph {question.context_id!r}, so under "
                     "--pool per-question a question's pool holds only its gold copies")
            fix = "questions on at least two paragraphs are needed"
        else:
            files = [f"{lang}{CONTEXTS_SUFFIX}" for lang in subset.doc_langs]
            path = corpus.folder / files[0] if len(files) == 1 else corpus.folder
            cause = (f"{' and '.join(files)} hold{'s' if len(files) == 1 else ''} one paragraph each, so a question's "
                     "pool holds only its gold copies")
            fix = "each language needs at least two paragraphs"
        raise DataError(f"subset {subset.name}: {cause} ({size} document(s), {len(pool.gold[q])} gold): nothing to "
                        f"rank, and any model, a constant one included, would score 1.0: {fix}", path=path)


def _languages_in(folder: Path) -> list[str]:
    langs = folder_languages(folder)  # refuses file names that are not one language code
    if not langs:
        raise DataError("no <lang>.contexts.jsonl files found", path=folder)
    return langs
