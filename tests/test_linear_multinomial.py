"""pygd.linear.loss_grad(loss="multinomial") against pygd.reference.multinomial_loss_grad, over
dtype x layout x weights x SIMD level x threads; determinism; extreme logits; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax

import pygd
from pygd import reference
from pygd.linear import loss_grad

from conftest import DTYPES, RTOL, assert_close_to_scale

LAYOUTS = ["C", "F", "strided"]


def make_problem(n, d, k, dtype, layout, seed=0, weighted=False, soft=False):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((2 * n, 3 * d)) if layout == "strided" else rng.standard_normal((n, d))
    X = base.astype(dtype)[::2, 1::3] if layout == "strided" else np.asarray(base, dtype=dtype, order=layout)
    coef = (rng.standard_normal((k, d)) / np.sqrt(d)).astype(dtype)
    intercept = rng.standard_normal(k)
    labels = rng.integers(0, k, n)
    Y = rng.dirichlet(np.ones(k), n).astype(dtype) if soft else np.eye(k, dtype=dtype)[labels]
    sw = rng.uniform(0.0, 3.0, n).astype(dtype) if weighted else None
    return X, labels, Y, coef, intercept, sw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("soft", [False, True])
def test_multinomial_matches_reference(dtype, layout, weighted, soft, simd_level, num_threads):
    # 3001 x 37 spans several row blocks, and neither is a multiple of a vector width.
    X, labels, Y, coef, intercept, sw = make_problem(3001, 37, 5, dtype, layout, weighted=weighted, soft=soft)
    got = loss_grad(X, Y if soft else labels, coef, intercept, loss="multinomial", sample_weight=sw)
    want = reference.multinomial_loss_grad(X, Y, coef, intercept, sample_weight=sw)
    assert got[1].dtype == dtype and got[1].shape == (5, 37)
    assert got[2].dtype == dtype and got[2].shape == (5,)
    scale = np.max(np.abs(want[1]))
    assert scale > 1e-3
    assert_close_to_scale(got[1], want[1], dtype, scale)
    assert_close_to_scale(got[2], want[2], dtype, scale)
    assert got[0] == pytest.approx(want[0], rel=RTOL[np.dtype(dtype)])


def test_multinomial_is_the_mean_softmax_cross_entropy():
    # Independent of pygd.reference: scipy's log_softmax and a finite-difference gradient.
    X, labels, _, coef, intercept, _ = make_problem(50, 4, 3, np.float64, "C")
    value, grad, grad_b = loss_grad(X, labels, coef, intercept, loss="multinomial")
    P = X @ coef.T + intercept
    assert value == pytest.approx(-log_softmax(P, axis=1)[np.arange(50), labels].mean(), rel=1e-13)
    np.testing.assert_allclose(grad_b, (softmax(P, axis=1) - np.eye(3)[labels]).mean(0), atol=1e-14)
    h = 1e-6
    for t, j in [(0, 0), (1, 3), (2, 2)]:
        bumped = coef.copy()
        bumped[t, j] += h
        up = loss_grad(X, labels, bumped, intercept, loss="multinomial")[0]
        bumped[t, j] -= 2 * h
        down = loss_grad(X, labels, bumped, intercept, loss="multinomial")[0]
        assert grad[t, j] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("logit", [-1e4, -750.0, 0.0, 40.0, 750.0, 1e4])
def test_multinomial_extreme_logits_are_finite(logit, simd_level):
    X = np.ones((2, 1))
    coef = np.array([[logit], [0.0], [-logit]])
    value, grad, grad_b = loss_grad(X, [0, 1], coef, 0.0, loss="multinomial")
    P = np.array([[logit, 0.0, -logit]] * 2)
    want = -log_softmax(P, axis=1)[[0, 1], [0, 1]].mean()
    assert np.isfinite(value) and np.isfinite(grad).all() and np.isfinite(grad_b).all()
    assert value == pytest.approx(want, rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(grad_b, (softmax(P, axis=1) - np.eye(3)[[0, 1]]).mean(0), atol=1e-15)


def test_softmax_exponential_is_accurate_over_its_range(simd_level):
    # X = identity makes grad_coef[0, i] = dl_i0 / n, one row per logit gap delta_i:
    # softmax_0 of (delta, 0) for label 1.  The kernels' vectorised exp (csrc/include/pygd/isa.hpp,
    # exp_vd) must match scipy's expit to a few ulp wherever e^delta is normal, and give 0
    # (not garbage) where it is subnormal.
    normal = np.concatenate([np.linspace(-708.0, 0.0, 3001), np.linspace(0.0, 700.0, 1001)[1:],
                             -np.logspace(-12, 2, 57)])
    tiny = np.linspace(-745.0, -708.4, 50)
    delta = np.concatenate([normal, tiny])
    n = len(delta)
    coef = np.vstack([delta, np.zeros(n)])
    grad = loss_grad(np.eye(n), np.ones(n, dtype=int), coef, 0.0, loss="multinomial")[1]
    p0 = grad[0] * n
    want = expit(delta)
    # (grad = dl / n: compare where that division stays clear of the subnormals)
    kept = want[: len(normal)] / n > np.finfo(np.float64).tiny * 2.0 ** 12
    assert kept.sum() > 3900 and delta[: len(normal)][kept].min() < -690
    np.testing.assert_allclose(p0[: len(normal)][kept], want[: len(normal)][kept], rtol=4e-15, atol=0)
    assert np.all(np.abs(p0[len(normal):]) <= 1e-300)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_multinomial_bitwise_identical_for_any_thread_count(layout, simd_level, threads_restored):
    X, labels, _, coef, intercept, sw = make_problem(20011, 33, 10, np.float64, layout, weighted=True)
    results = []
    for threads in (1, 2, 3):
        pygd.set_num_threads(threads)
        value, grad, gb = loss_grad(X, labels, coef, intercept, loss="multinomial", sample_weight=sw)
        results.append((value, grad.tobytes(), gb.tobytes()))
    assert all(r == results[0] for r in results[1:])


def test_multinomial_many_classes_and_inputs_untouched():
    X, labels, Y, coef, intercept, sw = make_problem(700, 6, 300, np.float64, "F", weighted=True)
    copies = [a.copy() for a in (X, labels, coef, sw)]
    for a in (X, labels, coef, sw):
        a.flags.writeable = False
    got = loss_grad(X, labels, coef, intercept, loss="multinomial", sample_weight=sw)
    want = reference.multinomial_loss_grad(X, Y, coef, intercept, sample_weight=sw)
    assert_close_to_scale(got[1], want[1], np.float64)
    for a, c in zip((X, labels, coef, sw), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(coef=np.zeros(3)), r"coef must have shape \(k, 3\)"),
        (dict(coef=np.zeros((2, 4))), r"coef must have shape \(k, 3\)"),
        (dict(y=np.array([0, 1, 2, 3])), r"class numbers must lie in \[0, 3\)"),
        (dict(y=np.array([0, 1, -1, 2])), r"class numbers must lie in \[0, 3\)"),
        (dict(y=np.array([0.5, 1, 1, 2])), "must hold integer class numbers"),
        (dict(y=np.zeros(5, dtype=int)), "y has 5 entries, expected 4"),
        (dict(y=np.zeros((4, 2))), r"y must have shape \(4, 3\)"),
        (dict(y=-np.ones((4, 3))), "must be non-negative"),
        (dict(y=np.full((4, 3), np.nan)), "y contains NaN"),
        (dict(intercept=np.zeros(2)), "intercept has 2 entries, expected 3"),
        (dict(coef=np.full((3, 3), np.inf)), "coef contains NaN or infinity"),
        (dict(X=np.full((4, 3), np.nan)), "X contains NaN or infinity"),
        (dict(sample_weight=np.zeros(4)), "sample_weight must not be all zero"),
    ],
)
def test_multinomial_bad_input(kwargs, match):
    args = dict(X=np.ones((4, 3)), y=np.array([0, 1, 2, 0]), coef=np.zeros((3, 3)), intercept=0.0)
    args.update(kwargs)
    X, y, coef, intercept = (args.pop(k) for k in ("X", "y", "coef", "intercept"))
    with pytest.raises(ValueError, match=match):
        loss_grad(X, y, coef, intercept, loss="multinomial", **args)
