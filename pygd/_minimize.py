"""``pygd.minimize`` (gradient descent with pygd.optim's rules, scipy's interface) and ``pygd.check_grad``.

Over 500 lines mostly in documentation: minimize's docstring is scipy's interface in full
(every option, every status), plus check_grad and the finite-difference helpers it shares.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scipy.optimize import OptimizeResult

from . import optim
from ._lbfgs import lbfgs
from ._names import OPTIMIZERS, QUASI_NEWTON
from .optim import lr_scheduler

__all__ = ["METHODS", "SCHEDULES", "check_grad", "minimize"]

_EPS = float(np.finfo(np.float64).eps)

#: Method names accepted by :func:`minimize`: name -> (optimizer class, defaults added by the
#: name); the estimators' ``optimizer`` names, from :data:`pygd._names.OPTIMIZERS`.
METHODS: dict[str, tuple[type[optim.Optimizer], dict[str, Any]]] = {
    name: (getattr(optim, entry.cls), dict(entry.presets)) for name, entry in OPTIMIZERS.items()
}

#: Learning-rate schedules accepted by :func:`minimize` (``lr_schedule``), with their
#: ``schedule_params`` and defaults (in iterations; names from :data:`pygd._names.SCHEDULE_PARAMS`).
SCHEDULES: dict[str, dict[str, Any]] = {
    "constant": {},
    "invscaling": {"power_t": 0.25},
    "step": {"step_size": None, "gamma": 0.5},  # step_size None: max_iter // 10
    "exponential": {"gamma": 0.999},
    "cosine": {"T_max": None, "eta_min": 0.0},  # T_max None: max_iter
    "warmup_cosine": {"warmup": None, "start_factor": 0.01, "eta_min": 0.0},  # warmup None: max_iter // 20
    "plateau": {"factor": 0.2, "patience": 5, "threshold": 1e-4, "min_lr": 0.0},
}


def _scalar(value: Any, what: str) -> float:
    if type(value) is float:
        return value
    a = np.asarray(value)
    if a.size != 1 or a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must return a real scalar, got {type(value).__name__} "
                         f"of shape {a.shape} and dtype {a.dtype}")
    return float(a.reshape(()))


def _nonneg(value: Any, name: str, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not value >= 0 or (not allow_inf and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _bounds_arrays(bounds: Any, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        lo = np.broadcast_to(np.asarray(bounds.lb, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(bounds.ub, dtype=np.float64), (n,)).copy()
    else:
        pairs = list(bounds)
        if len(pairs) != n:
            raise ValueError(f"bounds must have one (min, max) pair per variable: got {len(pairs)} for {n}")
        lo = np.empty(n)
        hi = np.empty(n)
        for i, pair in enumerate(pairs):
            try:
                low, high = pair
            except (TypeError, ValueError):
                raise ValueError(f"bounds[{i}] must be a (min, max) pair, got {pair!r}") from None
            lo[i] = -np.inf if low is None else float(low)
            hi[i] = np.inf if high is None else float(high)
    if np.isnan(lo).any() or np.isnan(hi).any() or (lo > hi).any():
        raise ValueError(f"bounds must satisfy min <= max with no NaN, got lower {lo}, upper {hi}")
    return lo, hi


def _make_optimizer(method: Any, x: NDArray[Any], lr: float | None,
                    options: dict[str, Any]) -> optim.Optimizer:
    if isinstance(method, optim.Optimizer):
        if lr is not None or options:
            raise TypeError("with an optimizer instance as method, set lr and its options on the "
                            "instance, not as keywords of minimize")
        return method
    if isinstance(method, str):
        try:
            cls, defaults = METHODS[method.lower()]
        except KeyError:
            raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}, an "
                             "optimizer class from pygd.optim or an optimizer instance") from None
    elif isinstance(method, type) and issubclass(method, optim.Optimizer):
        cls, defaults = method, {}
    else:
        raise TypeError(f"method must be a name, a pygd.optim optimizer class or instance, got {method!r}")
    kwargs = {**defaults, **options}
    if lr is not None:
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr >= 0 or math.isinf(lr):
            raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
        kwargs["lr"] = float(lr)
    try:
        return cls([x], **kwargs)
    except TypeError as e:
        raise TypeError(f"method {method!r}: {e}") from None


# scipy's options that minimize takes: key -> (minimize's keyword, its default).
_SCIPY_OPTIONS = {"maxiter": ("max_iter", 10_000), "gtol": ("gtol", 1e-6), "ftol": ("ftol", 0.0)}


def _scipy_settings(tol: Any, options: Any, max_iter: Any, gtol: Any,
                    ftol: Any) -> tuple[Any, Any, Any]:
    # scipy.optimize.minimize's tol and options, turned into (max_iter, gtol, ftol).
    given = {"max_iter": max_iter, "gtol": gtol, "ftol": ftol}
    if tol is not None:
        tol = _nonneg(tol, "tol")
        if gtol != _SCIPY_OPTIONS["gtol"][1]:
            raise TypeError(f"give tol or gtol, not both (tol={tol!r}, gtol={gtol!r}): "
                            "tol sets gtol, as in scipy's gradient methods")
        given["gtol"] = tol
    if options is None:
        return given["max_iter"], given["gtol"], given["ftol"]
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict (scipy's options), got {type(options).__name__}")
    unknown = sorted(set(options) - set(_SCIPY_OPTIONS) - {"disp"}, key=str)
    if unknown:
        raise TypeError(f"unknown options {unknown}: minimize takes {sorted(_SCIPY_OPTIONS)} and "
                        "'disp' there; the optimizer's own arguments are keywords of minimize")
    if options.get("disp"):
        raise ValueError("options['disp'] is not supported: minimize prints nothing (use callback "
                         "to follow the iterations)")
    for key, (name, default) in _SCIPY_OPTIONS.items():
        if key not in options:
            continue
        if given[name] != default or (key == "gtol" and tol is not None):
            raise TypeError(f"{name} given twice: as a keyword ({given[name]!r}) and as "
                            f"options[{key!r}] ({options[key]!r})")
        given[name] = options[key]
    return given["max_iter"], given["gtol"], given["ftol"]


def _make_schedule(name: str, params: dict[str, Any] | None, opt: optim.Optimizer,
                   max_iter: int) -> Any:
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {name!r}; expected one of {sorted(SCHEDULES)}")
    params = dict(params or {})
    unknown = set(params) - set(SCHEDULES[name])
    if unknown:
        raise TypeError(f"unknown schedule_params for lr_schedule={name!r}: {sorted(unknown)}; "
                        f"it takes {sorted(SCHEDULES[name])}")
    p = {**SCHEDULES[name], **params}
    steps = max(max_iter, 1)
    if name == "constant":
        return None
    if name == "invscaling":
        return lr_scheduler.InverseScalingLR(opt, power_t=p["power_t"])
    if name == "step":
        return lr_scheduler.StepLR(opt, step_size=p["step_size"] or max(steps // 10, 1), gamma=p["gamma"])
    if name == "exponential":
        return lr_scheduler.ExponentialLR(opt, gamma=p["gamma"])
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=p["T_max"] or steps, eta_min=p["eta_min"])
    if name == "warmup_cosine":
        warmup = p["warmup"] if p["warmup"] is not None else max(steps // 20, 1)
        warm = lr_scheduler.LinearLR(opt, start_factor=p["start_factor"], end_factor=1.0, total_iters=warmup)
        cos = lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps - warmup, 1), eta_min=p["eta_min"])
        return lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[warmup])
    return lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=p["factor"], patience=p["patience"],
                                          threshold=p["threshold"], min_lr=p["min_lr"])


def _callback_kind(callback: Callable[..., Any] | None) -> str | None:
    """scipy's rule: a callback whose only parameter is ``intermediate_result`` gets an OptimizeResult."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    try:
        names = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        return "x"
    return "result" if names == {"intermediate_result"} else "x"


def _fd_grad(fun: Callable[..., Any], x: NDArray[np.float64], f0: float, args: tuple[Any, ...],
             scheme: str, lo: NDArray[np.float64] | None, hi: NDArray[np.float64] | None) -> tuple[NDArray[np.float64], int]:
    """Finite-difference gradient (scipy's steps: eps^(1/2) forward, eps^(1/3) central, relative to |x|)."""
    n = x.size
    grad = np.empty(n)
    scale = np.maximum(1.0, np.abs(x))
    h = (_EPS ** 0.5 if scheme == "2-point" else _EPS ** (1.0 / 3.0)) * scale
    xt = x.copy()
    nfev = 0
    for i in range(n):
        hi_room = math.inf if hi is None else hi[i] - x[i]
        lo_room = math.inf if lo is None else x[i] - lo[i]
        hv = h[i]
        if scheme == "3-point" and hi_room >= hv and lo_room >= hv:
            xt[i] = x[i] + hv
            fp = _scalar(fun(xt.copy(), *args), "fun")
            xt[i] = x[i] - hv
            fm = _scalar(fun(xt.copy(), *args), "fun")
            grad[i] = (fp - fm) / (2.0 * hv)
            nfev += 2
        else:  # forward, or backward where the upper bound leaves no room
            step = hv if hi_room >= hv or hi_room >= lo_room else -hv
            xt[i] = x[i] + step
            grad[i] = (_scalar(fun(xt.copy(), *args), "fun") - f0) / step
            nfev += 1
        xt[i] = x[i]
    return grad, nfev


def minimize(fun: Callable[..., Any], x0: ArrayLike, args: tuple[Any, ...] = (), *,
             jac: Callable[..., Any] | bool | str | None = None, method: Any = "adam",
             lr: float | None = None, lr_schedule: str = "constant",
             schedule_params: dict[str, Any] | None = None, max_iter: int = 10_000,
             gtol: float = 1e-6, ftol: float = 0.0, maximize: bool = False, bounds: Any = None,
             callback: Callable[..., Any] | None = None, record_path: bool = False,
             tol: float | None = None, options: dict[str, Any] | None = None,
             **optimizer_options: Any) -> Any:
    r"""Minimise a function by gradient descent with one of :mod:`pygd.optim`'s update rules.

    scipy's interface (``minimize(fun, x0, args, jac=..., bounds=..., callback=...)``
    returning an :class:`~scipy.optimize.OptimizeResult`), with torch's
    optimizers as the methods.  Each iteration evaluates the function and its
    gradient once at the current point, then takes one optimizer step; pygd's
    own work per iteration is a few microseconds, so the cost is the user's
    function.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``, ``x`` a 1-D float64 array (a copy: keep it
        if you like).  With ``jac=True`` it returns ``(value, gradient)``.
    x0 : array_like, shape (n,)
        Starting point (a scalar counts as shape (1,)); never modified.
    args : tuple, optional
        Extra arguments to ``fun`` and ``jac``.
    jac : callable, True, {"2-point", "3-point"} or None, default None
        ``jac(x, *args) -> array of shape (n,)``; ``True`` when ``fun`` returns
        the gradient too; a finite-difference scheme (forward steps
        :math:`\sqrt{\epsilon}\max(1,|x|)`, central steps
        :math:`\epsilon^{1/3}\max(1,|x|)`, one-sided at a bound).  ``None``
        means ``"2-point"``, as scipy.
    method : str, pygd.optim optimizer class or instance, default "adam"
        ``"sgd"``, ``"momentum"`` (SGD with ``momentum=0.9``), ``"nesterov"``
        (SGD, ``momentum=0.9, nesterov=True``), ``"adagrad"``, ``"rmsprop"``,
        ``"adam"``, ``"adamw"``, ``"nadam"``, ``"adadelta"`` (see
        :data:`METHODS`), with the optimizer's arguments as keywords
        (``betas=(0.9, 0.99)``, ``momentum=0.5`` ...).  ``"lbfgs"``:
        limited-memory BFGS with a strong-Wolfe line search (no ``lr``,
        schedule or bounds; keyword ``memory``, default 10; one function and
        gradient evaluation per line-search trial, ``nit`` counts
        iterations; status 2 when the line search finds no lower value
        before the tests pass, as scipy's BFGS).  An optimizer *instance*
        must hold exactly one float64 parameter of shape ``(n,)``: that array
        is the working point (``x0`` is copied into it, it holds the last
        iterate afterwards) and its state carries on from earlier use.
    lr : float, optional
        Learning rate; default: the optimizer's own (torch's defaults, e.g.
        1e-3 for SGD and Adam, 1e-2 for Adagrad, 1.0 for Adadelta).
    lr_schedule : str, default "constant"
        ``"constant"``, ``"invscaling"`` (:math:`\eta_0/(t+1)^{p}`),
        ``"step"``, ``"exponential"``, ``"cosine"``, ``"warmup_cosine"``
        (linear warm-up then cosine) or ``"plateau"`` (divide by 5 when the
        value has not improved for ``patience`` iterations), stepped once per
        iteration on :mod:`pygd.optim.lr_scheduler`.  See :data:`SCHEDULES`.
    schedule_params : dict, optional
        Overrides of the schedule's parameters (:data:`SCHEDULES` lists them
        with their defaults).
    max_iter : int, default 10000
        At most this many optimizer steps.
    gtol : float, default 1e-6
        Stop with success when the gradient's Euclidean norm (the projected
        gradient's, with bounds) is <= gtol.
    ftol : float, default 0
        Stop with success when :math:`|f_{k} - f_{k+1}| \le \mathrm{ftol}
        \max(|f_k|, |f_{k+1}|, 1)` (scipy's L-BFGS-B test).  Off by default:
        with a small learning rate gradient descent makes tiny progress per
        step far from a minimum, which this test would mistake for convergence.
    maximize : bool, default False
        Maximise ``fun`` instead (``fun`` and ``jac`` in the result keep their
        sign).
    bounds : sequence of (min, max) or scipy.optimize.Bounds, optional
        Box constraints (``None`` for no bound), kept by projecting each
        iterate (and ``x0``) onto the box.  Not with ``method="lbfgs"``.
    callback : callable, optional
        Called after each iteration as ``callback(xk)``, or as
        ``callback(intermediate_result)`` (an OptimizeResult with ``x``,
        ``fun``, ``jac``, ``nit``) when that is its only parameter, as in
        scipy.  Returning ``True`` or raising ``StopIteration`` stops the
        minimisation (status 99).
    record_path : bool, default False
        Store the iterates in ``result.path`` (shape (nit + 1, n), ``x0``
        first) and the function's values there in ``result.path_fun``.
    tol : float, optional
        scipy's ``tol``: sets ``gtol`` (as scipy's gradient methods, BFGS and
        CG, do).  Giving both ``tol`` and a ``gtol`` other than the default is
        an error.
    options : dict, optional
        scipy's ``options``: ``"maxiter"`` (sets ``max_iter``), ``"gtol"``,
        ``"ftol"`` and ``"disp"`` (accepted when false: minimize prints
        nothing; use ``callback`` to watch the iterations).  Any other key, or
        a setting given both here and as a keyword (a keyword other than its
        default), is an error.  The optimizer's own arguments are keywords
        (below), not options.
    **optimizer_options
        Passed to the optimizer (only with a method name or class).

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (the last iterate), ``fun``, ``jac``, ``nit`` (optimizer steps),
        ``nfev``, ``njev`` (calls of ``fun`` and of ``jac``; with ``jac=True``
        ``njev == nfev``), ``success``, ``status`` (0 converged, 1 ``max_iter``
        reached, 3 non-finite value or gradient, 99 stopped by the callback),
        ``message``, and with ``record_path`` ``path`` and ``path_fun``.

    Raises
    ------
    ValueError
        ``x0`` not 1-D, empty or not finite; ``fun`` not returning a scalar;
        a gradient of the wrong shape; an unknown method or schedule; a
        negative ``lr``, ``gtol``, ``ftol`` or ``max_iter``; bad bounds.
    TypeError
        Arguments of the wrong type, keywords the optimizer does not take, an
        unknown key of ``options``, or one setting given twice (``tol`` and
        ``gtol``, a keyword and its ``options`` entry).

    Notes
    -----
    A non-finite value or gradient stops the run at once (status 3,
    ``success=False``); ``x`` is then the point where it happened and
    ``path`` ends there.  Except with ``method="lbfgs"`` there is no line
    search: the learning rate decides whether the iteration converges, which
    is the point of this function (see :func:`pygd.plot.learning_rate_sweep`).

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import minimize, testing
    >>> res = minimize(testing.himmelblau, x0=[-4.0, 0.0], jac=testing.himmelblau_grad,
    ...                method="adam", lr=0.1, max_iter=20000, gtol=1e-8, record_path=True)
    >>> res.success, np.round(res.x, 6).tolist(), res.path.shape[1]
    (True, [-3.77931, -3.283186], 2)
    >>> res = minimize(testing.rosenbrock, [-1.0, 1.0], jac=testing.rosenbrock_grad,
    ...                method="momentum", lr=1e-3, max_iter=50000)
    >>> res.status, np.round(res.x, 5).tolist()
    (0, [1.0, 1.0])
    >>> res = minimize(testing.rosenbrock, [-1.0, 1.0], jac=testing.rosenbrock_grad, method="lbfgs")
    >>> res.status, res.nit < 100, np.round(res.x, 5).tolist()
    (0, True, [1.0, 1.0])
    """
    # -- validation -----------------------------------------------------------
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    if not isinstance(args, tuple):
        args = (args,)
    x0_arr = np.atleast_1d(np.asarray(x0))
    if x0_arr.dtype.kind not in "biuf":
        raise TypeError(f"x0 must be real numbers, got dtype {x0_arr.dtype}")
    if x0_arr.ndim != 1 or x0_arr.size == 0:
        raise ValueError(f"x0 must be a non-empty 1-D array (or a scalar), got shape {x0_arr.shape}")
    n = x0_arr.size
    if not np.all(np.isfinite(x0_arr)):
        raise ValueError(f"x0 must be finite, got {x0_arr}")
    max_iter, gtol, ftol = _scipy_settings(tol, options, max_iter, gtol, ftol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    max_iter = int(max_iter)
    gtol = _nonneg(gtol, "gtol")
    ftol = _nonneg(ftol, "ftol")
    cb_kind = _callback_kind(callback)
    box = _bounds_arrays(bounds, n)

    scheme: str | None = None
    grad_fun: Callable[..., Any] | None = None
    if jac is None:
        scheme = "2-point"
    elif jac is True:
        pass
    elif isinstance(jac, str):
        if jac not in ("2-point", "3-point"):
            raise ValueError(f"jac must be a callable, True, '2-point' or '3-point', got {jac!r}")
        scheme = jac
    elif callable(jac):
        grad_fun = jac
    else:
        raise TypeError(f"jac must be a callable, True, '2-point' or '3-point', got {jac!r}")

    if isinstance(method, str) and method.lower() in QUASI_NEWTON:
        given = [name for name, value in (("lr", lr), ("bounds", bounds), ("schedule_params", schedule_params))
                 if value is not None] + (["lr_schedule"] if lr_schedule != "constant" else [])
        unknown = set(optimizer_options) - {"memory"}
        if given or unknown:
            raise TypeError(f"method={method!r} takes its steps by a line search and has no "
                            f"{sorted(given) + sorted(unknown)} (bounds: use scipy's L-BFGS-B); "
                            "its one option is memory (10)")
        return _minimize_lbfgs(fun, x0_arr.astype(np.float64), args, jac, scheme, grad_fun, max_iter,
                               gtol, ftol, maximize, cb_kind, callback, record_path,
                               optimizer_options.get("memory", 10))

    # -- the working point, the optimizer, the schedule -------------------------
    if isinstance(method, optim.Optimizer):
        params = method._params
        if len(params) != 1 or params[0].shape != (n,) or params[0].dtype != np.float64:
            raise ValueError("an optimizer instance given as method must hold exactly one float64 "
                             f"parameter of shape ({n},), got shapes {[p.shape for p in params]}")
        x = params[0]
        np.copyto(x, x0_arr, casting="unsafe")
    else:
        x = x0_arr.astype(np.float64, copy=True)
    opt = _make_optimizer(method, x, lr, optimizer_options)
    if box is not None:
        lo, hi = box
        np.clip(x, lo, hi, out=x)
    else:
        lo = hi = None
    sched = _make_schedule(lr_schedule, schedule_params, opt, max_iter)
    plateau = isinstance(sched, lr_scheduler.ReduceLROnPlateau)
    sign = -1.0 if maximize else 1.0

    evaluate = _Evaluations(fun, args, n, scheme, grad_fun, lo, hi)

    def grad_norm(xk: NDArray[np.float64], g: NDArray[np.float64]) -> float:
        if lo is None:
            return math.sqrt(float(g @ g))
        # L-BFGS-B's projected gradient: the part of a descent step the box allows.
        pg = xk - np.clip(xk - sign * g, lo, hi)
        return math.sqrt(float(pg @ pg))

    Result = OptimizeResult
    path: list[NDArray[np.float64]] | None = [] if record_path else None
    path_fun: list[float] | None = [] if record_path else None

    xk = x.copy()
    f, g = evaluate(xk)
    nit = 0
    status, message = 1, f"Maximum number of iterations ({max_iter}) reached."
    if path is not None:
        path.append(xk)
        path_fun.append(f)  # type: ignore[union-attr]
    gnorm = grad_norm(xk, g)
    bad = _nonfinite(f, gnorm, g)
    if bad:
        status, message = 3, f"{bad} at the starting point."
    elif gnorm <= gtol:
        status, message = 0, "Optimization terminated successfully: gradient norm <= gtol."
    else:
        step = opt.step
        while nit < max_iter:
            step([g if sign > 0 else -g])
            if lo is not None:
                np.clip(x, lo, hi, out=x)
            nit += 1
            f_prev = f
            xk = x.copy()
            f, g = evaluate(xk)
            if path is not None:
                path.append(xk)
                path_fun.append(f)  # type: ignore[union-attr]
            gnorm = grad_norm(xk, g)
            bad = _nonfinite(f, gnorm, g)
            if bad:
                status, message = 3, (f"{bad} at iteration {nit}: the iteration diverged or left "
                                      "the function's domain; try a smaller learning rate.")
                break
            if sched is not None:
                if plateau:
                    sched.step(sign * f)
                else:
                    sched.step()
            if cb_kind is not None:
                try:
                    if cb_kind == "x":
                        stop = callback(xk.copy())  # type: ignore[misc]
                    else:
                        stop = callback(intermediate_result=Result(x=xk.copy(), fun=f, jac=g.copy(), nit=nit))  # type: ignore[misc]
                except StopIteration:
                    stop = True
                if stop is True:
                    status, message = 99, "`callback` requested a stop."
                    break
            if gnorm <= gtol:
                status, message = 0, "Optimization terminated successfully: gradient norm <= gtol."
                break
            if ftol > 0 and abs(f_prev - f) <= ftol * max(abs(f_prev), abs(f), 1.0):
                status, message = 0, "Optimization terminated successfully: relative change of fun <= ftol."
                break

    res = Result(x=xk.copy(), fun=f, jac=g.copy(), nit=nit, nfev=evaluate.nfev,
                 njev=evaluate.njev,
                 success=status == 0, status=status, message=message)
    if path is not None:
        res["path"] = np.array(path)
        res["path_fun"] = np.array(path_fun)
    return res


class _Evaluations:
    """``fun`` (and its gradient: ``jac=True``, a callable or finite differences) at a point,
    as ``(value, gradient of shape (n,))``, counting the calls as scipy does."""

    def __init__(self, fun: Callable[..., Any], args: tuple[Any, ...], n: int, scheme: str | None,
                 grad_fun: Callable[..., Any] | None, lo: Any, hi: Any) -> None:
        self.fun, self.args, self.n, self.scheme, self.grad_fun = fun, args, n, scheme, grad_fun
        self.lo, self.hi = lo, hi
        self.nfev = 0
        self.njev = 0

    def __call__(self, xk: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        fun, args, n = self.fun, self.args, self.n
        if self.grad_fun is None and self.scheme is None:  # jac=True
            out = fun(xk, *args)
            try:
                value, grad = out
            except (TypeError, ValueError):
                raise ValueError("with jac=True, fun must return (value, gradient), "
                                 f"got {type(out).__name__}") from None
            self.nfev += 1
            f = _scalar(value, "fun")
        else:
            f = _scalar(fun(xk, *args), "fun")
            self.nfev += 1
            if self.grad_fun is not None:
                grad = self.grad_fun(xk, *args)
            else:
                grad, extra = _fd_grad(fun, xk, f, args, self.scheme, self.lo, self.hi)  # type: ignore[arg-type]
                self.nfev += extra
        self.njev += 1
        g = np.asarray(grad, dtype=np.float64)
        if g.shape != (n,):
            if g.size == n and g.ndim <= 1:
                g = g.reshape(n)
            else:
                raise ValueError(f"the gradient must have shape ({n},) like x0, got shape {g.shape}")
        return f, g


def _minimize_lbfgs(fun: Callable[..., Any], x0: NDArray[np.float64], args: tuple[Any, ...],
                    jac: Any, scheme: str | None, grad_fun: Callable[..., Any] | None,
                    max_iter: int, gtol: float, ftol: float, maximize: bool, cb_kind: str | None,
                    callback: Callable[..., Any] | None, record_path: bool, memory: Any) -> Any:
    """``minimize(method="lbfgs")``: :func:`pygd._lbfgs.lbfgs` with minimize's tests and result."""
    if isinstance(memory, bool) or not isinstance(memory, numbers.Integral) or memory < 1:
        raise ValueError(f"memory must be an integer >= 1, got {memory!r}")
    n = x0.size
    sign = -1.0 if maximize else 1.0
    counted = _Evaluations(fun, args, n, scheme, grad_fun, None, None)

    def evaluate(xk: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        f, g = counted(xk.copy())
        return sign * f, sign * g

    path: list[NDArray[np.float64]] = [x0.copy()]
    path_fun: list[float] = []
    last = {"F": math.inf}
    f0, g0 = evaluate(x0)
    path_fun.append(sign * f0)
    bad = _nonfinite(f0, math.sqrt(float(np.sum(g0 * g0))), g0)

    def converged(F: float, pg: NDArray[np.float64], gap: float) -> bool:
        gnorm = math.sqrt(float(np.sum(pg * pg)))
        change = ftol > 0 and abs(last["F"] - F) <= ftol * max(abs(last["F"]), abs(F), 1.0)
        last["F"] = F
        return gnorm <= gtol or change

    def on_iteration(it: int, F: float, x: NDArray[np.float64], g: NDArray[np.float64]) -> bool:
        if record_path:
            path.append(x.copy())
            path_fun.append(sign * F)
        if cb_kind is None:
            return False
        try:
            if cb_kind == "x":
                return callback(x.copy()) is True  # type: ignore[misc]
            return callback(intermediate_result=OptimizeResult(  # type: ignore[misc]
                x=x.copy(), fun=sign * F, jac=sign * g, nit=it)) is True
        except StopIteration:
            return True

    if bad:
        res = OptimizeResult(x=x0.copy(), fun=sign * f0, jac=sign * g0, nit=0, nfev=counted.nfev,
                             njev=counted.njev, success=False, status=3,
                             message=f"{bad} at the starting point.")
    else:
        start = [(f0, g0)]

        def first_or_evaluate(xk: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            # lbfgs evaluates x0 first: the values above, not a second call of fun.
            return start.pop() if start else evaluate(xk)

        out = lbfgs(first_or_evaluate, x0, converged=converged, max_iter=max_iter, memory=int(memory),
                    callback=on_iteration)
        status, message = {
            "converged": (0, "Optimization terminated successfully."),
            "max_iter": (1, f"Maximum number of iterations ({max_iter}) reached."),
            "stalled": (2, "Desired error not necessarily achieved due to precision loss: the line "
                           "search found no lower value."),
            "callback": (99, "`callback` requested a stop."),
        }[out.status]
        res = OptimizeResult(x=out.x.copy(), fun=sign * out.fun, jac=sign * out.grad, nit=out.n_iter,
                             nfev=counted.nfev, njev=counted.njev, success=status == 0,
                             status=status, message=message)
    if record_path:
        res["path"] = np.array(path)
        res["path_fun"] = np.array(path_fun)
    return res


def _nonfinite(f: float, gnorm: float, g: NDArray[np.float64]) -> str | None:
    if not math.isfinite(f):
        return f"The function value is {f}"
    if not math.isfinite(gnorm) and not np.all(np.isfinite(g)):
        return "The gradient is not finite"
    return None


def check_grad(fun: Callable[..., Any], grad: Callable[..., Any], x: ArrayLike, *args: Any,
               epsilon: float | None = None) -> float:
    r"""Compare an analytic gradient with central finite differences; return the relative error.

    The error is :math:`\|g - g_{fd}\| / \max(\|g\|, \|g_{fd}\|, 1)`: relative
    where the gradient is large, absolute where it is smaller than 1 (so it
    means something at a minimum, where both are ~0).  Central differences with
    step :math:`\epsilon^{1/3}\max(1, |x_i|)` are accurate to about 1e-10 on a
    smooth function: a correct gradient gives ~1e-9 or less, a wrong one
    typically 1e-2 or more.  :func:`scipy.optimize.check_grad` instead
    returns the absolute error against forward differences (accurate to
    about 1e-7 relative).

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``.
    grad : callable
        ``grad(x, *args) -> array of x's shape``.
    x : array_like, shape (n,)
        Where to compare.
    *args
        Extra arguments to both.
    epsilon : float, optional
        The step relative to ``max(1, |x_i|)``; default ``eps ** (1/3)`` ≈ 6e-6.

    Returns
    -------
    float
        The error, ``inf`` when it is not a number (a NaN in the analytic or
        the finite-difference gradient, or infinities in both), so that a test
        ``error > tol`` fails rather than passes.

    Raises
    ------
    ValueError
        ``x`` not 1-D or not finite, ``fun`` not returning a scalar, or the
        gradient's shape differing from ``x``'s.

    Examples
    --------
    >>> from pygd import check_grad, testing
    >>> check_grad(testing.himmelblau, testing.himmelblau_grad, [1.0, -2.0]) < 1e-9
    True
    >>> wrong = lambda x: 2 * testing.himmelblau_grad(x)
    >>> round(check_grad(testing.himmelblau, wrong, [1.0, -2.0]), 3)
    0.5
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite, non-empty 1-D array, got {x!r}")
    analytic = np.asarray(grad(x.copy(), *args), dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"grad returned shape {analytic.shape}, expected {x.shape} (x's shape)")
    if epsilon is None:
        epsilon = _EPS ** (1.0 / 3.0)
    elif not (isinstance(epsilon, numbers.Real) and 0 < epsilon < 1):
        raise ValueError(f"epsilon must be a number in (0, 1), got {epsilon!r}")
    numeric, _ = _central(fun, x, args, float(epsilon))
    diff = float(np.linalg.norm(analytic - numeric))
    error = diff / max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)), 1.0)
    # NaN (a NaN in either gradient, inf - inf) would pass every `error > tol`.
    return error if error == error else math.inf


def _central(fun: Callable[..., Any], x: NDArray[np.float64], args: tuple[Any, ...],
             epsilon: float) -> tuple[NDArray[np.float64], int]:
    h = epsilon * np.maximum(1.0, np.abs(x))
    out = np.empty_like(x)
    for i in range(x.size):
        xp = x.copy()
        xm = x.copy()
        xp[i] += h[i]
        xm[i] -= h[i]
        out[i] = (_scalar(fun(xp, *args), "fun") - _scalar(fun(xm, *args), "fun")) / (2 * h[i])
    return out, 2 * x.size
