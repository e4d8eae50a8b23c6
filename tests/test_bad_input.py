"""Bad input gives one line naming the file, line and text at fault (exit 1), before any model loads.

Each case here was reproduced on the old code as a silent mix-up, a number, or a raw traceback.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign import plugins
from mteb_xalign.errors import DataError, ServiceError
from mteb_xalign.parallel_data import read_parallel_qa
from mteb_xalign.wordlists import read_wordlist


def write_lang(folder: Path, lang: str, contexts, questions) -> None:
    (folder / f"{lang}.contexts.jsonl").write_text("".join(json.dumps(c) + "\n" for c in contexts), encoding="utf-8")
    (folder / f"{lang}.questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")


def corpus(folder: Path) -> Path:
    """en + de, two paragraphs each, one question per language."""
    folder.mkdir(exist_ok=True)
    write_lang(folder, "en", [{"id": "p1", "text": "Cats purr."}, {"id": "p2", "text": "Dogs bark."}],
               [{"id": "q1", "context_id": "p1", "text": "What do cats do?"},
                {"id": "q2", "context_id": "p2", "text": "What do dogs do?"}])
    write_lang(folder, "de", [{"id": "p1", "text": "Katzen schnurren."}, {"id": "p2", "text": "Hunde bellen."}],
               [{"id": "q1", "context_id": "p1", "text": "Was tun Katzen?"}])
    return folder


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text, text
    return text


# -- the data folder --------------------------------------------------------------------------
def test_a_second_file_of_a_language_is_refused_not_mixed(tmp_path):
    data = corpus(tmp_path / "d")
    (data / "en.old.contexts.jsonl").write_text(json.dumps({"id": "p1", "text": "stale"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_parallel_qa(data)
    assert "en.old.contexts.jsonl" in one_line(err.value) and "'en.old' is not a language code" in str(err.value)


def test_two_spellings_of_one_language_are_refused(tmp_path):
    data = corpus(tmp_path / "d")
    for kind in ("contexts", "questions"):
        (data / f"eng-Latn.{kind}.jsonl").write_bytes((data / f"en.{kind}.jsonl").read_bytes())
    with pytest.raises(DataError, match=r"two files for one language \(eng-Latn\): en\.contexts\.jsonl and "
                                        r"eng-Latn\.contexts\.jsonl"):
        read_parallel_qa(data)


def test_a_single_language_is_refused(tmp_path):
    data = corpus(tmp_path / "d")
    for kind in ("contexts", "questions"):
        (data / f"de.{kind}.jsonl").unlink()
    with pytest.raises(DataError, match=r"only one language \(en\): a cross-lingual task needs"):
        read_parallel_qa(data)


@pytest.mark.parametrize(("code", "message"), [
    ("en-US", r"en-US\.contexts\.jsonl: language code 'en-US': region variants are not told apart .* "
              r"name the file en\.contexts\.jsonl"),
    ("pt_BR", r"region variants"),
    ("", r"\.contexts\.jsonl: empty language code"),
    ("xx", r"xx\.contexts\.jsonl: unknown language code 'xx'"),
])
def test_language_codes_outside_the_accepted_form_are_refused(tmp_path, code, message):
    data = corpus(tmp_path / "d")
    write_lang(data, code, [{"id": "p1", "text": "x"}], [{"id": "q1", "context_id": "p1", "text": "y"}])
    with pytest.raises(DataError, match=message) as err:
        read_parallel_qa(data)
    one_line(err.value)


def test_invalid_utf8_names_file_line_and_byte(tmp_path):
    data = corpus(tmp_path / "d")
    path = data / "de.contexts.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": "p3", "text": "Gr\xfc\xdfe"}\n')
    with pytest.raises(DataError, match=r"de\.contexts\.jsonl:3: not valid UTF-8: byte 0xfc at column 25"):
        read_parallel_qa(data)


def test_a_lone_surrogate_is_refused_at_load_with_its_line(tmp_path):
    data = corpus(tmp_path / "d")
    with open(data / "de.questions.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"id": "q2", "context_id": "p2", "text": "Hunde \\ud800 bellen"}\n')
    with pytest.raises(DataError, match=r"de\.questions\.jsonl:2: text holds a lone surrogate '\\ud800' at character 7"):
        read_parallel_qa(data)


# Any code point, with surrogates drawn often (hypothesis leaves them out of text by default).
_any_text = st.text(st.characters(codec=None, exclude_categories=())
                    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, codec=None, exclude_categories=()),
                    max_size=6)
_json_values = st.recursive(st.none() | st.integers() | _any_text,
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_any_text, inner, max_size=3),
                            max_leaves=8)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_any_text, _json_values, max_size=4), st.booleans())
def test_read_jsonl_refuses_a_lone_surrogate_anywhere_as_the_full_walk_does(tmp_path, obj, ascii_only):
    """read_jsonl walks a line's values only when the line holds a \\uD800-\\uDFFF escape: it must
    refuse every line that the full walk (check_strings on the parsed line) refuses, and no other."""
    from mteb_xalign.jsonl import check_strings, read_jsonl

    raw = (json.dumps(obj, ensure_ascii=ascii_only) + "\n").encode("utf-8", "surrogatepass")
    path = tmp_path / "x.jsonl"
    path.write_bytes(raw)
    try:
        parsed = json.loads(raw.decode("utf-8"))  # a surrogate pair escaped in ASCII parses to one character
        check_strings(parsed, path, 1)
    except UnicodeDecodeError:
        expected = "not valid UTF-8"
    except DataError:
        expected = "lone surrogate"
    else:
        assert [o for _, o in read_jsonl(path)] == [parsed]
        return
    with pytest.raises(DataError, match=expected):
        list(read_jsonl(path))


@pytest.mark.parametrize("where", ['{"t": "a%sb"}', '{"t": [1, {"u": "%s"}]}', '{"%s": 1}'])
def test_read_jsonl_refuses_every_lone_surrogate_escape(tmp_path, where):
    from mteb_xalign.jsonl import read_jsonl

    for code in range(0xD800, 0xE000, 0x80):
        for escape in (f"\\u{code:04x}", f"\\u{code:04X}"):
            path = tmp_path / "x.jsonl"
            path.write_text(where % escape + "\n", encoding="ascii")
            with pytest.raises(DataError, match="lone surrogate"):
                list(read_jsonl(path))


def test_a_pivot_question_whose_paragraph_is_missing_in_x_is_refused_at_load(tmp_path):
    data = corpus(tmp_path / "d")
    write_lang(data, "de", [{"id": "p1", "text": "Katzen schnurren."}], [{"id": "q1", "context_id": "p1", "text": "?"}])
    with pytest.raises(DataError, match=r"en\.questions\.jsonl:2: question 'q2' refers to paragraph 'p2', "
                                        r"which de\.contexts\.jsonl lacks"):
        read_parallel_qa(data)


def test_a_data_file_that_is_a_folder(tmp_path):
    data = corpus(tmp_path / "d")
    (data / "de.questions.jsonl").unlink()
    (data / "de.questions.jsonl").mkdir()
    with pytest.raises(DataError, match=r"de\.questions\.jsonl: is a folder, not a file"):
        read_parallel_qa(data)


def test_a_data_file_that_is_a_symlink_loop(tmp_path):
    data = corpus(tmp_path / "d")
    (data / "de.contexts.jsonl").unlink()
    os.symlink(data / "loop.b", data / "de.contexts.jsonl")
    os.symlink(data / "de.contexts.jsonl", data / "loop.b")
    with pytest.raises(DataError, match=r"de\.contexts\.jsonl: a symbolic link that loops or points nowhere"):
        read_parallel_qa(data)


def test_word_list_csv_with_invalid_utf8_names_its_line(tmp_path):
    path = tmp_path / "words.csv"
    path.write_bytes(b"en,de\nwater,Wasser\nbig,gro\xdf\n")
    with pytest.raises(DataError, match=r"words\.csv:3: not valid UTF-8: byte 0xdf at column 8"):
        read_wordlist(path)


def test_word_list_that_is_a_folder(tmp_path):
    (tmp_path / "words.jsonl").mkdir()
    with pytest.raises(DataError, match=r"words\.jsonl: is a folder, not a file"):
        read_wordlist(tmp_path / "words.jsonl")


# -- the command line: exit 1, one line, and the model is never loaded ----------------------------
def test_cli_bad_data_is_exit_1_one_line_before_the_model(xalign, tmp_path):
    data = corpus(tmp_path / "d")
    (data / "en.old.contexts.jsonl").write_text("{}\n", encoding="utf-8")
    code, err = xalign("run", "-t", "MultiRefCLIR", "--data", str(data), "-m", "xalign/use-multilingual-v3",
                       "--output", str(tmp_path / "out"))
    assert code == 1
    assert err.startswith("xalign: error: ") and err.count("\n") == 1 and "en.old.contexts.jsonl" in err
    assert "Traceback" not in err


def test_cli_a_broken_card_names_file_line_and_column(xalign, tmp_path):
    data = corpus(tmp_path / "d")
    (data / "card.json").write_text('{"name": "mine",\n "license": }\n', encoding="utf-8")
    code, err = xalign("run", "-t", "MultiRefCLIR", "--data", str(data), "-m", "xalign/use-multilingual-v3",
                       "--output", str(tmp_path / "out"))
    assert code == 1 and err.count("\n") == 1, err
    assert re.search(r"card\.json(:2: |: .*line 2 ).*column 13", err), err


@pytest.mark.parametrize(("code", "message"), [("en-US", "region variants"), ("", "empty language code"),
                                               ("en.old", "'en.old' is not a language code")])
def test_cli_language_codes_are_refused_in_one_line(xalign, tmp_path, code, message):
    data = corpus(tmp_path / "d")
    write_lang(data, code, [{"id": "p1", "text": "x"}, {"id": "p2", "text": "z"}],
               [{"id": "q1", "context_id": "p1", "text": "y"}])
    code_, err = xalign("run", "-t", "MultiRefCLIR", "--data", str(data), "-m", "xalign/use-multilingual-v3",
                        "--output", str(tmp_path / "out"))
    assert code_ == 1 and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("name", ["a/b", "../../escaped", "..", ".hidden", "a\\b", "x" * 101, ""])
def test_cli_task_names_that_are_not_file_names_are_refused(xalign, tmp_path, name):
    data = corpus(tmp_path / "d")
    code, err = xalign("run", "-t", "MultiRefCLIR", "--data", str(data), "--name", name,
                       "-m", "xalign/use-multilingual-v3", "--output", str(tmp_path / "out"))
    assert code == 1 and "it becomes a file name" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped.json").exists()


def test_cli_data_that_is_a_symlink_loop_or_a_folder_for_a_word_list(xalign, tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    code, err = xalign("run", "-t", "MultiRefCLIR", "--data", str(tmp_path / "a"), "-m", "xalign/use-multilingual-v3",
                       "--output", str(tmp_path / "out"))
    assert code == 1 and "a symbolic link that loops or points nowhere" in err
    (tmp_path / "words.jsonl").mkdir()
    code, err = xalign("run", "-t", "SemanticAffinity", "--data", str(tmp_path / "words.jsonl"),
                       "-m", "xalign/use-multilingual-v3", "--output", str(tmp_path / "out"))
    assert code == 1 and "words.jsonl: is a folder, not a file" in err and err.count("\n") == 1


def test_cli_output_that_is_a_file_is_refused(xalign, tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("not a folder", encoding="utf-8")
    code, err = xalign("run", "-t", "MultiRefCLIR", "-m", "xalign/use-multilingual-v3", "--output", str(target))
    assert code == 1 and f"--output {target}: is a file" in err
    code, err = xalign("run", "-t", "MultiRefCLIR", "-m", "xalign/use-multilingual-v3", "--output", str(target / "sub"))
    assert code == 1 and f"{target} is a file" in err


def test_cli_reported_errors_print_their_message_not_a_traceback(monkeypatch, capsys):
    """An error written for users (an API failure, wrapped by a library on its way up) is printed as itself."""
    from mteb_xalign import cli

    def fails(args):
        try:
            raise ServiceError("acme/embed: POST https://api.example/v1/embeddings failed after 6 attempt(s)")
        except ServiceError as exc:
            raise RuntimeError("mteb: evaluation failed") from exc

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: type("Args", (), {"func": staticmethod(fails)})())
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err == "xalign: error: acme/embed: POST https://api.example/v1/embeddings failed after 6 attempt(s)\n"


def test_cli_other_errors_still_raise(monkeypatch):
    """Only errors written for users are caught: a bug keeps its traceback."""
    from mteb_xalign import cli

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: type("Args", (), {"func": staticmethod(lambda a: 1 / 0)})())
    with pytest.raises(ZeroDivisionError):
        cli.main([])


# -- plugins ------------------------------------------------------------------------------------
def test_two_plugins_registering_one_model_name_are_named_and_refused(monkeypatch, capsys):
    from mteb.models import ModelMeta

    from mteb_xalign import run
    from mteb_xalign.errors import UserError

    def meta(reference):
        return ModelMeta(loader=None, name="acme/twice", revision="1", release_date=None, languages=None,
                         n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=8, license=None,
                         open_weights=True, public_training_code=None, public_training_data=None,
                         framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
                         training_datasets=None, reference=reference)

    registered = [("zeta-plugin", meta("https://zeta.example")), ("alpha-plugin", meta("https://alpha.example"))]
    monkeypatch.setitem(plugins._collected, "register_models", registered)
    monkeypatch.setattr(plugins, "model_conflicts", {})
    with pytest.warns(UserWarning, match=r"'acme/twice' is registered by 2 plugins \('alpha-plugin', 'zeta-plugin'\)"):
        models = plugins.get_models()
    assert [(p, m.reference) for p, m in models] == [("alpha-plugin", "https://alpha.example/")]  # never dir order
    assert "alpha-plugin" in capsys.readouterr().err
    monkeypatch.setattr("mteb.get_model_meta", lambda name: registered[0][1])
    with pytest.raises(UserError, match=r"registered by several plugins \('alpha-plugin', 'zeta-plugin'\)"):
        run.model_meta("acme/twice")


def test_one_plugin_registering_a_name_twice_means_its_later_entry(monkeypatch):
    """A models-file entry overriding the plugin's built-in of that name is not a conflict."""
    from mteb.models import ModelMeta

    def meta(reference):
        return ModelMeta(loader=None, name="acme/override", revision="1", release_date=None, languages=None,
                         n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=8, license=None,
                         open_weights=True, public_training_code=None, public_training_data=None,
                         framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
                         training_datasets=None, reference=reference)

    monkeypatch.setitem(plugins._collected, "register_models",
                        [("openai", meta("https://builtin.example/")), ("openai", meta("https://configured.example/"))])
    monkeypatch.setattr(plugins, "model_conflicts", {})
    assert [m.reference for _, m in plugins.get_models()] == ["https://configured.example/"]
    assert plugins.model_conflicts == {}


def test_two_plugins_registering_one_task_name_are_named(monkeypatch):
    import mteb

    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    task_cls = type(mteb.get_task("LAReQA"))
    monkeypatch.setitem(plugins._collected, "register_tasks", [("zz-tasks", task_cls), ("aa-tasks", task_cls)])
    monkeypatch.setattr(plugins, "task_conflicts", {})
    with pytest.warns(UserWarning, match=r"task 'LAReQA' is registered by 2 plugins \('aa-tasks', 'zz-tasks'\)"):
        assert plugins.get_tasks() == [("aa-tasks", task_cls)]
    assert plugins.task_conflicts == {"LAReQA": ["aa-tasks", "zz-tasks"]}
