"""Feature standardisation with fused, deterministic C++ kernels.

:class:`StandardScaler` is a drop-in for :class:`sklearn.preprocessing.StandardScaler`
(dense input): the statistics take one pass over ``X``, the transform one
fused read and write, both in parallel and with the SIMD level chosen at
import.  :mod:`pygd.reference` (``column_stats``, ``merge_column_stats``,
``standard_scale``, ``standardize``, ``unstandardize``) is their specification.

Sparse (scipy.sparse) input is taken with ``with_mean=False``, as
scikit-learn does: :func:`sparse_column_stats` computes the statistics in
O(nnz) (``pygd.reference.sparse_column_stats_reference`` is its
specification) and the transforms scale the stored values only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import _core
from ._sparse import check_csr, csr_kernel_arrays, is_sparse
from ._validation import core_suffix
from .dask import dask_call, is_dask_collection

__all__ = ["StandardScaler", "sparse_column_stats"]

_SPARSE_CENTER_MESSAGE = (
    "Cannot center sparse matrices: pass `with_mean=False` instead. "
    "See docstring for motivation and alternatives."
)

_FLOAT_DTYPES = (np.float64, np.float32)


def _kernel_ready(X: np.ndarray) -> np.ndarray:
    # Aligned, native byte order, whole-item strides: what the kernels take
    # without a copy (check_array already gave a native float array).
    if not X.flags.aligned or any(s % X.itemsize for s in X.strides):
        X = np.array(X, order="C")
    return X


# Rows whose median is a column's shift: kShiftRows in csrc/preprocessing.cpp.
_SHIFT_ROWS = 64


def _column_shifts(X: np.ndarray) -> np.ndarray:
    # The shift the kernel picks itself when given none (column_shifts in
    # csrc/preprocessing.cpp): the upper median of a column's non-NaN values
    # among the first _SHIFT_ROWS rows, else its first non-NaN value, else 0.
    # Chosen here so that partial_fit knows the shift its statistics are
    # relative to, and keeps the mean as (shift, mean relative to it) without
    # rounding their sum (a test checks fit's bits equal the kernel's own).
    head = np.sort(np.asarray(X[:_SHIFT_ROWS], dtype=np.float64), axis=0)  # NaNs last
    count = np.count_nonzero(~np.isnan(head), axis=0)
    shift = head[count // 2, np.arange(X.shape[1])] if head.shape[0] else np.zeros(X.shape[1])
    for j in np.flatnonzero(count == 0):
        present = np.flatnonzero(~np.isnan(X[_SHIFT_ROWS:, j]))
        shift[j] = float(X[_SHIFT_ROWS + present[0], j]) if present.size else 0.0
    return shift


# Exponent of the largest |x| a column keeps after scaling by 2**-e: its
# squares, summed over up to 2**200 rows, stay far below float64's 2**1024.
_SCALED_MAX_EXPONENT = 400


def _overflow_exponents(X: np.ndarray) -> np.ndarray:
    # e >= 0 per column of X (each holding a non-NaN value) such that
    # max|x| * 2**-e < 2**_SCALED_MAX_EXPONENT.
    with np.errstate(invalid="ignore"):
        biggest = np.nanmax(np.abs(np.asarray(X, dtype=np.float64)), axis=0)
    return np.maximum(np.frexp(biggest)[1] - _SCALED_MAX_EXPONENT, 0).astype(np.int64)


def _chunk_stats(
    X: np.ndarray, weights: np.ndarray | None, shift: np.ndarray, exponent: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # (weight, mean - shift, var) of every column of X, the mean in units of
    # 2**exponent and the variance in units of 4**exponent.  Columns with
    # exponent 0 come straight from the kernel; the others from the kernel on
    # the column times 2**-exponent (exact: a power of two), so that squares
    # of finite values beyond ~1e154 do not overflow (they made the variance
    # inf - inf = NaN).
    kernel = getattr(_core, "column_stats_" + core_suffix(X.dtype))
    weight, mean, var, saw_inf = kernel(X, weights, shift)
    if saw_inf:
        _raise_infinity(X)
    scaled = exponent > 0
    if scaled.any():
        unit = np.ldexp(1.0, -exponent[scaled])
        Xs = np.ascontiguousarray(np.asarray(X[:, scaled], dtype=np.float64) * unit)
        ws = None if weights is None else weights.astype(np.float64)
        weight[scaled], mean[scaled], var[scaled], _ = _core.column_stats_f64(Xs, ws, shift[scaled] * unit)
    return weight, mean, var


def _raise_infinity(X: np.ndarray, name: str = "X") -> None:
    raise ValueError(f"Input {name} contains infinity or a value too large for {X.dtype!r}.")


def _merge_stats(
    weight_a: Any,
    mean_a: np.ndarray,
    var_a: np.ndarray | None,
    weight_b: np.ndarray,
    mean_b: np.ndarray,
    var_b: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    # Chan's merge of the statistics seen so far with a new chunk's; the same
    # formula as pygd.reference.merge_column_stats (tests compare them).
    weight_a = np.broadcast_to(np.asarray(weight_a, dtype=np.float64), mean_a.shape)
    weight = weight_a + weight_b
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_b = weight_b / weight
        delta = mean_b - mean_a
        mean = np.where(weight_b > 0, np.where(weight_a > 0, mean_a + delta * frac_b, mean_b), mean_a)
        if var_a is None or var_b is None:
            return weight, mean, None
        m2 = weight_a * var_a + weight_b * var_b + delta * delta * weight_a * frac_b
        var = np.where(weight_b > 0, np.where(weight_a > 0, m2 / weight, var_b), var_a)
    return weight, mean, var


def _scale_from_var(var: np.ndarray, mean: np.ndarray, n_samples: Any) -> np.ndarray:
    # scikit-learn's rule (_is_constant_feature + _handle_zeros_in_scale): a
    # variance within the two-pass error bound of 0 gives scale 1.
    eps = np.finfo(np.float64).eps
    n = np.asarray(n_samples, dtype=np.float64)
    # The bound overflows only for a mean beyond ~1e292, whose column is then
    # constant to rounding (a spread that large would have been scaled).
    with np.errstate(invalid="ignore", over="ignore"):
        # (var == 0 also where the mean is not finite: sparse sums that overflowed)
        constant = (var <= n * eps * var + (n * mean * eps) ** 2) | (var == 0)
        scale = np.sqrt(var)
    scale[constant] = 1.0
    return scale


def _sample_shift(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n_features: int) -> np.ndarray:
    # The shift a sparse chunk's statistics are taken around: every column's mean
    # over the first m = min(n, 2 sqrt(n)) rows (implicit zeros included), a
    # dense float64 vector.  Near the column's mean compared with its spread,
    # it lets the C++ kernel finish nearly every column in one pass (a rare
    # column of `count` values that the sample holds once: (mean - c)^2 is
    # about var / (4 count)).
    # Only the speed depends on it: a column whose mean is far from its shift
    # takes the kernel's exact second pass.  Each value is divided before the
    # sum, so the shift is finite (at most the largest |x|).
    n = len(indptr) - 1
    m = min(n, max(1, math.ceil(2.0 * math.sqrt(n))))
    first, last = int(indptr[0]), int(indptr[m])
    return np.bincount(indices[first:last], weights=np.asarray(data[first:last], dtype=np.float64) / m,
                       minlength=n_features)


def _csr_column_stats(
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    shape: tuple[int, int],
    weights: np.ndarray | None,
    shift: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float]:
    # sparse_column_stats on the arrays of a canonical CSR matrix (check_csr's:
    # columns strictly increasing within each row, so no duplicates and each
    # thread's columns are one run of a row), weights already validated; the
    # mean returned relative to ``shift`` (c_j).
    # Every row is a sample of every column; a row storing nothing in column
    # j holds an implicit 0, i.e. y = -c_j.  With y_ij = x_ij - c_j:
    #   W      = sum_i s_i
    #   Z_j    = W - sum_{stored} s_i              (weight of the implicit zeros)
    #   m_j    = (sum_{stored} s_i y_ij - Z_j c_j) / W          (mean_j - c_j)
    #   M2_j   = sum_{stored} s_i (y_ij - m_j)^2 + Z_j (c_j + m_j)^2
    #   S1_j   = sum_{stored} s_i (y_ij - m_j)   - Z_j (c_j + m_j)
    #   var_j  = (M2_j - S1_j^2 / W) / W
    # In C++ (_core.csr_column_stats_*: each thread sums a range of columns, every
    # column over its values in storage order, so the bits do not depend on the
    # thread count; O(d) memory, no per-entry temporaries;
    # _core.csr_column_stats_ranges_* gives the split).  One pass sums y and y^2:
    # with Q_j = sum_{stored} s_i y_ij^2 + Z_j c_j^2, var_j = (Q_j - W m_j^2) / W
    # where W m_j^2 <= Q_j / 2 (at most one bit lost to the subtraction).  Columns
    # whose shift is too far from their mean for that take a second pass with the
    # formula above: S1 is 0 in exact arithmetic, and subtracting S1^2 / W removes
    # the first-order rounding error of m_j (the corrected two-pass algorithm of
    # Chan, Golub and LeVeque 1983).  The shift (_sample_shift) is near each
    # column's mean, so a second pass is rare; it also keeps a column stored in
    # every row at the size of its spread (as the dense path's shift does), so that
    # merging chunks does not square the rounding of a large mean into the variance.
    dtype = np.float32 if data.dtype == np.float32 else np.float64
    data = np.ascontiguousarray(data, dtype=dtype)
    wide = indices.dtype.itemsize == 8 or indptr.dtype.itemsize == 8
    index_dtype = np.int64 if wide else np.int32
    X = _core.CsrMatrix(data, np.ascontiguousarray(indices, dtype=index_dtype),
                        np.ascontiguousarray(indptr, dtype=index_dtype), int(shape[1]))
    w = None if weights is None else np.ascontiguousarray(weights, dtype=dtype)
    stats = getattr(_core, "csr_column_stats_" + core_suffix(dtype))
    mean_rel, var, total = stats(X, w, np.ascontiguousarray(shift, dtype=np.float64))
    return mean_rel, var, float(total)


def _engine_csr_column_stats(X: Any, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float]:
    # sparse_column_stats on the engine's _core.CsrMatrix (pygd.linear_model's input,
    # checked and made canonical when it was built: no second check_csr, no second
    # CsrMatrix), with weights already in X's dtype (rows left out: weight 0), or None.
    if weights is not None and not (weights > 0).any():
        raise ValueError("sample_weight must not be all zero")
    shift = _sample_shift(X.data, X.indices, X.indptr, X.shape[1])
    stats = getattr(_core, "csr_column_stats_" + core_suffix(X.dtype))
    mean_rel, var, total = stats(X, None if weights is None else np.ascontiguousarray(weights, dtype=X.dtype),
                                 shift)
    return shift + mean_rel, var, float(total)


def _sparse_weights(sample_weight: Any, X: Any) -> np.ndarray | None:
    # The dense path's weights (rounded to X's dtype), refused when all zero
    # on every scikit-learn version (newer ones refuse them themselves).
    if sample_weight is None:
        return None
    weights = _check_sample_weight(sample_weight, X, dtype=X.dtype)
    if not (weights > 0).any():
        raise ValueError("sample_weight must not be all zero")
    return weights


def sparse_column_stats(
    X_csr: Any, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Weighted mean and biased variance of every column of a sparse matrix.

    Every row counts in every column: the entries a row does not store are
    zeros.  With weights :math:`s_i` (1 when ``sample_weight`` is None, else
    rounded to the dtype of ``X``'s values as the dense scaler does):

    .. math::

        W = \sum_i s_i, \qquad
        \mu_j = rac{1}{W} \sum_i s_i x_{ij}, \qquad
        \sigma^2_j = rac{1}{W} \sum_i s_i (x_{ij} - \mu_j)^2

    computed in O(nnz) time and memory in float64, about a sample mean
    :math:`c_j` of the column: one pass sums :math:`y = x - c_j` and
    :math:`y^2` (each implicit zero adding :math:`s_i c_j^2`), which gives the
    variance wherever :math:`c_j` is close enough to the mean for the
    subtraction to lose at most one bit; the other columns take a second pass
    that subtracts the mean before squaring (the corrected two-pass formula).

    Parameters
    ----------
    X_csr : scipy.sparse matrix or array of shape (n_samples, n_features)
        Validated by :func:`pygd._sparse.check_csr` (any format accepted and
        converted; NaN and infinity refused; ``X_csr`` itself is not
        modified).  float32 values are read as float64.
    sample_weight : array_like of shape (n_samples,), optional
        Weight of each row: non-negative, not all zero.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        float64.
    var : ndarray of shape (n_features,)
        float64, biased (divided by ``weight_sum``); ``inf`` where it exceeds
        float64's range.
    weight_sum : float
        The weights' sum (the number of rows without weights): the weight
        every column has seen, implicit zeros included.

    See Also
    --------
    pygd.reference.sparse_column_stats_reference : the same on ``X.toarray()``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from pygd.preprocessing import sparse_column_stats
    >>> X = sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0], [4.0, 0.0], [0.0, 3.0]]))
    >>> mean, var, weight_sum = sparse_column_stats(X)
    >>> mean.tolist(), var.tolist(), weight_sum
    ([1.5, 1.0], [2.75, 1.5], 4.0)
    """
    X_csr = check_csr(X_csr)
    data, indices, indptr, shape = csr_kernel_arrays(X_csr)
    weights = _sparse_weights(sample_weight, X_csr)
    shift = _sample_shift(data, indices, indptr, shape[1])
    mean_rel, var, weight_sum = _csr_column_stats(data, indices, indptr, shape, weights, shift)
    return shift + mean_rel, var, weight_sum


class StandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""Standardise features by removing the mean and scaling to unit variance.

    ``z = (x - u) / s`` column by column, with ``u`` the (weighted) mean and
    ``s`` the (weighted, biased) standard deviation of the training samples;
    NaNs are left out of the statistics and stay NaN in the output.  A drop-in
    for :class:`sklearn.preprocessing.StandardScaler` on dense arrays, computed
    by pygd's C++ kernels: one pass over ``X`` for the statistics and one fused
    read/write for the transform, both multi-threaded, and bitwise identical
    for any number of threads.

    Parameters
    ----------
    copy : bool, default True
        If False, :meth:`transform` and :meth:`inverse_transform` overwrite a
        writeable float32/float64 array in place (no allocation) and return
        it; other inputs are converted (a copy) first.
    with_mean : bool, default True
        Centre the data before scaling.
    with_std : bool, default True
        Scale the data to unit variance.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,) or None
        Per-feature scale, ``sqrt(var_)`` except 1 for (near) constant
        features; None when ``with_std=False``.  The true standard deviation
        also where ``var_`` overflows float64 (``inf``, a spread beyond about
        1e154), where scikit-learn gives 1.
    mean_ : ndarray of shape (n_features,) or None
        Per-feature mean (computed even when ``with_mean=False``); None when
        both ``with_mean`` and ``with_std`` are False.
    var_ : ndarray of shape (n_features,) or None
        Per-feature variance (``inf`` where it exceeds float64's range); None
        when ``with_std=False``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.
    n_samples_seen_ : float or ndarray of shape (n_features,)
        Samples (sum of weights) seen per feature, NaNs excluded; a scalar
        when every feature saw the same.  float64 as in scikit-learn, int64
        when ``with_mean=with_std=False`` and no weights were given.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : the reference implementation.
    pygd.reference.column_stats : the statistics in plain NumPy.

    Notes
    -----
    Statistics are accumulated in float64 for both dtypes, around a shift
    per column (the median of its first non-NaN values), by cache-sized
    two-pass tiles combined with Chan's merge in a fixed order;
    :meth:`partial_fit` merges chunks the same way, keeping each column's mean
    relative to the shift of the first chunk that held it (the pair is summed
    only into ``mean_``), so chunked fits agree with one :meth:`fit` to
    rounding even at offsets of 1e12.  The transform is computed in float64
    and rounded to the input dtype (scikit-learn computes float32 input in
    float32, so float32 outputs may differ from it in the last bits).

    Sparse input (scipy.sparse matrix or array, any format; CSR is used as
    it is, others are converted to CSR once) follows scikit-learn: it needs
    ``with_mean=False`` (centring would fill every zero; ``ValueError``
    otherwise); every row counts in every column, an absent entry as a 0;
    :meth:`transform` and :meth:`inverse_transform` scale the stored values
    only and return CSR of the input's kind (``csr_array`` or
    ``csr_matrix``), never densifying; ``copy=False`` scales writeable
    float32/float64 CSR values in place.  Unlike dense input (and
    scikit-learn's sparse path), NaN and infinity are refused
    (:func:`pygd._sparse.check_csr`).  Duplicate entries count as their sum
    (as in ``X.toarray()``), and non-canonical input is fixed on a copy.
    Dense and sparse chunks may be mixed in :meth:`partial_fit`.
    ``n_samples_seen_`` is float64 (scikit-learn stores float32 for float32
    sparse input).  :func:`sparse_column_stats` gives the statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.preprocessing import StandardScaler
    >>> X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    >>> scaler = StandardScaler().fit(X)
    >>> scaler.mean_.tolist(), scaler.scale_.tolist()
    ([0.5, 0.5], [0.5, 0.5])
    >>> scaler.transform([[2.0, 2.0]]).tolist()
    [[3.0, 3.0]]
    >>> import scipy.sparse as sp
    >>> Xs = sp.csr_array(X)
    >>> sparse_scaler = StandardScaler(with_mean=False).fit(Xs)
    >>> sparse_scaler.transform(Xs).toarray().tolist()
    [[0.0, 0.0], [0.0, 0.0], [2.0, 2.0], [2.0, 2.0]]
    """

    _parameter_constraints: dict = {
        "copy": ["boolean"],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
    }

    def __init__(self, *, copy: bool = True, with_mean: bool = True, with_std: bool = True) -> None:
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std

    def _reset(self) -> None:
        for name in ("scale_", "n_samples_seen_", "mean_", "var_", "_shift", "_mean_rel", "_var_rel",
                     "_exponent"):
            if hasattr(self, name):
                delattr(self, name)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Compute the mean and standard deviation of every feature.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array of shape (n_samples, n_features)
            Training data; NaNs are ignored (dense only: sparse input must
            be finite and needs ``with_mean=False``).  Any memory layout,
            read-only allowed; float32 stays float32 (statistics in float64).
        y : None
            Ignored.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each sample.

        Returns
        -------
        StandardScaler
            The fitted scaler.

        Examples
        --------
        >>> from pygd.preprocessing import StandardScaler
        >>> StandardScaler().fit([[1.0], [3.0]]).var_.tolist()
        [1.0]
        """
        if is_dask_collection(X):  # per-block statistics in parallel, merged in order (pygd.dask)
            return dask_call("scaler_fit", self, X, y, sample_weight)
        self._reset()
        return self.partial_fit(X, y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Update the statistics with one more chunk of samples.

        Chunks are merged by Chan's pairwise formula, so fitting chunk by
        chunk agrees with one :meth:`fit` on all rows to rounding.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array of shape (n_samples, n_features)
            A chunk of data; NaNs are ignored (dense only).
        y : None
            Ignored.
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each sample.

        Returns
        -------
        StandardScaler
            The updated scaler.

        Examples
        --------
        >>> from pygd.preprocessing import StandardScaler
        >>> s = StandardScaler().partial_fit([[1.0], [2.0]]).partial_fit([[3.0], [4.0]])
        >>> s.mean_.tolist(), s.var_.tolist(), float(s.n_samples_seen_)
        ([2.5], [1.25], 4.0)
        """
        if is_dask_collection(X):
            return dask_call("partial_fit", self, X, None, sample_weight)
        first_call = not hasattr(self, "n_samples_seen_")
        if is_sparse(X):
            self._partial_fit_sparse(X, sample_weight, first_call)
            return self
        # Finiteness is checked by the kernel (no extra pass over X).
        X = validate_data(
            self, X, dtype=_FLOAT_DTYPES, ensure_all_finite=False, reset=first_call
        )
        X = _kernel_ready(X)
        weights = None
        if sample_weight is not None:
            weights = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=X.dtype))
        # Each column's statistics are kept relative to a shift fixed by the
        # first chunk that holds it (self._shift, the kernel's own choice of
        # shift for that chunk): the running mean is the pair (self._shift,
        # self._mean_rel), whose sum is rounded only into mean_, and every
        # chunk's mean comes from the kernel relative to the same shift, so
        # Chan's merge works at the size of the spread, not of the data (a
        # mean of 1e9 + N(0, 1) data rounded to float64 is off by up to 6e-8,
        # which a merge would square into var_ at 1e-9 relative).  A column
        # whose squares overflow float64 is kept in units of 2**e
        # (self._mean_rel) and 4**e (self._var_rel), e = self._exponent.
        seen_a = (
            np.zeros(X.shape[1])
            if first_call
            else np.broadcast_to(np.asarray(self.n_samples_seen_, dtype=np.float64), X.shape[1:])
        )
        if not self.with_mean and not self.with_std:
            kernel = getattr(_core, "column_stats_" + core_suffix(X.dtype))
            weight_b, _, _, saw_inf = kernel(X, weights)
            if saw_inf:
                _raise_infinity(X)
            self.mean_ = None
            self.var_ = None
            seen = weight_b if weights is not None else weight_b.astype(np.int64)
            if not first_call:
                seen = self.n_samples_seen_ + seen
        else:
            shift = _column_shifts(X)
            if first_call:
                exponent = np.zeros(X.shape[1], dtype=np.int64)
            else:
                shift = np.where(seen_a > 0, self._shift, shift)
                exponent = self._exponent
            weight_b, mean_b, var_b = _chunk_stats(X, weights, shift, exponent)
            overflow = (weight_b > 0) & ~(np.isfinite(mean_b) & np.isfinite(var_b))
            if overflow.any():
                raised = exponent.copy()
                raised[overflow] = np.maximum(exponent[overflow], _overflow_exponents(X[:, overflow]))
                if not first_call:  # the statistics so far, in the new units (exact)
                    factor = np.ldexp(1.0, exponent - raised)
                    self._mean_rel = self._mean_rel * factor
                    if self._var_rel is not None:
                        self._var_rel = self._var_rel * factor * factor
                exponent = raised
                weight_b, mean_b, var_b = _chunk_stats(X, weights, shift, exponent)
                still = (weight_b > 0) & ~(np.isfinite(mean_b) & np.isfinite(var_b))
                if still.any():
                    raise ValueError(
                        f"the statistics of columns {np.flatnonzero(still).tolist()} overflow "
                        "float64 even in scaled units (sample_weight too large?)"
                    )
            if not self.with_std:
                var_b = None
            if first_call:
                seen, self._mean_rel, self._var_rel = weight_b, mean_b, var_b
            else:
                seen, self._mean_rel, self._var_rel = _merge_stats(
                    seen_a, self._mean_rel, self._var_rel, weight_b, mean_b, var_b
                )
            self._shift = shift
            self._exponent = exponent
            unit = np.ldexp(1.0, exponent)
            self.mean_ = self._shift + self._mean_rel * unit
            with np.errstate(over="ignore"):  # var_ is inf where it exceeds float64
                self.var_ = None if self._var_rel is None else self._var_rel * unit * unit
        self._publish(seen)
        return self

    def _publish(self, seen: Any) -> None:
        # n_samples_seen_ (a scalar when every feature saw the same) and scale_.
        seen = np.asarray(seen)
        if seen.ndim and seen.max() == seen.min():
            seen = seen[0]
        self.n_samples_seen_ = seen
        if self.with_std:
            # In the columns' units: finite where var_ overflowed to inf.
            unit = np.ldexp(1.0, self._exponent)
            self.scale_ = _scale_from_var(self._var_rel, self.mean_ / unit, self.n_samples_seen_) * unit
        else:
            self.scale_ = None

    def _partial_fit_sparse(self, X: Any, sample_weight: Any, first_call: bool) -> None:
        # scikit-learn's sparse rules: no centring; the statistics of every
        # column count the implicit zeros as samples.  The running statistics
        # live in the dense path's representation (self._shift, _mean_rel,
        # _var_rel, _exponent: a sparse first chunk fixes the shift to its
        # sample mean and exponent 0), so that dense and sparse chunks may
        # alternate.
        if self.with_mean:
            raise ValueError(_SPARSE_CENTER_MESSAGE)
        # n_features_in_ and feature names (O(1) on sparse input: no
        # conversion, no finiteness pass); check_csr checks everything else.
        validate_data(self, X, accept_sparse=True, dtype=None, ensure_all_finite=False,
                      reset=first_call)
        X = check_csr(X, estimator=self)
        n_features = X.shape[1]
        weights = _sparse_weights(sample_weight, X)
        if not self.with_std:
            self.mean_ = None
            self.var_ = None
            if weights is None:
                seen = np.full(n_features, X.shape[0], dtype=np.int64)
            else:
                seen = np.full(n_features, float(np.sum(weights, dtype=np.float64)))
            if not first_call:
                seen = self.n_samples_seen_ + seen
            self._publish(seen)
            return
        data, indices, indptr, shape = csr_kernel_arrays(X)
        if first_call:
            shift = _sample_shift(data, indices, indptr, n_features)
            exponent = np.zeros(n_features, dtype=np.int64)
        else:
            seen_a = np.broadcast_to(np.asarray(self.n_samples_seen_, dtype=np.float64), (n_features,))
            shift = np.where(seen_a > 0, self._shift, _sample_shift(data, indices, indptr, n_features))
            exponent = self._exponent
        mean_b, var_b, total = _csr_column_stats(data, indices, indptr, shape, weights, shift)
        weight_b = np.full(n_features, total)
        if first_call:
            seen, mean_rel, var_rel = weight_b, mean_b, var_b
        else:
            unit = np.ldexp(1.0, exponent)
            seen, mean_rel, var_rel = _merge_stats(
                seen_a, self._mean_rel, self._var_rel, weight_b, mean_b / unit, var_b / unit / unit
            )
        self._shift, self._exponent, self._mean_rel, self._var_rel = shift, exponent, mean_rel, var_rel
        unit = np.ldexp(1.0, exponent)
        self.mean_ = shift + mean_rel * unit
        with np.errstate(over="ignore"):
            self.var_ = var_rel * unit * unit
        self._publish(seen)

    def _scale_sparse(self, X: Any, copy: bool, inverse: bool) -> Any:
        # Only the stored values change (x / scale or x * scale, in float64,
        # rounded to the values' dtype): zeros stay zeros, nothing densifies.
        if self.with_mean:
            raise ValueError(_SPARSE_CENTER_MESSAGE)
        X = check_csr(X, n_features=self.n_features_in_, estimator=self, copy=copy)
        if not X.data.flags.writeable:  # copy=False on read-only values, as scikit-learn
            X = X.copy()
        if self.scale_ is not None:
            scale = self.scale_[X.indices]
            operation = np.multiply if inverse else np.divide
            operation(X.data, scale, out=X.data, casting="same_kind")
        return X

    def _affine(self, X: np.ndarray, copy: bool, inverse: bool) -> np.ndarray:
        d = X.shape[1]
        center = self.mean_ if self.with_mean else np.zeros(d)
        scale = self.scale_ if self.with_std else np.ones(d)
        if copy:
            order = "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C"
            out = np.empty(X.shape, dtype=X.dtype, order=order)
        else:
            out = X
        name = ("unstandardize_" if inverse else "standardize_") + core_suffix(X.dtype)
        if getattr(_core, name)(X, out, center, scale):
            _raise_infinity(X)
        return out

    def transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Standardise ``X``: ``(X - mean_) / scale_``.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array of shape (n_samples, n_features)
            Data to scale; NaNs stay NaN (dense only).  Sparse input gives
            CSR with its stored values divided by ``scale_``.
        copy : bool, optional
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        ndarray or scipy.sparse CSR of shape (n_samples, n_features)
            Same dtype as ``X`` (float32 or float64; other types become
            float64); ``X`` itself when it was transformed in place.

        Examples
        --------
        >>> from pygd.preprocessing import StandardScaler
        >>> StandardScaler().fit([[1.0], [3.0]]).transform([[2.0], [5.0]]).tolist()
        [[0.0], [3.0]]
        """
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "transform", X, copy=copy)
        check_is_fitted(self)
        copy = self.copy if copy is None else copy
        if is_sparse(X):
            validate_data(self, X, reset=False, accept_sparse=True, dtype=None, ensure_all_finite=False)
            return self._scale_sparse(X, copy, inverse=False)
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=_FLOAT_DTYPES,
            ensure_all_finite=False,
            copy=False,
            force_writeable=not copy,
        )
        return self._affine(_kernel_ready(X), copy, inverse=False)

    def inverse_transform(self, X: Any, copy: bool | None = None) -> np.ndarray:
        """Undo :meth:`transform`: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix/array of shape (n_samples, n_features)
            Standardised data.  Sparse input gives CSR with its stored values
            multiplied by ``scale_``.
        copy : bool, optional
            Overrides the ``copy`` parameter for this call.

        Returns
        -------
        ndarray or scipy.sparse CSR of shape (n_samples, n_features)
            Same dtype as ``X``.

        Examples
        --------
        >>> from pygd.preprocessing import StandardScaler
        >>> StandardScaler().fit([[1.0], [3.0]]).inverse_transform([[0.0], [3.0]]).tolist()
        [[2.0], [5.0]]
        """
        if is_dask_collection(X):
            return dask_call("blockwise", self, "inverse_transform", X, copy=copy)
        check_is_fitted(self)
        copy = self.copy if copy is None else copy
        if is_sparse(X):
            return self._scale_sparse(X, copy, inverse=True)
        X = check_array(
            X,
            dtype=_FLOAT_DTYPES,
            ensure_all_finite=False,
            copy=False,
            force_writeable=not copy,
        )
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but StandardScaler is expecting "
                f"{self.n_features_in_} features as input."
            )
        return self._affine(_kernel_ready(X), copy, inverse=True)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # Sparse input is taken only without centring (with_mean=True raises
        # scikit-learn's message): sklearn's sparse checks then expect it.
        tags.input_tags.sparse = not self.with_mean
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

