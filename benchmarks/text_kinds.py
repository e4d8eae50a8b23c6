"""The unique texts a full XAlign run encodes, by kind, read from the tasks' own data (the oracle
that encode_ratio divides by, and what the projected `make run` time multiplies per-text costs by)."""

from __future__ import annotations


def xalign_texts() -> dict[str, tuple[str | None, list[str]]]:
    """kind -> (role, its distinct texts): XQuAD paragraphs and questions, XQuAD-R sentences
    (LAReQA's pool) and questions, Swadesh words. Documents are stripped, as mteb strips them."""
    import mteb

    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    paragraphs: set[str] = set()
    questions: set[str] = set()
    sentences: set[str] = set()
    words: set[str] = set()
    for task in mteb.get_benchmark("XAlign").tasks:
        task.load_data()
        if hasattr(task, "corpus"):  # the MultiRefCLIR family
            c = task.corpus
            paragraphs |= {t.strip() for lang in c.languages for t in c.contexts[lang].values()}
            questions |= {q.text for lang in c.languages for q in c.questions[lang]}
        elif hasattr(task, "sentences"):  # LAReQA
            sentences |= {t.strip() for _, _, t in task.sentences}
            questions |= {q.text for qs in task.questions.values() for q in qs}
        elif hasattr(task, "words"):  # SemanticAffinity (words carry no role prompt)
            words |= set(task.words.unique_words())
        else:
            raise RuntimeError(f"benchmark task {task.metadata.name} is of a kind text_kinds does not know")
    # A LAReQA sentence that is also a whole paragraph is one (document, text) pair: count it once.
    sentences -= paragraphs
    return {"paragraph": ("document", sorted(paragraphs)), "question": ("query", sorted(questions)),
            "sentence": ("document", sorted(sentences)), "word": (None, sorted(words))}
