"""pygd._core's preprocessing kernels against pygd.reference, every SIMD level,
dtype, memory order, weighting and thread count; determinism and accuracy."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import pygd
from pygd import _core, reference

from conftest import DTYPES, RTOL, assert_close_to_scale


def _suffix(dtype) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def _data(n, d, dtype, order, *, seed=0, nan_fraction=0.05, offset=10.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 5.0, size=d) + offset * rng.normal(size=d)
    X[rng.random((n, d)) < nan_fraction] = np.nan
    return np.asarray(X, dtype=dtype, order=order)


def _layouts(X):
    """C, F and a strided view holding the same values."""
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
    wide[:, ::2] = X
    return {"C": np.ascontiguousarray(X), "F": np.asfortranarray(X), "strided": wide[:, ::2]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (300, 13), (2500, 67)])
def test_column_stats_matches_reference(simd_level, num_threads, dtype, layout, weighted, shape):
    X = _layouts(_data(*shape, dtype, "C"))[layout]
    rng = np.random.default_rng(1)
    w = rng.uniform(0, 3, size=shape[0]).astype(dtype) if weighted else None
    weight, mean, var, saw_inf = getattr(_core, "column_stats_" + _suffix(dtype))(X, w)
    ref_w, ref_mean, ref_var = reference.column_stats(X, w)
    assert not saw_inf
    assert weight.dtype == mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(weight, ref_w, rtol=1e-13)
    ok = ref_w > 0
    np.testing.assert_array_equal(np.isnan(mean), ~ok)
    np.testing.assert_array_equal(np.isnan(var), ~ok)
    # Statistics are float64 for both dtypes: float64 tolerances against the reference.
    spread = np.sqrt(ref_var[ok]) + 1e-300
    np.testing.assert_array_less(np.abs(mean[ok] - ref_mean[ok]), 1e-12 * (spread + np.abs(ref_mean[ok])))
    np.testing.assert_allclose(var[ok], ref_var[ok], rtol=1e-11, atol=1e-300)


def test_column_stats_all_nan_and_zero_weight_columns(simd_level):
    X = np.array([[np.nan, 1.0, 2.0], [np.nan, np.nan, 4.0], [np.nan, 3.0, 6.0]])
    w = np.array([1.0, 1.0, 0.0])
    weight, mean, var, _ = _core.column_stats_f64(X, w)
    np.testing.assert_array_equal(weight, [0.0, 1.0, 2.0])
    assert np.isnan(mean[0]) and np.isnan(var[0])
    np.testing.assert_array_equal(mean[1:], [1.0, 3.0])
    np.testing.assert_array_equal(var[1:], [0.0, 1.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
def test_column_stats_bitwise_identical_for_any_thread_count(simd_level, threads_restored, dtype, order):
    X = _data(20000, 37, dtype, order, seed=3, offset=1e6)  # several row blocks
    w = np.random.default_rng(4).uniform(0, 2, size=X.shape[0]).astype(dtype)
    results = []
    for threads in (1, 2, 3, 8):
        pygd.set_num_threads(threads)
        results.append(getattr(_core, "column_stats_" + _suffix(dtype))(X, w))
    for other in results[1:]:
        for a, b in zip(results[0][:3], other[:3]):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("offset", [1e9, 1e12])
def test_column_stats_exact_on_huge_offsets(simd_level, offset):
    # Against exact rational arithmetic: sequential Welford is off by ~1e-7
    # here and an unshifted blocked two-pass by ~1e-9 (1e-6 at 1e12).
    rng = np.random.default_rng(5)
    X = offset + rng.normal(size=(5000, 3))
    weight, mean, var, _ = _core.column_stats_f64(X, None)
    for j in range(X.shape[1]):
        col = [Fraction(float(x)) for x in X[:, j]]
        exact_mean = sum(col) / len(col)
        exact_var = sum((x - exact_mean) ** 2 for x in col) / len(col)
        assert abs(Fraction(float(mean[j])) - exact_mean) <= Fraction(math.ulp(offset))
        assert abs(float(var[j]) / float(exact_var) - 1.0) <= 4e-15


def test_column_stats_first_value_outlier(simd_level):
    # The shift is the first row's value: a far outlier there must not cost
    # accuracy (checked against exact rational arithmetic).
    rng = np.random.default_rng(6)
    X = rng.normal(size=(4000, 2))
    X[0] = 1e8
    _, mean, var, _ = _core.column_stats_f64(X, None)
    for j in range(X.shape[1]):
        col = [Fraction(float(x)) for x in X[:, j]]
        exact_mean = sum(col) / len(col)
        exact_var = sum((x - exact_mean) ** 2 for x in col) / len(col)
        assert abs(float(mean[j]) / float(exact_mean) - 1.0) <= 1e-15
        assert abs(float(var[j]) / float(exact_var) - 1.0) <= 1e-14


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_column_stats_reports_infinity(simd_level, dtype, layout):
    for n, d in [(5, 3), (3000, 67)]:
        for sign in (1, -1):
            X = _layouts(_data(n, d, dtype, "C"))[layout]
            X[n - 1, d - 1] = sign * np.inf
            assert getattr(_core, "column_stats_" + _suffix(dtype))(X, None)[3]
            X[n - 1, d - 1] = np.nan
            assert not getattr(_core, "column_stats_" + _suffix(dtype))(X, None)[3]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (9, 5), (2100, 67)])
def test_affine_matches_reference(simd_level, num_threads, dtype, layout, inverse, shape):
    X = _layouts(_data(*shape, dtype, "C"))[layout]
    rng = np.random.default_rng(7)
    center = rng.normal(size=shape[1]) * 10
    scale = rng.uniform(0.1, 4.0, size=shape[1])
    name = ("unstandardize_" if inverse else "standardize_") + _suffix(dtype)
    ref = (reference.unstandardize if inverse else reference.standardize)(X, center, scale)
    out = np.full(X.shape, -7.0, dtype=dtype, order="F" if layout == "F" else "C")
    assert not getattr(_core, name)(X, out, center, scale)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(X))
    ok = ~np.isnan(X)
    assert_close_to_scale(out[ok], ref[ok], dtype)
    # In place gives the same bits.
    inplace = X.copy(order="K") if layout != "strided" else X
    before = inplace.copy()
    assert not getattr(_core, name)(inplace, inplace, center, scale)
    np.testing.assert_array_equal(inplace, out)
    if layout == "strided" and ok.any():
        assert not np.array_equal(before[ok], inplace[ok])


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_standardize_does_not_overflow_near_the_float64_limit(simd_level, num_threads, layout):
    # x - center overflows for finite x and center on both sides of 0 near
    # +-1.7e308; the quotient does not.  Those elements are computed in halves
    # (exact), the others keep the subtract-then-divide bits.
    rng = np.random.default_rng(11)
    n, d = 301, 11  # vector lanes and scalar tails
    X = rng.normal(size=(n, d))
    big = rng.random((n, d)) < 0.3
    X[big] = np.where(rng.random(big.sum()) < 0.5, -1.0, 1.0) * 1.7e308
    X[0, 0], X[1, 1], X[2, 2] = np.inf, -np.inf, np.nan
    center = np.where(rng.random(d) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 1.6, d) * 1e308
    center[-1] = 0.5  # an ordinary column
    scale = rng.uniform(0.5, 1.7, d) * 1e308
    scale[-1] = 2.0
    X = _layouts(X)[layout]
    out = np.full(X.shape, -7.0)
    assert getattr(_core, "standardize_f64")(X, out, center, scale)  # it met the infinities
    with np.errstate(over="ignore"):
        diff = X - center
        plain = diff / scale
    overflow = np.isinf(diff) & np.isfinite(X)
    assert overflow.sum() > 50
    np.testing.assert_array_equal(out[~overflow], plain[~overflow])  # the usual bits, inf and NaN included
    # What subtract-then-divide gives without an exponent limit: the difference
    # rounded (as a Fraction: it exceeds float64), then the quotient rounded.
    def unbounded(x, c, s):
        rounded_diff = 2 * Fraction(float((Fraction(x) - Fraction(c)) / 2))
        return float(rounded_diff / Fraction(s))

    expected = [unbounded(x, c, s)
                for x, c, s in zip(X[overflow], np.broadcast_to(center, X.shape)[overflow],
                                   np.broadcast_to(scale, X.shape)[overflow])]
    np.testing.assert_array_equal(out[overflow], expected)
    np.testing.assert_array_equal(out, reference.standardize(X, center, scale))


@pytest.mark.parametrize("dtype", DTYPES)
def test_affine_reports_infinity_and_keeps_nan(simd_level, dtype):
    X = _data(300, 11, dtype, "C")
    out = np.empty_like(X)
    ones, zeros = np.ones(11), np.zeros(11)
    assert not getattr(_core, "standardize_" + _suffix(dtype))(X, out, zeros, ones)
    np.testing.assert_array_equal(out, X)  # identity is exact, NaN included
    X[299, 10] = -np.inf
    assert getattr(_core, "standardize_" + _suffix(dtype))(X, out, zeros, ones)
    X[299, 10] = 0.0
    X[0, 0] = np.inf
    assert getattr(_core, "unstandardize_" + _suffix(dtype))(X, out, zeros, ones)


def test_affine_read_only_input_and_binding_checks():
    X = np.arange(12.0).reshape(4, 3)
    X.flags.writeable = False
    out = np.empty_like(X)
    c, s = np.zeros(3), np.full(3, 2.0)
    _core.standardize_f64(X, out, c, s)
    np.testing.assert_array_equal(out, X / 2)
    with pytest.raises(ValueError, match="writeable"):
        _core.standardize_f64(X, X, c, s)
    with pytest.raises(ValueError, match="shape"):
        _core.standardize_f64(out, np.empty((4, 2)), c, s)
    with pytest.raises(ValueError, match="center"):
        _core.standardize_f64(out, out, np.zeros(2), s)
    big = np.zeros((5, 3))
    with pytest.raises(ValueError, match="overlap"):
        _core.standardize_f64(big[:4], big[1:], c, s)
    with pytest.raises(TypeError):
        _core.standardize_f64(out, np.empty((4, 3), dtype=np.float32), c, s)
    with pytest.raises(ValueError, match="sample_weight"):
        _core.column_stats_f64(out, np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        _core.column_stats_f64(np.ones(3), None)
