"""Gradient clipping in place, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import _FLOAT_DTYPES, _real

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grad_list(grads: Any) -> list[np.ndarray]:
    if isinstance(grads, np.ndarray):
        grads = [grads]
    out = list(grads)
    for i, g in enumerate(out):
        if not isinstance(g, np.ndarray) or g.dtype not in _FLOAT_DTYPES or not g.dtype.isnative:
            raise TypeError(f"grads[{i}] must be a float32/float64 NumPy array, got "
                            f"{type(g).__name__}{'' if not isinstance(g, np.ndarray) else ' of ' + str(g.dtype)}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{i}] is read-only; clipping works in place")
    return out


# Below this, sum |x|^p (or the norm) may have lost bits to underflow.
_TINY = math.ldexp(1.0, -960)


def _pow(x: float, y: float) -> float:
    """``x ** y``, infinity where Python's float power raises OverflowError."""
    try:
        return x**y
    except OverflowError:
        return math.inf


def _total_norm(sums: list[float], p: float) -> float:
    """The ``p``-norm of all arrays from their per-array ``sum |x|^p`` (max |x| for inf)."""
    if p == math.inf:
        total = 0.0
        for n in sums:  # max that keeps NaN
            if n != n or total != total:
                total = math.nan
            elif n > total:
                total = n
        return total
    if p == 2.0:
        norms = [math.sqrt(s) for s in sums]
        return math.sqrt(sum(n * n for n in norms))
    if p == 1.0:
        return sum(sums)
    norms = [_pow(s, 1.0 / p) for s in sums]
    return _pow(sum(_pow(n, p) for n in norms), 1.0 / p)


def clip_grad_norm_(grads: np.ndarray | Iterable[np.ndarray], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> float:
    r"""Scale gradients in place so that their total norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``
    norm of the per-array norms (arrays viewed as flat vectors), and every
    array is multiplied by :math:`\min(1, \text{max\_norm} / (\text{total} + 10^{-6}))`.
    Norms are computed in float64 with a fixed summation order, so the result
    does not depend on the number of threads.

    Parameters
    ----------
    grads : ndarray or iterable of ndarray
        Writable float32/float64 arrays, modified in place.
    max_norm : float
        >= 0 (infinity: measure without clipping).
    norm_type : float or "inf", default 2.0
        p > 0, or ``inf`` for the largest absolute value.
    error_if_nonfinite : bool, default False
        Raise ``RuntimeError`` (leaving the arrays unchanged) when the total norm
        is NaN or infinite; otherwise, as torch, the arrays are scaled by a NaN
        factor (and :meth:`Optimizer.step` will then refuse them).

    Returns
    -------
    float
        The total norm of the gradients before clipping (0.0 for no arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.optim import clip_grad_norm_
    >>> g = np.array([3.0, 4.0])
    >>> clip_grad_norm_([g], max_norm=1.0)
    5.0
    >>> g.round(6).tolist()
    [0.6, 0.8]
    """
    arrays = _grad_list(grads)
    max_norm = _real(max_norm, "max_norm")
    if max_norm < 0:
        # torch accepts it and flips the gradients' sign.
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    p = float(norm_type) if not isinstance(norm_type, str) else float(norm_type.strip())
    if not p > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    if not arrays:
        return 0.0
    contiguous = [g if g.flags.c_contiguous else np.ascontiguousarray(g) for g in arrays]
    total = _total_norm(_core.grad_power_sums(contiguous, p), p)
    exponent = 0
    if p != math.inf and not (_TINY <= total < math.inf and _TINY <= _pow(total, p) < math.inf):
        # |x|^p overflowed (finite gradients near 1e300 gave an infinite norm)
        # or underflowed (tiny gradients gave 0).  Compute the norm of the
        # gradients divided by 2^e, e the exponent of their largest |x|, and
        # multiply back: both exact.  Only these rare inputs pay for the extra
        # pass and the copies; the others keep their bits.
        largest = _total_norm(_core.grad_power_sums(contiguous, math.inf), math.inf)
        if 0.0 < largest < math.inf:
            exponent = math.frexp(largest)[1]
            scaled = [np.ldexp(g, -exponent, dtype=np.float64) for g in contiguous]
            scaled_total = _total_norm(_core.grad_power_sums(scaled, p), p)
            try:
                total = math.ldexp(scaled_total, exponent)
            except OverflowError:
                total = math.inf
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is non-finite, so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`")
    if total == math.inf and exponent:
        # The norm of finite gradients beyond the float64 range: the factor is
        # still representable (the 1e-6 would not count).
        clip_coef = math.ldexp(max_norm, -exponent) / scaled_total
    else:
        clip_coef = max_norm / (total + 1e-6)
    clip_coef_clamped = min(clip_coef, 1.0)  # NaN stays NaN, as torch.clamp
    if clip_coef_clamped != 1.0:  # multiplying by 1.0 changes no bit
        direct = [g for g in arrays if g.flags.c_contiguous]
        _core.grads_scale(direct, clip_coef_clamped)
        for g in arrays:
            if not g.flags.c_contiguous:
                g[...] = (g.astype(np.float64) * clip_coef_clamped).astype(g.dtype)
    return total


def clip_grad_value_(grads: np.ndarray | Iterable[np.ndarray], clip_value: float) -> None:
    """Clamp gradients in place to ``[-clip_value, clip_value]``, as ``torch.nn.utils.clip_grad_value_``.

    Parameters
    ----------
    grads : ndarray or iterable of ndarray
        Writable float32/float64 arrays, modified in place (NaN stays NaN).
    clip_value : float
        >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.optim import clip_grad_value_
    >>> g = np.array([-3.0, 0.5, 2.0])
    >>> clip_grad_value_(g, 1.0); g.tolist()
    [-1.0, 0.5, 1.0]
    """
    arrays = _grad_list(grads)
    clip_value = _real(clip_value, "clip_value")
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for g in arrays:
        np.clip(g, -clip_value, clip_value, out=g)
