"""The embedding cache: shared by concurrent runs, safe when a run is killed mid-write."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np

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
