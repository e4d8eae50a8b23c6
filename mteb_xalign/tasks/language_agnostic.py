"""The language-agnostic retrieval task kind: answer retrieval from a pool of all languages' sentences.

The pool is every sentence of every language (about 13k for XQuAD-R); a question's gold set
is the sentence holding its answer in each language (11). A model scores well only if it
retrieves answers in every language, not just its own: strong "language bias" shows up as
a low mean average precision (Roy et al., 2020). AP is computed over the full pool.
Subsets `q-<lang>`: one per query language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from mteb.types import PromptType

from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import read_jsonl
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics import ranking, retrieval
from mteb_xalign.parallel_data import Question, language_files, read_parallel_qa
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import intervals
from mteb_xalign.task_rules import ScoreRule
from mteb_xalign.tasks import consistency
from mteb_xalign.tasks.base import LocalDataTask, custom_task_class, folder_revision
from mteb_xalign.tasks.card import read_card
from mteb_xalign.text_rules import IdLines, check_text, normalisation_note

UNIT = ScoreRule(0.0, 1.0)
SENTENCES_SUFFIX = ".sentences.jsonl"
QRELS_SUFFIX = ".qrels.jsonl"


@dataclass
class QueryLanguage:
    """One subset: the questions of one language and their gold rows in the shared pool."""

    language: str
    questions: list[Question]
    gold: list[np.ndarray]


class LanguageAgnosticRetrieval(LocalDataTask):
    """The task kind. A concrete task sets `metadata`, `sentences_folder`, `questions_folder`, `languages`."""

    sentences_folder: ClassVar[Path]
    questions_folder: ClassVar[Path]
    languages: ClassVar[tuple[str, ...]]

    score_rules: ClassVar[dict[str, ScoreRule]] = {
        r"max_at_r_norm(_of_mean)?": UNIT,
        r"max_at_r": ScoreRule(1.0, None),
        r"complete_at_\d+|ndcg_at_1_pessimistic|mrr|map": UNIT,
        r"n_queries": ScoreRule(1, None, integer=True),
        r"mean_pool_size": ScoreRule(1.0, None),
        **intervals.score_rules(0.0, 1.0),
    }

    @classmethod
    def from_folder(cls, path: str | Path, name: str, *, questions: str | Path | None = None,
                    **options: Any) -> type[LanguageAgnosticRetrieval]:
        """This kind over `<lang>.sentences.jsonl` + `<lang>.qrels.jsonl` in `path`, with the questions in
        `questions`, a folder in the XQuAD layout (default: `path` itself), under `name`."""
        from mteb.abstasks.task_metadata import TaskMetadata  # deferred: mteb is slow to import

        if options:
            raise TypeError(f"{cls.__name__}.from_folder: unknown option(s) {sorted(options)}")
        folder = Path(path)
        questions_folder = Path(questions) if questions is not None else folder
        if not folder.is_dir():
            raise DataError("not a folder (expected <lang>.sentences.jsonl and <lang>.qrels.jsonl files)", path=folder)
        # A stray file (en.old.sentences.jsonl) is refused by name, never read as a second "en".
        found = sorted(language_files(folder, SENTENCES_SUFFIX))
        languages = tuple(sorted(found, key=lambda lang: lang != "en"))  # English (the usual pivot) first
        if not languages:
            raise DataError("no <lang>.sentences.jsonl files found", path=folder)
        card = read_card(folder, found)
        if card.get("languages"):
            languages = tuple(sorted(card["languages"], key=lambda lang: lang != "en"))
        codes = sorted(to_mteb(lang) for lang in languages)  # checked by language_files
        metadata = TaskMetadata(
            name=name,
            description=f"Language-agnostic answer retrieval on {card.get('name', folder.name)}: one pool of every "
                        "language's sentences; a question's gold set is its answer sentence in every language.",
            reference=card.get("reference"),
            dataset={"path": f"mteb-xalign/{folder.name}", "revision": folder_revision(folder, questions_folder)},
            type="Retrieval", category="t2t", modalities=["text"], eval_splits=["test"],
            eval_langs={f"q-{lang}": codes for lang in languages}, main_score="map",
            date=tuple(card["date"]) if card.get("date") else None, domains=card.get("domains"),
            task_subtypes=["Question answering"], license=card.get("license", "not specified"),
            annotations_creators=None, dialect=[], sample_creation=None, bibtex_citation=card.get("citation", ""),
        )
        return custom_task_class(cls, name, metadata, sentences_folder=folder, questions_folder=questions_folder,
                                 languages=languages)

    @property
    def ks(self) -> tuple[int, ...]:
        """complete_at_k for the usual k and for k = the number of languages (one gold per language)."""
        return tuple(sorted({*retrieval.DEFAULT_KS, len(self.languages)}))

    def _read_data(self) -> None:
        qa = read_parallel_qa(self.questions_folder, pivot=self.languages[0])
        sentence_files = language_files(self.sentences_folder, SENTENCES_SUFFIX)
        qrels_files = language_files(self.sentences_folder, QRELS_SUFFIX)
        self.article = qa.article  # the resampling cluster of a question's paragraph
        self.sentences: list[tuple[str, str, str]] = []  # (lang, sentence id, text)
        row: dict[tuple[str, str], int] = {}
        for lang in self.languages:
            if lang not in sentence_files:
                raise DataError(f"no {lang}.sentences.jsonl", path=self.sentences_folder)
            path = sentence_files[lang]
            ids = IdLines("sentence id", path)
            for lineno, obj in read_jsonl(path, {"id": str, "text": str}):
                ids.add(obj["id"], lineno)
                check_text(obj["text"], f"sentence {obj['id']!r}", path=path, line=lineno)
                row[(lang, obj["id"])] = len(self.sentences)
                self.sentences.append((lang, obj["id"], obj["text"]))
        answers: dict[str, list[int]] = {}  # question id -> gold rows across languages
        for lang in self.languages:
            if lang not in qrels_files:
                raise DataError(f"no {lang}.qrels.jsonl for {sentence_files[lang].name}", path=self.sentences_folder)
            path = qrels_files[lang]
            for lineno, obj in read_jsonl(path, {"question_id": str, "sentence_ids": list}):
                for sid in obj["sentence_ids"]:
                    if (lang, sid) not in row:
                        known = (key for (lang_, key) in row if lang_ == lang)
                        raise DataError(f"unknown sentence id {sid!r} (not in {sentence_files[lang].name}"
                                        f"{normalisation_note(str(sid), known)})", path=path, line=lineno)
                    answers.setdefault(obj["question_id"], []).append(row[(lang, sid)])
        self.questions = {}
        for lang in self.languages:
            if lang not in qa.questions:
                raise DataError(f"no questions for {lang!r}", path=self.questions_folder)
            missing = [q.id for q in qa.questions[lang] if q.id not in answers]
            if missing:
                raise DataError(f"{len(missing)} {lang} question(s) have no answer sentence, e.g. {missing[0]!r}"
                                f"{normalisation_note(missing[0], answers)}", path=self.sentences_folder)
            self.questions[lang] = qa.questions[lang]
        self.answers = {qid: np.array(sorted(set(rows))) for qid, rows in answers.items()}
        for lang in self.languages:
            for q in self.questions[lang]:
                if len(self.answers[q.id]) >= len(self.sentences):
                    # Every metric would be perfect for any model, a constant one included.
                    raise DataError(f"question {q.id!r}: its answer sentences are the whole pool "
                                    f"({len(self.sentences)} sentences), so every model would score 1.0 on it; "
                                    "the pool needs sentences that do not answer it", path=self.sentences_folder)

    def _subset_data(self, name: str) -> QueryLanguage:
        lang = name.removeprefix("q-")
        questions = self.questions[lang]
        return QueryLanguage(lang, questions, [self.answers[q.id] for q in questions])

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        """{subset: {"n_queries": count}} from the data, for the leaderboard's validator."""
        self.load_data()
        split = self.metadata.eval_splits[0]
        return {name: {"n_queries": len(self.dataset[name][split].questions)} for name in self.hf_subsets}

    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts  # deferred: datasets is slow to import

        query_langs = [name.removeprefix("q-") for name in self.hf_subsets]
        common = dict(task_metadata=self.metadata, hf_split=split, encode_kwargs=encode_kwargs)
        docs = embed_texts(model, [text for _, _, text in self.sentences], prompt_type=PromptType.document,
                           **common, languages=[lang for lang, _, _ in self.sentences])
        texts = [q.text for lang in query_langs for q in self.questions[lang]]
        vecs = embed_texts(model, texts, prompt_type=PromptType.query, **common,
                           languages=[lang for lang in query_langs for _ in self.questions[lang]])
        queries, start = {}, 0
        for lang in query_langs:
            n = len(self.questions[lang])
            queries[lang] = vecs[start : start + n]
            start += n
        return {"docs": docs, "queries": queries}

    def _subset_statistics(self, data: QueryLanguage) -> dict[str, int]:
        return {"num_samples": len(data.questions) + len(self.sentences), "number_of_queries": len(data.questions),
                "number_of_documents": len(self.sentences),
                "number_of_relevant_docs": sum(len(g) for g in data.gold)}

    def _score_subset(self, data: QueryLanguage, embeddings) -> dict[str, Any]:
        result = ranking.gold_ranks(embeddings["queries"][data.language], embeddings["docs"], data.gold, device="auto")
        values = retrieval.per_query_values(result, ks=self.ks)
        scores = retrieval.summarize(result, ks=self.ks, values=values)
        self._keep_outcomes(SubsetOutcomes(tuple(q.id for q in data.questions),
                                           tuple(self.article(q.context_id) for q in data.questions), values),
                            scores)
        return scores

    def consistency_problems(self, subset: str, scores: dict) -> list[str]:
        if subset not in self.metadata.hf_subsets:
            return [f"{subset!r} is not a subset of {self.metadata.name}"]
        self.load_data()
        data: QueryLanguage = self.dataset[subset][self.metadata.eval_splits[0]]
        pool = float(len(self.sentences))
        n_gold = float(np.mean([len(g) for g in data.gold]))
        same_gold_count = all(len(g) == len(data.gold[0]) for g in data.gold)
        problems = consistency.retrieval_problems(scores, n_gold=float(min(len(g) for g in data.gold)),
                                                  pool_size=pool, same_pool_for_every_query=True,
                                                  same_gold_count=same_gold_count, mean_gold=n_gold)
        problems += consistency.equal_count_problem(scores, "n_queries", len(data.questions),
                                                    "the task's number of questions")
        problems += consistency.equal_count_problem(scores, "mean_pool_size", pool, "the task's pool size")
        if same_gold_count:
            problems += consistency.norm_of_mean_problem(scores, pool=pool, n_gold=n_gold)
        problems += intervals.interval_problems(scores)
        return problems
