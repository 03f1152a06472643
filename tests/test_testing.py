"""pygd.testing: every analytic gradient against finite differences, every documented minimum."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import pygd
from pygd import testing

NAMES = sorted(testing.PROBLEMS)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    problem = testing.PROBLEMS[name]
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = np.array([rng.uniform(*problem.xlim), rng.uniform(*problem.ylim)])
        assert pygd.check_grad(problem.fun, problem.grad, x, *problem.args) < 1e-7, x


@pytest.mark.parametrize("name", NAMES)
def test_documented_minima_value_and_zero_gradient(name):
    problem = testing.PROBLEMS[name]
    for xmin in problem.minima:
        assert float(problem.fun(xmin, *problem.args)) == pytest.approx(problem.minimum, abs=1e-13)
        assert np.linalg.norm(problem.grad(xmin, *problem.args)) < 1e-10


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"saddle"}))
def test_documented_minimum_is_the_lowest_on_a_grid(name):
    # A wrong documented value (or a missing global minimum) shows up as a lower grid point.
    problem = testing.PROBLEMS[name]
    X, Y = np.meshgrid(np.linspace(*problem.xlim, 301), np.linspace(*problem.ylim, 301))
    Z = problem.fun(np.stack([X, Y]), *problem.args)
    assert Z.min() >= problem.minimum - 1e-12
    assert Z.min() <= problem.minimum + 0.05 * (Z.max() - Z.min())


def test_minima_found_by_scipy_are_documented():
    for name in ["himmelblau", "beale", "booth", "six_hump_camel", "rosenbrock"]:
        problem = testing.PROBLEMS[name]
        for xmin in problem.minima:
            res = scipy.optimize.minimize(problem.fun, xmin + 0.05, jac=problem.grad, method="BFGS",
                                          options={"gtol": 1e-10})
            assert np.min(np.linalg.norm(problem.minima - res.x, axis=1)) < 1e-6, (name, res.x)


def test_himmelblau_has_four_distinct_minima():
    m = testing.PROBLEMS["himmelblau"].minima
    assert m.shape == (4, 2)
    d = np.linalg.norm(m[:, None] - m[None], axis=2)
    assert d[~np.eye(4, dtype=bool)].min() > 1.0


def test_saddle_is_not_a_minimum():
    assert testing.saddle([0.0, 1e-3]) < 0 < testing.saddle([1e-3, 0.0])


@pytest.mark.parametrize("n", [2, 3, 7])
def test_rosenbrock_nd_matches_scipy(n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-2, 2, n)
    assert testing.rosenbrock(x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
    np.testing.assert_allclose(testing.rosenbrock_grad(x), scipy.optimize.rosen_der(x), rtol=1e-13)
    assert pygd.check_grad(testing.rosenbrock, testing.rosenbrock_grad, x) < 1e-7
    assert testing.rosenbrock(np.ones(n)) == 0.0


@pytest.mark.parametrize("cond", [1.0, 10.0, 1e4])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_quadratic_condition_number(cond, n):
    x = np.random.default_rng(0).standard_normal(n)
    assert pygd.check_grad(testing.quadratic, testing.quadratic_grad, x, cond) < 1e-7
    # The Hessian is the Jacobian of the gradient: its eigenvalues span [1, cond].
    hess = np.array([testing.quadratic_grad(e, cond) for e in np.eye(n)])
    eig = np.linalg.eigvalsh(hess)
    assert eig.max() / eig.min() == pytest.approx(cond if n > 1 else 1.0)


def test_grid_evaluation_matches_pointwise():
    X, Y = np.meshgrid(np.linspace(-2, 2, 4), np.linspace(-1, 1, 3))
    for problem in testing.PROBLEMS.values():
        Z = problem.fun(np.stack([X, Y]), *problem.args)
        G = problem.grad(np.stack([X, Y]), *problem.args)
        assert Z.shape == X.shape and G.shape == (2,) + X.shape
        for i, j in [(0, 0), (2, 3), (1, 2)]:
            p = np.array([X[i, j], Y[i, j]])
            assert Z[i, j] == pytest.approx(float(problem.fun(p, *problem.args)))
            np.testing.assert_allclose(G[:, i, j], problem.grad(p, *problem.args))


def test_bad_input():
    with pytest.raises(ValueError, match="2 variables"):
        testing.himmelblau([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="scalar"):
        testing.booth(1.0)
    with pytest.raises(ValueError, match="at least 2"):
        testing.rosenbrock([1.0])
    with pytest.raises(ValueError, match="cond"):
        testing.quadratic([1.0, 1.0], 0.5)


def test_documented_minima_are_read_only():
    with pytest.raises(ValueError):
        testing.PROBLEMS["booth"].minima[0, 0] = 5.0


# -- check_grad ------------------------------------------------------------------
def test_check_grad_detects_wrong_gradients():
    f, g = testing.himmelblau, testing.himmelblau_grad
    x = np.array([1.0, -2.0])
    assert pygd.check_grad(f, g, x) < 1e-9
    assert pygd.check_grad(f, lambda v: 2 * g(v), x) == pytest.approx(0.5, rel=1e-6)
    assert pygd.check_grad(f, lambda v: g(v)[::-1], x) > 0.1
    assert pygd.check_grad(f, lambda v: g(v) + np.array([0.0, 1e-4]), x) > 1e-6


def test_check_grad_not_a_number_is_inf():
    # NaN would pass `check_grad(...) > tol`: a gradient that cannot be checked is infinitely wrong.
    f, g = testing.himmelblau, testing.himmelblau_grad
    x = np.array([1.0, -2.0])
    assert pygd.check_grad(f, lambda v: np.array([np.nan, 0.0]), x) == np.inf
    assert pygd.check_grad(f, lambda v: np.array([np.inf, 0.0]), x) == np.inf
    with np.errstate(invalid="ignore"):
        assert pygd.check_grad(lambda v: float(np.sqrt(v[0] - 1.5)), lambda v: np.zeros(2), x) == np.inf


def test_check_grad_agrees_with_scipy():
    # scipy returns the absolute error against forward differences; for a wrong
    # gradient both see the same difference, for a right one both are tiny.
    f, g = testing.beale, testing.beale_grad
    x = np.array([0.5, -0.3])
    wrong = lambda v: g(v) + np.array([0.3, -0.2])  # noqa: E731
    ours = pygd.check_grad(f, wrong, x) * max(np.linalg.norm(wrong(x)), np.linalg.norm(g(x)), 1.0)
    theirs = scipy.optimize.check_grad(f, wrong, x)
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert pygd.check_grad(f, g, x) < scipy.optimize.check_grad(f, g, x) + 1e-12


def test_check_grad_more_accurate_than_forward_differences():
    # Central differences: error ~eps^(2/3); scipy's forward differences ~eps^(1/2).
    f, g = testing.rosenbrock, testing.rosenbrock_grad
    x = np.array([-1.2, 1.0, 0.7])
    assert pygd.check_grad(f, g, x) < 1e-8
    assert pygd.check_grad(f, g, x, epsilon=1e-3) > pygd.check_grad(f, g, x)


def test_check_grad_bad_input():
    f, g = testing.booth, testing.booth_grad
    with pytest.raises(ValueError, match="shape"):
        pygd.check_grad(f, lambda v: np.zeros(3), [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        pygd.check_grad(f, g, [np.nan, 1.0])
    with pytest.raises(ValueError, match="scalar"):
        pygd.check_grad(lambda v: v, g, [1.0, 2.0])
    with pytest.raises(ValueError, match="epsilon"):
        pygd.check_grad(f, g, [1.0, 2.0], epsilon=-1.0)
