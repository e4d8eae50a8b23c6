"""The embedding cache: shared by concurrent runs, safe when a run is killed mid-write."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mteb_xalign.cache import EmbeddingCache, default_cache_path, make_key


def vec(i: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(i).standard_normal(dim).astype(np.float32)


def test_roundtrip_and_keys_are_unambiguous(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    keys = [make_key("m", "query", "", f"text {i}") for i in range(1200)]  # > SQLite's 999 parameters
    cache.put_many((k, vec(i)) for i, k in enumerate(keys))
    fresh = EmbeddingCache(tmp_path / "c.sqlite3")  # a new process would see the same
    got = fresh.get_many(keys)
    assert len(got) == 1200 and all(np.array_equal(got[k], vec(i)) for i, k in enumerate(keys))
    # Fields are length-prefixed: moving characters between fields changes the key.
    assert make_key("m", "query", "a", "bc") != make_key("m", "query", "ab", "c")
    assert make_key("m", "query", "", "x") != make_key("m", "document", "", "x")


def test_off_switch_and_location(monkeypatch, tmp_path):
    monkeypatch.setenv("XALIGN_CACHE", "off")
    assert default_cache_path() is None
    memory_only = EmbeddingCache(None)
    memory_only.put_many([(b"k", vec(1))])
    assert np.array_equal(memory_only.get_many([b"k"])[b"k"], vec(1))
    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "x.db"))
    assert default_cache_path() == tmp_path / "x.db"


def test_damaged_row_is_never_served(tmp_path):
    path = tmp_path / "c.sqlite3"
    cache = EmbeddingCache(path)
    key = make_key("m", "query", "", "hello")
    cache.put_many([(key, vec(3))])
    cache.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE embeddings SET data = ? WHERE key = ?", (vec(4).tobytes(), key))  # bytes changed, crc not
    conn.commit()
    conn.close()
    assert EmbeddingCache(path).get_many([key]) == {}


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from mteb_xalign.cache import EmbeddingCache, make_key
    cache = EmbeddingCache(sys.argv[1])
    tag, rounds = sys.argv[2], int(sys.argv[3])
    for r in range(rounds):
        rows = [(make_key("m", "document", "", f"{tag}-{r}-{i}"), np.full(256, r * 1000 + i, np.float32))
                for i in range(500)]
        cache.put_many(rows)
        print(r, flush=True)
""")


def test_two_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "c.sqlite3"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, "20"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for tag in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    cache = EmbeddingCache(path)
    assert len(cache) == 2 * 20 * 500
    key = make_key("m", "document", "", "b-19-499")
    assert cache.get_many([key])[key][0] == 19 * 1000 + 499


def test_open_waits_while_another_process_holds_the_file(tmp_path, monkeypatch):
    """SQLite answers "database is locked" at once (no busy wait) to one of two connections that
    would deadlock, e.g. two processes turning a new file to WAL: opening tries again, within
    OPEN_WAIT_SECONDS, and only then gives up, naming the file."""
    import sqlite3

    from mteb_xalign import cache as cache_module
    from mteb_xalign.errors import UserError

    real = EmbeddingCache._connect_writable
    failures = [2]

    def sometimes_locked(self):
        if failures[0]:
            failures[0] -= 1
            raise sqlite3.OperationalError("database is locked")
        return real(self)

    monkeypatch.setattr(EmbeddingCache, "_connect_writable", sometimes_locked)
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    assert failures == [0] and cache.writable
    cache.close()

    monkeypatch.setattr(cache_module, "OPEN_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(EmbeddingCache, "_connect_writable",
                        lambda self: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")))
    with pytest.raises(UserError, match="c2.sqlite3: database is locked"):
        EmbeddingCache(tmp_path / "c2.sqlite3")


def test_killed_writer_leaves_only_whole_batches(tmp_path):
    path = tmp_path / "c.sqlite3"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "k", "100000"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(3):  # let it commit a few batches, then kill it mid-stream
        assert p.stdout.readline()
    time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    cache = EmbeddingCache(path)
    n = len(cache)
    assert n > 0 and n % 500 == 0  # whole transactions only
    rounds = n // 500
    keys = [make_key("m", "document", "", f"k-{r}-{i}") for r in range(rounds) for i in range(500)]
    got = cache.get_many(keys)
    assert len(got) == n
    assert all(got[make_key("m", "document", "", f"k-{r}-{i}")][0] == r * 1000 + i
               for r in range(rounds) for i in (0, 499))


# -- faults: one line naming the file and the way out; never a lost run -----------------------
def _filled(path, n=300):
    cache = EmbeddingCache(path)
    keys = [make_key("m", "query", "", f"t{i}") for i in range(n)]
    cache.put_many([(k, vec(i, 64)) for i, k in enumerate(keys)], model_id='{"name": "m"}', model_name="m")
    cache.close()
    return keys


@pytest.mark.parametrize("damage", ["truncated", "not a database", "pages overwritten"])
def test_damaged_file_is_moved_aside_once_and_the_run_goes_on(tmp_path, capsys, damage):
    path = tmp_path / "c.sqlite3"
    keys = _filled(path, 3000)
    size = path.stat().st_size
    if damage == "truncated":
        os.truncate(path, size // 2)
    elif damage == "not a database":
        path.write_bytes(b"this is somebody's notes, not SQLite\n" * 200)
    else:
        with open(path, "r+b") as f:  # header intact, the table's pages garbage
            f.seek(8192)
            f.write(os.urandom(size - 8192))
    original = path.read_bytes()
    cache = EmbeddingCache(path)
    found = cache.get_many(keys)  # damage found at open or at the first read
    cache.put_many([(keys[0], vec(0, 64))])
    assert found == {} and len(EmbeddingCache(path)) == 1  # a fresh file took its place
    (aside,) = cache.quarantined
    assert aside.parent == tmp_path and aside.read_bytes() == original  # kept for whoever wants it
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "moved aside" in err[0]


def test_path_that_is_a_folder_is_refused_in_one_line(tmp_path):
    from mteb_xalign.errors import UserError

    folder = tmp_path / "cache-dir"
    folder.mkdir()
    with pytest.raises(UserError) as info:
        EmbeddingCache(folder)
    message = str(info.value)
    assert str(folder) in message and "XALIGN_CACHE=off" in message and "\n" not in message


READ_ONLY = textwrap.dedent("""
    import sys, numpy as np
    from mteb_xalign.cache import EmbeddingCache, make_key
    cache = EmbeddingCache(sys.argv[1])
    keys = [make_key("m", "query", "", f"t{i}") for i in range(300)]
    found = cache.get_many(keys)
    cache.put_many([(make_key("m", "query", "", "new"), np.ones(64, np.float32))])
    cache.put_many([(make_key("m", "query", "", "newer"), np.ones(64, np.float32))])
    print(len(found), float(found[keys[7]][0]), len(cache.get_many([make_key("m", "query", "", "new")])))
""")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_read_only_cache_still_serves_reads(tmp_path):
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="xalign-ro-", dir="/tmp"))  # reachable by nobody
    try:
        path = folder / "c.sqlite3"
        keys = _filled(path)
        folder.chmod(0o555)
        path.chmod(0o444)
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               sys.executable, "-c", READ_ONLY, str(path)],
                              cwd=folder, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.split() == ["300", str(float(vec(7, 64)[0])), "1"]  # reads served, new ones in memory
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and "read-only" in lines[0]
        assert "XALIGN_CACHE=off" in lines[0]
        assert len(EmbeddingCache(path)) == len(keys)  # untouched
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_settings_are_parsed_once_for_every_variable(monkeypatch, tmp_path):
    from mteb_xalign.cache import cache_settings, shared_cache

    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "main.db"))
    monkeypatch.delenv("XALIGN_OPENAI_CACHE", raising=False)
    assert cache_settings("XALIGN_OPENAI_CACHE").path == tmp_path / "main.db"  # unset: the shared file
    assert shared_cache("XALIGN_OPENAI_CACHE") is shared_cache()
    monkeypatch.setenv("XALIGN_OPENAI_CACHE", "off")
    settings = cache_settings("XALIGN_OPENAI_CACHE")
    assert settings.path is None and "XALIGN_OPENAI_CACHE=off" in settings.way_out
    monkeypatch.setenv("XALIGN_OPENAI_CACHE", str(tmp_path / "api.db"))
    assert shared_cache("XALIGN_OPENAI_CACHE").path == tmp_path / "api.db"
