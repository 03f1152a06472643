"""Pictures of gradient descent: learning-rate sweeps, optimizer paths, surfaces, loss curves.

Needs matplotlib (``pip install "pygd[plot]"``), imported only when a picture
is drawn.  Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux and
no backend chosen) the non-interactive Agg backend is used, so the functions
work on servers and in CI.  Each function returns the matplotlib
:class:`~matplotlib.figure.Figure` (``fig.savefig("name.png")`` writes it);
pass ``ax=`` to draw into an existing axes instead.

Examples
--------
>>> from pygd import plot, testing, minimize
>>> res = minimize(testing.himmelblau, [-1.0, -1.0], jac=testing.himmelblau_grad,
...                lr=0.1, max_iter=500, record_path=True)
>>> fig = plot.paths(testing.himmelblau, {"adam": res})
>>> len(fig.axes[0].get_lines())
1
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["learning_rate_sweep", "loss_curve", "paths", "surface"]

_INSTALL_HINT = 'pygd.plot needs matplotlib; install it with: pip install "pygd[plot]"'


def _pyplot() -> Any:
    """matplotlib.pyplot, with the Agg backend when there is no display."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    headless = (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY"))
    if headless and "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    return plt


def _figure_and_axes(ax: Any, figsize: tuple[float, float], **subplot_kw: Any) -> tuple[Any, Any]:
    plt = _pyplot()
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot(**subplot_kw)


def _problem_of(fun: Callable[..., Any]) -> Any:
    from .testing import PROBLEMS

    for problem in PROBLEMS.values():
        if problem.fun is fun:
            return problem
    return None


def learning_rate_sweep(fun: Callable[..., Any] | None = None, x0: ArrayLike | None = None,
                        lrs: Sequence[float] | None = None, *, jac: Any = None,
                        method: Any = "sgd", max_iter: int = 60, args: tuple[Any, ...] = (),
                        fmin: float | None = None, ax: Any = None, title: str | None = None,
                        **minimize_kwargs: Any) -> Any:
    r"""Loss against iteration for several learning rates on one problem.

    The default problem is :func:`pygd.testing.quadratic` with condition
    number 10 from ``(1, 1)`` and plain gradient descent, where the theory is
    exact: learning rates below ``2 / (1 + cond)`` converge slowly, that one
    is the fastest, up to ``2 / cond`` converge while zig-zagging, beyond it
    diverge.  The default rates show each case.

    The y axis is logarithmic (``f - fmin``; a straight line is linear
    convergence), the x axis linear in iterations.  A run whose loss becomes
    non-finite or grows past 1e6 times its start is drawn up to the last
    point below that ceiling and marked "diverged" with a cross; nothing
    raises.

    Parameters
    ----------
    fun : callable, optional
        The function (default :func:`pygd.testing.quadratic`).
    x0 : array_like, optional
        Start (default ``(1, 1)``).
    lrs : sequence of float, optional
        Learning rates (default ``0.01, 0.18, 0.195, 0.21`` with the default
        problem, otherwise ``1e-3, 1e-2, 1e-1, 1``).
    jac, method, max_iter, args, **minimize_kwargs
        Passed to :func:`pygd.minimize` (default ``method="sgd"``, 60 steps).
    fmin : float, optional
        Subtracted from the loss before the log scale (default: the
        documented minimum for :mod:`pygd.testing` functions, else 0).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One line per learning rate (labelled ``lr=...``).

    Examples
    --------
    >>> from pygd import plot
    >>> fig = plot.learning_rate_sweep()
    >>> [line.get_label() for line in fig.axes[0].get_lines()][-1]
    'lr=0.21 (diverged)'
    """
    from . import testing
    from ._minimize import minimize

    notes: dict[float, str] = {}
    if fun is None:
        fun, jac = testing.quadratic, testing.quadratic_grad if jac is None else jac
        if not args:
            args = (10.0,)
        if lrs is None:
            lrs = [0.01, 0.18, 0.195, 0.21]
            notes = {0.01: "too small", 0.18: "right", 0.195: "too large: zig-zags"}
        if title is None:
            title = f"gradient descent on a quadratic, condition number {args[0]:g}"
    if x0 is None:
        x0 = [1.0, 1.0]
    if lrs is None:
        lrs = [1e-3, 1e-2, 1e-1, 1.0]
    if fmin is None:
        problem = _problem_of(fun)
        fmin = problem.minimum if problem is not None else 0.0
    fig, ax = _figure_and_axes(ax, (6.4, 4.2))
    plt = _pyplot()
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(lrs)))
    floor = np.finfo(np.float64).tiny
    for lr, color in zip(lrs, colors):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is drawn, not warned about
            res = minimize(fun, x0, args, jac=jac, method=method, lr=lr, max_iter=max_iter,
                           gtol=0.0, record_path=True, **minimize_kwargs)
        loss = np.asarray(res.path_fun, dtype=np.float64) - fmin
        ceiling = 1e6 * max(abs(float(loss[0])), 1.0)
        bad = ~np.isfinite(loss) | (loss > ceiling)
        diverged = res.status == 3 or bool(bad.any()) or loss[-1] > loss[0]
        shown = loss[: int(np.argmax(bad))] if bad.any() else loss
        iters = np.arange(shown.size)
        label = f"lr={lr:g}" + (" (diverged)" if diverged else f" ({notes[lr]})" if lr in notes else "")
        ax.plot(iters, np.maximum(shown, floor), color=color, label=label, linewidth=1.8)
        if diverged and shown.size:
            ax.scatter([iters[-1]], [max(shown[-1], floor)], marker="x", s=60, color=color, zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("f(x) - min f" if fmin else "f(x)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title=f"{method if isinstance(method, str) else type(method).__name__}", fontsize=9)
    if title:
        ax.set_title(title, fontsize=11)
    return fig


def _contour_levels(Z: np.ndarray, n: int) -> np.ndarray:
    # Quantiles of the grid's values: evenly spread contours whatever the
    # function's range (Rosenbrock spans 0 to 1e4; linear levels would leave
    # the valley empty).
    finite = Z[np.isfinite(Z)]
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n) ** 2))
    return levels if levels.size >= 2 else np.array([finite.min(), finite.max() + 1.0])


def paths(fun: Callable[..., Any], results: Mapping[str, Any] | Sequence[Any], *,
          labels: Sequence[str] | None = None, xlim: tuple[float, float] | None = None,
          ylim: tuple[float, float] | None = None, args: tuple[Any, ...] = (),
          resolution: int = 200, levels: int = 30, ax: Any = None, title: str | None = None) -> Any:
    """Optimizer paths over a contour plot of a 2-D function.

    Parameters
    ----------
    fun : callable
        ``fun(xy, *args)`` of a 2-D point; evaluated on a grid as
        ``fun(np.stack([X, Y]))`` when it accepts that (every
        :mod:`pygd.testing` function does), point by point otherwise.
    results : mapping of label to result, or sequence of results
        Results of :func:`pygd.minimize` with ``record_path=True`` (anything
        with a ``path`` of shape (k, 2)).
    labels : sequence of str, optional
        Names of the results when ``results`` is a sequence.
    xlim, ylim : (float, float), optional
        The box drawn; default the documented box of a :mod:`pygd.testing`
        function, widened to hold the paths, else the paths' extent plus 10%.
    args : tuple
        Extra arguments to ``fun``.
    resolution : int, default 200
        Grid points per axis.
    levels : int, default 30
        Number of contour levels (spread by quantiles of the values).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        A filled contour, and one line per result (start marked by a circle,
        end by a square, the documented minima by stars; markers are scatter
        collections, so ``ax.get_lines()`` are exactly the paths).

    Examples
    --------
    >>> from pygd import plot, testing, minimize
    >>> runs = {m: minimize(testing.rosenbrock, [-1.5, 2.0], jac=testing.rosenbrock_grad,
    ...                     method=m, lr=lr, max_iter=300, record_path=True)
    ...         for m, lr in [("sgd", 1e-3), ("adam", 0.05)]}
    >>> fig = plot.paths(testing.rosenbrock, runs)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['sgd', 'adam']
    """
    if isinstance(results, Mapping):
        names = [str(k) for k in results]
        runs = list(results.values())
    else:
        runs = list(results)
        names = list(labels) if labels is not None else [f"run {i}" for i in range(len(runs))]
        if len(names) != len(runs):
            raise ValueError(f"got {len(names)} labels for {len(runs)} results")
    path_list = []
    for name, run in zip(names, runs):
        p = getattr(run, "path", None)
        if p is None and isinstance(run, Mapping):
            p = run.get("path")
        if p is None:
            raise ValueError(f"result {name!r} has no path: run minimize with record_path=True")
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"result {name!r}: paths are drawn for 2-D functions only, got path shape {p.shape}")
        path_list.append(p)
    problem = _problem_of(fun)
    if not args and problem is not None:
        args = problem.args
    finite = np.concatenate([p[np.all(np.isfinite(p), axis=1)] for p in path_list] or [np.zeros((0, 2))])
    lims = []
    for given, axis, default in ((xlim, 0, problem.xlim if problem else None),
                                 (ylim, 1, problem.ylim if problem else None)):
        if given is not None:
            lims.append(tuple(map(float, given)))
            continue
        lo_hi = list(default) if default is not None else [np.inf, -np.inf]
        if finite.size:
            lo_hi = [min(lo_hi[0], finite[:, axis].min()), max(lo_hi[1], finite[:, axis].max())]
        if not np.isfinite(lo_hi).all():
            lo_hi = [-1.0, 1.0]
        pad = 0.05 * (lo_hi[1] - lo_hi[0] or 1.0)
        lims.append((lo_hi[0] - (pad if default is None or lo_hi[0] < default[0] else 0.0),
                     lo_hi[1] + (pad if default is None or lo_hi[1] > default[1] else 0.0)))
    (x_lo, x_hi), (y_lo, y_hi) = lims

    gx = np.linspace(x_lo, x_hi, resolution)
    gy = np.linspace(y_lo, y_hi, resolution)
    X, Y = np.meshgrid(gx, gy)
    Z = _grid_values(fun, X, Y, args)

    fig, ax = _figure_and_axes(ax, (6.4, 5.4))
    plt = _pyplot()
    lv = _contour_levels(Z, levels)
    cs = ax.contourf(X, Y, Z, levels=lv, cmap="Greys_r", extend="neither", alpha=0.85)
    ax.contour(X, Y, Z, levels=lv, colors="white", linewidths=0.4, alpha=0.6)
    cbar = fig.colorbar(cs, ax=ax, shrink=0.85)
    cbar.set_label("f(x, y)")
    cbar.set_ticks(lv[:: max(len(lv) // 6, 1)])
    cbar.ax.tick_params(labelsize=8)
    colors = plt.get_cmap("tab10")(np.arange(len(path_list)) % 10)
    for name, p, color in zip(names, path_list, colors):
        ax.plot(p[:, 0], p[:, 1], color=color, linewidth=1.6, label=f"{name}", marker=None)
        if len(p):
            ax.scatter(p[:1, 0], p[:1, 1], color=color, marker="o", s=30, edgecolors="black",
                       linewidths=0.6, zorder=3)
            ax.scatter(p[-1:, 0], p[-1:, 1], color=color, marker="s", s=30, edgecolors="black",
                       linewidths=0.6, zorder=3)
    if problem is not None:
        ax.scatter(problem.minima[:, 0], problem.minima[:, 1], marker="*", s=140, color="gold",
                   edgecolors="black", linewidths=0.6, zorder=4,
                   label="stationary point" if problem.name == "saddle" else "minimum")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    name = getattr(fun, "__name__", "f")
    ax.set_title(title if title is not None else f"optimizer paths on {name}", fontsize=11)
    return fig


def _grid_values(fun: Callable[..., Any], X: np.ndarray, Y: np.ndarray, args: tuple[Any, ...]) -> np.ndarray:
    try:
        Z = np.asarray(fun(np.stack([X, Y]), *args), dtype=np.float64)
        if Z.shape == X.shape:
            return Z
    except Exception:  # noqa: BLE001 - a function of one point only: evaluate point by point below
        pass
    flat = [float(fun(np.array([a, b]), *args)) for a, b in zip(X.ravel(), Y.ravel())]
    return np.array(flat).reshape(X.shape)


def surface(fun: Callable[..., Any], xlim: tuple[float, float] | None = None,
            ylim: tuple[float, float] | None = None, *, args: tuple[Any, ...] = (),
            resolution: int = 80, log: bool = False, ax: Any = None, title: str | None = None) -> Any:
    r"""3-D surface of a 2-D function.

    Parameters
    ----------
    fun : callable
        As for :func:`paths`.
    xlim, ylim : (float, float), optional
        Default: the documented box of a :mod:`pygd.testing` function, else
        ``(-2, 2)``.
    args : tuple
        Extra arguments to ``fun``.
    resolution : int, default 80
        Grid points per axis.
    log : bool, default False
        Plot :math:`\log_{10}(1 + f - \min f)` (shows the floor of steep
        functions such as Rosenbrock).
    ax : matplotlib 3-D Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Its axes are 3-D and hold one surface (a ``Poly3DCollection``).

    Examples
    --------
    >>> from pygd import plot, testing
    >>> fig = plot.surface(testing.himmelblau)
    >>> fig.axes[0].name
    '3d'
    """
    problem = _problem_of(fun)
    if not args and problem is not None:
        args = problem.args
    if xlim is None:
        xlim = problem.xlim if problem is not None else (-2.0, 2.0)
    if ylim is None:
        ylim = problem.ylim if problem is not None else (-2.0, 2.0)
    X, Y = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    Z = _grid_values(fun, X, Y, args)
    zlabel = "f(x, y)"
    if log:
        Z = np.log10(1.0 + Z - np.nanmin(Z))
        zlabel = "log10(1 + f - min f)"
    fig, ax = _figure_and_axes(ax, (6.4, 5.0), projection="3d")
    ax.plot_surface(X, Y, Z, cmap="viridis", linewidth=0, antialiased=True, rcount=resolution,
                    ccount=resolution, alpha=0.95)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel(zlabel)
    name = getattr(fun, "__name__", "f")
    ax.set_title(title if title is not None else f"{name}", fontsize=11)
    return fig


def loss_curve(estimator: Any, *, ax: Any = None, title: str | None = None, log: bool | None = None) -> Any:
    """A fitted estimator's training loss per epoch, and its validation scores when it has them.

    Parameters
    ----------
    estimator : object
        Anything with ``loss_curve_`` (a sequence of per-epoch losses), such
        as a fitted ``pygd.linear_model.GDRegressor`` or scikit-learn's
        ``MLPRegressor``; ``validation_scores_`` (if present and not empty) is
        drawn on a second y axis.
    ax : matplotlib Axes, optional
    title : str, optional
    log : bool, optional
        Log scale for the loss; default when every loss is positive and they
        span more than two decades.

    Returns
    -------
    matplotlib.figure.Figure
        The loss line, plus a validation-score line on a twin axis.

    Raises
    ------
    ValueError
        If the estimator has no ``loss_curve_`` (not fitted).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pygd import plot
    >>> est = SimpleNamespace(loss_curve_=[1.0, 0.5, 0.3], validation_scores_=[0.2, 0.6, 0.7])
    >>> fig = plot.loss_curve(est)
    >>> len(fig.axes)
    2
    """
    losses = getattr(estimator, "loss_curve_", None)
    if losses is None:
        raise ValueError(f"{type(estimator).__name__} has no loss_curve_: fit it first")
    losses = np.asarray(losses, dtype=np.float64).ravel()
    if losses.size == 0:
        raise ValueError("loss_curve_ is empty")
    scores = getattr(estimator, "validation_scores_", None)
    scores = None if scores is None or len(scores) == 0 else np.asarray(scores, dtype=np.float64).ravel()
    fig, ax = _figure_and_axes(ax, (6.4, 4.2))
    epochs = np.arange(1, losses.size + 1)
    ax.plot(epochs, losses, color="tab:blue", marker="o" if losses.size <= 30 else None,
            markersize=3, label="training loss")
    finite = losses[np.isfinite(losses)]
    if log is None:
        log = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    ax.grid(True, alpha=0.3)
    handles = ax.get_lines()[:]
    if scores is not None:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, scores.size + 1), scores, color="tab:orange",
                 marker="s" if scores.size <= 30 else None, markersize=3, label="validation score")
        ax2.set_ylabel("validation score", color="tab:orange")
        handles += ax2.get_lines()
    ax.legend(handles, [h.get_label() for h in handles], fontsize=9, loc="center right")
    ax.set_title(title if title is not None else f"{type(estimator).__name__}: loss per epoch", fontsize=11)
    return fig
