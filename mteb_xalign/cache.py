"""Persistent embedding cache: each (model, revision, role, context, text) is encoded once.

SQLite in WAL mode: many readers and one writer at a time across processes, and a run
killed mid-write leaves the last committed state (a transaction is all or nothing). Each
row also carries its dimension and a CRC32 of the vector bytes, so a damaged row is
treated as missing (re-encoded), never served; so is a row that is not finite.

The cache never costs a run its results. A cache that cannot be written (read-only folder,
disk full) still serves what it holds and the run goes on in memory; a damaged file is
moved aside and replaced by a fresh one; each is said once on stderr, naming the file and
the way out. Only a setting that can never work (the path is a folder) stops the run, at
once, before anything is encoded.

mteb ships `CachedEmbeddingWrapper`, but it keys vectors per task (so the XQuAD questions
that MultiRefCLIR and LAReQA share would be encoded twice) and writes plain numpy files
that two concurrent runs can corrupt; hence this small module.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from mteb_xalign.errors import UserError

CACHE_ENV = "XALIGN_CACHE"
_OFF = {"", "0", "off", "none", "false", "no"}
#: Rows per write transaction: a kill or a full disk loses at most the batch in flight.
MAX_ROWS_PER_TRANSACTION = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key   BLOB PRIMARY KEY,
    dim   INTEGER NOT NULL,
    crc   INTEGER NOT NULL,
    data  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models (
    id        INTEGER PRIMARY KEY,
    model_id  TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class CacheSettings:
    """Where embeddings persist (`path` None: memory only) and the variable that said so."""

    path: Path | None
    variable: str = CACHE_ENV

    @property
    def way_out(self) -> str:
        return f"set {self.variable} to another file, or {self.variable}=off to run without a persistent cache"


def cache_settings(variable: str = CACHE_ENV) -> CacheSettings:
    """The one parser of cache settings: `variable`=off disables, =PATH moves the file.

    A variable other than XALIGN_CACHE (e.g. XALIGN_OPENAI_CACHE) that is unset falls back
    to XALIGN_CACHE, so an adapter's own setting is optional.
    """
    raw = os.environ.get(variable)
    if raw is None and variable != CACHE_ENV:
        return cache_settings(CACHE_ENV)
    if raw is not None and raw.strip().lower() in _OFF:
        return CacheSettings(None, variable)
    if raw:
        return CacheSettings(Path(raw).expanduser(), variable)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return CacheSettings(base / "mteb-xalign" / "embeddings.sqlite3", variable)


def refuse_unusable(settings: CacheSettings) -> None:
    """Refuse, in one line, a cache path that can never work: a folder, or under a file."""
    path = settings.path
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"embedding cache {path} is a folder, not a file: {settings.way_out}")
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise UserError(f"embedding cache {path}: cannot create its folder ({above} is a file): {settings.way_out}")


def check_cache_setting(variable: str = CACHE_ENV) -> None:
    """What `xalign run` calls before any model loads (the cache itself opens at the first
    encoding): a setting that can never work is refused now, not after a model has loaded."""
    refuse_unusable(cache_settings(variable))


def default_cache_path() -> Path | None:
    """XALIGN_CACHE=off disables the persistent cache; XALIGN_CACHE=PATH moves it."""
    return cache_settings().path


def make_key(model_id: str, role: str, context: str, text: str) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    for part in (model_id, role, context, text):
        encoded = part.encode("utf-8")
        h.update(len(encoded).to_bytes(8, "little"))  # length-prefixed: no ambiguous joins
        h.update(encoded)
    return h.digest()


def _errorname(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""


def _is_corrupt(exc: sqlite3.Error) -> bool:
    name = _errorname(exc)
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    text = str(exc)
    return "not a database" in text or "malformed" in text


def _is_locked(exc: sqlite3.Error) -> bool:
    name = _errorname(exc)
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def _is_unwritable(exc: sqlite3.Error) -> bool:
    name = _errorname(exc)
    return name.startswith(("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PERM"))


#: How long opening waits for another process that holds the file (as the busy timeout does).
OPEN_WAIT_SECONDS = 120


class EmbeddingCache:
    """A memory layer over an optional SQLite file."""

    def __init__(self, path: str | Path | None, *, variable: str = CACHE_ENV):
        self.path = Path(path) if path is not None else None
        self.settings = CacheSettings(self.path, variable)
        self._memory: dict[bytes, np.ndarray] = {}
        self._conn: sqlite3.Connection | None = None
        self._model_ids: dict[str, int] = {}
        self.writable = self.path is not None
        self.quarantined: list[Path] = []
        if self.path is not None:
            self._open()

    # -- opening, faults ---------------------------------------------------------------
    def _say(self, message: str) -> None:
        print(f"xalign: embedding cache {self.path}: {message}", file=sys.stderr, flush=True)

    def _open(self) -> None:
        path = self.path
        assert path is not None
        refuse_unusable(self.settings)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"embedding cache {path}: cannot create its folder ({exc.strerror}): "
                            f"{self.settings.way_out}") from None
        try:
            self._connect_writable_when_free()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            if _is_corrupt(exc):
                self._quarantine(exc)
                self._connect_writable_when_free()  # a new file: the case the retry is for
            elif _is_unwritable(exc) and path.exists():
                self._connect_read_only(exc)
            else:
                raise UserError(f"embedding cache {path}: {exc}: {self.settings.way_out}") from None

    def _connect_writable_when_free(self) -> None:
        """_connect_writable, tried again while another process holds the file. SQLite's busy
        timeout does not cover every case: two connections that both turn a new file to WAL, or
        both upgrade a read lock to a write lock, would deadlock, so SQLite answers one of them
        "database is locked" at once instead of waiting. The loser closes and tries again."""
        deadline = time.monotonic() + OPEN_WAIT_SECONDS
        pause = 0.01
        while True:
            try:
                return self._connect_writable()
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() + pause > deadline:
                    raise
                self._close_quietly()
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _connect_writable(self) -> None:
        self._conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(embeddings)")}
        if "model" not in columns:  # caches written before rows were attributed to models
            try:
                self._conn.execute("ALTER TABLE embeddings ADD COLUMN model INTEGER")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise
        self._conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM embeddings LIMIT 1)").fetchone()

    def _connect_read_only(self, reason: sqlite3.Error) -> None:
        uri = "file:" + quote(str(self.path.resolve()))
        try:
            self._conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=120, isolation_level=None)
            self._conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM embeddings LIMIT 1)").fetchone()
        except sqlite3.DatabaseError:
            # A WAL database in a folder where its -shm file cannot be made: nobody can write
            # there either, so reading it as immutable is safe.
            self._close_quietly()
            try:
                self._conn = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)
                self._conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM embeddings LIMIT 1)").fetchone()
            except sqlite3.DatabaseError as exc:
                self._close_quietly()
                if _is_corrupt(exc):
                    raise UserError(f"embedding cache {self.path} is damaged and cannot be moved aside "
                                    f"({reason}): {self.settings.way_out}") from None
                raise UserError(f"embedding cache {self.path}: {exc}: {self.settings.way_out}") from None
        self.writable = False
        self._say(f"read-only ({reason}); reading from it, new embeddings are kept in memory only "
                  f"({self.settings.way_out})")

    def _quarantine(self, reason: sqlite3.Error) -> None:
        self._close_quietly()
        path = self.path
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        try:
            path.rename(aside)
        except OSError as exc:
            raise UserError(f"embedding cache {path} is damaged ({reason}) and cannot be moved aside "
                            f"({exc.strerror}): {self.settings.way_out}") from None
        for suffix in ("-wal", "-shm"):  # they belong to the damaged file
            extra = path.with_name(path.name + suffix)
            if extra.exists():
                extra.rename(aside.with_name(aside.name + suffix))
        self.quarantined.append(aside)
        self._model_ids.clear()
        self._say(f"damaged ({reason}); moved aside to {aside.name}, continuing with a fresh cache")

    def _close_quietly(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _stop_writing(self, exc: sqlite3.Error) -> None:
        self.writable = False
        self._say(f"cannot write ({exc}); what it holds is kept and still read, new embeddings are kept "
                  f"in memory only ({self.settings.way_out})")

    def _fault(self, exc: sqlite3.DatabaseError) -> None:
        """A fault met while using an open cache: quarantine a damaged file, else one clear line."""
        if _is_corrupt(exc):
            self._quarantine(exc)
            self._connect_writable_when_free()
            return
        raise UserError(f"embedding cache {self.path}: {exc}: {self.settings.way_out}") from None

    # -- reading and writing -------------------------------------------------------------
    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        missing = [k for k in keys if k not in found]
        if self._conn is not None and missing:
            try:
                self._read_into(missing, found)
            except sqlite3.DatabaseError as exc:
                self._fault(exc)  # quarantined: the fresh file holds nothing, so the rest is missing
        return found

    def _read_into(self, missing: list[bytes], found: dict[bytes, np.ndarray]) -> None:
        for start in range(0, len(missing), 500):  # SQLite's host-parameter limit
            part = missing[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(f"SELECT key, dim, crc, data FROM embeddings WHERE key IN ({marks})", part)
            for key, dim, crc, data in rows:
                if len(data) != 4 * dim or zlib.crc32(data) != crc:
                    continue  # damaged: treat as missing, it will be re-encoded
                vector = np.frombuffer(data, dtype=np.float32)
                if not np.isfinite(vector).all():
                    continue  # written by an older version that cached NaN: re-encode
                self._memory[key] = vector
                found[key] = vector

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]], *, model_id: str | None = None,
                 model_name: str | None = None) -> None:
        """Store vectors (finite ones only: anything else is a bug upstream and raises).

        `model_id`/`model_name` attribute the rows to a model, for `xalign cache`.
        """
        rows = []
        for key, vector in items:
            vector = np.ascontiguousarray(vector, dtype=np.float32)
            if vector.ndim != 1 or not np.isfinite(vector).all():
                raise ValueError("refusing to cache a vector that is not a finite 1-d array")
            self._memory[key] = vector
            data = vector.tobytes()
            rows.append((key, vector.shape[0], zlib.crc32(data), data))
        if self._conn is None or not self.writable or not rows:
            return
        for attempt in (1, 2):
            try:
                model = self._model_row(model_id, model_name) if model_id else None
                for start in range(0, len(rows), MAX_ROWS_PER_TRANSACTION):
                    part = [(*row, model) for row in rows[start : start + MAX_ROWS_PER_TRANSACTION]]
                    with self._conn:  # one bounded transaction: all of its rows or none
                        self._conn.execute("BEGIN IMMEDIATE")
                        self._conn.executemany(
                            "INSERT OR REPLACE INTO embeddings (key, dim, crc, data, model) VALUES (?, ?, ?, ?, ?)",
                            part,
                        )
                return
            except sqlite3.DatabaseError as exc:
                if _is_corrupt(exc) and attempt == 1:
                    self._fault(exc)  # quarantined: write everything again into the fresh file
                    continue
                if _is_unwritable(exc):
                    self._stop_writing(exc)
                    return
                raise UserError(f"embedding cache {self.path}: {exc}: {self.settings.way_out}") from None

    def _model_row(self, model_id: str, model_name: str | None) -> int:
        if model_id not in self._model_ids:
            self._conn.execute("INSERT OR IGNORE INTO models (model_id, name) VALUES (?, ?)",
                               (model_id, model_name or model_id))
            (row,) = self._conn.execute("SELECT id FROM models WHERE model_id = ?", (model_id,)).fetchone()
            self._model_ids[model_id] = row
        return self._model_ids[model_id]

    # -- inspection and maintenance (`xalign cache`) --------------------------------------
    def __len__(self) -> int:
        if self._conn is not None:
            return self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return len(self._memory)

    def rows_per_model(self) -> list[tuple[str | None, int]]:
        """(model name, rows) per model; None for rows written before rows were attributed."""
        if self._conn is None:
            return []
        return [(name, n) for name, n in self._conn.execute(
            "SELECT m.name, COUNT(*) FROM embeddings e LEFT JOIN models m ON e.model = m.id "
            "GROUP BY m.name ORDER BY COUNT(*) DESC")]

    def prune(self, model_name: str) -> int:
        """Delete every row of the model named `model_name` (all revisions); returns the count."""
        self._require_writable()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            n = self._conn.execute(
                "DELETE FROM embeddings WHERE model IN (SELECT id FROM models WHERE name = ?)", (model_name,)
            ).rowcount
            self._conn.execute("DELETE FROM models WHERE name = ?", (model_name,))
        self._model_ids.clear()
        self._memory.clear()
        self._compact()
        return n

    def clear(self) -> int:
        """Delete every row; returns the count."""
        self._require_writable()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            n = self._conn.execute("DELETE FROM embeddings").rowcount
            self._conn.execute("DELETE FROM models")
        self._model_ids.clear()
        self._memory.clear()
        self._compact()
        return n

    def _compact(self) -> None:
        # VACUUM goes through the WAL; the checkpoint hands the space back to the disk.
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _require_writable(self) -> None:
        if self._conn is None or not self.writable:
            raise UserError(f"embedding cache {self.path} cannot be changed (read-only or off)")

    def size_bytes(self) -> int:
        if self.path is None:
            return 0
        return sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal"))
                   if p.exists())

    def close(self) -> None:
        self._close_quietly()


_shared: dict[tuple[Path | None, str], EmbeddingCache] = {}


def shared_cache(variable: str = CACHE_ENV) -> EmbeddingCache:
    """The process-wide cache that `variable` points to (re-read each call, so tests can move it).

    Adapters with a setting of their own call it with their variable (e.g.
    `shared_cache("XALIGN_OPENAI_CACHE")`): unset, it is the shared XALIGN_CACHE file.
    """
    settings = cache_settings(variable)
    slot = (settings.path, settings.variable if settings.path is None else "")
    if slot not in _shared:
        _shared[slot] = EmbeddingCache(settings.path, variable=settings.variable)
    return _shared[slot]
