"""attention_kernel.py (and simd.py under it) against softmax attention in float64.

The oracle is the formula in float64 (numpy), per sequence and head. The tolerance is a float32
error bound, not a measured figure: a score's error is at most gamma_d (d = head width) times the
sum of |q_c k_c| over its products, times the scale; a weight's relative error at most twice the
largest score error plus the exponential's own (16 units of float32's last place); the output,
a weighted mean of V's rows, at most that times max |v| plus gamma_n of the sum. Doubled, it holds
on any CPU whatever order LLVM gives the sums.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mteb_xalign import attention_kernel
from mteb_xalign.simd import EXP2_TAYLOR

U = 2.0**-24  # float32's unit roundoff


def gamma(m: int) -> float:
    return m * U / (1 - m * U)


def reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, lengths, heads: int) -> tuple[np.ndarray, np.ndarray]:
    """Softmax attention in float64 per sequence and head, and the float32 error bound of each row."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    width = q.shape[1]
    d = width // heads
    scale = 1 / math.sqrt(d)
    out = np.zeros_like(q)
    bound = np.zeros(q.shape[0])
    start = 0
    for n in lengths:
        rows = slice(start, start + n)
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            qh, kh, vh = q[rows, cols], k[rows, cols], v[rows, cols]
            s = qh @ kh.T * scale
            w = np.exp(s - s.max(axis=1, keepdims=True))
            out[rows, cols] = (w / w.sum(axis=1, keepdims=True)) @ vh
            score_error = gamma(d + 1) * (np.abs(qh) @ np.abs(kh).T).max(axis=1) * scale * math.log2(math.e) * math.log(2)
            weight_error = 2 * score_error + 16 * U  # 2**x: 1.7e-7 of polynomial, 7 roundings
            row_bound = 2 * (weight_error + gamma(n + 2)) * np.abs(vh).max()
            bound[rows] = np.maximum(bound[rows], row_bound)
        start += n
    return out, bound


def run(q, k, v, lengths, heads):
    qv = torch.from_numpy(np.concatenate([q, v], axis=1).astype(np.float32))
    kt = torch.from_numpy(np.ascontiguousarray(k.T.astype(np.float32)))
    return attention_kernel.attention(qv, kt, list(lengths), heads).numpy()


def inputs(rng, lengths, heads, d, spread):
    t = sum(lengths)
    return tuple((rng.standard_normal((t, heads * d)) * spread).astype(np.float32) for _ in range(3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lengths=st.lists(st.integers(1, 75), min_size=1, max_size=4), heads=st.integers(1, 3),
       d=st.sampled_from([32, 64]), spread=st.sampled_from([0.1, 1.0, 3.0]), seed=st.integers(0, 2**32 - 1))
def test_matches_float64_attention_within_a_float32_bound(lengths, heads, d, spread, seed):
    q, k, v = inputs(np.random.default_rng(seed), lengths, heads, d, spread)
    got = run(q, k, v, lengths, heads)
    want, bound = reference(q, k, v, lengths, heads)
    assert np.isfinite(got).all()
    assert (np.abs(got - want).max(axis=1) <= bound).all()


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 512])
def test_every_edge_of_the_blocks(n):
    """Lengths around the blocks' 8 query rows, the vectors' 16 lanes and the steps' 32 keys."""
    q, k, v = inputs(np.random.default_rng(n), [n], 2, 32, 1.0)
    want, bound = reference(q, k, v, [n], 2)
    assert (np.abs(run(q, k, v, [n], 2) - want).max(axis=1) <= bound).all()


def test_one_token_is_its_own_value_exactly():
    q, k, v = inputs(np.random.default_rng(0), [1, 1, 1], 12, 32, 2.0)
    np.testing.assert_array_equal(run(q, k, v, [1, 1, 1], 12), v)


def test_equal_keys_give_the_mean_of_the_values():
    """All texts equal: every key is the same, so every weight is 1/n."""
    rng = np.random.default_rng(1)
    n = 37
    q = rng.standard_normal((n, 32)).astype(np.float32)
    k = np.tile(rng.standard_normal((1, 32)).astype(np.float32), (n, 1))
    v = rng.standard_normal((n, 32)).astype(np.float32)
    np.testing.assert_allclose(run(q, k, v, [n], 1), np.tile(v.astype(np.float64).mean(axis=0), (n, 1)), atol=1e-6)


def test_large_scores_are_stable():
    """Scores far beyond exp's range (the softmax is taken after subtracting the row's largest)."""
    q, k, v = inputs(np.random.default_rng(2), [50], 1, 32, 30.0)
    got = run(q, k, v, [50], 1)
    want, bound = reference(q, k, v, [50], 1)
    assert np.isfinite(got).all() and (np.abs(got - want).max(axis=1) <= bound).all()


@pytest.mark.parametrize("where", ["q", "k"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_input_gives_nan_rows_not_a_wrong_number(where, bad):
    """As the formula would: a non-finite score makes its rows NaN (the encoders then name the text);
    the other sequence of the pass is untouched."""
    q, k, v = inputs(np.random.default_rng(3), [20, 12], 1, 32, 1.0)
    good = run(q, k, v, [20, 12], 1)
    (q if where == "q" else k)[5, 3] = bad
    got = run(q, k, v, [20, 12], 1)
    if where == "k":  # every query meets the bad key: the whole sequence is NaN
        assert np.isnan(got[:20]).all()
    else:  # the bad query's block of 8 rows is NaN; the other rows never meet it and are as before
        assert np.isnan(got[:8]).all()
        np.testing.assert_array_equal(got[8:20], good[8:20])
    np.testing.assert_array_equal(got[20:], good[20:])


def test_a_sequence_does_not_depend_on_its_pass_mates_or_the_thread_count():
    """Bit for bit: alone or between other sequences, with one thread or several."""
    rng = np.random.default_rng(4)
    lengths = [30, 9, 70, 1]
    q, k, v = inputs(rng, lengths, 12, 32, 1.0)
    together = run(q, k, v, lengths, 12)
    alone = run(q[30:39], k[30:39], v[30:39], [9], 12)
    np.testing.assert_array_equal(together[30:39], alone)
    threads = torch.get_num_threads()
    try:
        for n in (2, 5):
            torch.set_num_threads(n)
            np.testing.assert_array_equal(run(q, k, v, lengths, 12), together)
    finally:
        torch.set_num_threads(threads)


def test_inputs_of_the_wrong_shape_are_refused():
    qv, kt = torch.zeros((10, 64)), torch.zeros((32, 10))
    with pytest.raises(ValueError, match="lengths add up to 9"):
        attention_kernel.attention(qv, kt, [4, 5], 1)
    with pytest.raises(ValueError, match="are not \\(T, 2H\\) and \\(H, T\\)"):
        attention_kernel.attention(torch.zeros((10, 63)), kt, [10], 1)
    with pytest.raises(ValueError, match="contiguous float32"):
        attention_kernel.attention(qv, torch.zeros((10, 32)).T, [10], 1)
    with pytest.raises(ValueError, match="with H 3 heads"):
        attention_kernel.attention(qv, kt, [10], 3)
    with pytest.raises(ValueError, match="float32"):
        attention_kernel.attention(qv.double(), kt.double(), [10], 1)


def test_it_runs_where_it_can(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(attention_kernel, "wide_vectors", lambda: True)
    assert attention_kernel.supports(32, torch.float32, cpu) and attention_kernel.supports(64, torch.float32, cpu)
    assert not attention_kernel.supports(48, torch.float32, cpu)  # not a whole number of 32-wide steps
    assert not attention_kernel.supports(32, torch.bfloat16, cpu)
    assert not attention_kernel.supports(32, torch.float32, torch.device("meta"))
    monkeypatch.setattr(attention_kernel, "wide_vectors", lambda: False)  # AVX2: 16 registers, it would spill
    assert not attention_kernel.supports(32, torch.float32, cpu)


def test_wide_vectors_follows_the_features_numba_compiles_for(monkeypatch):
    import numba

    attention_kernel.wide_vectors.cache_clear()
    try:
        monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx2,+fma,-avx512f")
        assert not attention_kernel.wide_vectors()
        attention_kernel.wide_vectors.cache_clear()
        monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx2,+avx512f,+avx512bw")
        assert attention_kernel.wide_vectors()
    finally:
        attention_kernel.wide_vectors.cache_clear()


def test_the_exponential_polynomial_is_the_taylor_series_of_2_to_the_r():
    r = np.linspace(-0.5, 0.5, 1001)
    p = np.polyval(EXP2_TAYLOR, r)
    assert np.abs(p / 2.0**r - 1).max() < 1.7e-7  # the next term's size at r = -1/2
