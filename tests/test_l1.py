"""The L1 proximal step with the step size each coordinate took (issue 12, item 1).

After the optimizer step the engine soft-thresholds w_j by eta_j * l1, eta_j being
the factor the update multiplies the gradient by at a fixed point
(csrc/engine/train.cpp, l1_step_sizes; pygd.reference.l1_step_sizes).  So the
fixed points are the L1 (elastic-net) optimum with every optimizer.  Tested here:

- the engine against pygd.reference.train_reference with l1 > 0, for every
  optimizer kind x float32/float64 x batch (1, 16, full) x SIMD level x threads;
- the bits do not depend on the thread count (several row blocks per batch);
- full-batch runs of the engine reach sklearn's Lasso with every optimizer;
- the estimators' fits reach the optimum of scikit-learn's Lasso / ElasticNet /
  LogisticRegression (objective within 1e-6 relative, same zero pattern), with
  default settings where they suffice and the setting needed where not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import RTOL
from test_core_train import OPTIMIZERS, _run_engine, train_options

import pygd
from pygd import _core
from pygd import reference as ref

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
import sklearn  # noqa: E402

from pygd.linear_model import GDClassifier, GDRegressor  # noqa: E402

SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])

# Every optimizer kind, and the variants whose eta differs (dampening, amsgrad, centered,
# momentum in RMSprop, coupled/decoupled weight decay).
L1_OPTIMIZERS = dict(
    OPTIMIZERS,
    dampened=dict(kind="sgd", lr=0.01, momentum=0.8, dampening=0.3, weight_decay=0.01, nesterov=False),
    nesterov_dampened=dict(kind="sgd", lr=0.01, momentum=0.5, dampening=0.2, weight_decay=0.0,
                           nesterov=True),
    amsgrad=dict(kind="adam", lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01, amsgrad=True,
                 decoupled_weight_decay=False),
    rmsprop_plain=dict(kind="rmsprop", lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0,
                       centered=False),
    rmsprop_momentum=dict(kind="rmsprop", lr=0.005, alpha=0.99, eps=1e-8, weight_decay=0.0,
                          momentum=0.9, centered=False),
    nadamw=dict(kind="nadam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                momentum_decay=4e-3, decoupled_weight_decay=True),
)
L1, L2 = 0.08, 0.005
DTYPES = [np.float64, np.float32]


def _sparse_problem(n=131, d=11, k=2, dtype=np.float64, seed=3):
    """Features on different scales and offsets; only the first 4 matter (so l1 makes zeros)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 5, d) + rng.normal(size=d) * 3
    w = np.zeros((d, k))
    w[:4] = rng.normal(size=(4, k))
    Y = X @ w + 0.3 * rng.normal(size=(n, k)) + 2.0
    sw = rng.uniform(0.2, 2.0, n)
    return X.astype(dtype), np.ascontiguousarray(Y.astype(dtype)), sw.astype(dtype), rng


_REFERENCE: dict = {}


def _reference(optimizer, dtype, batch):
    """train_reference's result, computed once per (optimizer, dtype, batch) for all SIMD levels
    and thread counts."""
    key = (optimizer, np.dtype(dtype).name, batch)
    if key not in _REFERENCE:
        X, Y, sw, rng = _sparse_problem(dtype=dtype)
        n = X.shape[0]
        b = n if batch == "full" else batch
        orders = [rng.permutation(n) for _ in range(2 if batch == 1 else 6 if batch == 16 else 40)]
        mean = X.astype(np.float64).mean(0)
        scale = X.astype(np.float64).std(0)
        expected = np.zeros(Y.shape[1] * (X.shape[1] + 1), dtype=dtype)
        ref.train_reference(X, Y, sw, orders, b, expected, optimizer=L1_OPTIMIZERS[optimizer], l1=L1, l2=L2,
                            mean=mean, scale=scale, weight_per_row=float(sw.astype(np.float64).mean()))
        _REFERENCE[key] = (X, Y, sw, orders, b, mean, scale, expected)
    return _REFERENCE[key]


@pytest.mark.parametrize("batch", [1, 16, "full"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", sorted(L1_OPTIMIZERS))
def test_engine_l1_matches_reference(optimizer, dtype, batch, simd_level, num_threads):
    X, Y, sw, orders, b, mean, scale, expected = _reference(optimizer, dtype, batch)
    params, _, _, _ = _run_engine(X, Y, sw, orders, b, L1_OPTIMIZERS[optimizer], l1=L1, l2=L2, mean=mean,
                                  scale=scale)
    assert params.dtype == dtype
    tol = RTOL[np.dtype(dtype)] if dtype == np.float64 else 1e-4  # float32: several hundred steps
    err = np.abs(params.astype(np.float64) - expected.astype(np.float64)).max()
    assert err <= tol * np.abs(expected.astype(np.float64)).max(), err
    kd = Y.shape[1] * X.shape[1]
    if dtype == np.float64:  # the same exact zeros
        assert np.array_equal(params[:kd] == 0, expected[:kd] == 0)
    assert (params[:kd] != 0).any()


def test_reference_l1_step_sizes_are_the_fixed_point_factors():
    # At a fixed point of the moments (m = g, v = g^2, b = c g) one step moves w by exactly
    # -eta_j g_j: the factor l1_step_sizes returns.  Checked on the reference step functions.
    rng = np.random.default_rng(0)
    g = rng.normal(size=6)
    for name, opt in sorted(L1_OPTIMIZERS.items()):
        kind = opt["kind"]
        hyper = {key: value for key, value in opt.items() if key not in ("kind", "lr", "weight_decay")}
        step_fn = ref._STEP_FUNCTIONS[kind]
        state: dict = {}
        p = np.zeros(6)
        coef = 0.0
        for _ in range(3000):  # the moments settle at the constant gradient g
            before = p.copy()
            first = state.get("momentum_buffer") is None
            acc_delta = state["acc_delta"].copy() if "acc_delta" in state else np.zeros(6)
            step_fn(p, g, state, lr=opt["lr"], **hyper)
            coef = ref.momentum_coef(kind, hyper, coef, first)
            if kind == "adagrad" or (kind == "rmsprop" and hyper.get("centered")):
                break  # no fixed point of the moments: eta is still the step's own factor
        eta = ref.l1_step_sizes(kind, hyper, opt["lr"], state, 6, momentum_coef=coef,
                                acc_delta_before=acc_delta)
        np.testing.assert_allclose(before - p, eta * g, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("optimizer", sorted(L1_OPTIMIZERS))
def test_engine_l1_bits_do_not_depend_on_threads(optimizer, threads_restored):
    X, Y, sw, rng = _sparse_problem(n=20000, d=40, k=2)
    n = X.shape[0]
    runs = []
    for batch in (4096, n):
        orders = [rng.permutation(n)]
        for threads in (1, 2):
            pygd.set_num_threads(threads)
            params, _, losses, counters = _run_engine(X, Y, sw, orders, batch, L1_OPTIMIZERS[optimizer], l1=L1,
                                                      mean=X.mean(0), scale=X.std(0))
            runs.append((params.copy(), losses, counters.momentum_coef))
        assert np.array_equal(runs[-2][0], runs[-1][0])
        assert runs[-2][1:] == runs[-1][1:]


# Full batches at a constant rate, from zero: the engine's fixed point is Lasso's optimum.
# (Rates picked per optimizer for this problem; Adagrad without lr_decay.)
FIXED_POINT_RATES = {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.03, "dampened": 0.03,
                     "nesterov_dampened": 0.1, "adagrad": 0.5, "adam": 0.01, "amsgrad": 0.01,
                     "nadam": 0.01, "rmsprop_plain": 0.001, "rmsprop_momentum": 0.001, "adadelta": 1.0}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", sorted(FIXED_POINT_RATES))
def test_engine_full_batch_reaches_the_lasso_optimum(optimizer, dtype):
    rng = np.random.default_rng(1)
    n, d = 200, 10
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    y = X @ np.r_[rng.normal(size=5) * 2, np.zeros(5)] + rng.normal(size=n) + 3
    mean, scale = X.mean(0), X.std(0)
    l1 = 0.3
    lasso = Lasso(alpha=l1, tol=1e-14, max_iter=10**6).fit((X - mean) / scale, y)
    assert 0 < (lasso.coef_ == 0).sum() < d
    opt = dict(L1_OPTIMIZERS[optimizer], lr=FIXED_POINT_RATES[optimizer], weight_decay=0.0)
    if opt["kind"] == "adagrad":
        opt["lr_decay"] = 0.0
    Xd, Y = X.astype(dtype), np.ascontiguousarray(y[:, None].astype(dtype))
    config = train_options(optimizer=opt, l1=l1, steps_per_epoch=1)
    params = np.zeros(d + 1, dtype=dtype)
    states = [np.zeros(d + 1, dtype=dtype) for _ in range(3)]
    counters = _core.TrainCounters()
    engine = _core.train_epoch_f32 if dtype == np.float32 else _core.train_epoch_f64
    for _ in range(20000):
        engine(Xd, Y, None, None, n, params, states, None, counters, mean, scale, config)
    w = params[:d].astype(np.float64)
    tol = 1e-8 if dtype == np.float64 else 1e-4
    assert np.abs(w - lasso.coef_).max() <= tol * np.abs(lasso.coef_).max()
    if dtype == np.float64:
        assert np.array_equal(w == 0, lasso.coef_ == 0)


# -- the estimators against scikit-learn's solvers --------------------------------------------
ZERO = 1e-8  # |w| below this counts as zero


def _diabetes(noise: bool):
    X, y = load_diabetes(return_X_y=True)
    if noise:
        X = np.hstack([X, np.random.default_rng(0).normal(size=(X.shape[0], 40))])
    return X, y


def _standardised_weights(model, X):
    """coef_ / intercept_ (raw units) as weights of StandardScaler().fit_transform(X)."""
    scaler = StandardScaler().fit(X)
    coef = np.atleast_2d(model.coef_)
    return coef * scaler.scale_, np.atleast_1d(model.intercept_) + coef @ scaler.mean_


def _penalty(W, alpha, rho):
    return alpha * (rho * np.abs(W).sum() + (1 - rho) / 2 * np.sum(W * W))


def _regression_objective(Xs, y, W, b, alpha, rho):
    r = y - Xs @ W.ravel() - b[0]
    return 0.5 * np.mean(r * r) + _penalty(W, alpha, rho)


def _regression_case(noise, rho, alpha=1.0):
    X, y = _diabetes(noise)
    Xs = StandardScaler().fit_transform(X)
    solver = (Lasso(alpha=alpha, tol=1e-12, max_iter=10**6) if rho == 1.0 else
              ElasticNet(alpha=alpha, l1_ratio=rho, tol=1e-12, max_iter=10**6))
    solver.fit(Xs, y)
    best = _regression_objective(Xs, y, solver.coef_[None, :], np.atleast_1d(solver.intercept_), alpha, rho)
    return X, y, Xs, solver.coef_[None, :], best


def _estimator_params(rho, alpha):
    return dict(penalty="l1", alpha=alpha) if rho == 1.0 else dict(penalty="elasticnet", alpha=alpha, l1_ratio=rho)


def _assert_reaches(objective, best, W, W_best):
    gap = (objective - best) / abs(best)
    assert gap <= 1e-6, f"objective {objective:.12g} above the optimum {best:.12g} by {gap:.3g} (relative)"
    assert np.array_equal(np.abs(W) < ZERO, np.abs(W_best) < ZERO), \
        f"zeros {int((np.abs(W) < ZERO).sum())}, optimum's {int((np.abs(W_best) < ZERO).sum())}"


@pytest.mark.parametrize("rho", [1.0, 0.5])
@pytest.mark.parametrize("noise", [False, True], ids=["diabetes", "diabetes+40noise"])
@pytest.mark.parametrize("optimizer", [None, "sgd", "nesterov"])
def test_regressor_default_fit_reaches_lasso_and_elasticnet(optimizer, noise, rho):
    X, y, Xs, W_best, best = _regression_case(noise, rho)
    extra = {} if optimizer is None else dict(optimizer=optimizer)
    model = GDRegressor(**_estimator_params(rho, 1.0), random_state=0, **extra).fit(X, y)
    W, b = _standardised_weights(model, X)
    _assert_reaches(_regression_objective(Xs, y, W, b, 1.0, rho), best, W, W_best)


@pytest.mark.parametrize("rho", [1.0, 0.5])
@pytest.mark.parametrize("optimizer", ["adam", "nadam", "rmsprop", "adadelta"])
def test_regressor_adaptive_optimizers_reach_lasso_with_more_epochs(optimizer, rho):
    # Adaptive rates move the (unstandardised) intercept by about lr per step: at the default
    # max_iter=1000 they stop 1e-3..1e-2 above the optimum (as they do with penalty="l2"), so
    # this checks the fixed point with max_iter raised.  (Adagrad: 1e5 epochs are not enough,
    # its rates decay as 1/sqrt(t) at the nonzero coefficients, whose gradient is -l1 sign(w).)
    X, y, Xs, W_best, best = _regression_case(True, rho)
    model = GDRegressor(**_estimator_params(rho, 1.0), optimizer=optimizer, max_iter=30000,
                        random_state=0).fit(X, y)
    assert model.n_iter_ < 30000
    W, b = _standardised_weights(model, X)
    _assert_reaches(_regression_objective(Xs, y, W, b, 1.0, rho), best, W, W_best)


def _logistic_objective(Xs, y, W, b, alpha, rho, classes):
    Z = Xs @ W.T + b
    if len(classes) == 2:
        s = np.where(y == classes[1], 1.0, -1.0)
        loss = np.mean(np.logaddexp(0, -s * Z[:, 0]))
    else:
        Zmax = Z.max(axis=1, keepdims=True)
        lse = Zmax[:, 0] + np.log(np.exp(Z - Zmax).sum(axis=1))
        loss = np.mean(lse - Z[np.arange(len(y)), np.searchsorted(classes, y)])
    return loss + _penalty(W, alpha, rho)


_SAGA: dict = {}


def _penalty_kwargs(rho):
    """LogisticRegression's penalty: l1_ratio alone from scikit-learn 1.8 (penalty deprecated),
    penalty + l1_ratio before (the lowest declared scikit-learn, 1.6, is tested in CI)."""
    if SKLEARN_VERSION >= (1, 8):
        return {"l1_ratio": rho}
    if rho == 1.0:
        return {"penalty": "l1"}
    return {"penalty": "elasticnet", "l1_ratio": rho} if rho > 0 else {"penalty": "l2"}


def _classification_case(name, alpha, rho):
    key = (name, alpha, rho)
    if key not in _SAGA:
        if name == "breast_cancer":
            X, y = load_breast_cancer(return_X_y=True)
        else:  # digits: a subset, saga at tol=1e-12 is slow on all 1797 rows
            X, y = load_digits(return_X_y=True)
            X, y = X[:400], y[:400]
        Xs = StandardScaler().fit_transform(X)
        n = X.shape[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no FutureWarning: penalty is spelled by l1_ratio
            saga = LogisticRegression(C=1.0 / (n * alpha), solver="saga", tol=1e-12, max_iter=10**5,
                                      **_penalty_kwargs(rho)).fit(Xs, y)
        classes = saga.classes_
        best = _logistic_objective(Xs, y, saga.coef_, saga.intercept_, alpha, rho, classes)
        _SAGA[key] = (X, y, Xs, saga.coef_, best, classes)
    return _SAGA[key]


def _check_classifier(name, alpha, rho, **params):
    X, y, Xs, W_best, best, classes = _classification_case(name, alpha, rho)
    model = GDClassifier(**_estimator_params(rho, alpha), random_state=0, **params).fit(X, y)
    W, b = _standardised_weights(model, X)
    _assert_reaches(_logistic_objective(Xs, y, W, b, alpha, rho, classes), best, W, W_best)


@pytest.mark.parametrize("optimizer", [None, "momentum"])
def test_classifier_elasticnet_default_fit_reaches_saga(optimizer):
    _check_classifier("breast_cancer", 0.1, 0.5, **({} if optimizer is None else dict(optimizer=optimizer)))


def test_classifier_l1_reaches_saga_with_more_epochs():
    # breast_cancer's few L1 survivors are strongly collinear: the default max_iter=1000
    # stops 5e-4 above the optimum (saga itself needs ~1000 epochs at tol=1e-12).
    _check_classifier("breast_cancer", 0.1, 1.0, max_iter=100000)


def test_classifier_l1_default_fit_reaches_saga():
    _check_classifier("breast_cancer", 0.1, 1.0)


def test_classifier_weak_l1_default_fit_reaches_saga():
    _check_classifier("breast_cancer", 0.01, 1.0)


def test_classifier_weak_l1_fit_with_tighter_tol_reaches_saga():
    _check_classifier("breast_cancer", 0.01, 1.0, tol=1e-5)


@pytest.mark.slow  # saga at tol=1e-12 on 400 digits: ~11 s (l1), ~3 s (elastic net)
@pytest.mark.parametrize("rho", [1.0, 0.5])
def test_multinomial_digits_reaches_saga_with_tol_1e5(rho):
    _check_classifier("digits", 0.01, rho, tol=1e-5, max_iter=20000)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [1.0, 0.5])
def test_multinomial_digits_default_fit_reaches_saga(rho):
    _check_classifier("digits", 0.01, rho)
