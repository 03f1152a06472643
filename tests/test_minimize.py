"""pygd.minimize: scipy's interface and results, stopping rules, bad input."""

from __future__ import annotations


import numpy as np
import pytest
import scipy
import scipy.optimize

import pygd
from pygd import minimize, optim, testing
from pygd._minimize import METHODS, SCHEDULES

HIMMELBLAU = testing.PROBLEMS["himmelblau"]
SCIPY_FIELDS = {"x", "fun", "jac", "nit", "nfev", "njev", "success", "status", "message"}
LR = {"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.5, "rmsprop": 0.01,
      "adam": 0.05, "adamw": 0.05, "nadam": 0.05, "adadelta": 10.0}


def _nearest_minimum(x):
    return np.min(np.linalg.norm(HIMMELBLAU.minima - x, axis=1))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_reaches_a_himmelblau_minimum(method):
    opts = {"weight_decay": 0.0} if method == "adamw" else {}
    res = minimize(testing.himmelblau, [1.0, 1.0], jac=testing.himmelblau_grad, method=method,
                   lr=LR[method], max_iter=20000, gtol=1e-6, **opts)
    assert res.success, res.message
    assert res.status == 0
    assert _nearest_minimum(res.x) < 1e-5
    assert np.linalg.norm(res.jac) <= 1e-6
    assert res.fun == pytest.approx(float(testing.himmelblau(res.x)))
    np.testing.assert_array_equal(res.jac, testing.himmelblau_grad(res.x))


def test_result_is_scipy_optimizeresult_with_scipy_fields():
    ours = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05)
    theirs = scipy.optimize.minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad)
    assert isinstance(ours, scipy.optimize.OptimizeResult)
    assert SCIPY_FIELDS <= set(ours) and SCIPY_FIELDS <= set(theirs)
    for key in SCIPY_FIELDS:
        assert type(ours[key]) is type(theirs[key]) or key in ("fun", "nit", "nfev", "njev", "status"), key
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-6)
    assert ours.success and theirs.success
    assert ours.nfev == ours.njev == ours.nit + 1


@pytest.mark.parametrize("name, x0", [("rosenbrock", [-1.2, 1.0]), ("beale", [1.0, 1.0]),
                                      ("six_hump_camel", [0.5, -0.5]), ("himmelblau", [-1.0, 3.0])])
def test_same_minimum_as_scipy(name, x0):
    problem = testing.PROBLEMS[name]
    ours = minimize(problem.fun, x0, jac=problem.grad, method="adam", lr=0.01, max_iter=100000, gtol=1e-7)
    theirs = scipy.optimize.minimize(problem.fun, x0, jac=problem.grad, method="BFGS")
    assert ours.success and theirs.success
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-4)
    assert ours.fun == pytest.approx(theirs.fun, abs=1e-8)


@pytest.mark.parametrize("jac", ["2-point", "3-point", None])
def test_finite_difference_jac(jac):
    res = minimize(testing.himmelblau, [1.0, 1.0], jac=jac, method="adam", lr=0.05, gtol=1e-5,
                   max_iter=20000)
    assert res.success, res.message
    assert _nearest_minimum(res.x) < 1e-4
    per_gradient = 2 if jac == "3-point" else 1  # extra fun calls per variable
    assert res.nfev == res.njev * (1 + 2 * per_gradient)


def test_jac_true():
    calls = []

    def both(x):
        calls.append(1)
        return testing.himmelblau(x), testing.himmelblau_grad(x)

    res = minimize(both, [1.0, 1.0], jac=True, lr=0.05, max_iter=20000)
    plain = minimize(testing.himmelblau, [1.0, 1.0], jac=testing.himmelblau_grad, lr=0.05, max_iter=20000)
    np.testing.assert_array_equal(res.x, plain.x)
    assert res.nfev == res.njev == len(calls) == plain.nfev


def test_args_passed_to_fun_and_jac():
    res = minimize(testing.quadratic, [1.0, 1.0], (100.0,), jac=testing.quadratic_grad, method="sgd",
                   lr=0.015, max_iter=5000)
    assert res.success
    np.testing.assert_allclose(res.x, 0.0, atol=1e-5)
    # lr above 2/cond diverges for cond=100, not for cond=10
    with np.errstate(over="ignore", invalid="ignore"):
        res = minimize(testing.quadratic, [1.0, 1.0], (100.0,), jac=testing.quadratic_grad, method="sgd",
                       lr=0.021, max_iter=5000)
    assert not res.success and res.status == 3


def test_divergence_stops_with_a_message_and_never_loops_on_nan():
    with np.errstate(over="ignore", invalid="ignore"):
        res = minimize(testing.quadratic, [1.0, 1.0], jac=testing.quadratic_grad, method="sgd", lr=10.0,
                       max_iter=100000, record_path=True)
    assert res.status == 3 and not res.success
    assert "iteration" in res.message and "learning rate" in res.message
    assert res.nit < 1000
    assert len(res.path) == res.nit + 1 == len(res.path_fun)
    assert np.all(np.isfinite(res.path_fun[:-1]))


def test_nan_gradient_and_nan_start():
    res = minimize(lambda x: float(x @ x), [1.0], jac=lambda x: np.array([np.nan]))
    assert res.status == 3 and not res.success and res.nit == 0 and "gradient" in res.message
    res = minimize(lambda x: np.nan, [1.0], jac=lambda x: np.ones(1))
    assert res.status == 3 and "function value" in res.message
    # a gradient that becomes NaN after some steps (log of a negative number)
    with np.errstate(invalid="ignore"):
        res = minimize(lambda x: float(np.log(x[0]) ** 2 + x[0]), [2.0],
                       jac=lambda x: np.array([2 * np.log(x[0]) / x[0] + 1]), method="sgd", lr=5.0)
    assert res.status == 3 and not res.success


def test_gtol_and_max_iter():
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05, max_iter=7)
    assert res.status == 1 and not res.success and res.nit == 7 and "Maximum" in res.message
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05, gtol=1e-3)
    assert res.status == 0 and np.linalg.norm(res.jac) <= 1e-3
    # one step earlier the gradient was still above gtol
    before = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05,
                      gtol=1e-3, max_iter=res.nit - 1)
    assert np.linalg.norm(before.jac) > 1e-3
    res = minimize(testing.booth, [1.0, 3.0], jac=testing.booth_grad, max_iter=0)
    assert res.success and res.nit == 0


def test_scipy_tol_and_options():
    # scipy's tol sets gtol (its gradient methods'), options' maxiter/gtol/ftol set ours.
    kw = dict(jac=testing.booth_grad, method="sgd", lr=0.05)
    ref = minimize(testing.booth, [0.0, 0.0], gtol=1e-3, **kw)
    res = minimize(testing.booth, [0.0, 0.0], tol=1e-3, **kw)
    assert res.success and res.nit == ref.nit and np.array_equal(res.x, ref.x)
    res = minimize(testing.booth, [0.0, 0.0], options={"gtol": 1e-3, "disp": False}, **kw)
    assert res.nit == ref.nit
    res = minimize(testing.booth, [0.0, 0.0], options={"maxiter": 7}, **kw)
    assert res.status == 1 and res.nit == 7
    loose = minimize(testing.booth, [0.0, 0.0], gtol=0.0, ftol=1e-6, max_iter=100000, **kw)
    res = minimize(testing.booth, [0.0, 0.0], options={"ftol": 1e-6, "gtol": 0.0, "maxiter": 100000}, **kw)
    assert "ftol" in res.message and res.nit == loose.nit
    # as scipy: the same settings give the same kind of result
    theirs = scipy.optimize.minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, tol=1e-8,
                                     options={"maxiter": 5000})
    ours = minimize(testing.booth, [0.0, 0.0], tol=1e-8, options={"maxiter": 5000}, **kw)
    assert ours.success and np.allclose(ours.x, theirs.x, atol=1e-7)


def test_ftol():
    kw = dict(jac=testing.booth_grad, method="sgd", lr=0.01, gtol=0.0, max_iter=100000)
    res = minimize(testing.booth, [0.0, 0.0], ftol=1e-6, **kw)
    assert res.success and "ftol" in res.message
    tight = minimize(testing.booth, [0.0, 0.0], ftol=1e-12, **kw)
    assert tight.nit > res.nit
    assert abs(tight.fun) < abs(res.fun)


def test_maximize():
    neg = lambda x: -testing.booth(x)  # noqa: E731
    neg_grad = lambda x: -testing.booth_grad(x)  # noqa: E731
    res = minimize(neg, [0.0, 0.0], jac=neg_grad, method="sgd", lr=0.05, maximize=True)
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 3.0], atol=1e-6)
    assert res.fun == pytest.approx(0.0, abs=1e-10) and res.fun <= 0  # sign kept
    np.testing.assert_array_equal(res.jac, neg_grad(res.x))


def test_bounds_projection():
    # booth's minimum (1, 3) is outside y <= 2: the constrained minimum is on the bound.
    theirs = scipy.optimize.minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad,
                                     bounds=[(None, None), (-5, 2)], method="L-BFGS-B")
    for bounds in ([(None, None), (-5, 2)], scipy.optimize.Bounds([-np.inf, -5], [np.inf, 2])):
        res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05,
                       bounds=bounds, record_path=True)
        assert res.success, res.message
        assert np.all(res.path[:, 1] <= 2.0)
        np.testing.assert_allclose(res.x, theirs.x, atol=1e-5)
        assert np.linalg.norm(res.jac) > 1  # converged on the projected gradient, not the gradient
    # x0 outside the box is projected first
    res = minimize(testing.booth, [0.0, 9.0], jac=testing.booth_grad, bounds=[(0, 1), (0, 1)],
                   record_path=True, max_iter=3)
    np.testing.assert_array_equal(res.path[0], [0.0, 1.0])


def test_bounds_with_finite_differences_stay_inside():
    seen = []

    def f(x):
        seen.append(x.copy())
        return float(np.sum(np.sqrt(x)) + np.sum((x - 2) ** 2))  # sqrt undefined below 0

    res = minimize(f, [1.0, 1.0], jac="3-point", bounds=[(0, 5), (0, 5)], method="adam", lr=0.05,
                   max_iter=3000, gtol=1e-5)
    assert min(np.min(s) for s in seen) >= 0.0
    assert res.success


def test_record_path():
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05,
                   max_iter=10, gtol=0.0, record_path=True)
    assert res.path.shape == (11, 2) and res.path_fun.shape == (11,)
    np.testing.assert_array_equal(res.path[0], [0.0, 0.0])
    np.testing.assert_array_equal(res.path[-1], res.x)
    np.testing.assert_allclose(res.path_fun, testing.booth(res.path.T))
    # plain gradient descent: x_{k+1} = x_k - lr * grad(x_k)
    np.testing.assert_allclose(res.path[1:], res.path[:-1] - 0.05 * testing.booth_grad(res.path[:-1].T).T)
    assert "path" not in minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, max_iter=2)


def test_x0_not_modified_and_fun_gets_copies():
    x0 = np.array([0.0, 0.0])
    kept = []
    minimize(lambda x: kept.append(x) or testing.booth(x), x0, jac=testing.booth_grad, method="sgd",
             lr=0.05, max_iter=5)
    np.testing.assert_array_equal(x0, [0.0, 0.0])
    assert len({id(k) for k in kept}) == len(kept)
    assert not np.array_equal(kept[0], kept[-1])


def test_scalar_and_integer_x0():
    res = minimize(lambda x: float((x[0] - 3) ** 2), 0, jac=lambda x: 2 * (x - 3), method="sgd", lr=0.1)
    assert res.x.shape == (1,) and res.x.dtype == np.float64
    assert res.x[0] == pytest.approx(3.0, abs=1e-6)


@pytest.mark.parametrize("style", ["x", "intermediate_result", "stopiteration"])
def test_callback_stops_early(style):
    seen = []
    if style == "x":
        def cb(xk):
            seen.append(xk)
            return len(seen) >= 5
    elif style == "intermediate_result":
        def cb(intermediate_result):
            seen.append(intermediate_result)
            return intermediate_result.nit >= 5
    else:
        def cb(xk):
            seen.append(xk)
            if len(seen) >= 5:
                raise StopIteration
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.01, callback=cb)
    assert res.nit == 5 and res.status == 99 and not res.success
    assert len(seen) == 5
    last = seen[-1]
    if style == "intermediate_result":
        assert isinstance(last, scipy.optimize.OptimizeResult)
        np.testing.assert_array_equal(last.x, res.x)
        assert last.fun == res.fun and last.nit == 5
    else:
        np.testing.assert_array_equal(last, res.x)


def test_callback_like_scipy():
    # scipy passes the same things to both callback styles
    ours, theirs = [], []
    minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, max_iter=3, gtol=0.0,
             callback=lambda intermediate_result: ours.append(sorted(intermediate_result)))
    scipy.optimize.minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="BFGS",
                            callback=lambda intermediate_result: theirs.append(set(intermediate_result)))
    assert {"x", "fun"} <= set(ours[0])
    if tuple(int(v) for v in scipy.__version__.split(".")[:2]) >= (1, 11):  # scipy < 1.11: x only
        assert {"x", "fun"} <= theirs[0]


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_schedules_run_and_converge(schedule):
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.05,
                   lr_schedule=schedule, max_iter=3000, gtol=1e-4)
    assert res.success, (schedule, res.message)


def _lrs(schedule, params=None, n=20, fun=testing.booth, grad=testing.booth_grad):
    opt = optim.SGD([np.zeros(2)], lr=0.01)
    seen = []
    minimize(fun, [0.0, 0.0], jac=grad, method=opt, lr_schedule=schedule, schedule_params=params,
             max_iter=n, gtol=0.0, callback=lambda xk: seen.append(opt.param_groups[0]["lr"]))
    return np.array(seen)


def test_schedules_follow_their_formulas():
    k = np.arange(1, 21)
    np.testing.assert_allclose(_lrs("constant"), 0.01)
    np.testing.assert_allclose(_lrs("invscaling", {"power_t": 0.5}), 0.01 / np.sqrt(k + 1))
    np.testing.assert_allclose(_lrs("exponential", {"gamma": 0.9}), 0.01 * 0.9 ** k)
    np.testing.assert_allclose(_lrs("step", {"step_size": 5, "gamma": 0.5}), 0.01 * 0.5 ** (k // 5))
    np.testing.assert_allclose(_lrs("cosine", {"T_max": 20}), 0.005 * (1 + np.cos(np.pi * k / 20)), atol=1e-15)
    warm = _lrs("warmup_cosine", {"warmup": 4, "start_factor": 0.25})
    np.testing.assert_allclose(warm[:3], 0.01 * (0.25 + 0.75 * k[:3] / 4))
    assert warm[3] == pytest.approx(0.01) and np.all(np.diff(warm[3:]) < 0)
    # plateau: a constant function never improves after its first value (torch's rule: the
    # first metric is the best so far), so lr drops by `factor` after patience+1 bad steps
    plateau = _lrs("plateau", {"patience": 2, "factor": 0.5}, fun=lambda x: 1.0, grad=lambda x: np.ones(2))
    np.testing.assert_allclose(plateau[:7], 0.01 * np.array([1, 1, 1, 0.5, 0.5, 0.5, 0.25]))


def test_optimizer_instance_and_class():
    w = np.zeros(2)
    opt = optim.Adam([w], lr=0.1)
    res = minimize(testing.himmelblau, [1.0, 1.0], jac=testing.himmelblau_grad, method=opt, max_iter=3000)
    np.testing.assert_array_equal(w, res.x)  # the instance's parameter is the working point
    by_name = minimize(testing.himmelblau, [1.0, 1.0], jac=testing.himmelblau_grad, method="adam", lr=0.1,
                       max_iter=3000)
    by_class = minimize(testing.himmelblau, [1.0, 1.0], jac=testing.himmelblau_grad, method=optim.Adam,
                        lr=0.1, max_iter=3000)
    np.testing.assert_array_equal(res.x, by_name.x)
    np.testing.assert_array_equal(res.x, by_class.x)


def test_method_names_map_to_optimizers():
    assert METHODS["momentum"] == (optim.SGD, {"momentum": 0.9})
    assert METHODS["nesterov"] == (optim.SGD, {"momentum": 0.9, "nesterov": True})
    # options reach the optimizer: momentum=0 makes "momentum" plain SGD
    a = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="momentum", momentum=0.0,
                 lr=0.01, max_iter=50)
    b = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", lr=0.01, max_iter=50)
    np.testing.assert_array_equal(a.x, b.x)
    # the default learning rate is the optimizer's own
    c = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method="sgd", max_iter=1)
    np.testing.assert_allclose(c.x, -1e-3 * testing.booth_grad(np.zeros(2)))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(x0=np.zeros((2, 2))), ValueError, "1-D"),
    (dict(x0=[]), ValueError, "non-empty"),
    (dict(x0=[np.inf, 0.0]), ValueError, "finite"),
    (dict(x0=["a", "b"]), TypeError, "real"),
    (dict(method="newton"), ValueError, "unknown method"),
    (dict(method=3), TypeError, "method"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=np.nan), ValueError, "lr"),
    (dict(gtol=-1.0), ValueError, "gtol"),
    (dict(ftol=np.nan), ValueError, "ftol"),
    (dict(max_iter=-1), ValueError, "max_iter"),
    (dict(max_iter=2.5), ValueError, "max_iter"),
    (dict(jac="5-point"), ValueError, "jac"),
    (dict(jac=3), TypeError, "jac"),
    (dict(jac=lambda x: np.zeros(3)), ValueError, "shape"),
    (dict(jac=True), ValueError, "value, gradient"),
    (dict(lr_schedule="linear"), ValueError, "lr_schedule"),
    (dict(lr_schedule="step", schedule_params={"gama": 0.1}), TypeError, "schedule_params"),
    (dict(bounds=[(0, 1)]), ValueError, "bounds"),
    (dict(bounds=[(1, 0), (0, 1)]), ValueError, "bounds"),
    (dict(callback=5), TypeError, "callback"),
    (dict(betas=(0.9, 0.99), method="sgd"), TypeError, "betas"),
    (dict(method="adam", betas=(1.5, 0.9)), ValueError, "beta"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(tol=1e-3, gtol=1e-4), TypeError, "tol or gtol"),
    (dict(options=[("maxiter", 3)]), TypeError, "options must be a dict"),
    (dict(options={"maxiter": 3, "eps": 1e-8}), TypeError, r"unknown options \['eps'\]"),
    (dict(options={"maxfun": 3}), TypeError, "unknown options"),
    (dict(options={"disp": True}), ValueError, "disp"),
    (dict(options={"maxiter": 3}, max_iter=5), TypeError, "max_iter given twice"),
    (dict(options={"gtol": 1e-3}, tol=1e-4), TypeError, "gtol given twice"),
    (dict(options={"maxiter": -1}), ValueError, "max_iter"),
])
def test_bad_input(kwargs, exc, match):
    call = dict(fun=testing.booth, x0=[0.0, 0.0], jac=testing.booth_grad)
    call.update(kwargs)
    with pytest.raises(exc, match=match):
        minimize(**call)


def test_fun_must_return_a_scalar():
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x, [1.0, 2.0], jac=lambda x: x)


def test_optimizer_instance_checks():
    with pytest.raises(ValueError, match="exactly one"):
        minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method=optim.SGD([np.zeros(3)]))
    with pytest.raises(TypeError, match="instance"):
        minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, method=optim.SGD([np.zeros(2)]), lr=0.1)


def test_exported():
    assert pygd.minimize is minimize
    assert callable(pygd.check_grad)
    assert pygd.testing is testing


# -- method="lbfgs" (issue 14) ------------------------------------------------------------------
def test_lbfgs_method_matches_scipy_and_reports_like_it():
    from scipy.optimize import minimize as scipy_minimize

    from pygd import testing
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    res = minimize(testing.rosenbrock, x0, jac=testing.rosenbrock_grad, method="lbfgs", gtol=1e-10,
                   record_path=True)
    ref = scipy_minimize(testing.rosenbrock, x0, jac=testing.rosenbrock_grad, method="L-BFGS-B",
                         options=dict(gtol=1e-12, ftol=0))
    assert res.success and res.status == 0
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)
    assert res.nfev == res.njev and res.nfev <= 2 * ref.nfev + 10
    assert res.path.shape == (res.nit + 1, 4) and np.all(np.diff(res.path_fun) <= 0)
    np.testing.assert_array_equal(res.path[0], x0)


def test_lbfgs_method_maximize_callback_and_max_iter():
    seen = []
    res = minimize(lambda x: -np.sum((x - 1) ** 2), [3.0, 0.0], method="lbfgs", maximize=True,
                   jac=lambda x: -2 * (x - 1), callback=lambda xk: seen.append(xk) or len(seen) == 1)
    assert res.status == 99 and len(seen) == 1 and res.fun < 0
    res = minimize(lambda x: np.sum(np.cosh(x)), np.full(3, 5.0), jac=lambda x: np.sinh(x),
                   method="lbfgs", max_iter=2)
    assert res.status == 1 and res.nit == 2 and not res.success


def test_lbfgs_method_refuses_what_it_does_not_take():
    f = lambda x: float(x @ x)  # noqa: E731
    for kwargs in (dict(lr=0.1), dict(bounds=[(0, 1)]), dict(lr_schedule="cosine"), dict(betas=(0.9, 0.9))):
        with pytest.raises(TypeError, match="line search"):
            minimize(f, [1.0], method="lbfgs", **kwargs)
    with pytest.raises(ValueError, match="memory"):
        minimize(f, [1.0], method="lbfgs", memory=0)
    res = minimize(lambda x: (np.nan, x), [1.0], jac=True, method="lbfgs")
    assert res.status == 3 and not res.success
