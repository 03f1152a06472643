"""pygd.linear.loss_grad / predict against pygd.reference, over dtype x layout x
weights x loss x SIMD level x threads; determinism; bad input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pygd
from pygd import _core, reference
from pygd.linear import LOSSES as ALL_LOSSES
from pygd.linear import loss_grad, predict

from conftest import DTYPES, RTOL, SIMD_LEVELS, assert_close_to_scale

LAYOUTS = ["C", "F", "strided"]
# Single-output losses; the multinomial (k, d) model has tests/test_linear_multinomial.py.
LOSSES = tuple(loss for loss in ALL_LOSSES if loss != "multinomial")


def make_problem(n, d, dtype, layout, loss, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((2 * n, 3 * d)) if layout == "strided" else rng.standard_normal((n, d))
    if layout == "strided":
        X = base.astype(dtype)[::2, 1::3]
    else:
        X = np.asarray(base, dtype=dtype, order=layout)
    coef = rng.standard_normal(d) / np.sqrt(d)
    if loss == "log_loss":
        y = (rng.random(n) < 0.5).astype(dtype)
    else:
        y = (X.astype(np.float64) @ coef + 0.5 * rng.standard_normal(n)).astype(dtype)
    coef = (coef + 0.3 * rng.standard_normal(d)).astype(dtype)
    sw = rng.uniform(0.0, 3.0, n).astype(dtype) if weighted else None
    return X, y, coef, sw


def error_scale(X, y, coef, intercept, loss, sw, epsilon):
    """The gradient's magnitude scale: max component, or sum_i s_i |l'_i| |x_i| / S."""
    X64 = X.astype(np.float64)
    p = X64 @ coef.astype(np.float64) + float(X.dtype.type(intercept))
    _, dl = reference.LOSS_FUNCTIONS[loss](p, y.astype(np.float64), epsilon)
    s = np.ones(len(y)) if sw is None else sw.astype(np.float64)
    return np.max(np.abs(X64).T @ (s * np.abs(dl)) / s.sum())


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_grad_matches_reference(loss, dtype, layout, weighted, simd_level, num_threads):
    # 3001 x 37 spans several row blocks, and 37 is not a multiple of any vector width.
    X, y, coef, sw = make_problem(3001, 37, dtype, layout, loss, weighted=weighted)
    assert X.flags.c_contiguous == (layout == "C")
    got = loss_grad(X, y, coef, 0.25, loss=loss, sample_weight=sw, epsilon=0.3)
    want = reference.loss_grad(X, y, coef, 0.25, loss=loss, sample_weight=sw, epsilon=0.3)
    assert got[1].dtype == dtype and got[2].dtype == dtype and got[1].shape == (37,)
    scale = np.max(np.abs(want[1]))
    assert_close_to_scale(got[1], want[1], dtype, scale)
    assert_close_to_scale(got[2], want[2], dtype, scale)
    assert got[0] == pytest.approx(want[0], rel=RTOL[np.dtype(dtype)], abs=1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_predict_matches_reference(dtype, layout, simd_level, num_threads):
    X, _, coef, _ = make_problem(2999, 21, dtype, layout, "squared_error")
    got = predict(X, coef, -1.5)
    want = reference.predict(X, coef, -1.5)
    assert got.dtype == dtype and got.shape == (2999,)
    assert_close_to_scale(got, want, dtype, np.max(np.abs(want)))


@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "huber"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_bitwise_identical_for_any_thread_count(loss, dtype, layout, simd_level, threads_restored):
    X, y, coef, sw = make_problem(20011, 33, dtype, layout, loss, weighted=True)
    results = []
    for threads in (1, 2, 3, 7):
        pygd.set_num_threads(threads)
        value, grad, gi = loss_grad(X, y, coef, 0.1, loss=loss, sample_weight=sw)
        results.append((value, grad.tobytes(), gi.tobytes(), predict(X, coef, 0.1).tobytes()))
    assert all(r == results[0] for r in results[1:])


@pytest.mark.parametrize("n, d", [(1, 1), (100, 3), (2_000_000, 64), (10_000_000, 1), (50_000, 100_000)])
def test_block_plan_is_fixed_and_bounded(n, d):
    blocks, rows = _core.plan_row_blocks(n, d, d)
    assert blocks >= 1 and rows >= 1
    assert blocks * rows >= n > (blocks - 1) * rows  # covers every row exactly once
    assert blocks * d * 8 <= 64 << 20  # partial gradients stay under 64 MB
    if n * d >= 1 << 22:
        assert blocks >= 16  # enough blocks to spread over the threads


def test_wide_problem_d_1e5(num_threads):
    X, y, coef, _ = make_problem(300, 100_000, np.float32, "C", "squared_error")
    got = loss_grad(X, y, coef)
    want = reference.loss_grad(X, y, coef)
    assert_close_to_scale(got[1], want[1], np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_simd_levels_agree(dtype):
    X, y, coef, _ = make_problem(5003, 70, dtype, "C", "squared_error")
    old = _core.simd_level()
    try:
        grads = []
        for level in SIMD_LEVELS:
            _core.set_simd_level(level)
            grads.append(loss_grad(X, y, coef)[1])
    finally:
        _core.set_simd_level(old)
    for g in grads[1:]:
        assert_close_to_scale(g, grads[0], dtype)


def test_known_values():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([1.0, 2.0])
    value, grad, gi = loss_grad(X, y, [0.5, -0.25], 1.0, sample_weight=[1.0, 3.0])
    # p = [1.0, 1.5], r = [0, -0.5], weights 1 and 3 out of 4.
    assert value == pytest.approx(3 * 0.125 / 4)
    np.testing.assert_allclose(grad, [3 * -0.5 * 3.0 / 4, 3 * -0.5 * 4.0 / 4])
    assert gi == pytest.approx(3 * -0.5 / 4)


@pytest.mark.parametrize("p", [-1e4, -750.0, -40.0, 0.0, 40.0, 750.0, 1e4])
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_log_loss_does_not_overflow(p, label, simd_level):
    X = np.array([[1.0]])
    value, grad, gi = loss_grad(X, [label], [p], 0.0, loss="log_loss")
    want_loss = np.logaddexp(0.0, p) - label * p
    want_grad = np.exp(-np.logaddexp(0.0, -p)) - label  # sigmoid(p)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value == pytest.approx(want_loss, rel=1e-12, abs=1e-300)
    assert grad[0] == pytest.approx(want_grad, rel=1e-12, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 40),
    log_scale=st.integers(-30, 30),
    seed=st.integers(0, 2**32 - 1),
    loss=st.sampled_from(LOSSES),
    dtype=st.sampled_from(DTYPES),
    fortran=st.booleans(),
)
def test_property_random_shapes_and_magnitudes(n, d, log_scale, seed, loss, dtype, fortran):
    rng = np.random.default_rng(seed)
    scale = 10.0**log_scale
    X = np.asarray(rng.standard_normal((n, d)) * scale, dtype=dtype, order="F" if fortran else "C")
    coef = (rng.standard_normal(d) / scale).astype(dtype)
    if loss == "log_loss":
        y = rng.integers(0, 2, n).astype(dtype)
    else:
        y = rng.standard_normal(n).astype(dtype)
    eps = 0.5
    got = loss_grad(X, y, coef, 0.5, loss=loss, epsilon=eps)
    want = reference.loss_grad(X, y, coef, 0.5, loss=loss, epsilon=eps)
    scale_g = error_scale(X, y, coef, 0.5, loss, None, eps)
    assert_close_to_scale(got[1], want[1], dtype, scale_g)
    assert got[0] == pytest.approx(want[0], rel=1e-5 if dtype == np.float32 else 1e-10, abs=1e-30)


def test_read_only_and_inputs_untouched():
    X, y, coef, sw = make_problem(500, 9, np.float64, "C", "huber", weighted=True)
    copies = [a.copy() for a in (X, y, coef, sw)]
    for a in (X, y, coef, sw):
        a.flags.writeable = False
    loss_grad(X, y, coef, 0.0, loss="huber", sample_weight=sw)
    predict(X, coef)
    for a, c in zip((X, y, coef, sw), copies):
        np.testing.assert_array_equal(a, c)


def test_c_contiguous_input_is_not_copied():
    X, y, coef, _ = make_problem(40000, 50, np.float64, "C", "squared_error")  # 16 MB
    tracemalloc.start()
    try:
        loss_grad(X, y, coef)
        predict(X, coef)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8


def test_float32_grad_keeps_dtype_and_agrees_with_float64():
    X, y, coef, _ = make_problem(4000, 16, np.float64, "C", "squared_error")
    g64 = loss_grad(X, y, coef)[1]
    g32 = loss_grad(X.astype(np.float32), y.astype(np.float32), coef.astype(np.float32))[1]
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * np.abs(g64).max())


# --- bad input ---------------------------------------------------------------

GOOD_X = np.ones((4, 3))
GOOD_Y = np.zeros(4)
GOOD_W = np.zeros(3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(X=np.ones(4)), "X must be a 2-D array"),
        (dict(X=np.ones((4, 3), dtype=np.int64)), "X must have dtype float32 or float64"),
        (dict(X=np.ones((4, 3), dtype=complex)), "X must have dtype float32 or float64"),
        (dict(X=np.ones((4, 3), dtype=object)), "X must have dtype float32 or float64"),
        (dict(X=np.ones((0, 3))), "at least one row"),
        (dict(y=np.zeros(5)), "y has 5 entries, expected 4"),
        (dict(y=np.zeros((4, 1))), "y must be a 1-D array"),
        (dict(y=np.array(["a"] * 4)), "y must contain real numbers"),
        (dict(y=np.array([0, 1, np.nan, 0])), "y contains NaN"),
        (dict(coef=np.zeros(2)), "coef has 2 entries, expected 3"),
        (dict(coef=np.array([0, np.inf, 0])), "coef contains NaN or infinity"),
        (dict(coef=np.zeros(3, dtype=complex)), "coef must contain real numbers"),
        (dict(intercept=np.nan), "intercept must be finite"),
        (dict(intercept="1"), "intercept must be a real number"),
        (dict(loss="hinge"), "loss must be one of"),
        (dict(epsilon=-0.1), "epsilon must be >= 0"),
        (dict(epsilon=np.nan), "epsilon must be finite"),
        (dict(sample_weight=np.array([1.0, -1.0, 1.0, 1.0])), "sample_weight must be non-negative"),
        (dict(sample_weight=np.zeros(4)), "sample_weight must not be all zero"),
        (dict(sample_weight=np.ones(3)), "sample_weight has 3 entries, expected 4"),
        (dict(sample_weight=np.array([1.0, np.nan, 1.0, 1.0])), "sample_weight contains NaN"),
        (dict(loss="log_loss", y=np.array([-1.0, 1.0, 1.0, 1.0])), r"y must lie in \[0, 1\]"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    args = dict(X=GOOD_X, y=GOOD_Y, coef=GOOD_W, intercept=0.0)
    args.update(kwargs)
    X, y, coef, intercept = (args.pop(k) for k in ("X", "y", "coef", "intercept"))
    with pytest.raises(ValueError, match=match):
        loss_grad(X, y, coef, intercept, **args)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("zero_coef", [False, True])
def test_non_finite_X_raises(bad, loss, zero_coef, simd_level):
    X, y, coef, sw = make_problem(3001, 37, np.float64, "C", loss, weighted=True)
    X = X.copy()
    X[1234, 5] = bad
    if zero_coef:
        coef = np.zeros_like(coef)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        loss_grad(X, y, coef, loss=loss, sample_weight=sw)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        predict(X, coef)


def test_overflow_warns_instead_of_returning_silently():
    X = np.full((3, 2), 1e200)
    with pytest.warns(RuntimeWarning, match="overflowed"):
        value, _, _ = loss_grad(X, np.zeros(3), np.ones(2))
    assert value == np.inf


def test_low_level_binding_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="y must be 1-D with 4 entries"):
        _core.loss_grad_f64(GOOD_X, np.zeros(3), GOOD_W, 0.0, "squared_error", None, 0.1)
    with pytest.raises(ValueError, match="unknown loss"):
        _core.loss_grad_f64(GOOD_X, GOOD_Y, GOOD_W, 0.0, "nope", None, 0.1)
    with pytest.raises(TypeError):
        _core.loss_grad_f64(GOOD_X.astype(np.float32), GOOD_Y, GOOD_W, 0.0, "squared_error", None, 0.1)
