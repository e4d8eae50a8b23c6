"""LAReQA: language-agnostic answer retrieval from a pool of all languages' sentences.

The pool is every sentence of every language (about 13k for XQuAD-R); a question's gold set
is the sentence holding its answer in each language (11). A model scores well only if it
retrieves answers in every language, not just its own: strong "language bias" shows up as
a low mean average precision (Roy et al., 2020). AP is computed over the full pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.types import PromptType

from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import read_jsonl
from mteb_xalign.languages import to_mteb
from mteb_xalign.metrics import ranking, retrieval
from mteb_xalign.parallel_data import read_parallel_qa
from mteb_xalign.tasks.base import LocalDataTask, folder_revision


class LanguageAgnosticRetrieval(LocalDataTask):
    sentences_folder: Path
    questions_folder: Path
    languages: tuple[str, ...]

    def _read_data(self) -> None:
        qa = read_parallel_qa(self.questions_folder, pivot=self.languages[0])
        self.sentences: list[tuple[str, str, str]] = []  # (lang, sentence id, text)
        row: dict[tuple[str, str], int] = {}
        for lang in self.languages:
            path = self.sentences_folder / f"{lang}.sentences.jsonl"
            for lineno, obj in read_jsonl(path, {"id": str, "text": str}):
                if (lang, obj["id"]) in row:
                    raise DataError(f"duplicate sentence id {obj['id']!r}", path=path, line=lineno)
                row[(lang, obj["id"])] = len(self.sentences)
                self.sentences.append((lang, obj["id"], obj["text"]))
        answers: dict[str, list[int]] = {}  # question id -> gold rows across languages
        for lang in self.languages:
            path = self.sentences_folder / f"{lang}.qrels.jsonl"
            for lineno, obj in read_jsonl(path, {"question_id": str, "sentence_ids": list}):
                for sid in obj["sentence_ids"]:
                    if (lang, sid) not in row:
                        raise DataError(f"unknown sentence id {sid!r}", path=path, line=lineno)
                    answers.setdefault(obj["question_id"], []).append(row[(lang, sid)])
        self.questions = {}
        for lang in self.languages:
            if lang not in qa.questions:
                raise DataError(f"no questions for {lang!r}", path=self.questions_folder)
            missing = [q.id for q in qa.questions[lang] if q.id not in answers]
            if missing:
                raise DataError(f"{len(missing)} {lang} question(s) have no answer sentence, e.g. {missing[0]!r}",
                                path=self.sentences_folder)
            self.questions[lang] = qa.questions[lang]
        self.answers = {qid: np.array(sorted(set(rows))) for qid, rows in answers.items()}

    def _embed_all(self, model, *, encode_kwargs, split):
        from mteb_xalign.encoding import embed_texts

        query_langs = [name.removeprefix("q-") for name in self.hf_subsets]
        common = dict(task_metadata=self.metadata, hf_split=split, encode_kwargs=encode_kwargs)
        docs = embed_texts(model, [text for _, _, text in self.sentences], prompt_type=PromptType.document, **common)
        texts = [q.text for lang in query_langs for q in self.questions[lang]]
        vecs = embed_texts(model, texts, prompt_type=PromptType.query, **common)
        queries, start = {}, 0
        for lang in query_langs:
            n = len(self.questions[lang])
            queries[lang] = vecs[start : start + n]
            start += n
        return {"docs": docs, "queries": queries}

    def _subset_statistics(self, name: str) -> dict[str, int]:
        questions = self.questions[name.removeprefix("q-")]
        return {"num_samples": len(questions) + len(self.sentences), "number_of_queries": len(questions),
                "number_of_documents": len(self.sentences),
                "number_of_relevant_docs": sum(len(self.answers[q.id]) for q in questions)}

    def _score_subset(self, name: str, embeddings) -> dict[str, Any]:
        lang = name.removeprefix("q-")
        gold = [self.answers[q.id] for q in self.questions[lang]]
        result = ranking.gold_ranks(embeddings["queries"][lang], embeddings["docs"], gold, device="auto")
        ks = sorted({1, 5, 10, len(self.languages), 20, 100})
        scores = retrieval.summarize(result, ks=ks)
        return scores


def make_lareqa_task(name: str, sentences_folder: Path, questions_folder: Path, card: dict[str, Any]):
    languages = tuple(card["languages"])
    metadata = TaskMetadata(
        name=name,
        description=(
            "LAReQA (XQuAD-R): answer-sentence retrieval from a pool of the sentences of all "
            f"{len(languages)} languages; a question's gold set is its answer sentence in every language. "
            "Main score: mean average precision over the full pool, as LAReQA and XTREME compute it."
        ),
        reference=card["reference"],
        dataset={"path": "mteb-xalign/xquad_r", "revision": card.get("revision") or folder_revision(sentences_folder)},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs={f"q-{lang}": sorted({to_mteb(x) for x in languages}) for lang in languages},
        main_score="map",
        date=tuple(card["date"]),
        domains=card.get("domains"),
        task_subtypes=["Question answering"],
        license=card["license"],
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="human-translated",
        bibtex_citation=card["citation"],
        prompt={"query": "Given a question, retrieve the sentence that answers it"},
    )
    return type(name, (LanguageAgnosticRetrieval,), {
        "metadata": metadata, "sentences_folder": sentences_folder, "questions_folder": questions_folder,
        "languages": languages, "__module__": __name__,
    })
