r"""Time to the optimum: wall time, passes and objective gap of pygd and its peers (issue 14).

Shared by ``bench/test_bench_tto.py`` and ``python -m pygd bench``.  Each
:class:`Problem` is generated from a seed, standardised once (pygd's
:class:`~pygd.preprocessing.StandardScaler` statistics) and solved exactly for
*pygd's* objective on the standardised features :math:`Z`,

.. math::

    f(W, b) = \frac{1}{n} \sum_i \ell(z_i W^T + b, y_i) + \frac{\alpha}{2} \|W\|_2^2

(``loss`` as :mod:`pygd.reference` defines it: half the squared error, Huber
with threshold ``epsilon``, the sigmoid or softmax cross-entropy).  Every fit
gets the same :math:`Z` (pygd with ``standardize=False``; one row also gives
pygd the raw X with its default ``standardize=True``) with alpha matched to
each peer's scale, and every gap ``(f(fit) - f*) / |f*|`` is measured by
:func:`objective` in float64 from the fitted ``coef_`` and ``intercept_``.

Peers and their objectives (n rows, a = alpha):

- ``Ridge(alpha=a n)``: :math:`\|y - Zw - b\|^2 + a n \|w\|^2 = 2n f`.
- ``LinearRegression``: a = 0; its gap includes the penalty it leaves out.
- ``SGDRegressor(alpha=a)``, ``SGDClassifier(alpha=a)``: the same f (their
  squared loss is halved, their L2 term is ``alpha / 2 ||w||^2``); for 10
  classes, SGDClassifier minimises k one-vs-rest sigmoid losses, another
  objective, so its gap on the softmax objective does not go to 0.
- ``LogisticRegression(C=1 / (a n))``: :math:`C \sum_i \ell_i + \|W\|^2 / 2 = C n f`.
- ``HuberRegressor(epsilon=e, alpha=a n)``: minimises over w and its own scale
  :math:`\sigma` as well; for a fixed :math:`\sigma` its objective is
  :math:`n\sigma + (2n/\sigma) f` with f's threshold :math:`e\sigma` and
  penalty :math:`a\sigma`.  The problem uses :math:`\sigma = 1` (the noise's scale),
  so HuberRegressor's gap includes the distance between its :math:`\sigma`
  (in the note) and 1.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.special import expit, log_softmax

__all__ = ["ALPHA", "HUBER_EPSILON", "PROBLEMS", "Fit", "Problem", "fits_for", "format_table", "gradient_norm",
           "make_problem", "objective", "objective_grad", "run", "run_fit", "run_problem", "solve"]

#: One penalty for every problem (pygd's default alpha).
ALPHA: float = 1e-4
#: Huber threshold, in units of the noise scale (1); HuberRegressor's default epsilon.
HUBER_EPSILON: float = 1.35


def _unset() -> Any:
    """A Problem field set after the problem is generated (empty until then)."""
    return field(default_factory=lambda: np.empty(0), repr=False)


@dataclass
class Problem:
    """A generated problem, its standardised features and the exact optimum of pygd's objective.

    Attributes
    ----------
    name : str
    loss : {"squared_error", "huber", "log_loss", "multinomial"}
    X_raw : ndarray of shape (n, d)
        The generated features (scales and offsets as generated).
    y : ndarray of shape (n,)
        Targets (float) or class labels 0..k-1 (int).
    alpha, epsilon : float
        L2 strength on the standardised weights, Huber threshold.
    mean, scale : ndarray of shape (d,)
        The standardisation (pygd.preprocessing.StandardScaler's).
    X : ndarray of shape (n, d)
        ``(X_raw - mean) / scale``, C-contiguous float64: what every fit gets.
    coef : ndarray of shape (k, d), intercept : ndarray of shape (k,)
        The optimum, in the standardised space.
    optimum : float
        f(coef, intercept).
    """

    name: str
    loss: str
    X_raw: np.ndarray
    y: np.ndarray
    alpha: float = ALPHA
    epsilon: float = HUBER_EPSILON
    mean: np.ndarray = _unset()
    scale: np.ndarray = _unset()
    X: np.ndarray = _unset()
    coef: np.ndarray = _unset()
    intercept: np.ndarray = _unset()
    optimum: float = float("nan")

    @property
    def n_outputs(self) -> int:
        """k: 1, or the number of classes for "multinomial"."""
        return int(self.y.max()) + 1 if self.loss == "multinomial" else 1

    @property
    def shape(self) -> tuple[int, int]:
        """(n, d)."""
        return self.X_raw.shape[0], self.X_raw.shape[1]


# ---------------------------------------------------------------------------------------------
# The objective, in float64 NumPy.
# ---------------------------------------------------------------------------------------------
def objective(problem: Problem, coef: Any, intercept: Any) -> float:
    """pygd's objective at (coef, intercept) in the standardised space.

    Parameters
    ----------
    problem : Problem
    coef : array-like of shape (k, d) or (d,)
    intercept : array-like of shape (k,) or scalar

    Returns
    -------
    float
        Mean row loss plus ``alpha / 2 * ||coef||^2`` (intercepts not penalised).
    """
    return _evaluate(problem, coef, intercept, False)[0]


def objective_grad(problem: Problem, coef: Any, intercept: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`objective` and its gradient: (f, grad_coef of shape (k, d), grad_intercept of shape (k,))."""
    return _evaluate(problem, coef, intercept, True)


def _evaluate(problem: Problem, coef: Any, intercept: Any, grad: bool) -> tuple[float, np.ndarray, np.ndarray]:
    X, y, n = problem.X, problem.y, problem.X.shape[0]
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    b = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    P = X @ W.T + b
    if problem.loss == "multinomial":
        logp = log_softmax(P, axis=1)
        rows = np.arange(n)
        loss = -logp[rows, y]
        if grad:
            dl = np.exp(logp)
            dl[rows, y] -= 1.0
    else:
        p = P[:, 0]
        if problem.loss == "squared_error":
            r = p - y
            loss, dl = 0.5 * r * r, r
        elif problem.loss == "huber":
            r, e = p - y, problem.epsilon
            inside = np.abs(r) <= e
            loss = np.where(inside, 0.5 * r * r, e * np.abs(r) - 0.5 * e * e)
            dl = np.where(inside, r, e * np.sign(r))
        elif problem.loss == "log_loss":
            loss = np.logaddexp(0.0, p) - y * p
            dl = expit(p) - y
        else:
            raise ValueError(f"unknown loss {problem.loss!r}")
        dl = dl[:, None]
    f = float(np.mean(loss)) + 0.5 * problem.alpha * float(np.sum(W * W))
    if not grad:
        return f, np.empty(0), np.empty(0)
    return f, dl.T @ X / n + problem.alpha * W, dl.sum(axis=0) / n


def solve(problem: Problem) -> None:
    """Set ``problem.coef``, ``intercept`` and ``optimum``: the exact minimiser of :func:`objective`.

    Least squares: the normal equations of the centred problem (Cholesky),
    with one step of iterative refinement.  Other losses: scipy's L-BFGS-B
    with the analytic gradient, ``ftol=0``, ``gtol=1e-13``, stopped only by the
    gradient test, an iteration cap of 20000 or a line search that can no
    longer make float64 progress; for the one-output Huber and logistic losses,
    then Newton steps on the exact Hessian (:func:`_newton_polish`).
    """
    X, y = problem.X, problem.y
    n, d = X.shape
    k = problem.n_outputs
    if problem.loss == "squared_error":
        mu, ybar = X.mean(axis=0), y.mean()
        Xc = X - mu
        G = Xc.T @ Xc / n + problem.alpha * np.eye(d)
        factor = scipy.linalg.cho_factor(G)
        w = scipy.linalg.cho_solve(factor, Xc.T @ (y - ybar) / n)
        _, gw, _ = objective_grad(problem, w, ybar - mu @ w)
        w = w - scipy.linalg.cho_solve(factor, gw[0])
        W, b = w[None, :], np.array([ybar - mu @ w])
    else:
        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            f, gW, gb = objective_grad(problem, theta[:k * d].reshape(k, d), theta[k * d:])
            return f, np.concatenate([gW.ravel(), gb])

        res = scipy.optimize.minimize(fun, np.zeros(k * (d + 1)), jac=True, method="L-BFGS-B",
                                      options={"ftol": 0.0, "gtol": 1e-13, "maxiter": 20000,
                                               "maxfun": 40000, "maxcor": 20})
        W, b = res.x[:k * d].reshape(k, d), res.x[k * d:]
        if problem.loss in ("huber", "log_loss"):
            W, b = _newton_polish(problem, W, b)
    problem.coef, problem.intercept = W, b
    problem.optimum = objective(problem, W, b)


def _newton_polish(problem: Problem, W: np.ndarray, b: np.ndarray,
                   steps: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps on the exact Hessian (one output) from L-BFGS-B's point.

    L-BFGS-B stops where its line search can make no more float64 progress. On the
    Huber problem, with scipy 1.17.1, that was at a gradient norm of 1.7e-8. Near the
    optimum a Newton step ends it: the Huber Hessian is constant on the residuals' side
    of +-epsilon. A step is kept only while the gradient norm falls and the objective
    does not rise by more than its rounding.
    """
    X, n, d = problem.X, problem.X.shape[0], problem.X.shape[1]
    f, gW, gb = objective_grad(problem, W, b)
    g = np.concatenate([gW[0], gb])
    for _ in range(steps):
        p = X @ W[0] + b[0]
        if problem.loss == "huber":
            h = (np.abs(p - problem.y) <= problem.epsilon).astype(np.float64)
        else:
            s = expit(p)
            h = s * (1.0 - s)
        H = np.empty((d + 1, d + 1))
        H[:d, :d] = (X.T * h) @ X / n + problem.alpha * np.eye(d)
        H[:d, d] = H[d, :d] = h @ X / n
        H[d, d] = h.sum() / n
        try:
            step = scipy.linalg.solve(H, g, assume_a="sym")
        except (np.linalg.LinAlgError, ValueError):
            break
        W2, b2 = W - step[:d][None, :], b - step[d:]
        f2, gW2, gb2 = objective_grad(problem, W2, b2)
        g2 = np.concatenate([gW2[0], gb2])
        # (the objective at the two points may differ by its rounding, a few ulps)
        if not (f2 <= f + 8 * np.spacing(abs(f)) and np.sqrt(np.sum(g2 * g2)) < np.sqrt(np.sum(g * g))):
            break
        W, b, f, g = W2, b2, f2, g2
    return W, b


def gradient_norm(problem: Problem) -> float:
    """Euclidean norm of the objective's gradient at ``problem``'s optimum."""
    _, gW, gb = objective_grad(problem, problem.coef, problem.intercept)
    return float(np.sqrt(np.sum(gW * gW) + np.sum(gb * gb)))


# ---------------------------------------------------------------------------------------------
# The problems.
# ---------------------------------------------------------------------------------------------
def _scales_offsets(rng: np.random.Generator, X: np.ndarray) -> np.ndarray:
    """X with column scales in [0.5, 20] (log-spaced, shuffled) and offsets in [-50, 50], in place."""
    d = X.shape[1]
    X *= rng.permutation(np.geomspace(0.5, 20.0, d))
    X += rng.uniform(-50.0, 50.0, d)
    return X


def _least_squares(n: int, d: int, ill: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1 if ill else 0)
    X = rng.standard_normal((n, d))
    if ill:
        # Columns as an AR(1) chain (corr(x_j, x_{j+1}) = 0.95): the standardised Gram's
        # eigenvalues span ~0.02 to ~34 (condition ~1500); then scales and offsets.
        rho = 0.95
        for j in range(1, d):
            X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho * rho) * X[:, j]
    y = X @ rng.standard_normal(d) + 3.0 + rng.standard_normal(n)
    return (_scales_offsets(rng, X) if ill else X), y


def _huber(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 3.0 + rng.standard_normal(n)
    outliers = rng.random(n) < 0.05
    y[outliers] += rng.standard_normal(int(outliers.sum())) * 50.0  # 5% gross errors
    return _scales_offsets(rng, X), y


def _logistic(n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3 + k)
    X = rng.standard_normal((n, d))
    if k == 2:
        y = (rng.random(n) < expit(X @ rng.standard_normal(d) * 0.3 + 0.5)).astype(np.int64)
    else:  # a multinomial logit model: argmax of scores plus Gumbel noise
        y = (X @ rng.standard_normal((d, k)) * 0.3 + rng.gumbel(size=(n, k))).argmax(axis=1)
    return _scales_offsets(rng, X), y


#: name -> (loss, full size, generator(n, d) -> (X, y)); the small size is n / 100.
PROBLEMS: dict[str, tuple[str, tuple[int, int], Callable[[int, int], tuple[np.ndarray, np.ndarray]]]] = {
    "least squares": ("squared_error", (500_000, 100), lambda n, d: _least_squares(n, d, False)),
    "least squares, ill-conditioned": ("squared_error", (500_000, 100),
                                       lambda n, d: _least_squares(n, d, True)),
    "Huber, 5% outliers": ("huber", (200_000, 100), _huber),
    "logistic, binary": ("log_loss", (200_000, 64), lambda n, d: _logistic(n, d, 2)),
    "logistic, 10 classes": ("multinomial", (200_000, 64), lambda n, d: _logistic(n, d, 10)),
}


def make_problem(name: str, full: bool = False) -> Problem:
    """Generate, standardise and solve the problem ``name`` of :data:`PROBLEMS`.

    Parameters
    ----------
    name : str
    full : bool, default False
        The full size (one pass over X takes 10-100 ms) or 1/100 of its rows.

    Returns
    -------
    Problem

    Examples
    --------
    >>> from pygd._tto import make_problem, objective
    >>> p = make_problem("logistic, binary")
    >>> p.X.shape, objective(p, p.coef, p.intercept) == p.optimum
    ((2000, 64), True)
    """
    from .preprocessing import StandardScaler

    loss, (n, d), generate = PROBLEMS[name]
    X_raw, y = generate(n if full else n // 100, d)
    scaler = StandardScaler().fit(X_raw)
    problem = Problem(name, loss, X_raw, y, mean=scaler.mean_, scale=scaler.scale_,
                      X=np.ascontiguousarray((X_raw - scaler.mean_) / scaler.scale_))
    solve(problem)
    return problem


# ---------------------------------------------------------------------------------------------
# The fits.
# ---------------------------------------------------------------------------------------------
@dataclass
class Fit:
    """One estimator configuration to time.

    Attributes
    ----------
    name : str
    make : callable
        ``make(problem)`` -> an unfitted estimator.
    raw : bool, default False
        Fit on ``problem.X_raw`` (pygd's own standardisation) instead of ``problem.X``;
        its coefficients are mapped into the standardised space.
    note : str, default ""
        What the table should say about it.
    """

    name: str
    make: Callable[[Problem], Any]
    raw: bool = False
    note: str = ""


def fits_for(problem: Problem) -> list[Fit]:
    """pygd's defaults first (the ratio's baseline), pygd's variants, then the peers.

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    list of Fit
    """
    from sklearn import linear_model as sk

    from .linear_model import GDClassifier, GDRegressor

    a, n = problem.alpha, problem.X.shape[0]
    if problem.loss in ("squared_error", "huber"):
        gd, kw = GDRegressor, {"loss": problem.loss, "epsilon": problem.epsilon}
        name = "GDRegressor"
    else:
        gd, kw, name = GDClassifier, {}, "GDClassifier"

    def pygd(**extra: Any) -> Callable[[Problem], Any]:
        return lambda p: gd(alpha=a, random_state=0, **{"standardize": False, **kw, **extra})

    first_order = gd._first_order_default
    fits = [Fit(f"{name} defaults", pygd()),
            Fit(f"{name} defaults, raw X", pygd(standardize=True), raw=True,
                note="standardize=True on the raw X"),
            Fit(f'{name}(optimizer="{first_order}")', pygd(optimizer=first_order),
                note="mini-batches growing to full"),
            Fit(f'{name}(optimizer="{first_order}", batch_size="full")',
                pygd(optimizer=first_order, batch_size="full"))]
    if problem.loss == "squared_error":
        fits += [Fit("LinearRegression", lambda p: sk.LinearRegression(), note="alpha = 0"),
                 Fit('Ridge(solver="cholesky")', lambda p: sk.Ridge(alpha=a * n, solver="cholesky")),
                 Fit('Ridge(solver="sag")', lambda p: sk.Ridge(alpha=a * n, solver="sag", random_state=0)),
                 Fit("SGDRegressor", lambda p: sk.SGDRegressor(alpha=a, random_state=0))]
    elif problem.loss == "huber":
        fits += [Fit("HuberRegressor", lambda p: sk.HuberRegressor(epsilon=problem.epsilon, alpha=a * n)),
                 Fit('SGDRegressor(loss="huber")',
                     lambda p: sk.SGDRegressor(loss="huber", epsilon=problem.epsilon, alpha=a,
                                               random_state=0))]
    else:
        C = 1.0 / (a * n)
        ovr = "one-vs-rest: another objective" if problem.loss == "multinomial" else ""
        fits += [Fit("LogisticRegression (lbfgs)", lambda p: sk.LogisticRegression(C=C)),
                 Fit('LogisticRegression(solver="saga")',
                     lambda p: sk.LogisticRegression(C=C, solver="saga", random_state=0)),
                 Fit('SGDClassifier(loss="log_loss")',
                     lambda p: sk.SGDClassifier(loss="log_loss", alpha=a, random_state=0), note=ovr)]
    return fits


def _passes(est: Any) -> str:
    """Epochs for pygd and the stochastic peers, "N it" for L-BFGS iterations, "-" for direct solves."""
    n_iter = getattr(est, "n_iter_", None)
    if n_iter is None:
        return "-"
    n_iter = int(np.max(n_iter))
    if hasattr(est, "n_passes_"):  # pygd counts its passes (epochs and objective evaluations)
        return f"{est.n_passes_} ({n_iter} it)" if est.optimizer_ == "lbfgs" else str(est.n_passes_)
    lbfgs = type(est).__name__ == "HuberRegressor" or getattr(est, "solver", "") == "lbfgs"
    return f"{n_iter} it" if lbfgs or getattr(est, "optimizer", "") == "lbfgs" else str(n_iter)


def run_fit(problem: Problem, fit: Fit, repeat: int = 1) -> dict[str, Any]:
    """Fit ``repeat`` times; the best wall time, passes, gap and convergence of the last fit.

    ConvergenceWarnings are recorded (``converged``), not shown; other warnings
    are issued again after the timing.

    Parameters
    ----------
    problem : Problem
    fit : Fit
    repeat : int, default 1

    Returns
    -------
    dict
        ``problem``, ``fit``, ``seconds``, ``passes``, ``objective``, ``gap``,
        ``converged`` and ``note``.
    """
    from sklearn.exceptions import ConvergenceWarning

    X, y = (problem.X_raw if fit.raw else problem.X), problem.y
    best = float("inf")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit.make(problem).fit(X[:1000], y[:1000])  # warm-up: first-call costs out of the timing
        for _ in range(repeat):
            del caught[:]
            est = fit.make(problem)
            t0 = time.perf_counter()
            est.fit(X, y)
            best = min(best, time.perf_counter() - t0)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    W = np.atleast_2d(est.coef_).astype(np.float64)
    b = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), W.shape[:1])
    if fit.raw:  # z = (x - mean) / scale: x W^T + b = z (W scale)^T + (b + W mean)
        W, b = W * problem.scale, b + W @ problem.mean
    f = objective(problem, W, b)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    note = [fit.note] if fit.note else []
    if hasattr(est, "stop_reason_") and est.stop_reason_ != "converged":
        note.append(f"stopped: {est.stop_reason_}")
    if hasattr(est, "scale_") and type(est).__name__ == "HuberRegressor":
        note.append(f"own scale sigma = {est.scale_:.3g}, not 1")
    return {"problem": problem.name, "fit": fit.name, "seconds": best, "passes": _passes(est),
            "objective": f, "gap": (f - problem.optimum) / abs(problem.optimum),
            "converged": converged, "note": "; ".join(note)}


def run_problem(problem: Problem, repeat: int = 1,
                progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """:func:`run_fit` for every fit of :func:`fits_for`, with ``vs pygd`` (time / pygd defaults' time)."""
    rows = []
    for fit in fits_for(problem):
        if progress:
            progress(f"{problem.name}: {fit.name}")
        rows.append(run_fit(problem, fit, repeat))
    for row in rows:
        row["vs pygd"] = row["seconds"] / rows[0]["seconds"]
    return rows


def run(full: bool = False, repeat: int | None = None, names: list[str] | None = None,
        progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Make each problem (one at a time), time every fit, print the table; returns the rows.

    Parameters
    ----------
    full : bool, default False
        Full sizes, else 1/100 of the rows.
    repeat : int or None, default None
        Fits per configuration (best time kept); None: 1 at full size, 3 at small.
    names : list of str or None
        Problems of :data:`PROBLEMS` (default: all).
    progress : callable or None
        Called with a message before each problem and fit.

    Returns
    -------
    list of dict
        :func:`run_fit`'s rows with ``vs pygd``, each problem's size in ``shape`` and the
        1-minute load average at the start in ``load``.
    """
    repeat = (1 if full else 3) if repeat is None else repeat
    load = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for name in names or list(PROBLEMS):
        if progress:
            progress(f"{name}: generating and solving")
        problem = make_problem(name, full)
        for row in run_problem(problem, repeat, progress):
            row.update(shape="x".join(map(str, problem.shape)), load=load)
            rows.append(row)
        del problem
    print(format_table(rows))
    print(f"Load average at the start: {load:.1f} on {os.cpu_count()} CPUs.  Other processes on the "
          "cores slow the multi-threaded fits (BLAS, OpenMP) down by up to 50x: time on a quiet machine.")
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: one block of rows per problem, pygd's defaults first.

    Parameters
    ----------
    rows : list of dict
        As :func:`run` returns them.

    Returns
    -------
    str
    """
    header = ["problem", "fit", "time", "vs pygd defaults", "passes", "relative gap", "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    previous = None
    for r in rows:
        label = f"{r['problem']} ({r.get('shape', '')})" if r["problem"] != previous else ""
        previous = r["problem"]
        note = ([] if r["converged"] else ["did not converge"]) + ([r["note"]] if r["note"] else [])
        cells = [label, r["fit"], f"{r['seconds']:.3g} s", f"{r['vs pygd']:.2f}x", r["passes"],
                 f"{r['gap']:.1e}", "; ".join(note)]
        lines.append("| " + " | ".join(cells) + " |")
    legend = ("time: best wall time; passes: epochs (pygd, SGD*, sag, saga), L-BFGS iterations "
              "('it', each at least one pass), '-' for direct solves; relative gap: "
              "(f - f*) / |f*| on pygd's objective in float64, alpha = "
              f"{ALPHA:g} on standardised features.")
    return "\n".join(lines) + "\n\n" + legend
