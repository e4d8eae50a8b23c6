"""Issue 24's data cases: one rule of "empty" and of "too long" for every reader, ids that differ only in
Unicode normalisation, stray files, card.json's schema, and pools with nothing to rank (never a 1.0)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import mteb
import pytest
from fakes import counting_model
from hypothesis import given, settings
from hypothesis import strategies as st

from mteb_xalign.errors import DataError, UserError
from mteb_xalign.parallel_data import read_parallel_qa
from mteb_xalign.tasks.lareqa import LAReQA
from mteb_xalign.tasks.multiref_clir import MultiRefCLIR
from mteb_xalign.text_rules import MAX_TEXT_CHARS, is_empty_text
from mteb_xalign.wordlists import read_wordlist


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def xquad_folder(folder: Path, paragraphs=("p1", "p2"), questions_on=None, texts=None) -> Path:
    """en + de: the given paragraphs, one question per paragraph (or on `questions_on`)."""
    folder.mkdir(exist_ok=True)
    texts = texts or {}
    for lang in ("en", "de"):
        write_jsonl(folder / f"{lang}.contexts.jsonl",
                    [{"id": p, "text": texts.get((lang, p), f"{lang} paragraph {p}")} for p in paragraphs])
        on = questions_on or paragraphs
        write_jsonl(folder / f"{lang}.questions.jsonl",
                    [{"id": f"q{i}", "context_id": p, "text": f"{lang} question {i}"} for i, p in enumerate(on)])
    return folder


def lareqa_folder(folder: Path, sentences_per_language=2) -> Path:
    """en + de sentences and qrels, with the questions of an XQuAD-layout folder in the same place."""
    xquad_folder(folder, paragraphs=("p1",), questions_on=("p1",))
    for lang in ("en", "de"):
        write_jsonl(folder / f"{lang}.sentences.jsonl",
                    [{"id": f"s{i}", "text": f"{lang} sentence {i}"} for i in range(sentences_per_language)])
        write_jsonl(folder / f"{lang}.qrels.jsonl", [{"question_id": "q0", "sentence_ids": ["s0"]}])
    return folder


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Error" not in text, text
    return text


def run_args(task: str, data: Path, tmp_path: Path) -> list[str]:
    return ["run", "-t", task, "--data", str(data), "-m", "xalign/use-multilingual-v3", "--output", str(tmp_path / "o")]


# -- 6. one rule of "empty" --------------------------------------------------------------------------
INVISIBLE = ["", " ", "\t\n", "\u200b", "\u200b\u200c\u200d", "\ufeff", "\u2060", "\u00a0\u3000", "\u202e",
             "\u3164", "\ufe0f", "\u00ad", "\x00"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_texts_are_empty(text):
    assert is_empty_text(text)
    assert not is_empty_text(text + "a") and not is_empty_text("a" + text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=6))
def test_empty_means_every_character_is_invisible(text):
    """Against the definition, character by character from Unicode's categories."""
    def visible(ch):
        return not (ch.isspace() or unicodedata.category(ch) in {"Zs", "Zl", "Zp", "Cc", "Cf"}
                    or unicodedata.category(ch) in {"Mn", "Lo"} and "VARIATION SELECTOR" in unicodedata.name(ch, "")
                    or ch in "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0")
    assert is_empty_text(text) == (not any(visible(ch) for ch in text))


@pytest.mark.parametrize("where", ["contexts", "questions"])
def test_multiref_refuses_a_zero_width_text_naming_file_line_and_character(tmp_path, where):
    data = xquad_folder(tmp_path / "d")
    rows = [json.loads(line) for line in (data / f"de.{where}.jsonl").read_text(encoding="utf-8").splitlines()]
    rows[1]["text"] = "\u200b\u200b"
    write_jsonl(data / f"de.{where}.jsonl", rows)
    with pytest.raises(DataError) as err:
        read_parallel_qa(data)
    assert one_line(err.value).startswith(f"{data / f'de.{where}.jsonl'}:2: ")
    assert "has empty text (only invisible characters: U+200B zero width space)" in str(err.value)


@pytest.mark.parametrize("text", ["", "   ", "\u200b"])
def test_lareqa_refuses_an_empty_sentence_as_multiref_does(tmp_path, xalign, text):
    data = lareqa_folder(tmp_path / "d")
    write_jsonl(data / "de.sentences.jsonl", [{"id": "s0", "text": "de sentence"}, {"id": "s1", "text": text}])
    code, err = xalign(*run_args("LAReQA", data, tmp_path))
    assert code == 1 and err.count("\n") == 1, err
    assert f"{data / 'de.sentences.jsonl'}:2: sentence 's1' has empty text" in err


def test_word_lists_drop_invisible_variants_as_empty_cells(tmp_path):
    path = write_jsonl(tmp_path / "w.jsonl", [{"id": "c1", "words": {"en": ["rope", "\u200b"], "de": ["Seil"]}},
                                              {"id": "c2", "words": {"en": ["dog"], "de": ["\u200b\u2060"]}}])
    words = read_wordlist(path)
    assert words.concepts[0].words["en"] == ["rope"] and words.concepts[1].words["de"] == []
    csv = tmp_path / "w.csv"
    csv.write_text("en,de\nrope,Seil\ndog,\u200b\n\u200b\n", encoding="utf-8")
    assert [c.words["de"] for c in read_wordlist(csv).concepts] == [["Seil"], []]


def test_a_line_of_invisible_characters_is_a_blank_line(tmp_path):
    data = xquad_folder(tmp_path / "d")
    path = data / "en.contexts.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + "\u200b\u00a0\n", encoding="utf-8")
    assert len(read_parallel_qa(data).contexts["en"]) == 2


# -- 11. texts too long for any model: refused by the readers, and by USE before encoding ------------
def test_a_text_over_the_limit_is_refused_at_read_time_naming_file_and_line(tmp_path, xalign):
    long = "x" * (MAX_TEXT_CHARS + 1)
    data = xquad_folder(tmp_path / "d", texts={("de", "p2"): long})
    code, err = xalign(*run_args("MultiRefCLIR", data, tmp_path))
    assert code == 1 and err.count("\n") == 1, err
    assert f"{data / 'de.contexts.jsonl'}:2: context 'p2' is 20,001 characters long, more than the 20,000" in err
    ok = xquad_folder(tmp_path / "ok", texts={("de", "p2"): "x" * MAX_TEXT_CHARS})
    assert len(read_parallel_qa(ok).contexts["de"]["p2"]) == MAX_TEXT_CHARS


def test_a_long_sentence_or_word_is_refused_too(tmp_path):
    data = lareqa_folder(tmp_path / "d")
    write_jsonl(data / "en.sentences.jsonl", [{"id": "s0", "text": "y" * (MAX_TEXT_CHARS + 5)}, {"id": "s1", "text": "b"}])
    with pytest.raises(DataError, match=r"en\.sentences\.jsonl:1: sentence 's0' is 20,005 characters long"):
        LAReQA.from_folder(data, "Long")().load_data()
    path = write_jsonl(tmp_path / "w.jsonl", [{"words": {"en": ["a"], "de": ["b"]}},
                                              {"words": {"en": ["z" * (MAX_TEXT_CHARS + 1)], "de": ["c"]}}])
    with pytest.raises(DataError, match=r"w\.jsonl:2: word 'zzz.*' is 20,001 characters long"):
        read_wordlist(path)


def test_use_refuses_a_huge_text_before_encoding_it():
    """2 MB to USE cost 22 GB; the adapter refuses anything over the limit without encoding any text
    (a limit-length text is encoded: USE's memory for it is bounded)."""
    pytest.importorskip("xalign_use")
    model = mteb.get_model("xalign/use-multilingual-v3")
    sent = []
    model._one = lambda text: sent.append(text) or [0.0] * 512
    huge = "z" * (2 * 1024 * 1024)
    with pytest.raises(UserError) as err:  # one mteb batch, as its DataLoader hands them to encode
        model.encode([{"text": ["fine", huge]}], task_metadata=None, hf_split="test", hf_subset="mine")
    assert one_line(err.value).startswith("xalign/use-multilingual-v3: text #2 of mine is 2,097,152 characters long, "
                                          "more than the 20,000 this model takes")
    assert sent == []


# -- 18. NFC vs NFD ids, and a stray file in a LAReQA folder -------------------------------------------
NFC, NFD = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")


def test_a_context_id_in_another_normalisation_says_so(tmp_path):
    data = xquad_folder(tmp_path / "d", paragraphs=(NFC, "p2"))
    rows = [{"id": "q0", "context_id": NFD, "text": "Wo?"}, {"id": "q1", "context_id": "p2", "text": "Was?"}]
    write_jsonl(data / "de.questions.jsonl", rows)
    with pytest.raises(DataError) as err:
        read_parallel_qa(data)
    message = one_line(err.value)
    assert message.startswith(f"{data / 'de.questions.jsonl'}:1: question 'q0' refers to unknown context_id")
    assert "'caf\\xe9' exists and differs only in Unicode normalisation ('cafe\\u0301' is NFD, 'caf\\xe9' is NFC)" \
        in message


def test_the_pivot_lacking_a_paragraph_in_another_normalisation_says_so(tmp_path):
    data = xquad_folder(tmp_path / "d", paragraphs=(NFC, "p2"))
    write_jsonl(data / "de.contexts.jsonl", [{"id": NFD, "text": "Ein Café."}, {"id": "p2", "text": "Zwei."}])
    write_jsonl(data / "de.questions.jsonl", [{"id": "q0", "context_id": NFD, "text": "Wo?"}])
    with pytest.raises(DataError, match="differs only in Unicode normalisation"):
        read_parallel_qa(data)


def test_two_ids_of_one_file_differing_only_in_normalisation_are_refused(tmp_path):
    data = xquad_folder(tmp_path / "d", paragraphs=(NFC, "p2", NFD), questions_on=(NFC, "p2"))
    with pytest.raises(DataError) as err:
        read_parallel_qa(data)
    assert one_line(err.value).startswith(f"{data / 'en.contexts.jsonl'}:3: context id 'cafe\\u0301' and 'caf\\xe9' "
                                          "(line 1) differ only in Unicode normalisation (NFD vs NFC)")


def test_lareqa_qrels_naming_a_sentence_in_another_normalisation_say_so(tmp_path):
    data = lareqa_folder(tmp_path / "d")
    write_jsonl(data / "de.sentences.jsonl", [{"id": NFC, "text": "Café."}, {"id": "s1", "text": "b"}])
    write_jsonl(data / "de.qrels.jsonl", [{"question_id": "q0", "sentence_ids": [NFD]}])
    with pytest.raises(DataError, match=r"de\.qrels\.jsonl:1: unknown sentence id .*differs only in Unicode"):
        LAReQA.from_folder(data, "Nfd")().load_data()


@pytest.mark.parametrize("stray", ["en.old.sentences.jsonl", "en.old.qrels.jsonl", "en-US.sentences.jsonl"])
def test_a_stray_file_in_a_lareqa_folder_is_named_not_reported_as_a_duplicate(tmp_path, xalign, stray):
    data = lareqa_folder(tmp_path / "d")
    (data / stray).write_bytes((data / ("en.qrels.jsonl" if "qrels" in stray else "en.sentences.jsonl")).read_bytes())
    code, err = xalign(*run_args("LAReQA", data, tmp_path))
    assert code == 1 and err.count("\n") == 1 and "duplicate" not in err, err
    assert f"{data / stray}: " in err


# -- 13. card.json: one schema, one-line errors naming card.json and the key ---------------------------
@pytest.mark.parametrize(("card", "message"), [
    ({"languages": ["en", "de", "fr"]}, "key \"languages\" names 'fr', which has no data files in the folder (it has de, en)"),
    ({"languages": "en"}, "key \"languages\" must be a list of language codes such as [\"en\", \"de\"], not a JSON string ('en')"),
    ({"languages": ["en", "en"]}, "key \"languages\" names 'en' twice"),
    ({"date": "2020"}, "key \"date\" must be [\"YYYY-MM-DD\", \"YYYY-MM-DD\"] (first and last day the data were made), not a JSON string ('2020')"),
    ({"date": ["2020", "2021"]}, "key \"date\" must be [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]"),
    ({"date": ["2021-01-01", "2020-01-01"]}, "key \"date\": 2021-01-01 comes after 2020-01-01"),
    ({"licence": "mit"}, "unknown key 'licence'; a card's keys are name, description"),
    ({"license": "my-own"}, "key 'license': Input should be 'not specified', 'mit'"),
    ({"license": 3}, "key 'license' must be a non-empty string, not a JSON number (3)"),
    ({"domains": ["Written", "Wikipedia"]}, "key 'domains' ('Wikipedia'): Input should be 'Academic'"),
    ({"reference": "not a url"}, "key 'reference': Input should be a valid URL"),
    (["en"], "must be a JSON object of keys name, description"),
])
@pytest.mark.parametrize("task", ["MultiRefCLIR", "LAReQA"])
def test_card_problems_are_one_line_naming_card_json_and_the_key(tmp_path, xalign, card, message, task):
    data = lareqa_folder(tmp_path / "d")
    (data / "card.json").write_text(json.dumps(card), encoding="utf-8")
    code, err = xalign(*run_args(task, data, tmp_path))
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err and "pydantic" not in err, err
    assert f"{data / 'card.json'}: {message}" in err


def test_a_valid_card_reaches_the_metadata_of_both_kinds(tmp_path):
    data = lareqa_folder(tmp_path / "d")
    card = {"name": "Mine", "license": "cc-by-4.0", "date": ["2020-01-01", "2020-12-31"], "domains": ["Written"],
            "reference": "https://example.org/mine", "citation": "@misc{mine}", "languages": ["en", "de"]}
    (data / "card.json").write_text(json.dumps(card), encoding="utf-8")
    for kind in (MultiRefCLIR, LAReQA):
        meta = kind.from_folder(data, f"Mine{kind.__name__}").metadata
        assert (meta.license, meta.date, meta.domains, meta.bibtex_citation) == (
            "cc-by-4.0", ("2020-01-01", "2020-12-31"), ["Written"], "@misc{mine}")
        assert str(meta.reference).startswith("https://example.org/mine") and "Mine" in meta.description


def test_the_bundled_cards_are_valid():
    from mteb_xalign.tasks import DATASETS
    from mteb_xalign.tasks.card import read_card

    for folder in ("xquad", "xquad_r", "swadesh207"):
        assert read_card(DATASETS / folder)["license"] == "cc-by-sa-4.0"


# -- 4. a pool with nothing to rank: refused at read time, never scored 1.0 ----------------------------
@pytest.mark.parametrize("pool", ["paragraph", "per-question"])
@pytest.mark.parametrize("task", ["MultiRefCLIR", "MultiRefCLIR-Multi1", "MultiRefCLIR-MonoSame",
                                  "MultiRefCLIR-MonoCross"])
def test_one_paragraph_per_language_is_refused_in_every_scenario_and_pool_mode(tmp_path, task, pool):
    data = xquad_folder(tmp_path / "d", paragraphs=("p1",), questions_on=("p1", "p1"))
    kind = type(mteb.get_task(task))
    with pytest.raises(DataError) as err:
        kind.from_folder(data, "One", pool=pool)().load_data()
    message = one_line(err.value)
    assert "nothing to rank, and any model, a constant one included, would score 1.0" in message
    if pool == "per-question":
        assert "all 2 questions are on paragraph 'p1'" in message and "questions.jsonl" in message
    else:
        assert "contexts.jsonl hold" in message


def test_per_question_pool_with_every_question_on_one_paragraph_is_refused(tmp_path):
    """Two paragraphs (so the paragraph pool is fine) but every question on one: the per-question pool
    of each question holds only its own gold copies."""
    data = xquad_folder(tmp_path / "d", paragraphs=("p1", "p2"), questions_on=("p1", "p1", "p1"))
    MultiRefCLIR.from_folder(data, "Fine")().load_data()
    with pytest.raises(DataError, match=r"en\.questions\.jsonl: subset multi_en\+de_q-en: all 3 questions are on "
                                        r"paragraph 'p1'"):
        MultiRefCLIR.from_folder(data, "PQ", pool="per-question")().load_data()


def test_the_smallest_pool_with_something_to_rank_scores_a_constant_model_below_one(tmp_path):
    data = xquad_folder(tmp_path / "d", paragraphs=("p1", "p2"))
    for task in ("MultiRefCLIR", "MultiRefCLIR-MonoSame"):
        cls = type(mteb.get_task(task)).from_folder(data, f"Two{task}")
        result = mteb.evaluate(counting_model(constant=True), cls(), cache=None, show_progress_bar=False)
        for entry in result.task_results[0].scores["test"]:
            assert entry["max_at_r_norm"] == 0.0 and entry["map"] < 1.0, entry


def test_lareqa_pool_of_gold_sentences_only_is_refused(tmp_path, xalign):
    data = lareqa_folder(tmp_path / "d", sentences_per_language=1)
    code, err = xalign(*run_args("LAReQA", data, tmp_path))
    assert code == 1 and err.count("\n") == 1, err
    assert "question 'q0': its answer sentences are the whole pool (2 sentences), so every model would score 1.0" in err
    lareqa_folder(tmp_path / "ok", sentences_per_language=2)
    LAReQA.from_folder(tmp_path / "ok", "Ok")().load_data()

