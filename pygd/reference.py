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


# ---------------------------------------------------------------------------
# preprocessing (pygd.preprocessing.StandardScaler): column statistics and
# standardisation.  Kernels: csrc/kernels_preprocessing.cpp.
# ---------------------------------------------------------------------------

__all__ += ["column_stats", "merge_column_stats", "standard_scale", "standardize", "unstandardize"]


def column_stats(
    X: np.ndarray, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Weighted per-column count, mean and biased variance, NaNs left out.

    With weights :math:`s_i` (all 1 when ``sample_weight`` is None, else
    rounded to ``X.dtype``) and :math:`O_j = \{i : x_{ij} \text{ not NaN}\}`:

    .. math::

        W_j = \sum_{i \in O_j} s_i, \qquad
        \mu_j = \frac{1}{W_j} \sum_{i \in O_j} s_i x_{ij}, \qquad
        \sigma^2_j = \frac{1}{W_j} \sum_{i \in O_j} s_i (x_{ij} - \mu_j)^2

    computed by two passes in float64; :math:`\mu_j` and :math:`\sigma^2_j`
    are NaN where :math:`W_j = 0`.  Returns ``(W, mu, sigma2)``, float64.
    """
    X64 = X.astype(np.float64)
    s = (
        np.ones(X.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=X.dtype).astype(np.float64)
    )
    present = ~np.isnan(X64)
    Xz = np.where(present, X64, 0.0)
    S = s[:, None] * present
    weight = S.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (S * Xz).sum(axis=0) / weight
        dev = np.where(present, X64 - mean, 0.0)
        var = (S * dev * dev).sum(axis=0) / weight
    return weight, mean, var


def merge_column_stats(
    weight_a: np.ndarray,
    mean_a: np.ndarray,
    var_a: np.ndarray | None,
    weight_b: np.ndarray,
    mean_b: np.ndarray,
    var_b: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""Statistics of the union of two row sets from each one's (Chan et al. 1983).

    With :math:`W = W_a + W_b` and :math:`\delta = \mu_b - \mu_a`:

    .. math::

        \mu = \mu_a + \delta \frac{W_b}{W}, \qquad
        W \sigma^2 = W_a \sigma^2_a + W_b \sigma^2_b + \delta^2 \frac{W_a W_b}{W}

    A side with zero weight contributes nothing.  ``var_a``/``var_b`` may be
    None (then the merged variance is None).
    """
    weight_a = np.broadcast_to(np.asarray(weight_a, dtype=np.float64), np.shape(mean_a))
    weight_b = np.asarray(weight_b, dtype=np.float64)
    weight = weight_a + weight_b
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_b = weight_b / weight
        delta = mean_b - mean_a
        mean = np.where(weight_a > 0, mean_a + delta * frac_b, mean_b)
        mean = np.where(weight_b > 0, mean, mean_a)
        if var_a is None or var_b is None:
            return weight, mean, None
        m2 = weight_a * var_a + weight_b * var_b + delta * delta * weight_a * frac_b
        var = np.where(weight_a > 0, m2 / weight, var_b)
        var = np.where(weight_b > 0, var, var_a)
    return weight, mean, var


def standard_scale(var: np.ndarray, mean: np.ndarray, n_samples: Any) -> np.ndarray:
    r"""Scale :math:`\sqrt{\sigma^2_j}`, or 1 for a (near) constant column.

    As scikit-learn: column :math:`j` is constant when
    :math:`\sigma^2_j \le n \epsilon \sigma^2_j + (n \mu_j \epsilon)^2`
    (the error bound of the two-pass variance; :math:`\epsilon` is float64's
    machine epsilon, :math:`n` the samples seen).
    """
    eps = np.finfo(np.float64).eps
    n = np.asarray(n_samples, dtype=np.float64)
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return scale


def standardize(X: np.ndarray, center: Any, scale: Any) -> np.ndarray:
    r"""``(X - center) / scale`` column-wise, in float64, rounded to ``X.dtype``."""
    return ((X.astype(np.float64) - np.asarray(center, dtype=np.float64)) / scale).astype(X.dtype)


def unstandardize(X: np.ndarray, center: Any, scale: Any) -> np.ndarray:
    r"""``X * scale + center`` column-wise, in float64, rounded to ``X.dtype``."""
    return (X.astype(np.float64) * np.asarray(scale, dtype=np.float64) + center).astype(X.dtype)
