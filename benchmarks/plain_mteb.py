"""What a user would run without mteb-xalign: one plain MTEB retrieval task per subset.

Each subset becomes a stock `AbsTaskRetrieval` holding its own corpus and queries; mteb
encodes both for every subset, with no cache shared between subsets or tasks. Used by
`make bench` to count texts sent to the model (naive_encode_ratio) and to time plain MTEB.
"""

from __future__ import annotations

from datasets import Dataset
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_xalign.tasks.multi_reference import Subset, build_pool


def _metadata(name: str, subsets: list[str], main_score: str = "ndcg_at_10") -> TaskMetadata:
    return TaskMetadata(
        name=name, description="plain-MTEB baseline for the encode count", type="Retrieval", category="t2t",
        reference=None, dataset={"path": f"bench/{name}", "revision": "1"}, modalities=["text"],
        eval_splits=["test"], eval_langs={s: ["eng-Latn"] for s in subsets}, main_score=main_score,
        date=None, domains=None, task_subtypes=None, license=None, annotations_creators=None, dialect=[],
        sample_creation=None, bibtex_citation="",
    )


def _split(doc_ids, doc_texts, queries) -> dict:
    return {
        "corpus": Dataset.from_dict({"id": doc_ids, "text": doc_texts}),
        "queries": Dataset.from_dict({"id": [q[0] for q in queries], "text": [q[1] for q in queries]}),
        "relevant_docs": {qid: {d: 1 for d in gold} for qid, _, gold in queries},
        "top_ranked": None,
    }


def plain_multiref(task, languages: tuple[str, ...] | None = None) -> AbsTaskRetrieval:
    """A task of the MultiRefCLIR family as plain MTEB would run it (multi1 uses the multi pool:
    plain MTEB cannot leave a document out for one query, and the encode count is the same).
    `languages`: only the subsets whose pool or queries involve one of them."""
    task.load_data()
    corpus = task.corpus
    dataset = {}
    for name in task.hf_subsets:
        subset = Subset.parse(name)
        if languages is not None and not ({subset.query_lang, *subset.doc_langs} - {task.pivot}) & set(languages):
            continue
        questions = corpus.questions[subset.query_lang]
        pool = build_pool(corpus, subset, questions, "paragraph", task.pivot)
        texts = [corpus.contexts[lang][cid] for lang, cid in pool.doc_keys]
        doc_ids = [f"{lang}:{cid}" for lang, cid in pool.doc_keys]
        queries = [(q.id, q.text, [doc_ids[d] for d in pool.gold[i]]) for i, q in enumerate(questions)]
        dataset[name] = {"test": _split(doc_ids, texts, queries)}
    return _in_memory("PlainMultiRefCLIR", dataset)


def plain_lareqa(task) -> AbsTaskRetrieval:
    task.load_data()
    doc_ids = [f"{lang}:{sid}" for lang, sid, _ in task.sentences]
    texts = [text for _, _, text in task.sentences]
    dataset = {}
    for name in task.hf_subsets:
        questions = task.questions[name.removeprefix("q-")]
        queries = [(q.id, q.text, [doc_ids[d] for d in task.answers[q.id]]) for q in questions]
        dataset[name] = {"test": _split(doc_ids, texts, queries)}
    return _in_memory("PlainLAReQA", dataset)


def plain_semantic_affinity_count(task) -> int:
    """Words plain MTEB bitext mining would encode for a SemanticAffinity task: each subset its own."""
    task.load_data()
    return sum(len(task.words.unique_words(task.subset_languages[s])) for s in task.hf_subsets)


def _in_memory(name: str, dataset: dict) -> AbsTaskRetrieval:
    cls = type(name, (AbsTaskRetrieval,), {"metadata": _metadata(name, list(dataset))})
    task = cls()
    task.dataset = dataset
    task.data_loaded = True
    return task
