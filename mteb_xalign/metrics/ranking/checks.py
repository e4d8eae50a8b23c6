"""Input validation for the ranking: every bad input becomes a ValueError naming what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IndexLists:
    """Per-query lists of document indices in CSR form: list q is flat[offsets[q]:offsets[q + 1]]."""

    offsets: np.ndarray  # int64, n_queries + 1
    flat: np.ndarray  # int64 document indices

    @classmethod
    def empty(cls, n_queries: int) -> "IndexLists":
        return cls(np.zeros(n_queries + 1, np.int64), np.zeros(0, np.int64))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def query_of_each(self) -> np.ndarray:
        """The query each flat entry belongs to."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.lengths)

    def slot_of_each(self) -> np.ndarray:
        """The position of each flat entry inside its own query's list."""
        return np.arange(len(self.flat)) - np.repeat(self.offsets[:-1], self.lengths)

    def per_query(self, values: np.ndarray) -> list[np.ndarray]:
        """Split an array aligned with `flat` into per-query views (np.split is slower)."""
        bounds = self.offsets.tolist()
        return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def float_matrix(x, name: str) -> np.ndarray:
    """A C-contiguous float32 (rows, dim) matrix with finite rows whose squared norm fits float32."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, dim), got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise ValueError(f"{name} must hold floats, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_rows_finite(squared_norms: np.ndarray, rows: np.ndarray, name: str, first_row: int = 0) -> None:
    """Raise naming the first row whose float32 squared norm is NaN or inf (a NaN/inf value, or too large)."""
    bad = np.flatnonzero(~np.isfinite(squared_norms))
    if bad.size:
        i = int(bad[0])
        what = "a NaN or infinite value" if not np.isfinite(rows[i]).all() else "values so large that scores overflow float32"
        raise ValueError(f"{name}[{first_row + i}] contains {what}")


def positive_int(name: str, value) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    if int(value) != value or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def index_lists(lists, name: str, n_queries: int, n_docs: int, *, allow_empty: bool,
                dedupe: bool = False) -> IndexLists:
    """Validate per-query index lists (in range, integer, no repeats unless deduped) as CSR."""
    if len(lists) != n_queries:
        raise ValueError(f"{name} has {len(lists)} entries but there are {n_queries} queries")
    rows = _integer_rows(lists, allow_empty)
    if rows is not None:  # one conversion for the whole table (a MultiRefCLIR subset has 1190 lists)
        lengths = np.full(n_queries, rows.shape[1], np.int64)
        flat = rows.reshape(-1).astype(np.int64)
    else:
        arrays = [_index_array(item, name, q, allow_empty) for q, item in enumerate(lists)]
        lengths = np.array([a.size for a in arrays], np.int64)
        flat = np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, np.int64)
    row = np.repeat(np.arange(n_queries), lengths)
    bad = np.flatnonzero((flat < 0) | (flat >= n_docs))
    if bad.size:
        raise ValueError(f"{name}[{int(row[bad[0]])}] contains document index {int(flat[bad[0]])}, "
                         f"outside 0..{n_docs - 1}")
    keys = row * n_docs + flat
    if dedupe:
        keys = np.unique(keys)
        row, flat = np.divmod(keys, n_docs)
        lengths = np.bincount(row, minlength=n_queries).astype(np.int64)
    else:
        ordered = np.sort(keys)
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if repeated.size:
            q, d = divmod(int(repeated[0]), n_docs)
            raise ValueError(f"{name}[{q}] lists document {d} more than once")
    offsets = np.zeros(n_queries + 1, np.int64)
    offsets[1:] = np.cumsum(lengths)
    return IndexLists(offsets, flat)


def _integer_rows(lists, allow_empty: bool) -> np.ndarray | None:
    """`lists` as one (n, k) integer array when it is one (lists of equal length holding integers
    only), else None: everything else, ragged or wrong, goes through the per-list checks."""
    if not len(lists):
        return None
    try:
        arr = np.asarray(lists)
    except (ValueError, TypeError):  # ragged lists: numpy refuses to make one array of them
        return None
    if arr.ndim != 2 or arr.dtype.kind not in "iu" or (arr.shape[1] == 0 and not allow_empty):
        return None
    return arr


def _index_array(item, name: str, q: int, allow_empty: bool) -> np.ndarray:
    arr = np.asarray(item)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}[{q}] must be a flat list of document indices, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name}[{q}] must hold integer document indices, got dtype {arr.dtype}")
    if not arr.size and not allow_empty:
        raise ValueError(f"{name}[{q}] is empty: every query needs at least one gold document")
    return arr


def check_disjoint(gold: IndexLists, exclude: IndexLists, n_docs: int) -> None:
    g_keys = gold.query_of_each() * n_docs + gold.flat
    e_keys = exclude.query_of_each() * n_docs + exclude.flat
    both = np.intersect1d(g_keys, e_keys)
    if both.size:
        q, d = divmod(int(both[0]), n_docs)
        raise ValueError(f"exclude[{q}] removes document {d}, which is a gold document of query {q}")


def mask_matrix(masks, n_docs: int) -> tuple[list[str], np.ndarray]:
    """Mask names and a (n_docs, n_masks) boolean matrix."""
    names = list(masks or {})
    matrix = np.zeros((n_docs, len(names)), bool)
    for m, name in enumerate(names):
        arr = np.asarray(masks[name])
        if arr.dtype != bool or arr.shape != (n_docs,):
            raise ValueError(f"mask {name!r} must be a boolean array of shape ({n_docs},), "
                             f"got dtype {arr.dtype} and shape {arr.shape}")
        matrix[:, m] = arr
    return names, matrix
