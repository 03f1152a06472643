"""Plain NumPy versions of every pygd kernel: the executable specification.

Each function here computes, slowly and obviously, what the C++ kernel of the
same name computes; the tests compare the two.  Inputs are assumed valid (the
public functions validate).  Arithmetic is in float64; results are rounded to
the input dtype where the kernel returns that dtype.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["LOSS_FUNCTIONS", "loss_grad", "predict"]


def _squared_error(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    return 0.5 * r * r, r


def _huber(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    inside = np.abs(r) <= eps
    loss = np.where(inside, 0.5 * r * r, eps * np.abs(r) - 0.5 * eps * eps)
    return loss, np.where(inside, r, eps * np.sign(r))


def _epsilon_insensitive(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    excess = np.abs(r) - eps
    return np.maximum(excess, 0.0), np.where(excess > 0, np.sign(r), 0.0)


def _squared_epsilon_insensitive(
    p: np.ndarray, y: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    excess = np.maximum(np.abs(r) - eps, 0.0)
    return excess * excess, 2.0 * excess * np.sign(r)


def _log_loss(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    # log(1 + e^p) = max(p, 0) + log1p(e^-|p|); sigmoid from e^-|p| <= 1.
    e = np.exp(-np.abs(p))
    loss = np.maximum(p, 0.0) + np.log1p(e) - y * p
    sigmoid = np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return loss, sigmoid - y


#: loss name -> f(p, y, epsilon) returning (loss per sample, derivative in p).
LOSS_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]] = {
    "squared_error": _squared_error,
    "huber": _huber,
    "epsilon_insensitive": _epsilon_insensitive,
    "squared_epsilon_insensitive": _squared_epsilon_insensitive,
    "log_loss": _log_loss,
}


def predict(X: np.ndarray, coef: Any, intercept: float = 0.0) -> np.ndarray:
    """``X @ coef + intercept`` in float64, rounded to ``X.dtype``.

    ``coef`` and ``intercept`` are first rounded to ``X.dtype``.
    """
    dtype = X.dtype
    coef64 = np.asarray(coef, dtype=dtype).astype(np.float64)
    b = float(dtype.type(intercept))
    return (X.astype(np.float64) @ coef64 + b).astype(dtype)


def loss_grad(
    X: np.ndarray,
    y: Any,
    coef: Any,
    intercept: float = 0.0,
    *,
    loss: str = "squared_error",
    sample_weight: Any = None,
    epsilon: float = 0.1,
) -> tuple[float, np.ndarray, np.floating]:
    r"""Loss and gradient of a linear model (see :func:`pygd.linear.loss_grad`).

    With :math:`p = X w + b`, weights :math:`s` and :math:`S = \sum_i s_i`:
    ``loss = s @ l(p, y) / S``, ``grad_coef = X.T @ (s * l'(p, y)) / S``,
    ``grad_intercept = sum(s * l'(p, y)) / S``.  ``y``, ``coef``,
    ``intercept`` and ``sample_weight`` are first rounded to ``X.dtype``.
    """
    dtype = X.dtype
    X64 = X.astype(np.float64)
    y64 = np.asarray(y, dtype=dtype).astype(np.float64)
    w64 = np.asarray(coef, dtype=dtype).astype(np.float64)
    b = float(dtype.type(intercept))
    s = (
        np.ones(X.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=dtype).astype(np.float64)
    )
    p = X64 @ w64 + b
    l, dl = LOSS_FUNCTIONS[loss](p, y64, float(epsilon))
    total = s.sum()
    g = s * dl
    return float(s @ l / total), (X64.T @ g / total).astype(dtype), dtype.type(g.sum() / total)
