"""Input checks shared by pygd's low-level functions.

Every check raises ``ValueError`` naming the argument and the problem.  Nothing
is copied unless it has to be: a float32/float64 array that is aligned, in
native byte order and with strides that are whole items reaches the kernels
as it is (C order, F order or strided, read-only or not).
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(dtype: np.dtype) -> str:
    return f"{dtype} (kind {dtype.kind!r})"


def float_matrix(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a 2-D float32/float64 array the kernels accept, copying only if needed."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got a {X.ndim}-D array of shape {X.shape}")
    if X.dtype.kind != "f" or X.dtype.itemsize not in (4, 8):
        raise ValueError(
            f"{name} must have dtype float32 or float64, got {_describe(X.dtype)}; "
            f"convert it with {name}.astype(np.float64)"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {X.shape}")
    if not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    if not X.flags.aligned or any(s % X.itemsize for s in X.strides):
        X = np.array(X, order="C")
    return X


def float_vector(
    v: Any, name: str, length: int, dtype: np.dtype, *, finite: bool = True
) -> np.ndarray:
    """``v`` as a contiguous 1-D array of ``dtype`` with ``length`` entries."""
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise ValueError(f"{name} must contain real numbers, got dtype {_describe(v.dtype)}")
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got a {v.ndim}-D array of shape {v.shape}")
    if v.shape[0] != length:
        raise ValueError(f"{name} has {v.shape[0]} entries, expected {length}")
    with np.errstate(over="ignore"):
        v = np.ascontiguousarray(v, dtype=dtype)
    if finite and not np.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or infinity (as {np.dtype(dtype).name})")
    return v


def finite_scalar(value: Any, name: str, *, minimum: float | None = None) -> float:
    """``value`` as a finite Python float, optionally >= ``minimum``."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.size != 1 or arr.ndim > 1:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(arr.reshape(()))
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    return result


def sample_weights(sample_weight: Any, length: int, dtype: np.dtype) -> np.ndarray | None:
    """Non-negative finite weights, not all zero; None stays None (all ones)."""
    if sample_weight is None:
        return None
    w = float_vector(sample_weight, "sample_weight", length, dtype)
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative; found negative weights")
    if not (w > 0).any():
        raise ValueError("sample_weight must not be all zero")
    return w


def core_suffix(dtype: np.dtype) -> str:
    """'f32' or 'f64': which compiled function of a pair to call."""
    return "f32" if np.dtype(dtype) == np.float32 else "f64"
