"""optimizer="lbfgs" (issue 14): the one-pass objective kernel, the L-BFGS / OWL-QN driver, the estimators.

- ``_core.objective_grad_*`` against ``pygd.reference.objective_grad`` over
  float32/float64 x C/F order (through the estimators) x losses x outputs x
  standardisation x thread counts x SIMD levels, and the same bits for 1 and 2 threads;
- ``pygd._lbfgs.lbfgs`` against scipy's L-BFGS-B on the same objective, and
  OWL-QN against Lasso / LogisticRegression(saga) (test_l1.py checks the estimators' defaults);
- the estimators: what "auto" picks, what lbfgs refuses, warm starts, warnings.
- ``_core.lbfgs_direction`` / ``_core.lbfgs_pair`` (the driver's vector work) against
  ``pygd.reference`` over sizes, pair counts, diagonal guesses and 1-3 threads (the same bits),
  and their refusals (float64 only: the driver works in float64; compiled once, at the baseline ISA).
"""

from __future__ import annotations

import warnings
from collections import deque

import numpy as np
import pytest
from conftest import RTOL
from scipy.optimize import minimize as scipy_minimize
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from test_core_train import OPTIMIZERS, train_options

import pygd
from pygd import _core
from pygd import reference as ref
from pygd._lbfgs import DiagonalGuess, _direction, lbfgs, pseudo_gradient
from pygd.linear_model import GDClassifier, GDRegressor

SMOOTH = ["squared_error", "huber", "squared_epsilon_insensitive", "log_loss", "squared_hinge",
          "modified_huber", "multinomial", "smoothed_hinge"]


def _targets(loss, n, k, rng, dtype):
    if loss == "multinomial":
        Y = np.zeros((n, k))
        Y[np.arange(n), rng.integers(0, k, n)] = 1.0
    elif loss in ("log_loss", "squared_hinge", "modified_huber", "smoothed_hinge"):
        Y = rng.choice([-1.0, 1.0], size=(n, k))
    else:
        Y = rng.normal(size=(n, k)) * 3 + 1
    return np.ascontiguousarray(Y.astype(dtype))


# -- the kernel --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", SMOOTH)
@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_grad_matches_reference(dtype, loss, standardize, fit_intercept, simd_level,
                                          num_threads):
    rng = np.random.default_rng(1)
    n, d = 3001, 7  # several row blocks
    k = 3 if loss == "multinomial" else 2
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 4, d) + rng.normal(size=d) * 5).astype(dtype)
    Y = _targets(loss, n, k, rng, dtype)
    sw = rng.uniform(0.1, 2.0, n).astype(dtype)
    rows = np.sort(rng.choice(n, 2500, replace=False)).astype(np.int64)
    params = rng.normal(size=k * d + k) * 0.3
    mean = X.astype(np.float64).mean(0) if standardize else None
    scale = X.astype(np.float64).std(0) if standardize else None
    options = train_options(loss=loss, epsilon=0.7, fit_intercept=fit_intercept, l2=0.03,
                            optimizer=OPTIMIZERS["sgd"])
    engine = _core.objective_grad_f32 if dtype == np.float32 else _core.objective_grad_f64
    for r in (None, rows):
        grad = np.empty_like(params)
        f, S, finite = engine(X, Y, sw, r, params, grad, mean, scale, options)
        f_ref, g_ref, S_ref = ref.objective_grad(X, Y, sw, r, params, loss=loss, epsilon=0.7,
                                                 fit_intercept=fit_intercept, l2=0.03, mean=mean,
                                                 scale=scale)
        assert finite
        np.testing.assert_allclose(f, f_ref, rtol=RTOL[np.dtype(dtype)])
        np.testing.assert_allclose(S, S_ref, rtol=RTOL[np.dtype(dtype)])
        scale_g = np.abs(g_ref).max()
        np.testing.assert_allclose(grad, g_ref, rtol=0, atol=100 * RTOL[np.dtype(dtype)] * scale_g)
        if not fit_intercept:
            assert np.all(grad[k * d:] == 0)


def test_objective_grad_bits_do_not_depend_on_threads():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20000, 9))
    Y = _targets("multinomial", 20000, 4, rng, np.float64)
    params = rng.normal(size=4 * 9 + 4)
    options = train_options(loss="multinomial", l2=0.01, optimizer=OPTIMIZERS["sgd"])
    out = []
    for threads in (1, 2):
        with _threads(threads):
            grad = np.empty_like(params)
            f = _core.objective_grad_f64(X, Y, None, None, params, grad, None, None, options)[0]
            out.append((f, grad))
    assert out[0][0] == out[1][0] and np.array_equal(out[0][1], out[1][1])


class _threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.old = pygd.get_num_threads()
        pygd.set_num_threads(self.n)

    def __exit__(self, *exc):
        pygd.set_num_threads(self.old)


def test_objective_grad_checks_its_arguments():
    X = np.ones((5, 2))
    Y = np.ones((5, 1))
    options = train_options(optimizer=OPTIMIZERS["sgd"])
    params = np.zeros(3)
    with pytest.raises(ValueError, match="params must be 1-D with 3"):
        _core.objective_grad_f64(X, Y, None, None, np.zeros(4), np.zeros(4), None, None, options)
    with pytest.raises(ValueError, match="grad must not overlap"):
        _core.objective_grad_f64(X, Y, None, None, params, params, None, None, options)
    with pytest.raises(ValueError, match="outside"):
        _core.objective_grad_f64(X, Y, None, np.array([7]), params, np.zeros(3), None, None, options)
    grad = np.zeros(3)
    grad.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _core.objective_grad_f64(X, Y, None, None, params, grad, None, None, options)


# -- the driver ----------------------------------------------------------------------------------
def _logistic(X, y, alpha):
    n = len(y)
    s = np.where(y > 0, 1.0, -1.0)

    def fun(x):
        z = X @ x[:-1] + x[-1]
        m = -s * z
        loss = np.mean(np.logaddexp(0, m)) + 0.5 * alpha * x[:-1] @ x[:-1]
        p = -s / (1 + np.exp(-m))
        return loss, np.append(X.T @ p / n + alpha * x[:-1], p.mean())
    return fun


@pytest.mark.parametrize("problem", ["logistic", "least_squares", "rosenbrock"])
def test_lbfgs_reaches_scipy_lbfgsb(problem):
    rng = np.random.default_rng(0)
    gtol = 1e-9
    if problem == "logistic":
        X, y = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        fun, x0 = _logistic(X, y, 1e-3), np.zeros(X.shape[1] + 1)
    elif problem == "least_squares":
        A = rng.normal(size=(200, 30)) * np.geomspace(1, 100, 30)
        b = rng.normal(size=200)
        fun, x0 = (lambda x: (0.5 * np.sum((A @ x - b) ** 2), A.T @ (A @ x - b))), np.zeros(30)
        gtol = 1e-4  # gradients of order 1e4 |x|: 1e-9 is below their rounding (both stall)
    else:
        from scipy.optimize import rosen, rosen_der
        fun, x0 = (lambda x: (rosen(x), rosen_der(x))), np.full(8, -1.0)
    ours = lbfgs(fun, x0, converged=lambda F, pg, gap: np.abs(pg).max() <= gtol, max_iter=5000)
    theirs = scipy_minimize(fun, x0, jac=True, method="L-BFGS-B",
                            options=dict(gtol=1e-12, ftol=0, maxiter=20000, maxfun=40000))
    assert ours.status == "converged"
    assert ours.fun <= theirs.fun + 1e-10 * max(1.0, abs(theirs.fun))
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-5, atol=1e-6)
    # About as many passes as scipy's (a Wolfe line search takes the unit step almost always).
    assert ours.n_fun <= 2 * theirs.nfev + 10
    assert len(ours.history) == ours.n_iter and np.all(np.diff(ours.history) <= 0)


def test_owlqn_reaches_lasso_with_its_zeros():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X = np.hstack([X, np.random.default_rng(0).normal(size=(len(y), 30))])
    n = len(y)

    def fun(x):
        r = X @ x[:-1] + x[-1] - y
        return 0.5 * np.mean(r * r), np.append(X.T @ r / n, r.mean())
    mask = np.append(np.ones(X.shape[1]), 0.0)
    # (relative to the objective's scale: an absolute 1e-10 is below the gradient's rounding with
    # some NumPy versions' BLAS, and the line search then rightly stalls)
    res = lbfgs(fun, np.zeros(X.shape[1] + 1),
                converged=lambda F, pg, gap: np.abs(pg).max() <= 1e-9 * np.sqrt(2 * F),
                l1=1.0, l1_mask=mask, max_iter=2000)
    lasso = Lasso(alpha=1.0, tol=1e-14, max_iter=100000).fit(X, y)
    best = fun(np.append(lasso.coef_, lasso.intercept_))[0] + np.abs(lasso.coef_).sum()
    assert res.status == "converged"
    assert res.fun <= best * (1 + 1e-9)
    assert np.array_equal(res.x[:-1] == 0, np.abs(lasso.coef_) < 1e-8)
    assert res.x[-1] != 0  # the unpenalised entry is never thresholded


@pytest.mark.parametrize("l1", [0.0, 1e-3])
def test_a_diagonal_guess_h0_reaches_the_same_optimum_in_fewer_iterations(l1):
    # Raw columns whose scales span 4 orders of magnitude (text-like): the logistic
    # objective's curvature spans 8.  h0 = 1 / (c m_j + l2), the trainer's guess.
    rng = np.random.default_rng(3)
    n, d = 400, 40
    X = rng.normal(size=(n, d)) * np.geomspace(1e-2, 1e2, d)
    y = (X @ (rng.normal(size=d) / np.geomspace(1e-2, 1e2, d)) + rng.normal(size=n) > 0).astype(float)
    fun = _logistic(X, y, 1e-3)
    h0 = DiagonalGuess(1.0 / (0.25 * np.mean(X * X, axis=0) + 1e-3), np.array([4.0]))
    mask = np.append(np.ones(d), 0.0)
    test = lambda F, pg, gap: np.abs(pg).max() <= 1e-7  # noqa: E731 (1e-8: rounding, some BLAS)
    plain = lbfgs(fun, np.zeros(d + 1), converged=test, max_iter=20000, l1=l1, l1_mask=mask)
    guess = lbfgs(fun, np.zeros(d + 1), converged=test, max_iter=20000, l1=l1, l1_mask=mask, h0=h0)
    # Without the guess the smooth fit needs 4290 iterations; with it, 22.
    assert guess.status == plain.status == "converged"
    assert guess.fun <= plain.fun + 1e-12 * plain.fun
    np.testing.assert_allclose(guess.x, plain.x, rtol=0, atol=1e-4 * np.abs(plain.x).max())
    assert guess.n_iter < plain.n_iter / 5
    assert np.all(np.diff(guess.history) <= 0)
    if l1:
        assert np.array_equal(guess.x[:-1] == 0, plain.x[:-1] == 0)


def test_diagonal_guess_is_one_vector_for_k_outputs():
    P = DiagonalGuess(np.array([1.0, 2.0, 4.0], dtype=np.float32), np.array([0.5, 0.25]))
    q = np.arange(8.0)
    full = np.array([1, 2, 4, 1, 2, 4, 0.5, 0.25])
    d, dq, _ = _direction(q, deque(), P)  # without pairs: d = -P q, d . q = -q . P q
    np.testing.assert_array_equal(-d, full * q)
    assert -dq == pytest.approx(float(np.sum(q * full * q)), rel=1e-15)
    with pytest.raises(ValueError, match="does not fit"):
        _direction(np.ones(7), deque(), P)


def test_lbfgs_copy_false_never_writes_into_x0():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    x0 = np.zeros(X.shape[1] + 1)
    res = lbfgs(_logistic(X, y, 1e-3), x0, converged=lambda F, pg, gap: False, max_iter=20,
                copy=False)
    assert res.n_iter == 20 and not np.any(x0) and res.x is not x0


def test_pseudo_gradient_is_the_least_norm_subgradient():
    x = np.array([1.0, -1.0, 0.0, 0.0, 0.0, 0.0])
    g = np.array([0.3, 0.3, 0.5, -0.5, 2.0, -2.0])
    np.testing.assert_array_equal(pseudo_gradient(x, g, 1.0, None), [1.3, -0.7, 0.0, 0.0, 1.0, -1.0])
    mask = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(pseudo_gradient(x, g, 1.0, mask), [1.3, -0.7, 0.0, 0.0, 2.0, -2.0])


def test_lbfgs_stalls_rather_than_looping_when_no_decrease_exists():
    # A function whose "gradient" lies: no step along -g lowers it.
    res = lbfgs(lambda x: (float(x @ x), -2 * x), np.ones(3), converged=lambda F, pg, gap: False,
                max_iter=50)
    assert res.status == "stalled" and res.n_fun < 100
    np.testing.assert_array_equal(res.x, np.ones(3))


# -- the estimators ---------------------------------------------------------------------------
def test_auto_picks_lbfgs_where_it_applies():
    X, y = load_iris(return_X_y=True)
    assert GDClassifier().fit(X, y).optimizer_ == "lbfgs"
    assert GDRegressor().fit(X, y.astype(float)).optimizer_ == "lbfgs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert GDClassifier(loss="perceptron", max_iter=5).fit(X, y).optimizer_ == "adam"
        assert GDRegressor(loss="epsilon_insensitive", max_iter=5).fit(X, y).optimizer_ == "momentum"
    assert GDClassifier(loss="hinge").fit(X, y).optimizer_ == "lbfgs"
    for first_order in (dict(batch_size=16), dict(learning_rate=0.01), dict(early_stopping=True),
                        dict(average=True), dict(lr_schedule="cosine"),
                        dict(optimizer_params={"betas": (0.9, 0.99)})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            assert GDClassifier(max_iter=3, **first_order).fit(X, y).optimizer_ == "adam", first_order
    assert GDClassifier().partial_fit(X, y, classes=[0, 1, 2]).optimizer_ == "adam"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_lbfgs_fit_is_the_reference_optimum(dtype, order):
    X, y = load_breast_cancer(return_X_y=True)
    X = np.asarray(X, dtype=dtype, order=order)
    est = GDClassifier(optimizer="lbfgs", alpha=1e-3, tol=1e-6).fit(X, y)
    assert est.stop_reason_ == "converged" and est.coef_.dtype == dtype
    Xs = (X.astype(np.float64) - est.mean_) / est.scale_
    fun = _logistic(Xs, y, 1e-3)
    best = scipy_minimize(fun, np.zeros(31), jac=True, method="L-BFGS-B",
                          options=dict(gtol=1e-12, ftol=0, maxiter=10000)).fun
    w = est.coef_[0].astype(np.float64) * est.scale_
    b = float(est.intercept_[0]) + est.coef_[0].astype(np.float64) @ est.mean_
    assert fun(np.append(w, b))[0] <= best * (1 + (1e-9 if dtype == np.float64 else 1e-6))
    assert est.n_passes_ >= est.n_iter_ + 1 and len(est.loss_curve_) == est.n_iter_


def test_lbfgs_bits_do_not_depend_on_n_jobs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30000, 12))
    y = rng.integers(0, 4, 30000)
    a = GDClassifier(optimizer="lbfgs", n_jobs=1).fit(X, y)
    b = GDClassifier(optimizer="lbfgs", n_jobs=2).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("params, match", [
    (dict(loss="perceptron"), "needs a smooth loss"),
    (dict(batch_size=10), "full batches"),
    (dict(batch_size=np.int64(10)), "full batches"),
    (dict(early_stopping=True), "early_stopping needs a stochastic optimizer"),
    (dict(average=True), "average needs a stochastic optimizer"),
    (dict(learning_rate=0.1), "line search"),
    (dict(lr_schedule="cosine"), "line search"),
    (dict(optimizer_params={"lr": 1.0}), "unknown optimizer_params for 'lbfgs'"),
    (dict(optimizer_params={"memory": 0}), "memory"),
])
def test_lbfgs_refuses_what_it_cannot_do(params, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        GDClassifier(optimizer="lbfgs", **params).fit(X, y)


def test_lbfgs_partial_fit_is_refused_and_auto_partial_fit_continues_an_lbfgs_fit():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="partial_fit needs a stochastic optimizer"):
        GDClassifier(optimizer="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    est = GDClassifier(random_state=0).fit(X, y)
    proba = est.predict_proba(X)
    assert est.optimizer_ == "lbfgs"
    est.partial_fit(X, y)  # an Adam epoch from the fitted weights
    assert est.optimizer_ == "adam" and est.n_iter_ == est._trainer.n_iter
    assert np.abs(est.predict_proba(X) - proba).max() < 0.1


def test_lbfgs_max_iter_warns_and_the_objective_never_rises():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="max_iter=3 iterations"):
        est = GDClassifier(optimizer="lbfgs", max_iter=3).fit(X, y)
    assert est.stop_reason_ == "max_iter" and est.n_iter_ == 3
    assert np.all(np.diff(est.loss_curve_) <= 0)


def test_warm_start_switching_optimizer_starts_from_the_last_weights():
    X, y = load_diabetes(return_X_y=True)
    est = GDRegressor(optimizer="momentum", warm_start=True, random_state=0).fit(X, y)
    before = est.best_loss_
    est.set_params(optimizer="lbfgs").fit(X, y)
    assert est.optimizer_ == "lbfgs" and est.loss_curve_[0] <= before
    assert est.n_iter_ < 0.5 * GDRegressor(optimizer="lbfgs").fit(X, y).n_iter_


@pytest.mark.parametrize("alpha", [2.0, 5.0])
def test_lbfgs_elastic_net_has_the_same_exact_zeros_in_float32(alpha):
    X, y = load_diabetes(return_X_y=True)
    X = np.hstack([X, np.random.default_rng(0).normal(size=(len(y), 20))])
    fit = dict(optimizer="lbfgs", penalty="elasticnet", l1_ratio=0.9, alpha=alpha)
    e64 = GDRegressor(**fit).fit(X, y)
    e32 = GDRegressor(**fit).fit(X.astype(np.float32), y.astype(np.float32))
    assert e32.coef_.dtype == np.float32 and (e64.coef_ == 0).sum() >= 15
    assert np.array_equal(e32.coef_ == 0, e64.coef_ == 0)


# -- the hinge: L-BFGS on a smoothed hinge of shrinking width -------------------------------------
# scikit-learn's class-weight examples (test_sgd.py): two features, so a tightly converged
# Nelder-Mead from several starts is an independent reference of the optimum.
_X5 = np.array([[-1.0, -1.0], [-1.0, 0], [-0.8, -1.0], [1.0, 1.0], [1.0, 0.0]])
_y5 = np.array([1, 1, 1, -1, -1])


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "modified_huber"])
@pytest.mark.parametrize("class_weight", [None, {1: 0.001}, "balanced"])
def test_hinge_family_defaults_reach_the_optimum_on_small_data(loss, class_weight):
    clf = GDClassifier(loss=loss, class_weight=class_weight, random_state=0).fit(_X5, _y5)
    assert clf.stop_reason_ == "converged" and clf.optimizer_ == "lbfgs"
    Z = (_X5 - clf.mean_) / clf.scale_
    sw = (np.ones(5) if class_weight is None else
          np.where(_y5 == 1, 0.001, 1.0) if isinstance(class_weight, dict) else
          np.where(_y5 == 1, 5 / 6, 5 / 4))
    s = np.where(_y5 == clf.classes_[1], 1.0, -1.0)
    alpha = clf.alpha

    def objective(v):
        z = s * (Z @ v[:2] + v[2])
        m = np.maximum(0.0, 1 - z)
        loss_i = {"hinge": m, "squared_hinge": m * m,
                  "modified_huber": np.where(z >= -1, m * m, -4 * z)}[loss]
        return float(sw @ loss_i / sw.sum() + 0.5 * alpha * v[:2] @ v[:2])

    ours = objective(np.r_[clf.coef_[0] * clf.scale_, clf.intercept_[0] + clf.coef_[0] @ clf.mean_])
    best = min(scipy_minimize(objective, x0, method="Nelder-Mead",
                              options=dict(xatol=1e-13, fatol=1e-16, maxiter=40000)).fun
               for x0 in (np.zeros(3), np.ones(3), np.array([-3.0, 1.0, 0.5])))
    assert ours <= best * (1 + 1e-4)


def test_hinge_class_weight_moves_the_boundary_as_scikit_learn_documents():
    # sklearn test_sgd.py::test_class_weights: a tiny weight on class 1 flips [0.2, -1].
    X = np.array([[-1.0, -1.0], [-1.0, 0], [-0.8, -1.0], [1.0, 1.0], [1.0, 0.0]])
    y = [1, 1, 1, -1, -1]
    fit = dict(loss="hinge", alpha=0.1, fit_intercept=False)
    assert GDClassifier(**fit).fit(X, y).predict([[0.2, -1.0]]) == [1]
    assert GDClassifier(class_weight={1: 0.001}, **fit).fit(X, y).predict([[0.2, -1.0]]) == [-1]


def test_hinge_lbfgs_stages_certify_the_gap():
    X, y = load_breast_cancer(return_X_y=True)
    clf = GDClassifier(loss="hinge", alpha=1e-3).fit(X, y)
    tight = GDClassifier(loss="hinge", alpha=1e-3, tol=1e-5, max_iter=10000).fit(X, y)
    Z = (X - clf.mean_) / clf.scale_
    s = np.where(y == 1, 1.0, -1.0)

    def objective(est):
        w = est.coef_[0] * est.scale_
        b = est.intercept_[0] + est.coef_[0] @ est.mean_
        return float(np.mean(np.maximum(0, 1 - s * (Z @ w + b))) + 0.5e-3 * w @ w)

    assert clf.stop_reason_ == "converged"
    assert objective(clf) <= objective(tight) * (1 + 1e-4)
    assert objective(clf) == pytest.approx(clf.best_loss_, rel=1e-12)


# -- the squared error: Newton steps on the exact Hessian (_core.gram_*) --------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("standardize", [True, False])
def test_gram_matches_reference(dtype, standardize, simd_level, num_threads):
    rng = np.random.default_rng(3)
    n, d, k = 4001, 11, 2
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 4, d) + rng.normal(size=d) * 1e6).astype(dtype)
    Y = np.ascontiguousarray((rng.normal(size=(n, k)) * 3 + 5).astype(dtype))
    sw = rng.uniform(0.1, 2.0, n).astype(dtype)
    rows = np.sort(rng.choice(n, 3000, replace=False)).astype(np.int64)
    mean = X.astype(np.float64).mean(0) if standardize else None
    scale = X.astype(np.float64).std(0) if standardize else None
    shift = np.array([5.0, 4.5])
    gram = _core.gram_f32 if dtype == np.float32 else _core.gram_f64
    for r in (None, rows):
        A, C, yy, S = gram(X, Y, sw, r, mean, scale, shift)
        A_ref, C_ref, yy_ref, S_ref = ref.gram(X, Y, sw, r, mean, scale, shift)
        assert A.shape == (d + 1, d + 1) and C.shape == (d + 1, k)
        tol = 1e-12 * max(1.0, np.abs(A_ref).max())
        np.testing.assert_allclose(A, A_ref, rtol=0, atol=tol)
        np.testing.assert_array_equal(A, A.T)
        np.testing.assert_allclose(C, C_ref, rtol=0, atol=1e-12 * np.abs(C_ref).max() * 100)
        np.testing.assert_allclose([yy, S], [yy_ref, S_ref], rtol=1e-12)


def test_gram_bits_do_not_depend_on_threads():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30000, 20))
    Y = rng.normal(size=(30000, 1))
    out = []
    for threads in (1, 2):
        with _threads(threads):
            out.append(_core.gram_f64(X, Y, None, None, None, None, np.zeros(1)))
    assert all(np.array_equal(a, b) for a, b in zip(out[0], out[1]))


def _ill_conditioned(n=20000, d=30, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    X = np.cumsum(Z, axis=1) * np.geomspace(0.5, 20, d) + 100.0  # strongly correlated columns
    y = X @ rng.normal(size=d) / d + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("penalty", ["l2", None, "l1", "elasticnet"])
def test_squared_error_switches_to_newton_and_reaches_the_optimum(penalty):
    X, y = _ill_conditioned()
    alpha = 1e-3 if penalty in ("l1", "elasticnet") else 1e-4
    est = GDRegressor(penalty=penalty, alpha=alpha).fit(X, y)
    assert est.stop_reason_ == "converged"
    assert est.n_iter_ < 30  # 8 L-BFGS iterations, then Newton steps (each one pass)
    Z = (X - est.mean_) / est.scale_
    w, b = est.coef_ * est.scale_, est.intercept_[0] + est.coef_ @ est.mean_
    l2, l1 = {"l2": (alpha, 0.0), None: (0.0, 0.0), "l1": (0.0, alpha),
              "elasticnet": (alpha * 0.85, alpha * 0.15)}[penalty]

    def objective(v):
        r = Z @ v[:-1] + v[-1] - y
        return 0.5 * np.mean(r * r) + 0.5 * l2 * v[:-1] @ v[:-1] + l1 * np.abs(v[:-1]).sum()
    if l1 == 0:  # the normal equations, solved directly
        n = len(y)
        Zc = np.hstack([Z, np.ones((n, 1))])
        H = Zc.T @ Zc / n + np.diag(np.r_[np.full(Z.shape[1], l2), 0.0])
        best = objective(np.linalg.solve(H, Zc.T @ y / n))
    else:
        best = GDRegressor(penalty=penalty, alpha=alpha, optimizer="lbfgs", tol=1e-8,
                           max_iter=100000).fit(X, y).best_loss_
    assert objective(np.r_[w, b]) <= best * (1 + 1e-6) + 1e-12


def test_squared_error_lbfgs_without_newton_is_slow_on_ill_conditioned_data(monkeypatch):
    # What the Newton steps buy (so the test above cannot pass by L-BFGS alone).
    from pygd.linear_model import _trainer
    X, y = _ill_conditioned()
    with_newton = GDRegressor().fit(X, y)
    monkeypatch.setattr(_trainer, "GRAM_MAX_FEATURES", 0)
    without = GDRegressor().fit(X, y)
    assert with_newton.n_passes_ * 3 < without.n_passes_


def test_gather_probe_sums_the_rows_in_order():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 13))
    rows = rng.permutation(5000)[:3000].astype(np.int64)
    assert _core.probe_gather_sum_f64(X, rows) == pytest.approx(X[rows].sum(), rel=1e-12)
    assert _core.probe_gather_sum_f32(X.astype(np.float32), rows) == pytest.approx(X[rows].sum(), rel=1e-6)
    with pytest.raises(ValueError, match="outside"):
        _core.probe_gather_sum_f64(X, np.array([5000]))


def test_hinge_with_tol_none_still_goes_through_the_stages():
    # tol=None: no stopping test, but the smoothing must still shrink (the width-1 stage alone
    # is another loss), and best_loss_ is the hinge's objective.
    clf = GDClassifier(loss="hinge", tol=None, random_state=0).fit(_X5, _y5)
    tight = GDClassifier(loss="hinge", random_state=0).fit(_X5, _y5)
    assert clf.best_loss_ <= tight.best_loss_ * (1 + 1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = GDClassifier(loss="hinge", max_iter=3, random_state=0).fit(_X5, _y5)
    Z = (_X5 - short.mean_) / short.scale_
    s = np.where(_y5 == short.classes_[1], 1.0, -1.0)
    w, b = short.coef_[0] * short.scale_, short.intercept_[0] + short.coef_[0] @ short.mean_
    hinge = np.mean(np.maximum(0, 1 - s * (Z @ w + b))) + 0.5 * short.alpha * w @ w
    assert short.best_loss_ == pytest.approx(hinge, rel=1e-10)  # not the smoothed objective


# -- _core.lbfgs_direction / lbfgs_pair against pygd.reference ------------------------------
# (float64 only: L-BFGS runs in float64; compiled once at the baseline ISA, so no SIMD levels)

def _pairs(rng, n, m):
    s = [rng.standard_normal(n) for _ in range(m)]
    y = [si * rng.uniform(0.5, 2.0, n) + 0.01 * rng.standard_normal(n) for si in s]
    rho = [1.0 / float(np.sum(si * yi)) for si, yi in zip(s, y)]
    return s, y, rho


# sizes: below the parallel threshold, one chunk and a bit, several chunks with a short last one
@pytest.mark.parametrize("n", [1, 7, 16385, 3 * 16384 + 5, 100_003])
@pytest.mark.parametrize("m", [0, 1, 2, 5])
@pytest.mark.parametrize("guess", [None, "block"])
def test_lbfgs_direction_matches_the_reference_on_any_thread_count(n, m, guess, threads_restored):
    rng = np.random.default_rng(n + 10 * m)
    g = rng.standard_normal(n)
    s, y, rho = _pairs(rng, n, m)
    columns = trailing = None
    if guess == "block":
        t = min(3, n - 1) if n > 1 else 0
        c = max(1, (n - t) // 4) if (n - t) % 4 == 0 else n - t
        columns, trailing = rng.uniform(0.1, 4.0, c), rng.uniform(0.1, 4.0, t)
    gamma = 0.7 if m else 1.0
    d_ref, dg_ref, dd_ref = ref.lbfgs_direction_reference(g, s, y, rho, gamma, columns, trailing)
    results = []
    for threads in (1, 2, 3):
        pygd.set_num_threads(threads)
        d = np.full(n, np.nan)
        dg, dd = _core.lbfgs_direction(g, s, y, rho, gamma, columns, trailing, d)
        results.append((d, dg, dd))
    scale = np.abs(d_ref).max()
    np.testing.assert_allclose(results[0][0], d_ref, rtol=0, atol=1e-12 * scale)
    assert results[0][1] == pytest.approx(dg_ref, rel=1e-12)
    assert results[0][2] == pytest.approx(dd_ref, rel=1e-12)
    for d, dg, dd in results[1:]:  # the same bits for any thread count
        assert np.array_equal(d, results[0][0]) and dg == results[0][1] and dd == results[0][2]
    if m == 0 and guess is None:  # -g exactly
        assert np.array_equal(results[0][0], -g)


@pytest.mark.parametrize("n", [5, 16385, 100_003])
@pytest.mark.parametrize("guess", [None, "block"])
def test_lbfgs_pair_matches_the_reference_on_any_thread_count(n, guess, threads_restored):
    rng = np.random.default_rng(n)
    x, xn, g, gn = (rng.standard_normal(n) for _ in range(4))
    columns = trailing = None
    if guess == "block":
        columns, trailing = rng.uniform(0.1, 4.0, (n - 1) // 2 if (n - 1) % 2 == 0 else n - 1), \
            rng.uniform(0.1, 4.0, 1)
    s_ref, y_ref, dots_ref = ref.lbfgs_pair_reference(xn, x, gn, g, columns, trailing)
    results = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        s, y = np.empty(n), np.empty(n)
        dots = _core.lbfgs_pair(xn, x, gn, g, columns, trailing, s, y)
        results.append((s, y, dots))
    s, y, dots = results[0]
    assert np.array_equal(s, s_ref) and np.array_equal(y, y_ref)  # one subtraction each
    np.testing.assert_allclose(dots, dots_ref, rtol=1e-12)
    assert np.array_equal(results[1][0], s) and results[1][2] == dots
    if guess is None:
        assert dots[3] == dots[2]  # y . I y is y . y


def test_lbfgs_vector_kernels_refuse_bad_arrays():
    g = np.ones(10)
    with pytest.raises(TypeError, match="float64"):
        _core.lbfgs_direction(g.astype(np.float32), [], [], [], 1.0, None, None, np.empty(10))
    with pytest.raises(ValueError, match="shape"):
        _core.lbfgs_direction(g, [np.ones(9)], [np.ones(10)], [1.0], 1.0, None, None, np.empty(10))
    with pytest.raises(ValueError, match="entries"):
        _core.lbfgs_direction(g, [np.ones(10)], [], [1.0], 1.0, None, None, np.empty(10))
    with pytest.raises(ValueError, match="overlaps"):
        _core.lbfgs_direction(g, [], [], [], 1.0, None, None, g)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.lbfgs_direction(np.ones(20)[::2], [], [], [], 1.0, None, None, np.empty(10))
    out = np.empty(10)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.lbfgs_direction(g, [], [], [], 1.0, None, None, out)
    with pytest.raises(ValueError, match="does not fit"):
        _core.lbfgs_direction(g, [], [], [], 1.0, np.ones(4), np.ones(1), np.empty(10))
    with pytest.raises(ValueError, match="both"):
        _core.lbfgs_direction(g, [], [], [], 1.0, np.ones(5), None, np.empty(10))
    guess = np.ones(12)  # out over the guess's columns
    with pytest.raises(ValueError, match="overlaps"):
        _core.lbfgs_direction(g, [], [], [], 1.0, guess[:9], guess[9:10], guess[2:12])
    with pytest.raises(ValueError, match="overlaps"):
        _core.lbfgs_pair(g, g, g, g, None, None, g, np.empty(10))
    with pytest.raises(ValueError, match="overlaps"):
        _core.lbfgs_pair(g, g, g, g, guess[:9], guess[9:10], guess[:10], np.empty(10))
    with pytest.raises(ValueError, match="s overlaps y"):
        s = np.empty(10)
        _core.lbfgs_pair(g, g, g, g, None, None, s, s)
    # read-only inputs are accepted and never written
    ro = np.arange(10.0)
    ro.flags.writeable = False
    d = np.empty(10)
    _core.lbfgs_direction(ro, [ro], [ro + 1], [0.01], 1.0, None, None, d)
    assert np.array_equal(ro, np.arange(10.0))
