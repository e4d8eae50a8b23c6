"""Softmax attention over packed sequences on a CPU: one compiled pass per layer (numba, simd.py).

The packed engine (packed_transformer.py) runs each text's attention without padding. torch's
fused attention does that for a batch of equal-length texts, but for the short heads of small
encoders (32 wide) it runs far below the products around it: 28-31 GFLOP/s at sentence lengths
(16-40 tokens) and 81-95 at paragraph lengths (180-300), against 220 for sgemm (one thread, quiet
Intel Xeon, AVX-512, 2026-12-07). Softmax is part of the cost: on those shapes torch's own softmax
took about as long as either of attention's two products.

This kernel takes every sequence of a pass in one call, eight query rows at a time, with the
scores of those rows against 32 keys held in registers (simd.py), 2**x on the shifted scores (the
scale folded with log2(e) into the scores), and the weighted sum of V rows in registers again. K
comes transposed (a pass's K for all heads as one (H, T) product), so each step loads 16 keys'
values for one dimension with a single vector load, with no transposing copy. Against torch's
fused attention on the same inputs (12 heads of 32, one thread, alternating): 1.3-2.1x as fast at
5-64 tokens, 1.2-1.4x at 100-300, 1.0-1.1x at 512; 2-7% less CPU for a whole e5 or MiniLM
(README, "An attention kernel"). Results within float32 rounding of each other and of a float64
reference (the test holds the kernel to a float32 error bound).

What each value depends on: each (sequence, head) is computed by itself, the same way whoever
shares its pass, and the threads split the heads. So a sequence's attention output does not depend
on its pass-mates or on the number of threads, bit for bit (the products around it are BLAS's, whose
last bits may depend on the number of rows: see the engines).

K's bias is not needed: it adds q . b_k to every score of a query row, which softmax removes.
A non-finite score (from a non-finite q or k) makes its block's rows NaN, as it would in the
plain formula, so the encoders' finiteness check reports it rather than a wrong vector.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from llvmlite import binding as llvm

from mteb_xalign.simd import (LANES, hmax, hsum, vadd, vexp2_nonpositive, vfma, vkeep_first, vload, vload_first,
                              vmax, vmul, vsplat, vsplat_load, vstore, vsub, vzero)

#: Query rows per block: 8 rows x 32 keys of scores, then 8 rows x 32 dimensions of output, are 16
#: registers of accumulators (of AVX-512's 32), enough to keep both FMA units busy.
ROWS = 8
#: Keys per step of the scores (two vectors), and dimensions per step of the output.
KEYS = COLUMNS = 2 * LANES
LOG2E = 1.4426950408889634
NEG_INF = np.float32(-np.inf)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


def supports(head_dim: int, dtype: torch.dtype, device: torch.device) -> bool:
    """Whether this kernel runs a layer's attention: float32 on a CPU with 512-bit vectors, heads a
    multiple of 32 wide."""
    return device.type == "cpu" and dtype == torch.float32 and head_dim % COLUMNS == 0 and wide_vectors()


@functools.cache
def wide_vectors() -> bool:
    """Whether numba compiles for AVX-512 here. The kernel's 16 accumulators need its 32 vector
    registers: compiled for AVX2's 16 (Haswell), they spill, and it ran at 0.3-0.9x torch's fused
    attention (measured on this Intel Xeon with AVX-512 turned off for numba). Elsewhere torch's
    fused attention runs; the kernel itself is correct on any CPU (its tests run it everywhere)."""
    features = numba.config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


def attention(qv: torch.Tensor, kt: torch.Tensor, lengths: Sequence[int], heads: int) -> torch.Tensor:
    """Softmax attention within each sequence. qv: (T, 2H), Q then V, one row per token of the
    concatenated sequences; kt: (H, T), K transposed. Returns the (T, H) context rows."""
    tokens, width = kt.shape[1], kt.shape[0]
    if (qv.shape != (tokens, 2 * width) or width % heads
            or not all(t.is_contiguous() and t.dtype == torch.float32 and t.device.type == "cpu" for t in (qv, kt))):
        raise ValueError(f"attention: qv {tuple(qv.shape)} and kt {tuple(kt.shape)} are not (T, 2H) and (H, T) "
                         f"with H {heads} heads, contiguous float32 on the CPU")
    if sum(lengths) != tokens:
        raise ValueError(f"attention: the lengths add up to {sum(lengths)} tokens, not the {tokens} rows given")
    head_dim = width // heads
    out = torch.empty((tokens, width), dtype=torch.float32)
    if tokens == 0:
        return out
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    scale = np.float32(LOG2E / math.sqrt(head_dim))
    q, k, o = qv.view(-1).numpy(), kt.view(-1).numpy(), out.view(-1).numpy()
    parts = min(torch.get_num_threads(), heads)
    bounds = [heads * p // parts for p in range(parts + 1)]
    if parts == 1:
        _attend(q, k, o, starts, lengths, tokens, width, head_dim, 0, heads, scale)
        return out
    # The heads split between torch's threads (the kernel releases the GIL); each head's columns are
    # written by one thread, so the result is the one-thread result.
    futures = [_pool().submit(_attend, q, k, o, starts, lengths, tokens, width, head_dim, bounds[p], bounds[p + 1], scale)
               for p in range(1, parts)]
    _attend(q, k, o, starts, lengths, tokens, width, head_dim, bounds[0], bounds[1], scale)
    for future in futures:
        future.result()
    return out


_threads: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="xalign-attention")
    return _threads


@numba.njit(nogil=True, cache=True, inline="always")
def _softmax_row(S, offset, n, largest, bad):
    """S[offset : offset + n] <- 2**(S - largest); returns 1 / their sum (NaN for a bad block)."""
    total = vzero()
    shift = vsplat(largest)
    for j0 in range(0, n, LANES):
        e = vexp2_nonpositive(vsub(vload(S, offset + j0), shift))
        vstore(S, offset + j0, e)
        total = vadd(total, e)
    if bad:
        return np.float32(np.nan)
    return _ONE / hsum(total)


@numba.njit(nogil=True, cache=True, inline="always")
def _store_row(out, o, left, right, weight):
    """One output row's 32 values, out[o : o + 32] = (left, right) * weight (its softmax's 1 / sum)."""
    vstore(out, o, vmul(left, vsplat(weight)))
    vstore(out, o + LANES, vmul(right, vsplat(weight)))


@numba.njit(nogil=True, cache=True)
def _attend(qv, kt, out, starts, lengths, tokens, width, head_dim, first_head, last_head, scale):
    """Heads first_head .. last_head-1 of every sequence (flat arrays: qv (T, 2H), kt (H, T), out
    (T, H)); scale is log2(e) / sqrt(head_dim). Query rows past a sequence's end repeat its last
    row and are not stored; keys past it are masked to -inf before the softmax."""
    ldq = 2 * width
    longest = 0
    for i in range(lengths.shape[0]):
        longest = max(longest, lengths[i])
    npad = (longest + KEYS - 1) // KEYS * KEYS
    S = np.empty(ROWS * npad, np.float32)  # one block's scores, then its weights, row after row
    scaled = vsplat(scale)
    zero = vzero()
    for i in range(lengths.shape[0]):
        base, n = starts[i], lengths[i]
        for h in range(first_head, last_head):
            hq = h * head_dim
            for i0 in range(0, n, ROWS):
                q0 = (base + i0) * ldq + hq
                q1 = (base + min(i0 + 1, n - 1)) * ldq + hq
                q2 = (base + min(i0 + 2, n - 1)) * ldq + hq
                q3 = (base + min(i0 + 3, n - 1)) * ldq + hq
                q4 = (base + min(i0 + 4, n - 1)) * ldq + hq
                q5 = (base + min(i0 + 5, n - 1)) * ldq + hq
                q6 = (base + min(i0 + 6, n - 1)) * ldq + hq
                q7 = (base + min(i0 + 7, n - 1)) * ldq + hq
                m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = vsplat(NEG_INF)
                finite = vzero()  # stays 0 unless a score is NaN or infinite (x * 0)
                # Scores: 8 rows x 32 keys per step, over the head's dimensions.
                for j0 in range(0, n, KEYS):
                    left = n - j0
                    a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = vzero()
                    a40 = a41 = a50 = a51 = a60 = a61 = a70 = a71 = vzero()
                    row = hq * tokens + base + j0
                    for c in range(head_dim):
                        k0 = vload_first(kt, row, left)
                        k1 = vload_first(kt, row + LANES, left - LANES)
                        row += tokens
                        x = vsplat_load(qv, q0 + c); a00 = vfma(x, k0, a00); a01 = vfma(x, k1, a01)
                        x = vsplat_load(qv, q1 + c); a10 = vfma(x, k0, a10); a11 = vfma(x, k1, a11)
                        x = vsplat_load(qv, q2 + c); a20 = vfma(x, k0, a20); a21 = vfma(x, k1, a21)
                        x = vsplat_load(qv, q3 + c); a30 = vfma(x, k0, a30); a31 = vfma(x, k1, a31)
                        x = vsplat_load(qv, q4 + c); a40 = vfma(x, k0, a40); a41 = vfma(x, k1, a41)
                        x = vsplat_load(qv, q5 + c); a50 = vfma(x, k0, a50); a51 = vfma(x, k1, a51)
                        x = vsplat_load(qv, q6 + c); a60 = vfma(x, k0, a60); a61 = vfma(x, k1, a61)
                        x = vsplat_load(qv, q7 + c); a70 = vfma(x, k0, a70); a71 = vfma(x, k1, a71)
                    finite = vfma(vadd(vadd(vadd(a00, a01), vadd(a10, a11)), vadd(vadd(a20, a21), vadd(a30, a31))), zero, finite)
                    finite = vfma(vadd(vadd(vadd(a40, a41), vadd(a50, a51)), vadd(vadd(a60, a61), vadd(a70, a71))), zero, finite)
                    a00 = vkeep_first(vmul(a00, scaled), left, NEG_INF); a01 = vkeep_first(vmul(a01, scaled), left - LANES, NEG_INF)
                    a10 = vkeep_first(vmul(a10, scaled), left, NEG_INF); a11 = vkeep_first(vmul(a11, scaled), left - LANES, NEG_INF)
                    a20 = vkeep_first(vmul(a20, scaled), left, NEG_INF); a21 = vkeep_first(vmul(a21, scaled), left - LANES, NEG_INF)
                    a30 = vkeep_first(vmul(a30, scaled), left, NEG_INF); a31 = vkeep_first(vmul(a31, scaled), left - LANES, NEG_INF)
                    a40 = vkeep_first(vmul(a40, scaled), left, NEG_INF); a41 = vkeep_first(vmul(a41, scaled), left - LANES, NEG_INF)
                    a50 = vkeep_first(vmul(a50, scaled), left, NEG_INF); a51 = vkeep_first(vmul(a51, scaled), left - LANES, NEG_INF)
                    a60 = vkeep_first(vmul(a60, scaled), left, NEG_INF); a61 = vkeep_first(vmul(a61, scaled), left - LANES, NEG_INF)
                    a70 = vkeep_first(vmul(a70, scaled), left, NEG_INF); a71 = vkeep_first(vmul(a71, scaled), left - LANES, NEG_INF)
                    vstore(S, j0, a00); vstore(S, j0 + LANES, a01)
                    vstore(S, npad + j0, a10); vstore(S, npad + j0 + LANES, a11)
                    vstore(S, 2 * npad + j0, a20); vstore(S, 2 * npad + j0 + LANES, a21)
                    vstore(S, 3 * npad + j0, a30); vstore(S, 3 * npad + j0 + LANES, a31)
                    vstore(S, 4 * npad + j0, a40); vstore(S, 4 * npad + j0 + LANES, a41)
                    vstore(S, 5 * npad + j0, a50); vstore(S, 5 * npad + j0 + LANES, a51)
                    vstore(S, 6 * npad + j0, a60); vstore(S, 6 * npad + j0 + LANES, a61)
                    vstore(S, 7 * npad + j0, a70); vstore(S, 7 * npad + j0 + LANES, a71)
                    m0 = vmax(m0, vmax(a00, a01)); m1 = vmax(m1, vmax(a10, a11))
                    m2 = vmax(m2, vmax(a20, a21)); m3 = vmax(m3, vmax(a30, a31))
                    m4 = vmax(m4, vmax(a40, a41)); m5 = vmax(m5, vmax(a50, a51))
                    m6 = vmax(m6, vmax(a60, a61)); m7 = vmax(m7, vmax(a70, a71))
                bad = hsum(finite) != _ZERO
                w0 = _softmax_row(S, 0, n, hmax(m0), bad)
                w1 = _softmax_row(S, npad, n, hmax(m1), bad)
                w2 = _softmax_row(S, 2 * npad, n, hmax(m2), bad)
                w3 = _softmax_row(S, 3 * npad, n, hmax(m3), bad)
                w4 = _softmax_row(S, 4 * npad, n, hmax(m4), bad)
                w5 = _softmax_row(S, 5 * npad, n, hmax(m5), bad)
                w6 = _softmax_row(S, 6 * npad, n, hmax(m6), bad)
                w7 = _softmax_row(S, 7 * npad, n, hmax(m7), bad)
                # Output: 8 rows x 32 dimensions per step, the weights times V's rows.
                for d0 in range(0, head_dim, COLUMNS):
                    o00 = o01 = o10 = o11 = o20 = o21 = o30 = o31 = vzero()
                    o40 = o41 = o50 = o51 = o60 = o61 = o70 = o71 = vzero()
                    v = base * ldq + width + hq + d0
                    for j in range(n):
                        v0 = vload(qv, v)
                        v1 = vload(qv, v + LANES)
                        v += ldq
                        p = vsplat_load(S, j); o00 = vfma(p, v0, o00); o01 = vfma(p, v1, o01)
                        p = vsplat_load(S, npad + j); o10 = vfma(p, v0, o10); o11 = vfma(p, v1, o11)
                        p = vsplat_load(S, 2 * npad + j); o20 = vfma(p, v0, o20); o21 = vfma(p, v1, o21)
                        p = vsplat_load(S, 3 * npad + j); o30 = vfma(p, v0, o30); o31 = vfma(p, v1, o31)
                        p = vsplat_load(S, 4 * npad + j); o40 = vfma(p, v0, o40); o41 = vfma(p, v1, o41)
                        p = vsplat_load(S, 5 * npad + j); o50 = vfma(p, v0, o50); o51 = vfma(p, v1, o51)
                        p = vsplat_load(S, 6 * npad + j); o60 = vfma(p, v0, o60); o61 = vfma(p, v1, o61)
                        p = vsplat_load(S, 7 * npad + j); o70 = vfma(p, v0, o70); o71 = vfma(p, v1, o71)
                    o = (base + i0) * width + hq + d0
                    _store_row(out, o, o00, o01, w0)
                    if i0 + 1 < n:
                        _store_row(out, o + width, o10, o11, w1)
                    if i0 + 2 < n:
                        _store_row(out, o + 2 * width, o20, o21, w2)
                    if i0 + 3 < n:
                        _store_row(out, o + 3 * width, o30, o31, w3)
                    if i0 + 4 < n:
                        _store_row(out, o + 4 * width, o40, o41, w4)
                    if i0 + 5 < n:
                        _store_row(out, o + 5 * width, o50, o51, w5)
                    if i0 + 6 < n:
                        _store_row(out, o + 6 * width, o60, o61, w6)
                    if i0 + 7 < n:
                        _store_row(out, o + 7 * width, o70, o71, w7)
