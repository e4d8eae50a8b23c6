"""The ranking's compiled kernels (numba): the dense reduction of a score block in one pass per
row (NumpyBackend.count_and_band), the selection of a block's entries at or above a cut per row
(NumpyBackend.at_least with a limit: the sparse path, golds near the top), the float64 dot products
of exact.py's band pairs, and a block's largest squared norm (the ranker's error bound).

numpy needs five passes over a block per gold slot (compare, count, compare, combine, scan for
band flags); compiled, one pass per row and slot counts, 64 columns at a time (vectorised), the
scores above the band and those at or above its low end, and only a segment where the two differ
(it holds a band entry: usually just the gold document and its copies) is read again, from L1, to
record its entries. The result is the numpy path's, entry for entry (the same float comparisons;
the order of band pairs differs, and nothing depends on it). Compiled on first use and cached on
disk (numba's `cache=True`).
"""

from __future__ import annotations

import numpy as np

SEGMENT = 64  # columns counted at once when searching a row for its band entries

_compiled = None


def _compile():
    import numba  # deferred: numba is slow to import

    # reassoc only: lets LLVM reorder the float32 segment sums (whole numbers <= 64: exact in any
    # order) into 8-wide compares. No nnan/ninf: blanked scores are -inf and ragged pads +inf.
    @numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
    def reduce_block(S, lo, hi, above, rows, cols, slots):
        """above[r, j] = #{k: S[r, k] > hi[r, j]}; the band entries (lo <= S <= hi) go to rows/cols/
        slots while they fit; returns how many there are (more than fit: call again with room).
        The buffers' last place is scratch: they keep len - 1 entries."""
        n_rows, n_cols = S.shape
        room = rows.shape[0] - 1
        n = 0
        for r in range(n_rows):
            row = S[r]
            for j in range(lo.shape[1]):
                low, high = lo[r, j], hi[r, j]
                gt = 0
                for k0 in range(0, n_cols, SEGMENT):
                    k1 = min(k0 + SEGMENT, n_cols)
                    seg_gt = np.float32(0.0)
                    seg_ge = np.float32(0.0)
                    # Unsigned indices: a signed one makes numba wrap negative values around, and
                    # LLVM then loads the row by gathers, not vectors (2.7x slower, measured).
                    for k in range(np.uint64(k0), np.uint64(k1)):  # vectorised: two comparisons and two sums
                        s = row[k]
                        seg_gt += np.float32(1.0) if s > high else np.float32(0.0)
                        seg_ge += np.float32(1.0) if s >= low else np.float32(0.0)
                    gt += int(seg_gt)
                    if seg_ge != seg_gt:  # lo <= hi, so these are the band entries: rare
                        # Without branches (a hit is unpredictable): every column of the segment
                        # is written at the next free place, which only a hit keeps (once the
                        # buffers are full, at the scratch place: no kept entry is overwritten).
                        for k in range(k0, k1):
                            s = row[k]
                            free = min(n, room)
                            rows[free] = r
                            cols[free] = k
                            slots[free] = j
                            n += 1 if (s >= low) & (s <= high) else 0
                above[r, j] = gt
        return n

    # reassoc: any order of the float64 sum is within the bound exact.py allows (the products of
    # float32 values are exact in float64).
    @numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
    def dots(left, right, left_rows, right_rows, out):
        for i in range(left_rows.shape[0]):
            a, b = left_rows[i], right_rows[i]
            x, y = left[a], right[b]
            acc = 0.0
            for k in range(np.uint64(left.shape[1])):  # unsigned: vector loads (see reduce_block)
                acc += np.float64(x[k]) * np.float64(y[k])
            out[i] = acc

    # reassoc: any order of each row's float32 sum of squares is within the gamma bound norm_bound
    # allows (exact.py).
    @numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
    def max_squared_norm(D):
        top = np.float32(0.0)
        finite = True
        for i in range(D.shape[0]):
            row = D[i]
            acc = np.float32(0.0)
            for k in range(np.uint64(D.shape[1])):  # unsigned: vector loads (see reduce_block)
                acc += row[k] * row[k]
            finite &= acc < np.inf  # False for inf and NaN
            top = max(top, acc)
        return top if finite else np.inf

    # reassoc: as in reduce_block (whole-number segment sums, exact in any order).
    @numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
    def select_block(S, cut, limit, rows, cols, values):
        """The entries S[r, k] >= cut[r], in row-major order, into rows/cols/values (which hold limit
        entries and a scratch place); returns how many, stopping once there are more than `limit`."""
        n_rows, n_cols = S.shape
        n = 0
        for r in range(n_rows):
            row, c = S[r], cut[r]
            for k0 in range(0, n_cols, SEGMENT):
                k1 = min(k0 + SEGMENT, n_cols)
                seg = np.float32(0.0)
                for k in range(np.uint64(k0), np.uint64(k1)):  # unsigned: vector loads (see reduce_block)
                    seg += np.float32(1.0) if row[k] >= c else np.float32(0.0)
                if seg > 0:
                    if n + int(seg) > limit:
                        return n + int(seg)
                    for k in range(k0, k1):  # branchless, as reduce_block records its band entries
                        s = row[k]
                        rows[n] = r
                        cols[n] = k
                        values[n] = s
                        n += 1 if s >= c else 0
        return n

    return reduce_block, dots, max_squared_norm, select_block


def _kernels():
    global _compiled
    if _compiled is None:
        _compiled = _compile()
    return _compiled


def float64_dots(left: np.ndarray, right: np.ndarray, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """left[left_rows[i]] . right[right_rows[i]] summed in float64 (exact.py's _float64_dots), without
    gathering float64 copies of the rows."""
    out = np.empty(len(left_rows), np.float64)
    if len(out):
        _kernels()[1](np.ascontiguousarray(left), np.ascontiguousarray(right),
                      np.ascontiguousarray(left_rows, np.int64), np.ascontiguousarray(right_rows, np.int64), out)
    return out


def max_squared_norm(D: np.ndarray) -> float:
    """The largest float32 squared norm of D's rows (one pass, no per-row array), inf when a row's
    is NaN or inf."""
    return float(_kernels()[2](np.ascontiguousarray(D))) if len(D) else 0.0


def at_least(S: np.ndarray, cut: np.ndarray, limit: int):
    """NumpyBackend.at_least with a limit, in one pass that stops early: (rows, columns, scores) of
    the entries >= their row's cut, row-major, or None when there are more than `limit`."""
    S = np.ascontiguousarray(S)
    cut = np.ascontiguousarray(cut, np.float32)
    rows, cols = np.empty(limit + 1, np.int64), np.empty(limit + 1, np.int64)
    values = np.empty(limit + 1, np.float32)
    n = _kernels()[3](S, cut, limit, rows, cols, values)
    return None if n > limit else (rows[:n], cols[:n], values[:n])


def count_and_band(S: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """NumpyBackend.count_and_band without mask weights: counts (rows, G, 1) of scores > hi[:, j],
    and (row, column, slot) of every score in [lo[:, j], hi[:, j]]."""
    reduce_block = _kernels()[0]
    n_rows, G = lo.shape
    S = np.ascontiguousarray(S)
    lo, hi = np.ascontiguousarray(lo), np.ascontiguousarray(hi)
    above = np.empty((n_rows, G), np.int64)
    room = max(4096, 8 * n_rows * G)  # a few band entries per gold; ties can make many more
    while True:
        rows, cols, slots = (np.empty(room + 1, np.int64) for _ in range(3))  # + the kernel's scratch place
        n = reduce_block(S, lo, hi, above, rows, cols, slots)
        if n <= room:
            return above[:, :, None], rows[:n], cols[:n], slots[:n]
        room = n  # the same comparisons again, now with room for every entry
