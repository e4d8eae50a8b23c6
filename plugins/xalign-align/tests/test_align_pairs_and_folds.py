"""Training data: bad input names file and line; XQuAD folds never train on what they evaluate."""

import json

import pytest

from mteb_xalign.errors import DataError
from xalign_align import folds
from xalign_align.pairs import bundled_folder, load_training_set


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def test_bundled_tatoeba_has_the_xquad_targets_and_its_licence():
    data = load_training_set("tatoeba")
    assert {"ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"} <= set(data.languages)
    assert data.kind == "pairs" and len(data.examples) > 10_000
    assert "CC BY 2.0 FR" in (bundled_folder() / "LICENSE.md").read_text()
    card = json.loads((bundled_folder() / "card.json").read_text())
    assert "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821" in card["source"]


@pytest.mark.parametrize("row, message", [
    ({"text": "Hallo", "en": "  "}, "the 'en' side has empty text"),
    ({"text": "", "en": "Hello"}, "the 'text' side has empty text"),
    ({"text": "\u200b\u200b", "en": "Hello"}, "the 'text' side has empty text (only invisible characters: U+200B"),
    ({"text": "Hallo", "en": "x" * 20_001}, "the 'en' side is 20,001 characters long, more than the 20,000"),
    ({"text": "Hallo"}, "missing field 'en'"),
    ({"text": "Hallo", "en": 3}, "field 'en' must be str"),
    ('{"text": "Hallo", "en": ', "not valid JSON"),
])
def test_bad_pairs_name_file_and_line(tmp_path, row, message):
    _write(tmp_path / "de-en.jsonl", [{"text": "Ja", "en": "Yes"}, row])
    with pytest.raises(DataError) as err:
        load_training_set(tmp_path)
    assert f"{tmp_path / 'de-en.jsonl'}:2: {message}" in str(err.value)


def test_folder_problems_are_named(tmp_path):
    with pytest.raises(DataError, match="no <lang>-en.jsonl"):
        load_training_set(tmp_path)
    _write(tmp_path / "de-en.jsonl", [{"text": "Ja", "en": "Yes"}])
    with pytest.raises(DataError, match=r"no training data for language\(s\) \['fr'\]"):
        load_training_set(tmp_path, ["de", "fr"])
    _write(tmp_path / "zh-en.triples.jsonl", [{"query": "q", "en": "d", "text": "文"}])
    with pytest.raises(DataError, match="mixes pair files and triple files"):
        load_training_set(tmp_path)


def test_digest_follows_content(tmp_path):
    _write(tmp_path / "de-en.jsonl", [{"text": "Ja", "en": "Yes"}])
    first = load_training_set(tmp_path).digest
    _write(tmp_path / "de-en.jsonl", [{"text": "Ja", "en": "Yes!"}])
    assert load_training_set(tmp_path).digest != first


def _texts_by_ids(folder, contexts):
    paragraphs, questions = set(), set()
    for lang in folds.languages_of(folder):
        for row in folds._read(folder, lang, "contexts"):
            if row["id"] in contexts:
                paragraphs.add(row["text"])
        for row in folds._read(folder, lang, "questions"):
            if row["context_id"] in contexts:
                questions.add(row["text"])
    return paragraphs, questions


def test_a_fold_never_trains_on_its_evaluation_paragraphs_or_questions(tmp_path):
    folder = folds.xquad_folder()
    made = folds.make_folds(folder, 2)
    assert [f.task_name for f in made] == ["MultiRefCLIR-XQuAD-fold1of2", "MultiRefCLIR-XQuAD-fold2of2"]
    every = made[0].train_contexts | made[0].eval_contexts
    assert made[0].eval_contexts == made[1].train_contexts and made[1].eval_contexts == made[0].train_contexts
    assert not made[0].eval_contexts & made[0].train_contexts and len(every) == 240
    titles = {r["id"]: r["title"] for r in folds._read(folder, "en", "contexts")}
    for fold in made:
        # split by article: no article on both sides
        assert not {titles[c] for c in fold.eval_contexts} & {titles[c] for c in fold.train_contexts}
        data = folds.training_set(folder, fold)
        assert data.kind == "triples" and len(data.examples) > 1000
        eval_paragraphs, eval_questions = _texts_by_ids(folder, fold.eval_contexts)
        train_paragraphs, train_questions = _texts_by_ids(folder, fold.train_contexts)
        # texts that occur on both sides (none expected; shown if any) cannot tell a leak apart
        shared = (eval_paragraphs & train_paragraphs) | (eval_questions & train_questions)
        for ex in data.examples:
            for text in (ex.text, ex.en):
                assert text in train_paragraphs and (text not in eval_paragraphs or text in shared)
            for text in (ex.query, ex.query_x):
                assert text in train_questions and (text not in eval_questions or text in shared)
        written = folds.write_eval_folder(folder, fold, tmp_path / f"fold{fold.index}")
        for lang in folds.languages_of(written):
            assert {r["id"] for r in folds._read(written, lang, "contexts")} == set(fold.eval_contexts)
            assert all(r["context_id"] in fold.eval_contexts for r in folds._read(written, lang, "questions"))
        card = json.loads((written / "card.json").read_text())
        assert f"fold {fold.index} of 2" in card["name"] and f"fold {fold.index} of 2" in card["changes"]
        # the folder is a valid --data folder: its task is built (card checked, data read)
        task = folds.eval_task(written, fold)
        task.load_data()
        assert task.metadata.name == fold.task_name
