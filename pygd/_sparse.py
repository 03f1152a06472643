"""Validation of scipy.sparse input: the one entry point of every sparse path.

:func:`check_csr` turns what a user passed into a CSR matrix (or array) the
kernels can trust: float32/float64 values, all finite; int32/int64 indices in
range; a well-formed ``indptr``; canonical format (indices sorted within each
row, no duplicates: duplicates summed, as ``toarray()`` does).  Nothing the
user passed is modified: a fix happens on a copy, and an input that needs
none is returned as it is (no copy).  :func:`csr_kernel_arrays` hands a
checked matrix to the kernels as contiguous arrays.

The structure is checked from the arrays themselves, never from scipy's
cached flags (``has_canonical_format``, ``has_sorted_indices``), which go
stale when a user edits ``X.indices`` or ``X.data`` directly; reading them
would also store a flag on the user's object.  scipy is imported only when
a sparse object is handled (an object of its classes implies it is loaded).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["check_csr", "csr_kernel_arrays", "is_sparse", "kernel_ready"]

_FLOAT_DTYPES = (np.float64, np.float32)
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (any format).

    ``scipy.sparse.issparse`` without importing scipy: an object of scipy's
    sparse classes can only exist once ``scipy.sparse`` has been imported.

    Parameters
    ----------
    X : object
        Anything.

    Returns
    -------
    bool
        True for instances of ``scipy.sparse``'s matrix and array classes.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from pygd._sparse import is_sparse
    >>> is_sparse(sp.csr_matrix(np.eye(2))), is_sparse(np.eye(2))
    (True, False)
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


def kernel_ready(X: Any) -> bool:
    """Whether sparse X can go to ``_core.CsrMatrix`` as it is, without :func:`check_csr`.

    CSR with rows and columns, float32/float64 values and one int32/int64 index type, all
    three arrays contiguous and native: ``CsrMatrix`` then checks the structure, the
    values (``finite``) and the rows (``canonical``) in parallel C++ passes, where
    :func:`check_csr` makes single-threaded NumPy ones.
    """
    return (X.format == "csr" and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] > 0
            and X.dtype in (np.float32, np.float64) and X.indices.dtype == X.indptr.dtype
            and X.indices.dtype in (np.int32, np.int64)
            and all(a.ndim == 1 and a.flags.c_contiguous and a.dtype.isnative
                    for a in (X.data, X.indices, X.indptr)))


def _estimator_name(estimator: Any) -> str | None:
    if estimator is None or isinstance(estimator, str):
        return estimator
    return type(estimator).__name__


def _integer_dtype(array: np.ndarray, what: str) -> None:
    if array.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be an integer array, got dtype {array.dtype}")


def _check_compressed(
    indptr: np.ndarray, indices: np.ndarray, n_data: int, n_major: int, n_minor: int, what: str
) -> None:
    # indptr: n_major + 1 nondecreasing offsets from 0 to len(indices) ==
    # n_data; indices in [0, n_minor).  Comparisons, not differences: unsigned
    # arrays would wrap.
    _integer_dtype(indptr, f"{what}.indptr")
    _integer_dtype(indices, f"{what}.indices")
    if indptr.shape[0] != n_major + 1:
        raise ValueError(
            f"{what}.indptr has {indptr.shape[0]} entries, expected {n_major + 1} "
            f"(one more than the {n_major} rows of a compressed axis)"
        )
    if indptr[0] != 0:
        raise ValueError(f"{what}.indptr must start at 0, got {indptr[0]}")
    if not (indptr[1:] >= indptr[:-1]).all():
        raise ValueError(f"{what}.indptr must be nondecreasing")
    if not int(indptr[-1]) == indices.shape[0] == n_data:
        raise ValueError(
            f"{what} is inconsistent: indptr[-1] = {indptr[-1]}, len(indices) = "
            f"{indices.shape[0]}, len(data) = {n_data} (all three must be equal)"
        )
    if indices.shape[0] and (indices.min() < 0 or indices.max() >= n_minor):
        raise ValueError(
            f"{what}.indices must lie in [0, {n_minor}), got values from "
            f"{indices.min()} to {indices.max()}"
        )


def _to_csr(X: Any, name: str) -> Any:
    # scipy's conversions (sparsetools) index without bounds checks: the
    # structures of CSC and COO are checked before they are converted.  Other
    # formats (BSR, DIA, LIL, DOK) are converted by scipy as they are.
    n_rows, n_cols = X.shape
    if X.format == "csc":
        _check_compressed(X.indptr, X.indices, X.data.shape[0], n_cols, n_rows, name)
    elif X.format == "coo":
        row, col = np.asarray(X.row), np.asarray(X.col)
        _integer_dtype(row, f"{name}.row")
        _integer_dtype(col, f"{name}.col")
        if not row.shape[0] == col.shape[0] == X.data.shape[0]:
            raise ValueError(f"{name}.row, {name}.col and {name}.data must have the same length")
        for coords, bound, axis in ((row, n_rows, "row"), (col, n_cols, "col")):
            if coords.shape[0] and (coords.min() < 0 or coords.max() >= bound):
                raise ValueError(f"{name}.{axis} must lie in [0, {bound})")
    return X.tocsr()


def _not_canonical(indptr: np.ndarray, indices: np.ndarray) -> bool:
    # Canonical: within each row, indices strictly increasing (sorted, no
    # duplicates).  A pair of neighbours across a row boundary is exempt.
    nnz = indices.shape[0]
    if nnz < 2:
        return False
    bad = indices[1:] <= indices[:-1]
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < nnz)].astype(np.intp)
    bad[starts - 1] = False
    return bool(bad.any())


def check_csr(
    X: Any,
    *,
    dtype: Any = _FLOAT_DTYPES,
    name: str = "X",
    n_features: int | None = None,
    allow_empty: bool = False,
    estimator: Any = None,
    copy: bool = False,
) -> Any:
    """Validate sparse input and return it as canonical CSR, copying only to fix it.

    Parameters
    ----------
    X : scipy.sparse matrix or array, shape (n_samples, n_features)
        CSR is checked as it is; CSC and COO are checked, then converted to
        CSR once (a new object of the same kind: ``csc_array`` gives a
        ``csr_array``, ``csc_matrix`` a ``csr_matrix``); other formats are
        converted by scipy's ``tocsr()``.
    dtype : dtype or tuple of dtypes, default (float64, float32)
        Accepted value types; other values (integers, bool, float16, ...) are
        cast to the first.  Complex values are refused.
    name : str, default "X"
        The argument's name in error messages.
    n_features : int, optional
        The number of columns ``X`` must have (e.g. ``n_features_in_`` at
        predict time).
    allow_empty : bool, default False
        Accept 0 rows or 0 columns.  Fitting needs at least one of each: the
        default refuses them with scikit-learn's message.
    estimator : estimator or str, optional
        Named in the ``n_features`` and empty-input messages.
    copy : bool, default False
        Return arrays that share no memory with ``X`` (only those not
        already copied by a conversion are copied).

    Returns
    -------
    scipy.sparse CSR matrix or array
        ``X`` itself when it already is CSR in canonical format with accepted
        value and index types (and ``copy`` is False); otherwise a new object
        of the same kind.  A new object may share the arrays that needed no
        fix with ``X`` (unless ``copy``).  Its ``indices`` and ``indptr``
        have one dtype, int32 or int64 (int32 only when both were at most 32
        bits signed; unsigned 32-bit and any 64-bit types give int64).  Rows
        are sorted by column with duplicates summed (a sum may be an explicit
        zero), as ``toarray()`` reads them.

    Raises
    ------
    TypeError
        ``X`` is not a scipy.sparse object; its index arrays are not
        integers; its values cannot be converted to a float.
    ValueError
        ``X`` is not 2-D; has 0 rows or columns (unless ``allow_empty``); has
        ``n_features`` mismatched; its ``indptr`` has the wrong length, does
        not start at 0, decreases, or does not end at ``len(indices) ==
        len(data)``; an index lies outside ``[0, n_features)``; a value is
        NaN or infinite ("Input X contains NaN."); values are complex.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from pygd._sparse import check_csr
    >>> X = sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0]]))
    >>> check_csr(X) is X
    True
    >>> Y = sp.csr_matrix((np.array([1, 2]), np.array([1, 1]), np.array([0, 2, 2])), shape=(2, 2))
    >>> check_csr(Y).toarray()
    array([[0., 3.],
           [0., 0.]])
    >>> check_csr(X, n_features=3, estimator="GDRegressor")
    Traceback (most recent call last):
    ...
    ValueError: X has 2 features, but GDRegressor is expecting 3 features as input.
    """
    if not is_sparse(X):
        raise TypeError(
            f"{name} must be a scipy.sparse matrix or array, got {type(X).__module__}."
            f"{type(X).__qualname__}"
        )
    if len(X.shape) != 2:
        raise ValueError(f"Expected a 2-D sparse {name}, got shape {X.shape}")
    accepted = [np.dtype(d) for d in (dtype if isinstance(dtype, (tuple, list)) else (dtype,))]
    n_rows, n_cols = (int(n) for n in X.shape)
    who = _estimator_name(estimator)
    if not allow_empty:
        for count, what in ((n_rows, "sample(s)"), (n_cols, "feature(s)")):
            if count == 0:
                by = f" by {who}" if who else ""
                raise ValueError(
                    f"Found array with 0 {what} (shape=({n_rows}, {n_cols})) while a minimum "
                    f"of 1 is required{by}."
                )
    if n_features is not None and n_cols != n_features:
        expecting = (f"{who} is expecting {n_features} features" if who
                     else f"{n_features} features are expected")
        raise ValueError(f"{name} has {n_cols} features, but {expecting} as input.")

    source = X
    if X.format != "csr":
        X = _to_csr(X, name)
    converted = X is not source  # then every array of X is scipy's new one
    data, indices, indptr = X.data, X.indices, X.indptr
    if data.ndim != 1:
        raise ValueError(f"{name}.data must be a 1-D array, got shape {data.shape}")
    _check_compressed(indptr, indices, data.shape[0], n_rows, n_cols, name)
    owned = {"data": converted, "indices": converted, "indptr": converted}

    # One native index dtype for indices and indptr; bounds were checked on
    # the original values, so the casts below cannot wrap.
    narrow = all((a.dtype.kind == "i" and a.dtype.itemsize <= 4)
                 or (a.dtype.kind == "u" and a.dtype.itemsize <= 2) for a in (indices, indptr))
    index_dtype = np.dtype(np.int32) if narrow else np.dtype(np.int64)
    if indices.dtype != index_dtype:
        indices, owned["indices"] = indices.astype(index_dtype), True
    if indptr.dtype != index_dtype:
        indptr, owned["indptr"] = indptr.astype(index_dtype), True

    if data.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {data.dtype}")
    native = data.dtype.newbyteorder("=") if data.dtype.kind == "f" else data.dtype
    target = native if native in accepted else accepted[0]
    if data.dtype != target:
        try:
            with np.errstate(over="ignore"):
                data = data.astype(target)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name}.data of dtype {data.dtype} cannot be converted to {target}") from error
        owned["data"] = True
    # min and max carry a NaN or an infinity through without a per-value temporary.
    if data.size and not (np.isfinite(data.min()) and np.isfinite(data.max())):
        if np.isnan(data).any():
            raise ValueError(f"Input {name} contains NaN.")
        raise ValueError(f"Input {name} contains infinity or a value too large for {data.dtype!r}.")

    fix = _not_canonical(indptr, indices)
    if copy or fix:
        data, indices, indptr = (a if owned[k] else a.copy()
                                 for k, a in (("data", data), ("indices", indices), ("indptr", indptr)))
    elif X is source and data is X.data and indices is X.indices and indptr is X.indptr:
        return X
    out = type(X)((data, indices, indptr), shape=(n_rows, n_cols), copy=False)
    # scipy's constructor may pick another index dtype (older versions narrow
    # int64 contents that fit int32) or cache format flags: the arrays are the
    # ones chosen above, and the flags say nothing yet.
    out.data, out.indices, out.indptr = data, indices, indptr
    out.has_sorted_indices = False
    out.has_canonical_format = False
    if fix:
        out.sum_duplicates()  # in place, on arrays owned here
    else:
        out.has_canonical_format = True
    return out


def _contiguous(array: np.ndarray) -> np.ndarray:
    return np.require(array, requirements=["C", "A"])


def csr_kernel_arrays(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """The arrays of a CSR matrix from :func:`check_csr`, as the kernels take them.

    Parameters
    ----------
    X : scipy.sparse CSR matrix or array
        The result of :func:`check_csr` (only cheap invariants are checked
        here: format and dtypes).

    Returns
    -------
    data : ndarray of shape (nnz,)
        float32 or float64, C-contiguous, aligned.
    indices : ndarray of shape (nnz,)
        int32 or int64, C-contiguous; column of each value.
    indptr : ndarray of shape (n_samples + 1,)
        The same dtype as ``indices``; row ``i`` is ``data[indptr[i]:indptr[i + 1]]``.
    shape : tuple of int
        ``(n_samples, n_features)`` as Python ints.

    Notes
    -----
    An array that already is contiguous and aligned is returned as it is
    (no copy, read-only ones too: the kernels only read them).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from pygd._sparse import check_csr, csr_kernel_arrays
    >>> data, indices, indptr, shape = csr_kernel_arrays(check_csr(sp.csr_matrix(np.eye(2))))
    >>> data.tolist(), indices.tolist(), indptr.tolist(), shape
    ([1.0, 1.0], [0, 1], [0, 1, 2], (2, 2))
    """
    if not is_sparse(X) or X.format != "csr":
        raise TypeError(f"expected a CSR matrix from check_csr, got {type(X).__name__}")
    data, indices, indptr = X.data, X.indices, X.indptr
    if (data.dtype not in (np.dtype(np.float32), np.dtype(np.float64))
            or indices.dtype not in _INDEX_DTYPES or indptr.dtype != indices.dtype):
        raise TypeError(
            f"expected float32/float64 values and one int32/int64 index dtype (pass X through "
            f"check_csr first), got data {data.dtype}, indices {indices.dtype}, indptr {indptr.dtype}"
        )
    n_rows, n_cols = X.shape
    return _contiguous(data), _contiguous(indices), _contiguous(indptr), (int(n_rows), int(n_cols))
