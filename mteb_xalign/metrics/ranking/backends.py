"""The per-block operations of the ranker, on numpy (BLAS) or torch (any device).

A backend computes one float32 score block S = Q_batch @ D_chunk.T and reduces it at once, while
it is hot: per gold threshold, the count of columns certainly above it and the (row, column)
pairs in its uncertainty band (see exact.py). Everything returned is numpy.
"""

from __future__ import annotations

import contextlib

import numpy as np

from mteb_xalign.device import resolve_device
from mteb_xalign.metrics.blas import blas_threads, one_blas_thread
from mteb_xalign.metrics.ranking import fused

# Below this many multiply-adds a ranking runs its BLAS on one thread: extra threads spin and
# synchronise on such small products for little gain (a MultiRefCLIR subset is 2e8).
SMALL_WORK = 2**30
TILE_BYTES = 2**22  # the row tiles count_and_band reduces: several passes each, from the cache
# Without mask weights, count_and_band runs one compiled pass per row (fused.py, numba) instead of
# the numpy passes below; False forces the numpy passes (the tests check both against brute force).
FUSED = True


class NumpyBackend:
    """BLAS sgemm into one reused buffer; uint8/uint64 reductions over boolean buffers.

    One instance per thread: the ranker runs `workers` of them side by side on parts of the pool,
    each with one BLAS thread, so the reductions of a score block run while it is still in its
    core's cache and never on one core while the others wait."""

    name = "numpy"
    input_rounding = 0.0  # numpy's float32 matmul rounds nothing on input

    def __init__(self):
        self._size = 0
        self._tile_size = 0
        self.workers = 1

    def _buffers(self, shape):
        """The reused score block and a boolean block of the same shape."""
        size = shape[0] * shape[1]
        if size > self._size:
            self._size = size
            self._scores = np.empty(size, np.float32)
            self._flags = np.empty(size, bool)
        return self._scores[:size].reshape(shape), self._flags[:size].reshape(shape)

    def threads_for(self, multiply_adds: int):
        """One BLAS thread within the block; `workers` threads of the ranker: as many as BLAS had
        (threadpoolctl, a dependency) for large work, one for small work (extra threads spin and
        synchronise on small products for little gain)."""
        self.workers = blas_threads() if multiply_adds >= SMALL_WORK else 1
        return one_blas_thread()

    def fresh(self) -> "NumpyBackend":
        """Another instance for another thread (its own buffers)."""
        return NumpyBackend()

    def queries(self, Qb: np.ndarray):
        return Qb

    def scores(self, Qd, Dc: np.ndarray):
        S, _ = self._buffers((Qd.shape[0], Dc.shape[0]))
        return np.matmul(Qd, Dc.T, out=S)

    def squared_norms(self, Dc: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Dc, Dc)

    def blank(self, S, rows: np.ndarray, cols: np.ndarray) -> None:
        S[rows, cols] = -np.inf

    def count_and_band(self, S, lo: np.ndarray, hi: np.ndarray, weights: np.ndarray | None):
        """Per row and gold slot j: the count of scores above hi[:, j] ((rows, G, n_weights), a
        column of ones when weights is None), and the (row, column, slot) of every score in
        [lo[:, j], hi[:, j]]. Row tiles of about TILE_BYTES: every pass after the first reads from cache."""
        if weights is None and FUSED:
            return fused.count_and_band(S, lo, hi)
        n_rows, n_cols = S.shape
        tile = max(8, (TILE_BYTES // (4 * max(n_cols, 1))) // 8 * 8)
        above, inband = self._tile_buffers(tile * n_cols)
        counts = np.zeros((n_rows, lo.shape[1], 1 if weights is None else weights.shape[1]), np.int64)
        found = []
        for r in range(0, n_rows, tile):
            St = S[r:r + tile]
            up, band = above[:St.size].reshape(St.shape), inband[:St.size].reshape(St.shape)
            for j in range(lo.shape[1]):
                np.greater(St, hi[r:r + tile, j, None], out=up)
                if weights is None:
                    counts[r:r + tile, j, 0] = _row_counts(up)
                else:  # float32 BLAS counts exactly: a chunk is far below 2**24 columns
                    counts[r:r + tile, j] = np.rint(up.astype(np.float32) @ weights).astype(np.int64)
                np.greater_equal(St, lo[r:r + tile, j, None], out=band)
                np.not_equal(band, up, out=band)  # above implies >= lo: this is lo <= S <= hi
                rows, cols = _nonzero_sparse(inband, St.shape)
                found.append((rows + r, cols, np.full(len(rows), j)))
        rows, cols, slots = (np.concatenate(x) for x in zip(*found)) if found else (np.zeros(0, np.int64),) * 3
        return counts, rows, cols, slots

    def _tile_buffers(self, size: int):
        if self._tile_size < size:
            # Padded to whole 8-byte words, so the band flags can be scanned as uint64.
            self._tile_size = size
            self._tile_above = np.zeros((size + 7) // 8 * 8, bool)
            self._tile_inband = np.zeros((size + 7) // 8 * 8, bool)
        return self._tile_above, self._tile_inband

    def kth_largest(self, S, k: int) -> np.ndarray:
        return -np.partition(-S, k - 1, axis=1)[:, k - 1]

    def at_least(self, S, cut: np.ndarray, limit: int | None = None):
        """(rows, columns, scores) of the entries >= their row's cut; None if more than `limit`."""
        if limit is not None and FUSED:  # one pass, stopping once past the limit
            return fused.at_least(S, cut, limit)
        _, flags = self._buffers(S.shape)
        np.greater_equal(S, cut[:, None], out=flags)
        if limit is not None and np.count_nonzero(flags) > limit:
            return None
        rows, cols = np.nonzero(flags)
        return rows, cols, S[rows, cols]


def _row_counts(flags: np.ndarray) -> np.ndarray:
    """The number of True per row of a C-contiguous boolean matrix, 8 flags per uint64 word when rows
    are whole words: a sum of at most 255 such words keeps each byte below 256, so no byte carries
    into the next and the byte sums are the counts."""
    if flags.shape[1] % 8:
        return np.add.reduce(flags.view(np.uint8), axis=1, dtype=np.int32)
    words = flags.view(np.uint64)
    sums = np.add.reduceat(words, np.arange(0, words.shape[1], 255), axis=1)
    return np.add.reduce(sums.view(np.uint8), axis=1, dtype=np.int32)


def _nonzero_sparse(flags: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a mostly-False boolean buffer, scanning 8 flags per uint64 word."""
    size = shape[0] * shape[1]
    words = np.flatnonzero(flags.view(np.uint64)[: (size + 7) // 8] != 0)  # nonzero is fast on booleans
    flat = (words[:, None] * 8 + np.arange(8)).ravel()
    flat = flat[flat < size]
    flat = flat[flags[flat]]
    return np.divmod(flat, shape[1])


class TorchBackend:
    """The same operations in torch on `device`.

    The error bound holds for any summation order, so cuBLAS (split-K, atomics) is fine; if TF32
    or bf16 matmuls are enabled, the bound widens to their input rounding and ranks stay exact.
    """

    def __init__(self, device):
        import torch  # deferred: torch is slow to import

        self.torch = torch
        self.device = torch.device(device)
        self.name = f"torch-{self.device}"
        self.input_rounding = 0.0
        if self.device.type == "cuda":
            precision = torch.get_float32_matmul_precision()
            # Relative error of an input as the matmul unit reads it, rounded or truncated.
            if torch.backends.cuda.matmul.allow_tf32 or precision == "high":
                self.input_rounding = 2.0**-10  # TF32 keeps 10 mantissa bits
            if precision == "medium":
                self.input_rounding = 2.0**-7  # bf16 keeps 7

    workers = 1  # a device schedules its own work

    def threads_for(self, multiply_adds: int):
        return contextlib.nullcontext()  # a device's own scheduling; torch's CPU threads as configured

    def _t(self, x):
        return self.torch.from_numpy(np.ascontiguousarray(x)).to(self.device)

    def queries(self, Qb: np.ndarray):
        return self._t(Qb)

    def scores(self, Qd, Dc: np.ndarray):
        return Qd @ self._t(Dc).T

    def squared_norms(self, Dc: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Dc, Dc)

    def blank(self, S, rows, cols) -> None:
        S[self._t(rows), self._t(cols)] = -float("inf")

    def count_and_band(self, S, lo, hi, weights):
        """As NumpyBackend.count_and_band (no tiling: a device has its own caches)."""
        lo_d, hi_d = self._t(lo), self._t(hi)
        w = None if weights is None else self._t(weights)
        counts, found = [], []
        for j in range(lo.shape[1]):
            above = S > hi_d[:, j, None]
            if w is None:
                counts.append(above.sum(dim=1, dtype=self.torch.int64)[:, None])
            else:
                counts.append((above.to(self.torch.float32) @ w).round().to(self.torch.int64))
            rows, cols = self.torch.nonzero((S >= lo_d[:, j, None]) & ~above, as_tuple=True)
            found.append((rows.cpu().numpy(), cols.cpu().numpy(), np.full(len(rows), j)))
        rows, cols, slots = (np.concatenate(x) for x in zip(*found))
        return self.torch.stack(counts, dim=1).cpu().numpy(), rows, cols, slots

    def kth_largest(self, S, k: int) -> np.ndarray:
        return self.torch.topk(S, k, dim=1).values[:, -1].cpu().numpy()

    def at_least(self, S, cut, limit: int | None = None):
        flags = S >= self._t(cut)[:, None]
        if limit is not None and int(flags.sum()) > limit:
            return None
        rows, cols = self.torch.nonzero(flags, as_tuple=True)
        return rows.cpu().numpy(), cols.cpu().numpy(), S[rows, cols].cpu().numpy()


def make_backend(device):
    """None/"cpu"/"numpy": numpy; "torch-cpu": torch on the CPU; "auto": the best device there is
    (mteb_xalign.device.resolve_device), numpy when that is the CPU; else a torch device name."""
    if device is None or str(device) in ("cpu", "numpy"):
        return NumpyBackend()
    name = str(device)
    if name == "torch-cpu":
        return TorchBackend("cpu")
    if name == "auto":
        resolved = resolve_device("auto")
        return NumpyBackend() if resolved == "cpu" else TorchBackend(resolved)
    try:
        return TorchBackend(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"unknown device {device!r}: use None/'cpu', 'torch-cpu', 'cuda[:N]', 'mps' or 'auto'") from err
