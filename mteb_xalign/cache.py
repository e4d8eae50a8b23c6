"""Persistent embedding cache: each (model, revision, role, context, text) is encoded once.

SQLite in WAL mode: many readers and one writer at a time across processes, and a run
killed mid-write leaves the last committed state (a transaction is all or nothing). Each
row also carries its dimension and a CRC32 of the vector bytes, so a damaged row is
treated as missing (re-encoded), never served.

mteb ships `CachedEmbeddingWrapper`, but it keys vectors per task (so the XQuAD questions
that MultiRefCLIR and LAReQA share would be encoded twice) and writes plain numpy files
that two concurrent runs can corrupt; hence this small module.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key   BLOB PRIMARY KEY,
    dim   INTEGER NOT NULL,
    crc   INTEGER NOT NULL,
    data  BLOB NOT NULL
) WITHOUT ROWID;
"""


def default_cache_path() -> Path | None:
    """XALIGN_CACHE=off disables the persistent cache; XALIGN_CACHE=PATH moves it."""
    raw = os.environ.get("XALIGN_CACHE")
    if raw is not None and raw.strip().lower() in {"", "0", "off", "none", "false"}:
        return None
    if raw:
        return Path(raw)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mteb-xalign" / "embeddings.sqlite3"


def make_key(model_id: str, role: str, context: str, text: str) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    for part in (model_id, role, context, text):
        encoded = part.encode("utf-8")
        h.update(len(encoded).to_bytes(8, "little"))  # length-prefixed: no ambiguous joins
        h.update(encoded)
    return h.digest()


class EmbeddingCache:
    """A memory layer over an optional SQLite file."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        self._memory: dict[bytes, np.ndarray] = {}
        self._conn: sqlite3.Connection | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        missing = [k for k in keys if k not in found]
        if self._conn is not None and missing:
            for start in range(0, len(missing), 500):  # SQLite's host-parameter limit
                part = missing[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT key, dim, crc, data FROM embeddings WHERE key IN ({marks})", part
                )
                for key, dim, crc, data in rows:
                    if len(data) != 4 * dim or zlib.crc32(data) != crc:
                        continue  # damaged: treat as missing, it will be re-encoded
                    vector = np.frombuffer(data, dtype=np.float32)
                    self._memory[key] = vector
                    found[key] = vector
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = []
        for key, vector in items:
            vector = np.ascontiguousarray(vector, dtype=np.float32)
            self._memory[key] = vector
            data = vector.tobytes()
            rows.append((key, vector.shape[0], zlib.crc32(data), data))
        if self._conn is not None and rows:
            with self._conn:  # one transaction: all rows or none
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, dim, crc, data) VALUES (?, ?, ?, ?)", rows
                )

    def __len__(self) -> int:
        if self._conn is not None:
            return self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return len(self._memory)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_shared: dict[Path | None, EmbeddingCache] = {}


def shared_cache() -> EmbeddingCache:
    """The process-wide cache at `default_cache_path()` (re-read each call, so tests can move it)."""
    path = default_cache_path()
    if path not in _shared:
        _shared[path] = EmbeddingCache(path)
    return _shared[path]
