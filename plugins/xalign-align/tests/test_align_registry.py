"""The aligned-models index (~/.config/mteb-xalign/aligned.toml): registering says where and how to undo
it, can be switched off for good, `xalign align forget` removes an entry, and an entry whose folder is
gone is told once, by `xalign models`, never by every command (issue 26, point 3)."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from align_testkit import subprocess_env, xalign_bin
from mteb_xalign.errors import UserError


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("XALIGN_NO_REGISTER", raising=False)
    monkeypatch.setenv("XALIGN_MODELS_FILE", "")
    return tmp_path / "config" / "mteb-xalign" / "aligned.toml"


def _art(tmp_path, name="org/base+center-tatoeba"):
    folder = tmp_path / "art"
    folder.mkdir(exist_ok=True)
    return SimpleNamespace(name=name, folder=folder)


def test_registering_says_where_and_how_to_undo_it(tmp_path, config):
    from xalign_align.registry import index_file, register_made

    said = []
    register_made(_art(tmp_path), skip=False, log=said.append)
    assert index_file() == config and config.is_file() and "org/base+center-tatoeba" in config.read_text()
    (line,) = said
    assert str(config) in line and "--no-register" in line and "XALIGN_NO_REGISTER=1" in line
    assert "xalign align forget org/base+center-tatoeba" in line


@pytest.mark.parametrize("how", ["flag", "env"])
def test_registering_can_be_switched_off(tmp_path, config, monkeypatch, how):
    from xalign_align.registry import register_made

    if how == "env":
        monkeypatch.setenv("XALIGN_NO_REGISTER", "1")
    said = []
    register_made(_art(tmp_path), skip=how == "flag", log=said.append)
    assert not config.exists()
    assert said == [f"not registered ({'--no-register' if how == 'flag' else 'XALIGN_NO_REGISTER=1'}): "
                    f"use it with -m {tmp_path / 'art'}"]


def test_forget_removes_an_entry_and_names_what_the_index_holds(tmp_path, config, capsys):
    from mteb_xalign.cli import main
    from xalign_align.registry import add_to_index, remove_from_index

    add_to_index("org/a+center-tatoeba", tmp_path / "a")
    add_to_index("org/b+center-tatoeba", tmp_path / "b")
    assert main(["align", "forget", "org/a+center-tatoeba"]) == 0
    assert "removed org/a+center-tatoeba" in capsys.readouterr().out
    text = config.read_text()
    assert "org/a+center-tatoeba" not in text and "org/b+center-tatoeba" in text
    with pytest.raises(UserError, match=r"no aligned model 'org/zz' in .*aligned.toml; it holds org/b\+center-tatoeba"):
        remove_from_index("org/zz")
    assert main(["align", "forget", "org/zz"]) == 1


def test_a_gone_folder_is_quiet_at_registration_and_a_note_for_xalign_models(tmp_path, config, capsys):
    import xalign_align
    from xalign_align.registry import add_to_index

    add_to_index("org/gone+center-tatoeba", tmp_path / "deleted")
    (tmp_path / "empty").mkdir()
    add_to_index("org/empty+center-tatoeba", tmp_path / "empty")
    registered, notes = [], []
    xalign_align.register_models(register=registered.append)
    assert registered == [] and capsys.readouterr().err == ""
    xalign_align.register_model_notes(register=lambda name, text: notes.append((name, text)))
    assert dict(notes) == {
        "org/empty+center-tatoeba": f"aligned model 'org/empty+center-tatoeba': its folder {tmp_path / 'empty'} "
                                    "holds no aligned-model artifact; remove the entry with "
                                    "`xalign align forget org/empty+center-tatoeba`",
        "org/gone+center-tatoeba": f"aligned model 'org/gone+center-tatoeba': its folder {tmp_path / 'deleted'} is "
                                   "gone; remove the entry with `xalign align forget org/gone+center-tatoeba`"}


def test_only_xalign_models_tells_about_a_gone_folder(tmp_path, config):
    from xalign_align.registry import add_to_index

    add_to_index("org/gone+center-tatoeba", tmp_path / "deleted")
    env = subprocess_env({"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                          "XALIGN_MODELS_FILE": ""})
    quiet = subprocess.run([sys.executable, "-c", "import mteb; mteb.get_model_meta"
                            "('xalign/use-multilingual-v3')"], env=env, capture_output=True, text=True, timeout=900)
    assert quiet.returncode == 0 and "gone" not in quiet.stderr, quiet.stderr
    for _ in range(2):  # computed, then from the listing on disk: told both times
        models = subprocess.run([xalign_bin(), "models"], env=env, capture_output=True, text=True, timeout=900)
        assert models.returncode == 0, models.stderr
        told = [line for line in models.stderr.splitlines() if "org/gone+center-tatoeba" in line]
        assert len(told) == 1 and "is gone" in told[0] and "xalign align forget" in told[0], models.stderr
    run = subprocess.run([xalign_bin(), "run", "-t", "SemanticAffinity", "-m", "org/gone+center-tatoeba",
                          "--output", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 1 and "is gone" in run.stderr and "xalign align forget" in run.stderr, run.stderr
