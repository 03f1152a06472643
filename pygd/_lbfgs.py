"""Limited-memory BFGS with a strong-Wolfe line search, and OWL-QN for an L1 term.

The driver of ``optimizer="lbfgs"`` (the estimators, whose function is the
engine's one-pass ``objective_grad``) and of ``pygd.minimize(method="lbfgs")``.
It minimises

    F(x) = f(x) + l1 * sum_j mask_j |x_j|

for a smooth f given as ``fun(x) -> (f, grad f)``; one call of ``fun`` is one
pass over the data, counted in ``n_fun``.

* **L-BFGS** (``l1 == 0``; Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
  algorithms 7.4 and 7.5): the direction is ``-H g`` by the two-loop recursion
  over the last ``memory`` pairs ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``
  (a pair with ``s . y <= 1e-10 |s| |y|`` is not stored), with the initial
  matrix ``(s . y / y . P y) P`` of the newest pair, ``P`` a diagonal guess of
  the inverse Hessian (``h0``; the identity by default); the step satisfies the strong
  Wolfe conditions ``F(x + a d) <= F(x) + c1 a g.d`` and ``|g(x + a d).d| <= c2 |g.d|``
  (c1 = 1e-4, c2 = 0.9; algorithms 3.5 and 3.6: bracketing, then zooming by
  safeguarded cubic interpolation).  The first step tries ``a = 1 / |P g|_2``
  (at most 1), every later one ``a = 1``.
* **OWL-QN** (``l1 > 0``; Andrew & Gao, "Scalable training of L1-regularized
  log-linear models", ICML 2007): the same recursion applied to the
  pseudo-gradient ``pg`` (the least-norm subgradient of F: ``g_j + l1 sign(x_j)``,
  or at ``x_j = 0`` whichever of ``g_j -+ l1`` points down, else 0); the
  direction's entries that disagree in sign with ``-pg`` are zeroed; each trial
  point is projected onto the orthant of the current point (entries that would
  cross zero become exactly 0), and the step backtracks (halving) until
  ``F(x_new) <= F(x) + c1 pg . (x_new - x)``.  Exact zeros, as ``Lasso``'s.

Convergence is the caller's test ``converged(F, pg, gap)`` on the objective,
the (pseudo-)gradient and the quasi-Newton estimate of the remaining gap
``F - min F ~ pg . H pg / 2`` (H the current inverse-Hessian estimate; P at
the start), asked at every iterate including the start.  A line search
that finds no decrease (after 20 evaluations, or a step too small to change
x) retries once along ``-pg`` with the memory cleared; if that fails too, F
cannot be lowered in floating point along descent directions: status
"stalled".  The recursion and the pairs' differences and products run in
``_core.lbfgs_direction`` / ``_core.lbfgs_pair`` (each pass fused with the
next dot product; sums over fixed chunks added in chunk order; NumPy
references in :mod:`pygd.reference`); the other dot products are NumPy sums of
products (no BLAS).  So the iterates do not depend on the number of threads.

Examples
--------
>>> import numpy as np
>>> from pygd._lbfgs import lbfgs
>>> A = np.diag([1.0, 10.0, 100.0])
>>> res = lbfgs(lambda x: (0.5 * x @ A @ x - x.sum(), A @ x - 1.0), np.zeros(3),
...             converged=lambda F, pg, gap: np.abs(pg).max() <= 1e-10)
>>> res.status, np.round(res.x, 6).tolist()
('converged', [1.0, 0.1, 0.01])
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from . import _core

__all__ = ["LBFGSResult", "lbfgs", "pseudo_gradient"]

Array = NDArray[np.float64]
C1 = 1e-4
C2 = 0.9
MAX_LINE_SEARCH = 20


@dataclass
class LBFGSResult:
    """Where :func:`lbfgs` ended: x, F(x), its (pseudo-)gradient and why it stopped."""

    x: Array
    fun: float
    grad: Array  # the pseudo-gradient of F (= grad f without L1)
    n_iter: int
    n_fun: int
    status: str  # "converged", "max_iter", "stalled" or "callback"
    history: list[float] = field(default_factory=list)  # F after each iteration


def _dot(a: Array, b: Array) -> float:
    # One pass and no temporary (np.sum(a * b) writes a vector of the parameters' size);
    # einsum runs on one thread, so the bits never depend on the thread count (BLAS's dot
    # may split the sum between threads), and no OpenBLAS thread is left spinning after it
    # (they take the cores from the engine's next pass: passes ran 1.6-2x slower).
    # pygd.linear_model uses it too (linear_model._data.dot).
    return float(np.einsum("i,i->", a, b))


def _along(x: Array, a: float, d: Array) -> Array:
    """x + a d with one new vector (the same bits as ``x + a * d``)."""
    out = d * a
    out += x
    return out


def pseudo_gradient(x: Array, g: Array, l1: float, mask: Array | None) -> Array:
    """The least-norm subgradient of ``f + l1 sum mask_j |x_j|`` given ``g = grad f``.

    Examples
    --------
    >>> import numpy as np
    >>> pseudo_gradient(np.array([1.0, 0.0, 0.0, -2.0]), np.array([0.5, 0.5, 3.0, 0.5]), 1.0, None).tolist()
    [1.5, 0.0, 2.0, -0.5]
    """
    if l1 == 0:
        return g
    lam = l1 if mask is None else l1 * mask
    pg = np.where(x > 0, g + lam, np.where(x < 0, g - lam, 0.0))
    at_zero = x == 0
    pg = np.where(at_zero & (g + lam < 0), g + lam, pg)
    pg = np.where(at_zero & (g - lam > 0), g - lam, pg)
    return pg


class DiagonalGuess:
    """A diagonal guess P of the inverse Hessian for :func:`lbfgs`, stored compactly.

    For x laid out as a (k, d) block row-major and then k trailing entries (a linear
    model's coefficients and intercepts): P is ``columns`` (d,) for every one of the
    k rows of the block and ``trailing`` (k,) for the last entries, so k outputs cost
    one d-vector (float32 is plenty for a guess).  A plain vector of x's size is
    ``DiagonalGuess(h, np.empty(0))``.

    Examples
    --------
    >>> import numpy as np
    >>> P = DiagonalGuess(np.array([1.0, 2.0]), np.array([3.0]))
    >>> d, dg, dd = _direction(np.ones(3), deque(), P)  # without pairs: d = -P g
    >>> d.tolist(), dg, dd
    ([-1.0, -2.0, -3.0], -6.0, 14.0)
    """

    def __init__(self, columns: Array, trailing: Array) -> None:
        self.columns = np.asarray(columns)
        self.trailing = np.asarray(trailing)
        # _core's view (float64: the same products as NumPy's promotion of a float32 guess);
        # _core refuses a vector the layout does not fit
        self.core_args = (np.ascontiguousarray(self.columns.ravel(), dtype=np.float64),
                          np.ascontiguousarray(self.trailing.ravel(), dtype=np.float64))


def _guess_args(h0: DiagonalGuess | None) -> tuple[Array | None, Array | None]:
    """(columns, trailing) for _core's L-BFGS kernels: (None, None) for P = I."""
    return (None, None) if h0 is None else h0.core_args


def _direction(g: Array, pairs: deque, h0: DiagonalGuess | None) -> tuple[Array, float, float]:
    """(d, d . g, d . d) for d = -H g by the two-loop recursion over (s, y, 1 / s.y, gamma)
    pairs, oldest first (``_core.lbfgs_direction``; reference:
    :func:`pygd.reference.lbfgs_direction_reference`).

    The initial matrix is ``gamma P``: P = h0 (the identity if None), gamma =
    s.y / y.P y of the newest pair (1 without pairs).
    """
    d = np.empty_like(g)
    dg, dd = _core.lbfgs_direction(g, [p[0] for p in pairs], [p[1] for p in pairs],
                                   [p[2] for p in pairs], pairs[-1][3] if pairs else 1.0,
                                   *_guess_args(h0), d)
    return d, dg, dd


def _cubic_min(a0: float, f0: float, d0: float, a1: float, f1: float, d1: float) -> float:
    """The minimiser of the cubic through (a0, f0, d0), (a1, f1, d1), kept inside the interval."""
    lo, hi = min(a0, a1), max(a0, a1)
    d_1 = d0 + d1 - 3.0 * (f0 - f1) / (a0 - a1)
    disc = d_1 * d_1 - d0 * d1
    if disc >= 0 and a0 != a1:
        d_2 = math.copysign(math.sqrt(disc), a1 - a0)
        denom = d1 - d0 + 2.0 * d_2
        if denom != 0:
            a = a1 - (a1 - a0) * (d1 + d_2 - d_1) / denom
            margin = 0.1 * (hi - lo)
            if lo + margin <= a <= hi - margin:
                return a
    return 0.5 * (lo + hi)  # bisection where the cubic is no help


class _Evaluator:
    """fun with a pass counter; non-finite values count as +inf (a step too far)."""

    def __init__(self, fun: Callable[[Array], tuple[float, Array]]) -> None:
        self.fun = fun
        self.n = 0

    def __call__(self, x: Array) -> tuple[float, Array]:
        self.n += 1
        f, g = self.fun(x)
        f = float(f)
        g = np.ascontiguousarray(g, dtype=np.float64)  # (_core's vectors; no copy when it is)
        if not (math.isfinite(f) and np.isfinite(g).all()):
            return math.inf, g
        return f, g


def _wolfe(ev: _Evaluator, x: Array, f: float, g: Array, d: Array, a1: float,
           dg0: float | None = None) -> tuple[float, float, Array, Array] | None:
    """A step a along d with the strong Wolfe conditions: (a, f, g, x + a d) there, or None.

    ``dg0``: g . d where the caller has it.
    """
    if dg0 is None:
        dg0 = _dot(g, d)
    a_prev, f_prev, dg_prev = 0.0, f, dg0
    a = a1
    for i in range(MAX_LINE_SEARCH):
        xa = None  # the last point is not held while the next is built
        xa = _along(x, a, d)
        fa, ga = ev(xa)
        dga = _dot(ga, d) if math.isfinite(fa) else math.inf
        if not math.isfinite(fa):
            a = 0.5 * (a_prev + a)  # back off into the finite region
            continue
        if fa > f + C1 * a * dg0 or (i > 0 and fa >= f_prev):
            xa = None  # not held while _zoom evaluates its points (one vector fewer at the peak)
            return _zoom(ev, x, f, dg0, d, a_prev, f_prev, dg_prev, a, fa, dga,
                         MAX_LINE_SEARCH - i - 1)
        if abs(dga) <= -C2 * dg0:
            return a, fa, ga, xa
        if dga >= 0:
            xa = None
            return _zoom(ev, x, f, dg0, d, a, fa, dga, a_prev, f_prev, dg_prev,
                         MAX_LINE_SEARCH - i - 1)
        a_prev, f_prev, dg_prev = a, fa, dga
        a = 2.0 * a
    return None


def _zoom(ev: _Evaluator, x: Array, f: float, dg0: float, d: Array, a_lo: float, f_lo: float,
          dg_lo: float, a_hi: float, f_hi: float, dg_hi: float,
          budget: int) -> tuple[float, float, Array, Array] | None:
    best = None
    for _ in range(max(budget, 1)):
        if math.isfinite(f_hi) and math.isfinite(dg_hi):
            a = _cubic_min(a_lo, f_lo, dg_lo, a_hi, f_hi, dg_hi)
        else:
            a = 0.5 * (a_lo + a_hi)
        if a == a_lo or a == a_hi:
            break
        xa = None  # the last point is not held while the next is built
        xa = _along(x, a, d)
        fa, ga = ev(xa)
        if not math.isfinite(fa):
            a_hi, f_hi, dg_hi = a, fa, math.inf
            continue
        dga = _dot(ga, d)
        if fa < f and (best is None or fa < best[1]):
            best = (a, fa, ga)  # its point is built again if it is the one returned
        if fa > f + C1 * a * dg0 or fa >= f_lo:
            a_hi, f_hi, dg_hi = a, fa, dga
        else:
            if abs(dga) <= -C2 * dg0:
                return a, fa, ga, xa
            if dga * (a_hi - a_lo) >= 0:
                a_hi, f_hi, dg_hi = a_lo, f_lo, dg_lo
            a_lo, f_lo, dg_lo = a, fa, dga
    # Out of budget: any sufficient decrease found will do (the pair is checked for s.y > 0).
    if best is not None and best[1] <= f + C1 * best[0] * dg0:
        xa = None
        return best + (_along(x, best[0], d),)
    return None


def _orthant_search(ev: _Evaluator, x: Array, F: float, pg: Array, d: Array, a: float,
                    l1: float, mask: Array | None) -> tuple[Array, float, Array] | None:
    """OWL-QN's backtracking along d projected on x's orthant: (x_new, f_new, g_new) or None."""
    orthant = np.where(x != 0, np.sign(x), -np.sign(pg))
    lam = l1 if mask is None else l1 * mask
    for _ in range(MAX_LINE_SEARCH):
        xn = _along(x, a, d)
        xn = np.where(np.sign(xn) == orthant, xn, 0.0)
        if mask is not None:  # unpenalised entries are not projected
            xn = np.where(mask > 0, xn, x + a * d)
        fn, gn = ev(xn)
        Fn = fn + float(np.sum(lam * np.abs(xn)))
        if math.isfinite(Fn) and Fn <= F + C1 * _dot(pg, xn - x):
            return xn, fn, gn
        if np.array_equal(xn, x):
            return None
        a *= 0.5
    return None


def lbfgs(fun: Callable[[Array], tuple[float, Array]], x0: Array, *,
          converged: Callable[[float, Array, float], bool], max_iter: int = 1000, memory: int = 10,
          l1: float = 0.0, l1_mask: Array | None = None,
          callback: Callable[[int, float, Array, Array], bool | None] | None = None,
          copy: bool = True, h0: DiagonalGuess | None = None) -> LBFGSResult:
    """Minimise ``f + l1 sum mask_j |x_j|`` from ``x0`` (see the module docstring).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, grad)`` for float64 ``x``; one call is one pass.
    x0 : ndarray
        Start (copied unless ``copy=False``; never written into either way).
    converged : callable
        ``converged(F, pg, gap) -> bool``: the stopping test on the objective,
        the pseudo-gradient and the estimated gap to the minimum.
    max_iter : int
        Iterations (line searches) at most.
    memory : int
        Pairs kept (``m``).
    l1, l1_mask : float, ndarray or None
        The L1 term's strength and which entries it applies to (None: all).
    copy : bool
        False: a float64 ``x0`` is the start itself (no copy of a large vector).
    h0 : DiagonalGuess or None
        A diagonal guess P of the inverse Hessian (positive): the recursion's
        initial matrix is ``(s.y / y.P y) P``, the first direction ``-P g``.
        Columns whose curvature differs by orders of magnitude (raw text
        features) then need far fewer iterations.
    callback : callable or None
        ``callback(iteration, F, x, grad f)`` after each iteration (x and the
        gradient are the driver's arrays: copy them to keep them); True stops.

    Returns
    -------
    LBFGSResult
    """
    ev = _Evaluator(fun)
    x = np.array(x0, dtype=np.float64) if copy else np.ascontiguousarray(x0, dtype=np.float64)
    lam = 0.0 if l1 == 0 else (l1 if l1_mask is None else l1 * l1_mask)

    def total(fx: float, xx: Array) -> float:
        return fx if l1 == 0 else fx + float(np.sum(lam * np.abs(xx)))

    f, g = ev(x)
    if not math.isfinite(f):
        raise ValueError("the objective at the starting point is not finite")
    F = total(f, x)
    pairs: deque = deque(maxlen=memory)
    history: list[float] = []
    status = "max_iter"
    it = 0
    first = True
    while True:
        pg = pseudo_gradient(x, g, l1, l1_mask)
        d, dpg, dd = _direction(pg, pairs, h0)  # dpg: d . pg while d is this direction
        if converged(F, pg, -0.5 * dpg):
            status = "converged"
            break
        if it >= max_iter:
            break
        step = None
        for attempt in (0, 1):
            if attempt == 1:
                pairs.clear()
                first = True
                d, dpg, dd = _direction(pg, pairs, h0)  # -P pg
            if first:  # d = -P pg here (without pairs the recursion is -P pg): |P pg|^2
                first_norm2 = dd
            if l1 != 0:  # OWL-QN: no penalised entry may move against -pg
                keep = d * pg < 0 if l1_mask is None else (d * pg < 0) | (l1_mask == 0)
                d = np.where(keep, d, 0.0)
                dpg = None
            if dpg is None:
                dpg = _dot(d, pg)
            if not dpg < 0:  # not a descent direction (numerical trouble): steepest
                d = -pg
                dpg = None
            if first:  # a first step of length at most 1 along -P pg (OWL-QN: before projecting)
                a = min(1.0, 1.0 / math.sqrt(first_norm2))
            else:
                a = 1.0
            if l1 == 0:
                found = _wolfe(ev, x, f, g, d, a, dpg)  # (pg is g without L1)
                if found is not None:
                    step = (found[3], found[1], found[2])
            else:
                step = _orthant_search(ev, x, F, pg, d, a, l1, l1_mask)
            if step is not None:
                break
        if step is None:
            status = "stalled"
            break
        xn, fn, gn = step
        if 0 < memory == len(pairs):  # the oldest pair's arrays take the new one (not 2 more
            s, y = pairs.popleft()[:2]  # vectors at the peak; a pair that fails the test
        else:  # below then leaves m - 1 pairs)
            s, y = np.empty_like(x), np.empty_like(x)
        # s = xn - x, y = gn - g and their products in one pass (reference:
        # pygd.reference.lbfgs_pair_reference)
        sy, ss, yy, yPy = _core.lbfgs_pair(xn, x, gn, g, *_guess_args(h0), s, y)
        if sy > 1e-10 * math.sqrt(ss * yy):
            pairs.append((s, y, 1.0 / sy, sy / yPy))
        x, f, g = xn, fn, gn
        F = total(f, x)
        first = False
        it += 1
        history.append(F)
        if callback is not None and callback(it, F, x, g) is True:
            status = "callback"
            pg = pseudo_gradient(x, g, l1, l1_mask)
            break
    return LBFGSResult(x=x, fun=F, grad=pg, n_iter=it, n_fun=ev.n, status=status, history=history)
