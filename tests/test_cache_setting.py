"""An XALIGN_CACHE that can never work (a folder, or a path under a file) is refused by
`xalign run` in one line before any model loads, not at the first encoding."""

from __future__ import annotations

import pytest

from mteb_xalign.cache import check_cache_setting
from mteb_xalign.errors import UserError


@pytest.mark.parametrize("kind", ["folder", "under a file"])
def test_a_cache_path_that_cannot_work_is_refused_before_the_model_loads(xalign, tmp_path, monkeypatch, kind):
    if kind == "folder":
        cache = tmp_path / "cache.sqlite3"
        cache.mkdir()
        words = f"embedding cache {cache} is a folder, not a file"
    else:
        (tmp_path / "plain-file").write_text("x")
        cache = tmp_path / "plain-file" / "cache.sqlite3"
        words = f"({tmp_path / 'plain-file'} is a file)"
    monkeypatch.setenv("XALIGN_CACHE", str(cache))
    code, err = xalign("run", "-t", "LAReQA", "-m", "xalign/use-multilingual-v3", "--output", str(tmp_path / "out"))
    assert code == 1 and words in err and "XALIGN_CACHE=off" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_usable_and_off_settings_pass_without_creating_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "new" / "deeper" / "c.sqlite3"))
    check_cache_setting()
    assert not (tmp_path / "new").exists()
    monkeypatch.setenv("XALIGN_CACHE", "off")
    check_cache_setting()
    monkeypatch.setenv("XALIGN_OPENAI_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="is a folder, not a file: set XALIGN_OPENAI_CACHE to another file"):
        check_cache_setting("XALIGN_OPENAI_CACHE")
