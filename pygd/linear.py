"""Loss, gradient and prediction of linear models over whole batches.

These are the low-level kernels the estimators are built on: validated here,
computed in C++ (one pass over ``X``, OpenMP over fixed row blocks, SIMD level
chosen at import), with :mod:`pygd.reference` as their specification.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core
from ._sparse import check_csr, kernel_ready
from ._validation import core_suffix, finite_scalar, float_matrix, float_vector, sample_weights

__all__ = ["LOSSES", "loss_grad", "predict"]

#: Loss names accepted by :func:`loss_grad`.
LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
    "log_loss",
    "multinomial",
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
) -> tuple[float, np.ndarray, Any]:
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
    - ``"multinomial"``: a k-class model, ``coef`` of shape (k, d), ``intercept``
      of shape (k,) (or a scalar for all), logits :math:`p_{it} = x_i \cdot w_t + b_t`
      and :math:`\ell_i = \sum_t y_{it}(\operatorname{lse}(p_i) - p_{it})`, the
      softmax cross-entropy (log-sum-exp: finite for any finite logits), with
      :math:`\partial \ell_i / \partial p_{it} = (\sum_s y_{is})\,\mathrm{softmax}(p_i)_t - y_{it}`.
      ``y`` holds integer class numbers in [0, k) of shape (n_samples,), or
      class probabilities of shape (n_samples, k).  All k gradients come from
      one pass over ``X``.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64, any memory layout, read-only allowed.  Not copied
        when it is an aligned float array in native byte order.  A sparse
        matrix is read in CSR form (other formats are converted once) without
        densifying: the cost follows its stored values, and duplicate entries
        add up as in the dense matrix they stand for.
    y : array_like of shape (n_samples,) or (n_samples, k)
        Targets (cast to ``X.dtype``); see ``"multinomial"`` above.
    coef : array_like of shape (n_features,) or (k, n_features)
        Weights (cast to ``X.dtype``); (k, n_features) for ``"multinomial"``.
    intercept : float or array_like of shape (k,), default 0.0
    loss : str, default "squared_error"
        One of :data:`LOSSES`.
    sample_weight : array_like of shape (n_samples,), optional
        Non-negative, not all zero.
    epsilon : float, default 0.1
        Width for the huber and epsilon-insensitive losses; >= 0.

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_features,) or (k, n_features), dtype ``X.dtype``
    grad_intercept : numpy scalar or ndarray of shape (k,), dtype ``X.dtype``

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
    >>> loss, grad_coef, grad_intercept = loss_grad(X, [0, 2], np.zeros((3, 2)), loss="multinomial")
    >>> round(loss, 6), grad_intercept.round(4).tolist()
    (1.098612, [-0.1667, 0.3333, -0.1667])
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if loss == "multinomial":
        return _multinomial_loss_grad(X, y, coef, intercept, sample_weight)
    Xc = _csr(X) if sp.issparse(X) else None
    X = float_matrix(X) if Xc is None else Xc
    n, d = X.shape
    dtype = X.dtype
    y = float_vector(y, "y", n, dtype)
    if loss == "log_loss" and ((y < 0).any() or (y > 1).any()):
        raise ValueError("y must lie in [0, 1] for loss='log_loss' (use 0/1 labels)")
    coef = float_vector(coef, "coef", d, dtype)
    intercept = float(dtype.type(finite_scalar(intercept, "intercept")))
    epsilon = finite_scalar(epsilon, "epsilon", minimum=0.0)
    weights = sample_weights(sample_weight, n, dtype)
    if Xc is not None:
        params = np.append(coef.astype(np.float64), intercept)
        value, grad = _csr_objective(Xc, y.reshape(n, 1), weights, params, loss, epsilon)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            warnings.warn(f"loss_grad overflowed (loss={value}); the model's predictions are too "
                          f"large for {dtype.name}", RuntimeWarning, stacklevel=2)
        return value, grad[:d].astype(dtype), dtype.type(grad[d])

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


def _csr(X: Any) -> Any:
    """Sparse X as the engine's CSR matrix (validated: structure, finite values, not empty).

    The kernels need no canonical form (duplicates add up, any order within a row), so a
    CSR matrix with float values and one int32/int64 index type goes straight to
    ``_core.CsrMatrix``, whose C++ passes check the structure and find NaN and infinity
    (``CsrMatrix.finite``); anything else goes through :func:`pygd._sparse.check_csr`.
    """
    if not kernel_ready(X):
        X = check_csr(X)
    Xc = _core.CsrMatrix(X.data, X.indices, X.indptr, X.shape[1])
    if not Xc.finite:
        raise ValueError("Input X contains NaN or infinity.")
    return Xc


def _csr_objective(Xc: Any, Y: np.ndarray, weights: np.ndarray | None, params: np.ndarray,
                   loss: str, epsilon: float) -> tuple[float, np.ndarray]:
    """Mean loss and gradient (coef row-major, then intercepts) by the engine's CSR kernel."""
    options = _core.TrainOptions.for_objective(_core.Loss.__members__[loss], epsilon)
    grad = np.empty_like(params)
    engine = getattr(_core, "objective_grad_" + core_suffix(Xc.dtype))
    value, _, _ = engine(Xc, Y, weights, None, params, grad, None, None, options)
    return value, grad


def _multinomial_loss_grad(
    X: Any, y: Any, coef: Any, intercept: Any, sample_weight: Any
) -> tuple[float, np.ndarray, np.ndarray]:
    Xc = _csr(X) if sp.issparse(X) else None
    X = float_matrix(X) if Xc is None else Xc
    n, d = X.shape
    dtype = X.dtype
    W = np.asarray(coef)
    if W.dtype.kind not in "biuf":
        raise ValueError(f"coef must contain real numbers, got dtype {W.dtype}")
    if W.ndim != 2 or W.shape[1] != d or W.shape[0] < 1:
        raise ValueError(f"coef must have shape (k, {d}) for loss='multinomial', got {W.shape}")
    k = W.shape[0]
    W = float_vector(W.reshape(-1), "coef", k * d, dtype).reshape(k, d)
    b = np.asarray(intercept)
    if b.ndim == 0:
        b = np.full(k, finite_scalar(b, "intercept"))
    b = float_vector(b, "intercept", k, dtype).astype(np.float64)
    Y = np.asarray(y)
    if Y.ndim == 1:
        if Y.dtype.kind not in "biu" and not (Y.dtype.kind == "f" and np.all(Y == np.round(Y))):
            raise ValueError("y of shape (n_samples,) must hold integer class numbers for "
                             "loss='multinomial'")
        if Y.shape[0] != n:
            raise ValueError(f"y has {Y.shape[0]} entries, expected {n}")
        if (Y < 0).any() or (Y >= k).any():
            raise ValueError(f"y's class numbers must lie in [0, {k}) for coef with {k} rows")
        onehot = np.zeros((n, k), dtype=dtype)
        onehot[np.arange(n), Y.astype(np.int64)] = 1
        Y = onehot
    elif Y.ndim == 2:
        if Y.shape != (n, k):
            raise ValueError(f"y must have shape ({n}, {k}) (class probabilities), got {Y.shape}")
        Y = float_vector(Y.reshape(-1), "y", n * k, dtype).reshape(n, k)
        if (Y < 0).any():
            raise ValueError("y's class probabilities must be non-negative")
    else:
        raise ValueError(f"y must be 1-D class numbers or 2-D class probabilities, got {Y.ndim}-D")
    weights = sample_weights(sample_weight, n, dtype)
    if Xc is not None:
        params = np.concatenate([W.astype(np.float64).ravel(), b])
        value, grad = _csr_objective(Xc, np.ascontiguousarray(Y, dtype=dtype), weights, params,
                                     "multinomial", 0.0)
        grad_coef, grad_intercept = grad[: k * d].reshape(k, d).astype(dtype), grad[k * d :].astype(dtype)
        if not (np.isfinite(value) and np.isfinite(grad).all()):
            warnings.warn(f"loss_grad overflowed (loss={value}); the model's logits are too large "
                          f"for {dtype.name}", RuntimeWarning, stacklevel=3)
        return value, grad_coef, grad_intercept
    kernel = getattr(_core, "multinomial_loss_grad_" + core_suffix(dtype))
    value, grad_coef, grad_intercept = kernel(X, Y, W, b, weights)
    if not (np.isfinite(value) and np.isfinite(grad_intercept).all() and np.isfinite(grad_coef).all()):
        _raise_if_nonfinite(X)
        warnings.warn(f"loss_grad overflowed (loss={value}); the model's logits are too large "
                      f"for {dtype.name}", RuntimeWarning, stacklevel=3)
    return value, grad_coef, grad_intercept


def predict(X: Any, coef: Any, intercept: float = 0.0) -> np.ndarray:
    """Predictions ``X @ coef + intercept`` of a linear model, in parallel.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        float32 or float64, any memory layout, read-only allowed; sparse
        matrices are read in CSR form, never densified.
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
    Xc = _csr(X) if sp.issparse(X) else None
    X = float_matrix(X) if Xc is None else Xc
    dtype = X.dtype
    coef = float_vector(coef, "coef", X.shape[1], dtype)
    intercept = float(dtype.type(finite_scalar(intercept, "intercept")))
    if Xc is not None:
        engine = getattr(_core, "batch_predict_" + core_suffix(dtype))
        out = engine(Xc, None, coef.astype(np.float64)[None, :], np.array([intercept]))[:, 0]
    else:
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
