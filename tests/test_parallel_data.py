"""The XQuAD-layout reader: languages found from files, and bad input named by file and line."""

from __future__ import annotations

import json

import pytest

from mteb_xalign.errors import DataError
from mteb_xalign.parallel_data import read_parallel_qa
from mteb_xalign.tasks import DATASETS


def write(folder, lang, contexts, questions):
    (folder / f"{lang}.contexts.jsonl").write_text("".join(json.dumps(c) + "\n" for c in contexts), encoding="utf-8")
    (folder / f"{lang}.questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")


def tiny(folder):
    write(folder, "en", [{"id": "c1", "text": "Cats purr."}, {"id": "c2", "text": "Dogs bark."}],
          [{"id": "q1", "context_id": "c1", "text": "What do cats do?"}])
    write(folder, "de", [{"id": "c1", "text": "Katzen schnurren."}, {"id": "c2", "text": "Hunde bellen."}],
          [{"id": "q1", "context_id": "c1", "text": "Was tun Katzen?"}])
    return folder


def test_bundled_xquad_reads_completely():
    data = read_parallel_qa(DATASETS / "xquad")
    assert data.languages[0] == "en" and len(data.languages) == 12
    assert all(len(data.contexts[lang]) == 240 for lang in data.languages)
    assert all(len(data.questions[lang]) == 1190 for lang in data.languages)


def test_languages_from_files_and_pivot(tmp_path):
    data = read_parallel_qa(tiny(tmp_path), pivot="de")
    assert data.languages == ["de", "en"]


def test_malformed_line_named(tmp_path):
    tiny(tmp_path)
    with open(tmp_path / "de.questions.jsonl", "a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(DataError, match=r"de\.questions\.jsonl:2: not valid JSON"):
        read_parallel_qa(tmp_path)


def test_unknown_context_named(tmp_path):
    tiny(tmp_path)
    with open(tmp_path / "de.questions.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "q2", "context_id": "c9", "text": "?"}) + "\n")
    with pytest.raises(DataError, match=r"de\.questions\.jsonl:2: .*unknown context_id 'c9'"):
        read_parallel_qa(tmp_path)


def test_duplicate_ids_named(tmp_path):
    tiny(tmp_path)
    with open(tmp_path / "en.contexts.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "c1", "text": "again"}) + "\n")
    with pytest.raises(DataError, match=r"en\.contexts\.jsonl:3: duplicate context id 'c1'"):
        read_parallel_qa(tmp_path)


def test_language_without_questions(tmp_path):
    tiny(tmp_path)
    (tmp_path / "de.questions.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de\.questions\.jsonl: language 'de' has no questions"):
        read_parallel_qa(tmp_path)


def test_missing_field_and_wrong_type(tmp_path):
    tiny(tmp_path)
    (tmp_path / "de.questions.jsonl").write_text(json.dumps({"id": "q1", "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de\.questions\.jsonl:1: missing field 'context_id'"):
        read_parallel_qa(tmp_path)
    (tmp_path / "de.questions.jsonl").write_text(json.dumps({"id": 3, "context_id": "c1", "text": "x"}) + "\n")
    with pytest.raises(DataError, match=r"field 'id' must be str"):
        read_parallel_qa(tmp_path)


def test_missing_pivot_and_missing_pivot_paragraph(tmp_path):
    tiny(tmp_path)
    with pytest.raises(DataError, match="pivot language 'fr' not found"):
        read_parallel_qa(tmp_path, pivot="fr")
    write(tmp_path, "de", [{"id": "c1", "text": "a"}, {"id": "c7", "text": "b"}],
          [{"id": "q1", "context_id": "c7", "text": "?"}])
    with pytest.raises(DataError, match=r"de\.questions\.jsonl:1: question 'q1' refers to paragraph 'c7', "
                                        r"which the pivot en\.contexts\.jsonl lacks"):
        read_parallel_qa(tmp_path)


def test_questions_without_contexts_file(tmp_path):
    tiny(tmp_path)
    (tmp_path / "fr.questions.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="fr.questions.jsonl: questions for 'fr' but no fr.contexts.jsonl"):
        read_parallel_qa(tmp_path)
