"""The per-block operations of the ranker, on numpy (BLAS) or torch (any device).

A backend computes one float32 score block S = Q_batch @ D_chunk.T and reduces it at once, while
it is hot: per gold threshold, the count of columns certainly above it and the (row, column)
pairs in its uncertainty band (see exact.py). Everything returned is numpy.
"""

from __future__ import annotations

import contextlib

import numpy as np

# Below this many multiply-adds a ranking runs its BLAS on one thread: extra threads spin and
# synchronise on such small products for little gain (a MultiRefCLIR subset is 2e8).
SMALL_WORK = 2**30


class NumpyBackend:
    """BLAS sgemm into one reused buffer; uint8 reductions over boolean buffers."""

    name = "numpy"
    input_rounding = 0.0  # numpy's float32 matmul rounds nothing on input

    def __init__(self):
        self._size = 0

    def _buffers(self, shape):
        size = shape[0] * shape[1]
        if size > self._size:
            # Padded to whole 8-byte words, so a boolean buffer can be scanned as uint64.
            self._size = size
            padded = (size + 7) // 8 * 8
            self._scores = np.empty(size, np.float32)
            self._above = np.zeros(padded, bool)
            self._inband = np.zeros(padded, bool)
        return (self._scores[:size].reshape(shape), self._above[:size].reshape(shape),
                self._inband[:size].reshape(shape), self._inband)

    def threads_for(self, multiply_adds: int):
        """One BLAS thread for small work (threadpoolctl when installed; else BLAS's own setting)."""
        if multiply_adds >= SMALL_WORK:
            return contextlib.nullcontext()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return contextlib.nullcontext()
        return threadpool_limits(limits=1, user_api="blas")

    def queries(self, Qb: np.ndarray):
        return Qb

    def scores(self, Qd, Dc: np.ndarray):
        S, *_ = self._buffers((Qd.shape[0], Dc.shape[0]))
        return np.matmul(Qd, Dc.T, out=S)

    def squared_norms(self, Dc: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", Dc, Dc)

    def blank(self, S, rows: np.ndarray, cols: np.ndarray) -> None:
        S[rows, cols] = -np.inf

    def count_and_band(self, S, lo: np.ndarray, hi: np.ndarray, weights: np.ndarray | None):
        """(counts above hi: (rows,) or (rows, n_weights) via weights, band rows, band columns)."""
        _, above, inband, inband_flat = self._buffers(S.shape)
        np.greater(S, hi[:, None], out=above)
        if weights is None:
            counts = np.add.reduce(above.view(np.uint8), axis=1, dtype=np.int32).astype(np.int64)[:, None]
        else:  # float32 BLAS counts exactly: a chunk is far below 2**24 columns
            counts = np.rint(above.astype(np.float32) @ weights).astype(np.int64)
        np.greater_equal(S, lo[:, None], out=inband)
        np.not_equal(inband, above, out=inband)  # above implies >= lo: this is lo <= S <= hi
        rows, cols = _nonzero_sparse(inband_flat, S.shape)
        return counts, rows, cols

    def kth_largest(self, S, k: int) -> np.ndarray:
        return -np.partition(-S, k - 1, axis=1)[:, k - 1]

    def at_least(self, S, cut: np.ndarray, limit: int | None = None):
        """(rows, columns, scores) of the entries >= their row's cut; None if more than `limit`."""
        _, flags, *_ = self._buffers(S.shape)
        np.greater_equal(S, cut[:, None], out=flags)
        if limit is not None and np.count_nonzero(flags) > limit:
            return None
        rows, cols = np.nonzero(flags)
        return rows, cols, S[rows, cols]


def _nonzero_sparse(flags: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a mostly-False boolean buffer, scanning 8 flags per uint64 word."""
    size = shape[0] * shape[1]
    words = np.flatnonzero(flags.view(np.uint64)[: (size + 7) // 8])
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
        import torch

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
        above = S > self._t(hi)[:, None]
        if weights is None:
            counts = above.sum(dim=1, dtype=self.torch.int64)[:, None]
        else:
            counts = (above.to(self.torch.float32) @ self._t(weights)).round().to(self.torch.int64)
        inband = (S >= self._t(lo)[:, None]) & ~above
        rows, cols = self.torch.nonzero(inband, as_tuple=True)
        return counts.cpu().numpy(), rows.cpu().numpy(), cols.cpu().numpy()

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
        from mteb_xalign.device import resolve_device

        resolved = resolve_device("auto")
        return NumpyBackend() if resolved == "cpu" else TorchBackend(resolved)
    try:
        return TorchBackend(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"unknown device {device!r}: use None/'cpu', 'torch-cpu', 'cuda[:N]', 'mps' or 'auto'") from err
