"""Standard test functions for optimisers, with analytic gradients and documented minima.

Like :mod:`iminuit.testing`, these are public so that anyone can try an
optimiser on a problem whose answer is known.  Each function ``f(x)`` takes an
array whose *first* axis holds the coordinates, so it evaluates one point
(``x.shape == (n,)``) or a whole grid at once (``np.stack([X, Y])``); each
``f_grad(x)`` returns an array of ``x``'s shape.  Every gradient is tested
against finite differences with :func:`pygd.check_grad`, and every documented
minimum is tested for its value and a zero gradient.

The documented minima are in :data:`PROBLEMS`, one :class:`Problem` per
function (minimisers, minimum value, a box that frames them for plots).

Examples
--------
>>> import numpy as np
>>> from pygd import testing
>>> float(testing.himmelblau([3.0, 2.0]))
0.0
>>> testing.PROBLEMS["himmelblau"].minima.shape
(4, 2)
>>> X, Y = np.meshgrid(np.linspace(-5, 5, 3), np.linspace(-5, 5, 3))
>>> testing.himmelblau(np.stack([X, Y])).shape
(3, 3)

Slightly over 500 lines: seven test functions, each with its gradient, documented minima
and an example.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PROBLEMS",
    "Problem",
    "beale",
    "beale_grad",
    "booth",
    "booth_grad",
    "himmelblau",
    "himmelblau_grad",
    "quadratic",
    "quadratic_grad",
    "rosenbrock",
    "rosenbrock_grad",
    "saddle",
    "saddle_grad",
    "six_hump_camel",
    "six_hump_camel_grad",
]


def _as_points(x: ArrayLike, name: str, ndim: int | None = 2) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError(f"{name}: x must have at least one dimension (the coordinates), got a scalar")
    if ndim is not None and x.shape[0] != ndim:
        raise ValueError(f"{name} is a function of {ndim} variables: x.shape[0] must be {ndim}, got shape {x.shape}")
    return x


# -- Himmelblau --------------------------------------------------------------
def himmelblau(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""Himmelblau's function :math:`(x^2 + y - 11)^2 + (x + y^2 - 7)^2`.

    Four global minima, all with value 0: ``(3, 2)``, ``(-2.805118, 3.131313)``,
    ``(-3.779310, -3.283186)`` and ``(3.584428, -1.848127)`` (full precision in
    ``PROBLEMS["himmelblau"].minima``); a local maximum at
    ``(-0.270845, -0.923039)`` and four saddle points.  Which minimum gradient
    descent reaches depends on the start and on the optimiser.

    Parameters
    ----------
    x : array_like, shape (2, ...)
        The point(s); ``x[0]`` is x and ``x[1]`` is y.

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.himmelblau([0.0, 0.0]))
    170.0
    """
    x = _as_points(x, "himmelblau")
    a = x[0] * x[0] + x[1] - 11.0
    b = x[0] + x[1] * x[1] - 7.0
    return a * a + b * b


def himmelblau_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`himmelblau`.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.himmelblau_grad([0.0, 0.0]).tolist()
    [-14.0, -22.0]
    """
    x = _as_points(x, "himmelblau_grad")
    a = x[0] * x[0] + x[1] - 11.0
    b = x[0] + x[1] * x[1] - 7.0
    return np.stack([4.0 * x[0] * a + 2.0 * b, 2.0 * a + 4.0 * x[1] * b])


# -- Rosenbrock ----------------------------------------------------------------
def rosenbrock(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""The n-dimensional Rosenbrock function :math:`\sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`.

    Same definition as :func:`scipy.optimize.rosen`.  Global minimum 0 at
    ``(1, ..., 1)``, at the end of a long, flat, curved valley: the classic
    case where plain gradient descent crawls and momentum helps.  (For
    4 <= n <= 7 there is also a local minimum near ``(-1, 1, ..., 1)``.)

    Parameters
    ----------
    x : array_like, shape (n, ...), n >= 2

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.rosenbrock([1.0, 1.0, 1.0]))
    0.0
    >>> float(testing.rosenbrock([0.0, 0.0]))
    1.0
    """
    x = _as_points(x, "rosenbrock", ndim=None)
    if x.shape[0] < 2:
        raise ValueError(f"rosenbrock needs at least 2 variables, got shape {x.shape}")
    head, tail = x[:-1], x[1:]
    return np.sum(100.0 * (tail - head * head) ** 2 + (1.0 - head) ** 2, axis=0)


def rosenbrock_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`rosenbrock` (same as :func:`scipy.optimize.rosen_der`).

    Parameters
    ----------
    x : array_like, shape (n, ...), n >= 2

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.rosenbrock_grad([0.0, 0.0]).tolist()
    [-2.0, 0.0]
    """
    x = _as_points(x, "rosenbrock_grad", ndim=None)
    if x.shape[0] < 2:
        raise ValueError(f"rosenbrock_grad needs at least 2 variables, got shape {x.shape}")
    head, tail = x[:-1], x[1:]
    inner = tail - head * head  # x_{i+1} - x_i^2
    grad = np.zeros_like(x)
    grad[:-1] = -400.0 * head * inner - 2.0 * (1.0 - head)
    grad[1:] += 200.0 * inner
    return grad


# -- Beale ---------------------------------------------------------------------
_BEALE_C = (1.5, 2.25, 2.625)


def beale(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""Beale's function :math:`\sum_{k=1}^{3} (c_k - x + x y^k)^2`, ``c = (1.5, 2.25, 2.625)``.

    Global minimum 0 at ``(3, 0.5)``; steep walls and flat regions, usually
    plotted on ``[-4.5, 4.5]^2``.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.beale([3.0, 0.5]))
    0.0
    """
    x = _as_points(x, "beale")
    total = 0.0
    for k, c in enumerate(_BEALE_C, start=1):
        r = c - x[0] + x[0] * x[1] ** k
        total = total + r * r
    return total


def beale_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`beale`.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.beale_grad([3.0, 0.5]).tolist()
    [0.0, 0.0]
    """
    x = _as_points(x, "beale_grad")
    gx = 0.0
    gy = 0.0
    for k, c in enumerate(_BEALE_C, start=1):
        r = c - x[0] + x[0] * x[1] ** k
        gx = gx + 2.0 * r * (x[1] ** k - 1.0)
        gy = gy + 2.0 * r * k * x[0] * x[1] ** (k - 1)
    return np.stack(np.broadcast_arrays(gx, gy)).astype(np.float64)


# -- Booth -----------------------------------------------------------------------
def booth(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""Booth's function :math:`(x + 2y - 7)^2 + (2x + y - 5)^2`.

    A convex quadratic (Hessian ``[[10, 8], [8, 10]]``, condition number 9)
    with its minimum 0 at ``(1, 3)``; gradient descent converges for
    ``lr < 2 / 18``.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.booth([1.0, 3.0]))
    0.0
    """
    x = _as_points(x, "booth")
    a = x[0] + 2.0 * x[1] - 7.0
    b = 2.0 * x[0] + x[1] - 5.0
    return a * a + b * b


def booth_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`booth`.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.booth_grad([0.0, 0.0]).tolist()
    [-34.0, -38.0]
    """
    x = _as_points(x, "booth_grad")
    a = x[0] + 2.0 * x[1] - 7.0
    b = 2.0 * x[0] + x[1] - 5.0
    return np.stack([2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])


# -- quadratic ---------------------------------------------------------------------
def _quadratic_curvatures(n: int, cond: float) -> NDArray[np.float64]:
    if not np.isfinite(cond) or cond < 1.0:
        raise ValueError(f"cond (the condition number) must be a finite number >= 1, got {cond!r}")
    if n == 1:
        return np.ones(1)
    return cond ** (np.arange(n) / (n - 1.0))


def quadratic(x: ArrayLike, cond: float = 10.0) -> NDArray[np.float64] | float:
    r"""An axis-aligned convex quadratic :math:`\frac12 \sum_i \lambda_i x_i^2` with condition number ``cond``.

    The curvatures are :math:`\lambda_i = \mathrm{cond}^{i/(n-1)}`, from 1 to
    ``cond`` (log-spaced).  Minimum 0 at the origin.  Plain gradient descent
    converges for ``lr < 2 / cond``, fastest near ``lr = 2 / (1 + cond)``, and
    diverges above ``2 / cond``: the textbook picture of the learning rate.
    Pass ``cond`` to :func:`pygd.minimize` with ``args=(cond,)``.

    Parameters
    ----------
    x : array_like, shape (n, ...)
    cond : float, default 10
        The condition number (largest over smallest curvature), >= 1.

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.quadratic([1.0, 1.0], cond=10.0))
    5.5
    """
    x = _as_points(x, "quadratic", ndim=None)
    lam = _quadratic_curvatures(x.shape[0], cond).reshape((-1,) + (1,) * (x.ndim - 1))
    return 0.5 * np.sum(lam * x * x, axis=0)


def quadratic_grad(x: ArrayLike, cond: float = 10.0) -> NDArray[np.float64]:
    """Gradient of :func:`quadratic`: ``lambda_i * x_i``.

    Parameters
    ----------
    x : array_like, shape (n, ...)
    cond : float, default 10

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.quadratic_grad([1.0, 1.0], cond=10.0).tolist()
    [1.0, 10.0]
    """
    x = _as_points(x, "quadratic_grad", ndim=None)
    lam = _quadratic_curvatures(x.shape[0], cond).reshape((-1,) + (1,) * (x.ndim - 1))
    return lam * x


# -- saddle ------------------------------------------------------------------------
def saddle(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""The saddle :math:`x^2 - y^2`: a stationary point at the origin that is not a minimum.

    Unbounded below (no minimum); ``PROBLEMS["saddle"].minima`` holds the
    stationary point ``(0, 0)`` with value 0.  Started exactly on the x axis,
    gradient descent walks into the saddle; any tiny y escapes it.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> float(testing.saddle([1.0, 2.0]))
    -3.0
    """
    x = _as_points(x, "saddle")
    return x[0] * x[0] - x[1] * x[1]


def saddle_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`saddle`: ``(2x, -2y)``.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.saddle_grad([1.0, 2.0]).tolist()
    [2.0, -4.0]
    """
    x = _as_points(x, "saddle_grad")
    return np.stack([2.0 * x[0], -2.0 * x[1]])


# -- six-hump camel ------------------------------------------------------------------
def six_hump_camel(x: ArrayLike) -> NDArray[np.float64] | float:
    r"""The six-hump camel :math:`(4 - 2.1x^2 + x^4/3)x^2 + xy + (4y^2 - 4)y^2`.

    Six local minima; two global ones, value -1.0316284534898774, at
    ``±(0.0898420131, -0.7126564030)``.  Usually plotted on
    ``[-2, 2] x [-1, 1]``.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    float or ndarray, shape x.shape[1:]

    Examples
    --------
    >>> from pygd import testing
    >>> round(float(testing.six_hump_camel([0.0898420131, -0.7126564030])), 10)
    -1.0316284535
    """
    x = _as_points(x, "six_hump_camel")
    x2 = x[0] * x[0]
    y2 = x[1] * x[1]
    return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x[0] * x[1] + (4.0 * y2 - 4.0) * y2


def six_hump_camel_grad(x: ArrayLike) -> NDArray[np.float64]:
    """Gradient of :func:`six_hump_camel`.

    Parameters
    ----------
    x : array_like, shape (2, ...)

    Returns
    -------
    ndarray, shape x.shape

    Examples
    --------
    >>> from pygd import testing
    >>> testing.six_hump_camel_grad([0.0, 0.0]).tolist()
    [0.0, 0.0]
    """
    x = _as_points(x, "six_hump_camel_grad")
    x2 = x[0] * x[0]
    return np.stack([
        8.0 * x[0] - 8.4 * x2 * x[0] + 2.0 * x2 * x2 * x[0] + x[1],
        x[0] - 8.0 * x[1] + 16.0 * x[1] ** 3,
    ])


# -- the documented minima --------------------------------------------------------------
class Problem(NamedTuple):
    """A test function with its gradient and its documented minima.

    Attributes
    ----------
    name : str
    fun, grad : callable
        ``fun(x, *args)`` and ``grad(x, *args)``.
    minima : ndarray, shape (k, n)
        The global minimisers (for ``saddle``: its stationary point; for
        ``rosenbrock`` and ``quadratic``: the 2-D case, the n-D minimiser is
        ``ones(n)`` and ``zeros(n)``).
    minimum : float
        ``fun`` at each of ``minima``.
    xlim, ylim : tuple of float
        A box framing the interesting region, for plots.
    args : tuple
        Extra arguments used with ``fun`` in the 2-D case (``quadratic``: ``(cond,)``).
    """

    name: str
    fun: Callable[..., Any]
    grad: Callable[..., Any]
    minima: NDArray[np.float64]
    minimum: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    args: tuple[Any, ...] = ()


def _frozen(rows: list[list[float]]) -> NDArray[np.float64]:
    a = np.array(rows, dtype=np.float64)
    a.setflags(write=False)
    return a


#: Every test function by name, with its minima (see :class:`Problem`).
PROBLEMS: dict[str, Problem] = {
    "himmelblau": Problem(
        "himmelblau", himmelblau, himmelblau_grad,
        _frozen([[3.0, 2.0],
                 [-2.805118086952745, 3.131312518250573],
                 [-3.779310253377747, -3.2831859912861696],
                 [3.5844283403304917, -1.8481265269644034]]),
        0.0, (-5.0, 5.0), (-5.0, 5.0)),
    "rosenbrock": Problem("rosenbrock", rosenbrock, rosenbrock_grad, _frozen([[1.0, 1.0]]), 0.0,
                          (-2.0, 2.0), (-1.0, 3.0)),
    "beale": Problem("beale", beale, beale_grad, _frozen([[3.0, 0.5]]), 0.0, (-4.5, 4.5), (-4.5, 4.5)),
    "booth": Problem("booth", booth, booth_grad, _frozen([[1.0, 3.0]]), 0.0, (-10.0, 10.0), (-10.0, 10.0)),
    "quadratic": Problem("quadratic", quadratic, quadratic_grad, _frozen([[0.0, 0.0]]), 0.0,
                         (-2.0, 2.0), (-2.0, 2.0), (10.0,)),
    "saddle": Problem("saddle", saddle, saddle_grad, _frozen([[0.0, 0.0]]), 0.0, (-2.0, 2.0), (-2.0, 2.0)),
    "six_hump_camel": Problem(
        "six_hump_camel", six_hump_camel, six_hump_camel_grad,
        _frozen([[0.08984201310031807, -0.7126564030207396],
                 [-0.08984201310031807, 0.7126564030207396]]),
        -1.0316284534898774, (-2.0, 2.0), (-1.0, 1.0)),
}
