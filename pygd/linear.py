"""Loss, gradient and prediction of linear models over whole batches.

These are the low-level kernels the estimators are built on: validated here,
computed in C++ (one pass over ``X``, OpenMP over fixed row blocks, SIMD level
chosen at import), with :mod:`pygd.reference` as their specification.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _core
from ._validation import core_suffix, finite_scalar, float_matrix, float_vector, sample_weights

__all__ = ["LOSSES", "loss_grad", "predict"]

#: Loss names accepted by :func:`loss_grad`.
LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
    "log_loss",
)


def loss_grad(
    X: Any,
    y: Any,
    coef: Any,
    intercept: float = 0.0,
    *,
    loss: str = "squared_error",
    sample_weight: Any = None,
    epsilon: float = 0.1,
) -> tuple[float, np.ndarray, np.floating]:
    r"""Mean loss of a linear model and its gradient, in one pass over ``X``.

    With :math:`p_i = x_i \cdot w + b` and weights :math:`s_i` (all 1 when
    ``sample_weight`` is None):

    .. math::

        L = \frac{\sum_i s_i \ell(p_i, y_i)}{\sum_i s_i}, \qquad
        \nabla_w L = \frac{\sum_i s_i \ell'(p_i, y_i) x_i}{\sum_i s_i}, \qquad
        \partial_b L = \frac{\sum_i s_i \ell'(p_i, y_i)}{\sum_i s_i}

    where, with :math:`r = p - y` and :math:`\varepsilon` = ``epsilon``,

    - ``"squared_error"``: :math:`\ell = r^2/2`
    - ``"huber"``: :math:`r^2/2` if :math:`|r| \le \varepsilon`, else
      :math:`\varepsilon|r| - \varepsilon^2/2`
    - ``"epsilon_insensitive"``: :math:`\max(0, |r| - \varepsilon)`
    - ``"squared_epsilon_insensitive"``: :math:`\max(0, |r| - \varepsilon)^2`
    - ``"log_loss"`` (``y`` in [0, 1]): :math:`\log(1 + e^p) - y p`, evaluated
      without overflow for any finite :math:`p`.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        float32 or float64, any memory layout, read-only allowed.  Not copied
        when it is an aligned float array in native byte order.
    y : array_like of shape (n_samples,)
        Targets (cast to ``X.dtype``).
    coef : array_like of shape (n_features,)
        Weights (cast to ``X.dtype``).
    intercept : float, default 0.0
    loss : str, default "squared_error"
        One of :data:`LOSSES`.
    sample_weight : array_like of shape (n_samples,), optional
        Non-negative, not all zero.
    epsilon : float, default 0.1
        Width for the huber and epsilon-insensitive losses; >= 0.

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_features,) and dtype ``X.dtype``
    grad_intercept : numpy scalar of dtype ``X.dtype``

    Raises
    ------
    ValueError
        For mismatched lengths, wrong dimensions, non-float ``X``, NaN or
        infinity in any input, negative or all-zero weights, an unknown loss,
        or a negative epsilon.

    Notes
    -----
    Sums are accumulated in float64 for both dtypes.  The result is bitwise
    identical for any number of threads at a given SIMD level.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.linear import loss_grad
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]]); y = np.array([1.0, 2.0])
    >>> loss, grad_coef, grad_intercept = loss_grad(X, y, np.zeros(2))
    >>> loss, grad_coef.tolist(), float(grad_intercept)
    (1.25, [-3.5, -5.0], -1.5)
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    X = float_matrix(X)
    n, d = X.shape
    dtype = X.dtype
    y = float_vector(y, "y", n, dtype)
    if loss == "log_loss" and ((y < 0).any() or (y > 1).any()):
        raise ValueError("y must lie in [0, 1] for loss='log_loss' (use 0/1 labels)")
    coef = float_vector(coef, "coef", d, dtype)
    intercept = float(dtype.type(finite_scalar(intercept, "intercept")))
    epsilon = finite_scalar(epsilon, "epsilon", minimum=0.0)
    weights = sample_weights(sample_weight, n, dtype)

    kernel = getattr(_core, "loss_grad_" + core_suffix(dtype))
    value, grad_coef, grad_intercept = kernel(X, y, coef, intercept, loss, weights, epsilon)
    if not (np.isfinite(value) and np.isfinite(grad_intercept) and np.isfinite(grad_coef).all()):
        _raise_if_nonfinite(X)
        warnings.warn(
            f"loss_grad overflowed (loss={value}); the model's predictions are too large "
            f"for {dtype.name}",
            RuntimeWarning,
            stacklevel=2,
        )
    return value, grad_coef, dtype.type(grad_intercept)


def predict(X: Any, coef: Any, intercept: float = 0.0) -> np.ndarray:
    """Predictions ``X @ coef + intercept`` of a linear model, in parallel.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        float32 or float64, any memory layout, read-only allowed.
    coef : array_like of shape (n_features,)
        Cast to ``X.dtype``.
    intercept : float, default 0.0

    Returns
    -------
    ndarray of shape (n_samples,) and dtype ``X.dtype``
        Computed in float64 and rounded to ``X.dtype``.

    Raises
    ------
    ValueError
        For wrong shapes or dtypes, or NaN or infinity in any input.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.linear import predict
    >>> predict(np.array([[1.0, 2.0], [3.0, 4.0]]), [1.0, -1.0], 0.5).tolist()
    [-0.5, -0.5]
    """
    X = float_matrix(X)
    dtype = X.dtype
    coef = float_vector(coef, "coef", X.shape[1], dtype)
    intercept = float(dtype.type(finite_scalar(intercept, "intercept")))
    out = getattr(_core, "predict_" + core_suffix(dtype))(X, coef, intercept)
    if not np.isfinite(out).all():
        _raise_if_nonfinite(X)
        warnings.warn(
            f"predict overflowed: some predictions are too large for {dtype.name}",
            RuntimeWarning,
            stacklevel=2,
        )
    return out


def _raise_if_nonfinite(X: np.ndarray) -> None:
    # Called only when an output is not finite: a non-finite X always reaches
    # the outputs, so X needs no separate pass on the normal path.
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
