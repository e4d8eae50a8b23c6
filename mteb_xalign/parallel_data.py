"""Parallel QA corpora in the XQuAD layout, read and checked.

A folder holds `<lang>.contexts.jsonl` (`id`, `text`) and `<lang>.questions.jsonl` (`id`,
`context_id`, `text`) per language; other fields are ignored. The same context id is the
same paragraph in every language. Languages are found from the file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import read_jsonl
from mteb_xalign.languages import to_mteb
from mteb_xalign.text_rules import IdLines, check_text, normalisation_note


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
    #: context id -> the article it comes from (the pivot file's optional `title`): the unit intervals
    #: resample (questions of one article are correlated, see README "Uncertainty")
    titles: dict[str, str] = field(default_factory=dict)

    def article(self, context_id: str) -> str:
        """The resampling cluster of a paragraph: its article, or the paragraph itself without titles."""
        title = self.titles.get(context_id)
        return f"article:{title}" if title else f"paragraph:{context_id}"


#: What a data file's name must end with; what comes before is the file's language code.
CONTEXTS_SUFFIX = ".contexts.jsonl"
QUESTIONS_SUFFIX = ".questions.jsonl"
_REGION_VARIANT = re.compile(r"^[a-z]{2,3}[-_](?:[A-Z]{2}|[a-z]{2}|[0-9]{3})$")


def check_language_code(code: str, path: Path) -> str:
    """The language of a file named `<code><suffix>`; refuse names that are not one language code.

    Accepted: the two-letter codes mteb-xalign maps to mteb's language tags (en, de, zh, ...)
    and mteb codes (`eng-Latn`, `yue-Hant`). Region variants (en-US, pt-BR) are refused:
    mteb's tags are language + script, so en-US and en-GB could not be told apart in the
    task's metadata; a name like `en.old` is refused so that no second file of a language
    is ever read by accident.
    """
    if not code:
        raise DataError("empty language code: name the file <lang>" + path.name, path=path)
    if "." in code:
        suffix = path.name[len(code):]
        raise DataError(f"{code!r} is not a language code: a file named <lang>{suffix} is read as that language's "
                        f"data, so move other files (e.g. old copies) out of the folder", path=path)
    if _REGION_VARIANT.match(code):
        base = re.split(r"[-_]", code)[0]
        raise DataError(f"language code {code!r}: region variants are not told apart (mteb's language tags "
                        f"are language + script); name the file {base}{path.name[len(code):]} or use an mteb "
                        "code such as 'eng-Latn'", path=path)
    try:
        to_mteb(code)
    except KeyError as exc:
        raise DataError(str(exc).strip("'\""), path=path) from None
    return code


def language_files(folder: Path, suffix: str) -> dict[str, Path]:
    """language -> its file; two files of one language (en and eng-Latn) are refused."""
    files: dict[str, Path] = {}
    tags: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.name.endswith(suffix):
            continue
        lang = check_language_code(path.name[: -len(suffix)], path)
        tag = to_mteb(lang)
        if tag in tags:
            raise DataError(f"two files for one language ({tag}): {tags[tag].name} and {path.name}", path=folder)
        tags[tag] = path
        files[lang] = path
    return files


def folder_languages(folder: str | Path) -> list[str]:
    """The languages of a folder's `<lang>.contexts.jsonl` files, checked as `read_parallel_qa` checks
    them (for building a task's metadata before its data are read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder (expected <lang>.contexts.jsonl and <lang>.questions.jsonl files)", path=folder)
    return sorted(language_files(folder, CONTEXTS_SUFFIX))


def read_parallel_qa(folder: str | Path, *, pivot: str = "en") -> ParallelQA:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder (expected <lang>.contexts.jsonl and <lang>.questions.jsonl files)", path=folder)
    context_files = language_files(folder, CONTEXTS_SUFFIX)
    question_files = language_files(folder, QUESTIONS_SUFFIX)
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
    if len(context_files) < 2:
        # One language: no pair to align, and every subset would be monolingual retrieval
        # reported under a cross-lingual task's name. Refused rather than warned: a number
        # produced here would reach result files and the leaderboard looking like alignment.
        raise DataError(f"only one language ({pivot}): a cross-lingual task needs the pivot and at least "
                        "one other language", path=folder)
    languages = [pivot] + sorted(lang for lang in context_files if lang != pivot)
    data = ParallelQA(folder=folder, languages=languages)
    question_lines: dict[tuple[str, str], int] = {}  # (lang, question id) -> line, for messages
    for lang in languages:
        contexts: dict[str, str] = {}
        path = context_files[lang]
        context_ids = IdLines("context id", path)
        for lineno, obj in read_jsonl(path, {"id": str, "text": str}):
            context_ids.add(obj["id"], lineno)
            contexts[obj["id"]] = check_text(obj["text"], f"context {obj['id']!r}", path=path, line=lineno)
            if lang == pivot and isinstance(obj.get("title"), str) and obj["title"].strip():
                data.titles[obj["id"]] = obj["title"]
        data.contexts[lang] = contexts
        questions: list[Question] = []
        path = question_files[lang]
        question_ids = IdLines("question id", path)
        for lineno, obj in read_jsonl(path, {"id": str, "context_id": str, "text": str}):
            question_ids.add(obj["id"], lineno)
            question_lines[(lang, obj["id"])] = lineno
            if obj["context_id"] not in contexts:
                raise DataError(
                    f"question {obj['id']!r} refers to unknown context_id {obj['context_id']!r} "
                    f"(not in {context_files[lang].name}{normalisation_note(obj['context_id'], contexts)})",
                    path=path, line=lineno,
                )
            check_text(obj["text"], f"question {obj['id']!r}", path=path, line=lineno)
            questions.append(Question(obj["id"], obj["context_id"], obj["text"]))
        if not questions:
            raise DataError(f"language {lang!r} has no questions", path=path)
        data.questions[lang] = questions
    # Every question's paragraph must exist in the pivot language too: it is the second gold document.
    for lang in languages[1:]:
        for q in data.questions[lang]:
            if q.context_id not in data.contexts[pivot]:
                raise DataError(
                    f"question {q.id!r} refers to paragraph {q.context_id!r}, which the pivot "
                    f"{context_files[pivot].name} lacks (it is the question's second gold document"
                    f"{normalisation_note(q.context_id, data.contexts[pivot])})",
                    path=question_files[lang], line=question_lines[(lang, q.id)],
                )
    # ... and every pivot question's paragraph in each other language: the pivot's questions
    # are queries of every en+X subset, where the X copy is a gold document.
    for lang in languages[1:]:
        for q in data.questions[pivot]:
            if q.context_id not in data.contexts[lang]:
                raise DataError(
                    f"question {q.id!r} refers to paragraph {q.context_id!r}, which {context_files[lang].name} "
                    f"lacks: every {pivot} question's paragraph must exist in every language (it is a gold "
                    f"document of the {pivot}+{lang} subsets{normalisation_note(q.context_id, data.contexts[lang])})",
                    path=question_files[pivot], line=question_lines[(pivot, q.id)],
                )
    return data
