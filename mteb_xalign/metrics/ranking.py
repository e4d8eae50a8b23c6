"""Exact ranks of every gold document over a full pool, in memory bounded by one score block.

Tie rule (the only one used anywhere in mteb_xalign), pessimistic:

    rank(g) = #{d in pool_q : s(q, d) >= s(q, g)}

so a gold document is placed after every document it ties with, and a model that gives every
document the same score gets rank |D_q| for every gold document (never a lucky rank).

Exact ties need bitwise-equal scores, and BLAS does not give them: OpenBLAS' sgemm computes a
column with a different summation order depending on its position in the block (on this
project's Haswell build, columns 0-7 of a block differ from column 8 onwards in the last bit),
so two identical documents can get different float32 scores inside the same matrix product.
We therefore score each *distinct* document vector once and count it with its multiplicity:
identical documents share one computed score, so they always tie, whatever the BLAS does.

For each batch of queries, a first score block holds just the batch's gold vectors: the gold
thresholds are read out of it, and it is counted like any other block. The pool then follows in
slices of `chunk_size` distinct vectors, in storage order (no copy), with the gold vectors'
columns blanked (they were counted already, and must not get a second, possibly different score).
Every block is reduced to counters at once: one (queries x chunk) comparison per gold slot,
ragged gold lists padded with +inf. A gold vector thus has one score per query, used both as its
threshold and as its entry in the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

# Columns hashed to find candidate duplicate documents; candidates are then compared in full.
_PREFIX_COLUMNS = 16
# Rows per block when scanning the document matrix (finiteness check, duplicate search).
_SCAN_ROWS = 65536


@dataclass
class RankResult:
    """Ranks of the gold documents of every query (see the module docstring for the tie rule).

    ranks:        per query, int64 ranks (1-based) of its gold documents, in the order given.
    pool_sizes:   per query, |D_q| = n_docs - len(exclude[q]).
    n_relevant:   per query, |R_q| = len(gold[q]).
    mask_counts:  mask name -> per query, per gold document: how many documents of the mask that
                  are neither gold for q nor excluded for q score >= that gold document.
    top_indices:  (n_queries, top_k) document indices, best first; slots beyond |D_q| hold -1.
                  Among documents tied at the cut-off, which ones are kept is unspecified; the
                  returned list is ordered by score, then by document index.
    top_scores:   (n_queries, top_k) float32 scores matching top_indices (-inf in empty slots).
    """

    ranks: list[np.ndarray]
    pool_sizes: np.ndarray
    n_relevant: np.ndarray
    mask_counts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    top_indices: np.ndarray | None = None
    top_scores: np.ndarray | None = None

    @property
    def n_queries(self) -> int:
        return len(self.ranks)


def gold_ranks(
    queries: np.ndarray,
    docs: np.ndarray,
    gold: Sequence[Sequence[int]],
    *,
    exclude: Sequence[Sequence[int]] | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    top_k: int = 0,
    chunk_size: int = 8192,
    query_batch: int = 1024,
    device: str | None = None,
) -> RankResult:
    """Rank every gold document of every query against that query's whole pool; score = dot product.

    queries (n_queries, dim) and docs (n_docs, dim) are float32 (other float dtypes are converted,
    which copies). gold[q] lists the indices of q's relevant documents (non-empty, no repeats).
    exclude[q] lists documents removed from q's pool (neither counted nor returned); it may not
    contain a gold document of q. masks maps a name to a boolean array over docs; see RankResult.
    Identical document vectors are scored once, so they always tie (see the module docstring).

    Memory is bounded by query_batch x chunk_size scores (plus a few integers per document), never
    by the pool: the batch shrinks so that its gold documents fit in one chunk, and a chunk is
    at least as wide as the longest gold list. device None/"cpu" runs numpy; "cuda", "cuda:N",
    "mps" run the same algorithm in torch on that device; "torch-cpu" runs torch on the CPU.
    """
    Q = _float_matrix(queries, "queries")
    D = _float_matrix(docs, "docs")
    n_queries, n_docs = Q.shape[0], D.shape[0]
    if D.shape[1] != Q.shape[1]:
        raise ValueError(f"queries have dimension {Q.shape[1]} but docs have dimension {D.shape[1]}")
    if n_docs == 0:
        raise ValueError("docs is empty: there is no pool to rank against")
    if not np.isfinite(Q).all():
        bad = int(np.flatnonzero(~np.isfinite(Q).all(axis=1))[0])
        raise ValueError(f"queries[{bad}] contains a NaN or infinite value")
    for name, value in (("chunk_size", chunk_size), ("query_batch", query_batch)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if int(top_k) != top_k or top_k < 0:
        raise ValueError(f"top_k must be a non-negative integer, got {top_k!r}")
    top_k = int(top_k)

    g_off, g_flat = _index_lists(gold, "gold", n_queries, n_docs, allow_empty=False)
    if exclude is None:
        e_off, e_flat = np.zeros(n_queries + 1, np.int64), np.zeros(0, np.int64)
    else:
        e_off, e_flat = _index_lists(exclude, "exclude", n_queries, n_docs, allow_empty=True, dedupe=True)
        _check_disjoint(g_off, g_flat, e_off, e_flat, n_docs)
    mask_names, mask_matrix = _check_masks(masks, n_docs)

    groups = _DuplicateGroups.of(D)
    backend = _make_backend(device)
    ranker = _Ranker(Q, D, groups, backend, g_off, g_flat, e_off, e_flat, mask_matrix, top_k,
                     chunk_size=max(int(chunk_size), int(np.diff(g_off).max(initial=1))),
                     query_batch=int(query_batch))

    ranks = np.zeros(len(g_flat), np.int64)
    mask_flat = np.zeros((len(g_flat), len(mask_names)), np.int64)
    top_idx = np.full((n_queries, top_k), -1, np.int64) if top_k else None
    top_sc = np.full((n_queries, top_k), -np.inf, np.float32) if top_k else None
    for start, stop in ranker.batches():
        b_ranks, b_masks, b_top = ranker.rank_batch(start, stop)
        sl = slice(g_off[start], g_off[stop])
        ranks[sl], mask_flat[sl] = b_ranks, b_masks
        if top_k:
            top_idx[start:stop], top_sc[start:stop] = b_top

    def per_query(flat):
        bounds = g_off.tolist()
        return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]  # views; np.split is slower

    return RankResult(
        ranks=per_query(ranks),
        pool_sizes=(n_docs - np.diff(e_off)).astype(np.int64),
        n_relevant=np.diff(g_off).astype(np.int64),
        mask_counts={name: per_query(np.ascontiguousarray(mask_flat[:, m]))
                     for m, name in enumerate(mask_names)},
        top_indices=top_idx,
        top_scores=top_sc,
    )


# ----------------------------------------------------------------------------- input checks


def _float_matrix(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows, dim), got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise ValueError(f"{name} must hold floats, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _index_lists(lists, name: str, n_queries: int, n_docs: int, *, allow_empty: bool,
                 dedupe: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate per-query index lists and return them as CSR (offsets, flat indices)."""
    if len(lists) != n_queries:
        raise ValueError(f"{name} has {len(lists)} entries but there are {n_queries} queries")
    arrays = []
    for q, item in enumerate(lists):
        arr = np.asarray(item)
        if arr.ndim != 1:
            arr = arr.reshape(1) if arr.ndim == 0 else arr
            if arr.ndim != 1:
                raise ValueError(f"{name}[{q}] must be a flat list of document indices, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise ValueError(f"{name}[{q}] must hold integer document indices, got dtype {arr.dtype}")
        if not arr.size and not allow_empty:
            raise ValueError(f"{name}[{q}] is empty: every query needs at least one gold document")
        arrays.append(arr)
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
    return offsets, flat


def _check_disjoint(g_off, g_flat, e_off, e_flat, n_docs: int) -> None:
    g_keys = np.repeat(np.arange(len(g_off) - 1), np.diff(g_off)) * n_docs + g_flat
    e_keys = np.repeat(np.arange(len(e_off) - 1), np.diff(e_off)) * n_docs + e_flat
    both = np.intersect1d(g_keys, e_keys)
    if both.size:
        q, d = divmod(int(both[0]), n_docs)
        raise ValueError(f"exclude[{q}] removes document {d}, which is a gold document of query {q}")


def _check_masks(masks, n_docs: int) -> tuple[list[str], np.ndarray]:
    names = list(masks or {})
    matrix = np.zeros((n_docs, len(names)), bool)
    for m, name in enumerate(names):
        arr = np.asarray(masks[name])
        if arr.dtype != bool or arr.shape != (n_docs,):
            raise ValueError(f"mask {name!r} must be a boolean array of shape ({n_docs},), "
                             f"got dtype {arr.dtype} and shape {arr.shape}")
        matrix[:, m] = arr
    return names, matrix


# ----------------------------------------------------------------------------- duplicates


@dataclass
class _DuplicateGroups:
    """Documents grouped by identical vectors; unique ids are numbered by first occurrence.

    When every document is distinct, `uid` and `rep` are None (the identity) and nothing is copied.
    """

    n_unique: int
    uid: np.ndarray | None  # document -> unique id
    rep: np.ndarray | None  # unique id -> first document with that vector
    size: np.ndarray  # unique id -> number of documents
    members: np.ndarray | None  # documents sorted by (unique id, index)
    member_start: np.ndarray | None  # unique id -> offset into members

    @classmethod
    def of(cls, D: np.ndarray) -> "_DuplicateGroups":
        n, dim = D.shape
        # One pass over the matrix: check finiteness and hash a prefix of each row. Adding +0.0
        # turns -0.0 into +0.0, which scores identically.
        width = min(dim, _PREFIX_COLUMNS)
        mult = np.random.default_rng(0x5EED).integers(1, 2**63, width, dtype=np.int64).astype(np.uint64) | np.uint64(1)
        keys = np.empty(n, np.uint64)
        for a in range(0, n, _SCAN_ROWS):
            block = D[a:a + _SCAN_ROWS]
            # A row sum is NaN/inf when the row holds one (a cheaper pass than isfinite per value).
            if not np.isfinite(block.sum(axis=1)).all():
                finite = np.isfinite(block).all(axis=1)
                if not finite.all():
                    raise ValueError(f"docs[{a + int(np.flatnonzero(~finite)[0])}] contains a NaN or infinite value")
            prefix = (block[:, :width] + np.float32(0)).view(np.uint32)
            keys[a:a + _SCAN_ROWS] = prefix @ mult  # wraps modulo 2**64: exact and order-free
        ordered = np.sort(keys)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        candidates = np.flatnonzero(np.isin(keys, repeated)) if repeated.size else np.zeros(0, np.int64)
        if candidates.size == 0:
            return cls(n, None, None, np.ones(n, np.int64), None, None)
        # Exact grouping of the candidates by their full rows (as raw bytes).
        rows = np.ascontiguousarray(D[candidates] + np.float32(0))
        raw = rows.view(np.dtype((np.void, rows.dtype.itemsize * dim))).ravel()
        _, first, inv = np.unique(raw, return_index=True, return_inverse=True)
        if len(first) == candidates.size:
            return cls(n, None, None, np.ones(n, np.int64), None, None)
        # Each document points to the first document of its group; singletons to themselves.
        leader = np.arange(n, dtype=np.int64)
        leader[candidates] = candidates[first][inv.ravel()]
        is_leader = leader == np.arange(n)
        rep = np.flatnonzero(is_leader)
        uid_of_leader = np.full(n, -1, np.int64)
        uid_of_leader[rep] = np.arange(len(rep))
        uid = uid_of_leader[leader]
        size = np.bincount(uid, minlength=len(rep)).astype(np.int64)
        members = np.argsort(uid, kind="stable")
        member_start = np.zeros(len(rep) + 1, np.int64)
        member_start[1:] = np.cumsum(size)
        return cls(len(rep), uid, rep, size, members, member_start)

    @property
    def identity(self) -> bool:
        return self.uid is None

    def unique_of(self, doc_idx: np.ndarray) -> np.ndarray:
        return doc_idx if self.uid is None else self.uid[doc_idx]

    def docs_of(self, unique_idx: np.ndarray) -> np.ndarray:
        return unique_idx if self.rep is None else self.rep[unique_idx]

    def doc_slice(self, a: int, b: int) -> slice | np.ndarray:
        """Documents of vectors a..b-1: a slice (no copy) when they are stored contiguously."""
        if self.rep is None:
            return slice(a, b)
        if self.rep[b - 1] - self.rep[a] == b - 1 - a:
            return slice(int(self.rep[a]), int(self.rep[b - 1]) + 1)
        return self.rep[a:b]


# ----------------------------------------------------------------------------- backends


class _NumpyBackend:
    """Score blocks and counters as numpy arrays (BLAS matmul, uint8 reductions)."""

    def __init__(self):
        self._sbuf = self._bbuf = None

    def queries(self, Qb):
        return Qb

    def docs(self, D, rows):
        return D[rows]  # a view for a slice; a row gather (faster than np.take) otherwise

    def scores(self, Qd, Dc):
        shape = (Qd.shape[0], Dc.shape[0])
        if self._sbuf is None or self._sbuf.size < shape[0] * shape[1]:
            self._sbuf = np.empty(shape[0] * shape[1], np.float32)
            self._bbuf = np.empty(shape[0] * shape[1], bool)
        S = self._sbuf[: shape[0] * shape[1]].reshape(shape)
        return np.matmul(Qd, Dc.T, out=S)

    def thresholds(self, T):
        return T

    def zeros_counts(self, rows, G, n_cols):
        return np.zeros((rows, G, n_cols), np.int64)

    def count(self, S, T, W, counts):
        """counts[r, j, c] += sum over columns i with S[r, i] >= T[r, j] of W[i, c] (W None: 1)."""
        B = self._bbuf[: S.size].reshape(S.shape)
        for j in range(T.shape[1]):
            np.greater_equal(S, T[:, j, None], out=B)
            if W is None:
                counts[:, j, 0] += np.add.reduce(B.view(np.uint8), axis=1, dtype=np.int32)
            else:
                counts[:, j, :] += B.view(np.uint8) @ W

    def weights(self, W):
        return W

    def gather(self, S, r, c):
        return S[r, c]

    def set_neg_inf(self, S, r, c):
        S[r, c] = -np.inf

    def blank_columns(self, S, c):
        # A flat scatter is several times faster than S[:, c] = -inf (a strided fancy write).
        flat = (np.arange(S.shape[0])[:, None] * S.shape[1] + c).ravel()
        S.reshape(-1)[flat] = -np.inf

    def topk(self, S, k):
        if k >= S.shape[1]:
            cols = np.broadcast_to(np.arange(S.shape[1]), S.shape)
            return S.copy(), np.array(cols)
        cols = np.argpartition(S, S.shape[1] - k, axis=1)[:, S.shape[1] - k:]
        return np.take_along_axis(S, cols, axis=1), cols

    def to_numpy(self, x):
        return x


class _TorchBackend:
    """The same operations in torch on `device` (matmuls there, fp32 accumulation).

    On CUDA, torch's default keeps fp32 matmuls in full precision (allow_tf32 is False); if a
    caller enables TF32 the scores lose precision but ties stay exact (see module docstring).
    """

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def queries(self, Qb):
        return self.torch.from_numpy(np.ascontiguousarray(Qb)).to(self.device)

    def docs(self, D, rows):
        return self.torch.from_numpy(D[rows]).to(self.device)

    def scores(self, Qd, Dc):
        return Qd @ Dc.T

    def thresholds(self, T):
        return self.torch.from_numpy(T).to(self.device)

    def weights(self, W):
        # float32 matmul counts exactly below 2**24 documents per chunk; float64 beyond.
        dtype = self.torch.float32 if W[:, 0].sum() < 2**24 else self.torch.float64
        return self.torch.from_numpy(W).to(self.device, dtype)

    def zeros_counts(self, rows, G, n_cols):
        return self.torch.zeros((rows, G, n_cols), dtype=self.torch.int64, device=self.device)

    def count(self, S, T, W, counts):
        for j in range(T.shape[1]):
            B = S >= T[:, j, None]
            if W is None:
                counts[:, j, 0] += B.sum(dim=1)
            else:
                counts[:, j, :] += (B.to(W.dtype) @ W).round().to(self.torch.int64)

    def gather(self, S, r, c):
        t = self.torch
        return S[t.from_numpy(r).to(self.device), t.from_numpy(c).to(self.device)].cpu().numpy()

    def set_neg_inf(self, S, r, c):
        t = self.torch
        S[t.from_numpy(r).to(self.device), t.from_numpy(c).to(self.device)] = -float("inf")

    def blank_columns(self, S, c):
        S[:, self.torch.from_numpy(c).to(self.device)] = -float("inf")

    def topk(self, S, k):
        values, cols = self.torch.topk(S, min(k, S.shape[1]), dim=1)
        return values.cpu().numpy(), cols.cpu().numpy()

    def to_numpy(self, x):
        return x.cpu().numpy()


def _make_backend(device):
    if device is None or str(device) in ("cpu", "numpy"):
        return _NumpyBackend()
    name = str(device)
    if name == "torch-cpu":
        return _TorchBackend("cpu")
    if name == "auto":
        import torch

        if torch.cuda.is_available():
            return _TorchBackend("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return _TorchBackend("mps")
        return _NumpyBackend()
    try:
        return _TorchBackend(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"unknown device {device!r}: use None/'cpu', 'torch-cpu', 'cuda[:N]', 'mps' or 'auto'") from err


# ----------------------------------------------------------------------------- the ranker


class _Ranker:
    def __init__(self, Q, D, groups, backend, g_off, g_flat, e_off, e_flat, mask_matrix, top_k,
                 *, chunk_size, query_batch):
        self.Q, self.D, self.groups, self.be = Q, D, groups, backend
        self.g_off, self.g_flat, self.e_off, self.e_flat = g_off, g_flat, e_off, e_flat
        self.masks = mask_matrix
        self.n_masks = mask_matrix.shape[1]
        self.top_k = top_k
        self.chunk = chunk_size
        self.query_batch = query_batch
        nu = groups.n_unique
        # Per unique vector: its multiplicity and how many of its documents each mask holds.
        self.weighted = not groups.identity or self.n_masks > 0
        if self.weighted:
            W = np.empty((nu, 1 + self.n_masks), np.int32)
            W[:, 0] = groups.size
            for m in range(self.n_masks):
                W[:, 1 + m] = np.bincount(groups.unique_of(np.arange(D.shape[0])),
                                          weights=mask_matrix[:, m], minlength=nu)
            self.W = W

    def batches(self):
        """Consecutive query ranges of at most query_batch queries whose gold lists fit in one chunk."""
        n = len(self.g_off) - 1
        start = 0
        while start < n:
            limit = np.searchsorted(self.g_off, self.g_off[start] + self.chunk, side="right") - 1
            stop = min(start + self.query_batch, max(int(limit), start + 1), n)
            yield start, stop
            start = stop

    def rank_batch(self, start, stop):
        be, groups = self.be, self.groups
        rows = stop - start
        nu = groups.n_unique
        lengths = np.diff(self.g_off[start:stop + 1])
        G = int(lengths.max())
        g_docs = self.g_flat[self.g_off[start]:self.g_off[stop]]
        g_row = np.repeat(np.arange(rows), lengths)
        g_slot = np.arange(len(g_docs)) - np.repeat(self.g_off[start:stop] - self.g_off[start], lengths)
        g_uid = groups.unique_of(g_docs)

        # Blocks for this batch: first the batch's gold vectors ("front", read for thresholds),
        # then every vector in storage order (slices, no copy) with the front columns blanked out,
        # as they were counted in the first block. Positions: front i -> i, vector u -> F + u.
        front = np.unique(g_uid)
        F = len(front)
        in_front = np.zeros(nu, bool)
        in_front[front] = True

        def position(u):
            return np.where(in_front[u], np.searchsorted(front, u), F + u)

        g_pos = np.searchsorted(front, g_uid)

        # Excluded documents: (row, position) pairs, sorted by position to slice per block.
        e_docs = self.e_flat[self.e_off[start]:self.e_off[stop]]
        e_len = np.diff(self.e_off[start:stop + 1])
        e_row = np.repeat(np.arange(rows), e_len)
        e_uid = groups.unique_of(e_docs)
        e_pos = position(e_uid)
        by_pos = np.argsort(e_pos, kind="stable")
        e_row, e_pos, e_docs, e_uid = e_row[by_pos], e_pos[by_pos], e_docs[by_pos], e_uid[by_pos]
        e_masks = self.masks[e_docs]
        # A vector all of whose documents are excluded for a query leaves that query's top-k.
        keys, first, n_excl = np.unique(e_row * nu + e_uid, return_index=True, return_counts=True)
        gone = first[n_excl == groups.size[e_uid[first]]]
        gone_row, gone_pos = e_row[gone], e_pos[gone]
        gone_order = np.argsort(gone_pos, kind="stable")
        gone_row, gone_pos = gone_row[gone_order], gone_pos[gone_order]

        Qd = be.queries(self.Q[start:stop])
        counts = be.zeros_counts(rows, G, 1 + self.n_masks)
        correction = np.zeros((rows, G, 1 + self.n_masks), np.int64)
        T = np.full((rows, G), np.inf, np.float32)
        Td = None
        k_u = min(self.top_k, nu)
        best_s = np.full((rows, k_u), -np.inf, np.float32)
        best_u = np.full((rows, k_u), -1, np.int64)

        blocks = [(0, F, front)] + [(F + a, F + min(a + self.chunk, nu), None) for a in range(0, nu, self.chunk)]
        for p0, p1, uids in blocks:
            skipped = None
            if uids is None:  # a slice of the vectors in storage order, minus the front ones
                a, b = p0 - F, p1 - F
                lo, hi = np.searchsorted(front, [a, b])
                # Blank the front columns when they are few; when they are many (small pools),
                # copying the other rows is cheaper than scattering -inf over the block.
                if hi > lo and 4 * rows * (hi - lo) >= (b - a) * self.D.shape[1]:
                    skipped = front[lo:hi]
                    uids = np.delete(np.arange(a, b), skipped - a)
                    S = be.scores(Qd, be.docs(self.D, groups.docs_of(uids)))
                else:
                    uids = np.arange(a, b)
                    S = be.scores(Qd, be.docs(self.D, groups.doc_slice(a, b)))
                    if hi > lo:
                        be.blank_columns(S, front[lo:hi] - a)
                W = self.W[uids] if self.weighted else None
            else:
                S = be.scores(Qd, be.docs(self.D, groups.docs_of(uids)))
                # Gold thresholds out of this very block: bitwise the values they are compared with.
                T[g_row, g_slot] = be.gather(S, g_row, g_pos)
                if not np.isfinite(T[g_row, g_slot]).all():
                    raise ValueError("a gold score overflowed float32; are the embeddings normalised?")
                Td = be.thresholds(T)
                W = self.W[uids] if self.weighted else None
            be.count(S, Td, be.weights(W) if W is not None else None, counts)

            def column(pos):
                """Column in this block of the vectors at these positions."""
                if skipped is None:
                    return pos - p0
                return np.searchsorted(uids, pos - F)

            lo, hi = np.searchsorted(e_pos, [p0, p1])
            if hi > lo:
                r = e_row[lo:hi]
                vals = be.gather(S, r, column(e_pos[lo:hi]))
                hit = (vals[:, None] >= T[r]).astype(np.int64)
                np.add.at(correction[:, :, 0], r, hit)
                for m in range(self.n_masks):
                    sel = e_masks[lo:hi, m]
                    np.add.at(correction[:, :, 1 + m], r[sel], hit[sel])

            if k_u and p1 > p0:
                lo, hi = np.searchsorted(gone_pos, [p0, p1])
                if hi > lo:
                    be.set_neg_inf(S, gone_row[lo:hi], column(gone_pos[lo:hi]))
                vals, cols = be.topk(S, min(k_u, p1 - p0))
                cand_s = np.concatenate([best_s, vals], axis=1)
                cand_u = np.concatenate([best_u, uids[cols]], axis=1)
                keep = np.argpartition(-cand_s, k_u - 1, axis=1)[:, :k_u]
                best_s = np.take_along_axis(cand_s, keep, axis=1)
                best_u = np.take_along_axis(cand_u, keep, axis=1)

        counts = be.to_numpy(counts).astype(np.int64) - correction
        # Mask counts leave out the query's own gold documents: those tie or beat a gold exactly
        # when their threshold does (same computed score).
        if self.n_masks:
            g_in_mask = np.zeros((rows, G, self.n_masks), bool)
            g_in_mask[g_row, g_slot] = self.masks[g_docs]
            beats = T[:, None, :] >= T[:, :, None]  # [r, j, j']: gold j' scores >= gold j
            counts[:, :, 1:] -= np.einsum("rjk,rkm->rjm", beats.astype(np.int64), g_in_mask.astype(np.int64))
        b_ranks = counts[g_row, g_slot, 0]
        b_masks = counts[g_row, g_slot, 1:]
        b_top = self._expand_top(best_s, best_u, start, stop, e_row, e_docs) if self.top_k else None
        return b_ranks, b_masks, b_top

    def _expand_top(self, best_s, best_u, start, stop, e_row, e_docs):
        """Best unique vectors -> best documents (each vector stands for all its documents)."""
        rows, k = best_s.shape[0], self.top_k
        by_u = np.argsort(best_u, axis=1, kind="stable")
        best_s, best_u = np.take_along_axis(best_s, by_u, 1), np.take_along_axis(best_u, by_u, 1)
        by_s = np.argsort(-best_s, axis=1, kind="stable")
        best_s, best_u = np.take_along_axis(best_s, by_s, 1), np.take_along_axis(best_u, by_s, 1)
        out_i = np.full((rows, k), -1, np.int64)
        out_s = np.full((rows, k), -np.inf, np.float32)
        valid = best_s > -np.inf
        r, c = np.nonzero(valid)
        u, s = best_u[r, c], best_s[r, c]
        groups = self.groups
        if groups.identity:
            docs, doc_row, doc_s = u, r, s
        else:
            # At most k + (that query's exclusions) documents of a vector can be needed.
            n_excl = np.bincount(e_row, minlength=rows)
            take = np.minimum(groups.size[u], k + n_excl[r])
            row_start = np.searchsorted(r, r)  # r is sorted (row-major nonzero)
            before = np.cumsum(take) - take
            take = np.where(before - before[row_start] < k + n_excl[r], take, 0)
            rep_idx = np.repeat(np.arange(len(u)), take)
            offset = np.arange(len(rep_idx)) - np.repeat(np.cumsum(take) - take, take)
            docs = groups.members[groups.member_start[u[rep_idx]] + offset]
            doc_row, doc_s = r[rep_idx], s[rep_idx]
            if len(e_docs):
                n_docs = self.D.shape[0]
                dropped = np.isin(doc_row * n_docs + docs, e_row * n_docs + e_docs)
                docs, doc_row, doc_s = docs[~dropped], doc_row[~dropped], doc_s[~dropped]
        order = np.lexsort((docs, -doc_s, doc_row))
        docs, doc_row, doc_s = docs[order], doc_row[order], doc_s[order]
        slot = np.arange(len(docs)) - np.searchsorted(doc_row, doc_row)
        fits = slot < k
        out_i[doc_row[fits], slot[fits]] = docs[fits]
        out_s[doc_row[fits], slot[fits]] = doc_s[fits]
        return out_i, out_s
