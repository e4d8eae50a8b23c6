"""`xalign cache`: location, size and rows per model; prune one model; clear only when confirmed."""

from __future__ import annotations

import numpy as np
import pytest

from mteb_xalign.cache import EmbeddingCache, make_key
from mteb_xalign.cli import main


def _fill(path):
    cache = EmbeddingCache(path)
    for name, n in (("org/a", 10), ("org/b", 5)):
        cache.put_many([(make_key(name, "query", "", str(i)), np.ones(8, np.float32)) for i in range(n)],
                       model_id=f'{{"name": "{name}"}}', model_name=name)
    cache.put_many([(make_key("old", "query", "", str(i)), np.ones(8, np.float32)) for i in range(3)])
    cache.close()


def test_show_prune_clear(isolated_cache, capsys):
    _fill(isolated_cache)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(isolated_cache) in out and "18 embeddings" in out
    rows = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in out.splitlines()[3:] if line}
    assert rows["org/a"] == "10" and rows["org/b"] == "5" and rows[next(k for k in rows if "unattributed" in k)] == "3"

    assert main(["cache", "prune", "--model", "org/a"]) == 0
    assert "deleted 10 embeddings of org/a" in capsys.readouterr().out
    assert len(EmbeddingCache(isolated_cache)) == 8
    assert main(["cache", "prune", "--model", "org/zz"]) == 1
    assert "no rows of model 'org/zz'; it holds org/b" in capsys.readouterr().err

    assert main(["cache", "clear"]) == 1  # not without --yes: refused
    assert "add --yes" in capsys.readouterr().err and len(EmbeddingCache(isolated_cache)) == 8
    assert main(["cache", "clear", "--yes"]) == 0
    assert len(EmbeddingCache(isolated_cache)) == 0


def test_off_and_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XALIGN_CACHE", "off")
    assert main(["cache"]) == 0 and "off" in capsys.readouterr().out
    assert main(["cache", "clear", "--yes"]) == 1
    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "none-yet.sqlite3"))
    assert main(["cache"]) == 0 and "no file yet" in capsys.readouterr().out
    assert not (tmp_path / "none-yet.sqlite3").exists()  # looking does not create it


@pytest.mark.parametrize("argv", [["cache", "--help"], ["cache", "prune", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0 and "xalign cache" in capsys.readouterr().out
