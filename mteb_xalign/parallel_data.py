"""Parallel QA corpora in the XQuAD layout, read and checked.

A folder holds `<lang>.contexts.jsonl` (`id`, `text`) and `<lang>.questions.jsonl` (`id`,
`context_id`, `text`) per language; other fields are ignored. The same context id is the
same paragraph in every language. Languages are found from the file names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import read_jsonl


@dataclass(frozen=True)
class Question:
    id: str
    context_id: str
    text: str


@dataclass
class ParallelQA:
    folder: Path
    languages: list[str]
    contexts: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> id -> text
    questions: dict[str, list[Question]] = field(default_factory=dict)  # lang -> questions


def read_parallel_qa(folder: str | Path, *, pivot: str = "en") -> ParallelQA:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder (expected <lang>.contexts.jsonl and <lang>.questions.jsonl files)", path=folder)
    context_files = {p.name.split(".")[0]: p for p in folder.glob("*.contexts.jsonl")}
    question_files = {p.name.split(".")[0]: p for p in folder.glob("*.questions.jsonl")}
    if not context_files:
        raise DataError("no <lang>.contexts.jsonl files found", path=folder)
    for lang in sorted(set(question_files) - set(context_files)):
        raise DataError(f"questions for {lang!r} but no {lang}.contexts.jsonl", path=question_files[lang])
    for lang in sorted(set(context_files) - set(question_files)):
        raise DataError(f"language {lang!r} has no questions file ({lang}.questions.jsonl)", path=context_files[lang])
    if pivot not in context_files:
        raise DataError(
            f"pivot language {pivot!r} not found; languages here: {', '.join(sorted(context_files))}", path=folder
        )
    languages = [pivot] + sorted(lang for lang in context_files if lang != pivot)
    data = ParallelQA(folder=folder, languages=languages)
    for lang in languages:
        contexts: dict[str, str] = {}
        path = context_files[lang]
        for lineno, obj in read_jsonl(path, {"id": str, "text": str}):
            if obj["id"] in contexts:
                raise DataError(f"duplicate context id {obj['id']!r}", path=path, line=lineno)
            if not obj["text"].strip():
                raise DataError(f"context {obj['id']!r} has empty text", path=path, line=lineno)
            contexts[obj["id"]] = obj["text"]
        data.contexts[lang] = contexts
        questions: list[Question] = []
        seen: set[str] = set()
        path = question_files[lang]
        for lineno, obj in read_jsonl(path, {"id": str, "context_id": str, "text": str}):
            if obj["id"] in seen:
                raise DataError(f"duplicate question id {obj['id']!r}", path=path, line=lineno)
            seen.add(obj["id"])
            if obj["context_id"] not in contexts:
                raise DataError(
                    f"question {obj['id']!r} refers to unknown context_id {obj['context_id']!r} "
                    f"(not in {lang}.contexts.jsonl)", path=path, line=lineno,
                )
            if not obj["text"].strip():
                raise DataError(f"question {obj['id']!r} has empty text", path=path, line=lineno)
            questions.append(Question(obj["id"], obj["context_id"], obj["text"]))
        if not questions:
            raise DataError(f"language {lang!r} has no questions", path=path)
        data.questions[lang] = questions
    # Every question's paragraph must exist in the pivot language too: it is the second gold document.
    pivot_contexts = data.contexts[pivot]
    for lang in languages[1:]:
        missing = sorted({q.context_id for q in data.questions[lang]} - set(pivot_contexts))
        if missing:
            raise DataError(
                f"{len(missing)} context id(s) used by {lang} questions are missing from the pivot "
                f"{pivot}.contexts.jsonl, e.g. {missing[0]!r}", path=question_files[lang],
            )
    return data
