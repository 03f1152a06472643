"""The data side of training: standardisation statistics, epoch orders, validation splits, input checks.

Imports only pygd's core modules, never an estimator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

from .. import _core
from .._validation import core_suffix
from .._lbfgs import _dot as dot
from .._sparse import check_csr, kernel_ready
from ..preprocessing import _engine_csr_column_stats, _scale_from_var

__all__ = ["as_scipy", "check_finite_input", "dot", "engine_input", "epoch_order", "is_csr", "kernel",
           "max_abs", "row_dots", "standardization_stats", "validation_split", "weighted_mean"]


def engine_input(X: Any) -> Any:
    """X as the engine takes it: a dense array as it is, a scipy.sparse matrix as ``_core.CsrMatrix``.

    The CSR arrays are shared, never copied, unless :func:`pygd._sparse.check_csr` has to
    fix something (another format, duplicate entries, mixed index dtypes): then once.
    Its values are checked for NaN and infinity here (O(nnz)), since the sparse path
    has no later pass that would find them.  Canonical CSR with finite values needs no
    check_csr: ``CsrMatrix``'s parallel passes check the structure, the values and the
    rows (anything else, or a structure it refuses, goes through check_csr, which
    fixes what it can and words the errors).
    """
    if not sp.issparse(X):
        return X
    if kernel_ready(X):
        try:
            Xc = _core.CsrMatrix(X.data, X.indices, X.indptr, X.shape[1])
        except ValueError:
            Xc = None
        if Xc is not None and Xc.finite and Xc.canonical:
            return Xc
    X = check_csr(X)
    return _core.CsrMatrix(X.data, X.indices, X.indptr, X.shape[1])


def row_dots(W: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(k,) products of W's rows with v in NumPy's own loop, never BLAS, as :func:`dot`
    (pygd._lbfgs's: thread-independent bits, no OpenBLAS thread left spinning)."""
    return np.einsum("td,d->t", W, v)


def is_csr(X: Any) -> bool:
    """Whether X is the engine's CSR matrix (see :func:`engine_input`)."""
    return isinstance(X, _core.CsrMatrix)


def as_scipy(X: Any) -> sp.csr_matrix:
    """The engine's CSR matrix as a scipy.sparse.csr_matrix sharing its arrays."""
    return sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape, copy=False)


def max_abs(X: Any) -> float:
    """max |x| over X's (stored) values, 0 for an empty X; for error messages."""
    if hasattr(X, "pygd_kernel"):  # rows held elsewhere (pygd.dask): not read here
        return math.nan
    values = X.data if is_csr(X) else X
    return float(np.max(np.abs(values))) if values.size else 0.0


def standardization_stats(
    X: np.ndarray, sample_weight: np.ndarray, rows: np.ndarray | None, center: bool,
    shift: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of X's columns over ``rows``, in float64.

    Computed by the StandardScaler kernels (one pass over X, no copy, bitwise
    the same for any thread count); rows outside ``rows`` (the validation
    split) simply get weight 0.  Columns whose variance is rounding noise get
    scale 1 (scikit-learn's rule); without ``center`` the mean is 0 and the
    scale is the root mean square, since no intercept absorbs a shift.

    With ``shift=False`` (``standardize="scale"``, and CSR X trained in
    mini-batches: see Trainer) the mean returned is 0 and the scale is still
    the one ``center`` chooses: the standard deviation with an intercept, the
    root mean square without.  CSR X (:func:`engine_input`) is never centred by
    densifying: the engine folds the mean into the intercept and the gradient.  With an
    intercept the fitted model does not depend on the centring (the intercept
    absorbs it), only the optimizer's path does.
    """
    if hasattr(X, "pygd_kernel"):  # data held elsewhere (pygd.dask) computes them where it lives
        mean, scale = X.standardization_stats(sample_weight, rows, center)
        return (mean if shift else np.zeros_like(mean)), scale
    weights = np.ascontiguousarray(sample_weight, dtype=X.dtype)
    count = X.shape[0]
    if rows is not None:
        weights = np.zeros_like(weights)
        weights[rows] = sample_weight[rows]
        count = len(rows)
    if is_csr(X):  # the caller decides whether to centre (never by densifying: see Trainer)
        # Unit weights (no sample_weight, no rows left out) take the unweighted kernel: the
        # same bits (1 * x == x, a count of ones is exact), 7% faster.
        unit = rows is None and bool((weights == 1).all())
        mean, var, _ = _engine_csr_column_stats(X, None if unit else weights)
    else:
        stats = getattr(_core, "column_stats_" + core_suffix(X.dtype))
        _, mean, var, _ = stats(X, weights, None)
    zero = np.zeros_like(mean)
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e300: the caller says so
        if not center:
            return zero, _scale_from_var(var + mean * mean, zero, count)
        return (mean if shift else zero), _scale_from_var(var, mean, count)


def weighted_mean(Y: Any, sw: Any, rows: np.ndarray | None = None) -> np.ndarray:
    """The sample-weighted mean of Y's rows (``rows``: those rows only), in float64, without BLAS.

    The default intercepts start from it; Y held elsewhere (``pygd.dask``'s
    distributed targets) has ``weighted_mean(rows)``, which adds per-chunk sums.
    """
    if hasattr(Y, "weighted_mean"):
        return Y.weighted_mean(rows)
    if rows is not None:
        Y, sw = Y[rows], sw[rows]
    w = sw.astype(np.float64)
    return (Y.astype(np.float64) * w[:, None]).sum(axis=0) / w.sum()


def epoch_order(rng: np.random.RandomState, rows: int | np.ndarray) -> np.ndarray:
    """The shuffled order of one epoch (int64): a permutation of range(rows) or of rows.

    Drawn by a PCG64 generator seeded from ``rng`` (the estimator's
    ``random_state``), which shuffles about twice as fast as RandomState.
    """
    generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    return generator.permutation(rows).astype(np.int64, copy=False)


def check_finite_input(X: np.ndarray) -> None:
    """Raise scikit-learn's ValueError if X has a NaN or an infinity.

    The estimators' fit and partial_fit skip scikit-learn's up-front scan of X
    (a full pass, ~10% of an epoch): a non-finite value always reaches the loss
    or the weights of the epoch that visits its row (NaN and inf propagate
    through every product), so the training loop calls this only then.
    """
    if hasattr(X, "pygd_kernel"):  # data held elsewhere (pygd.dask) checks where it lives
        return X.check_finite()
    if is_csr(X):
        X = X.data
    if not np.isfinite(X).all():
        kind = "NaN" if np.isnan(X).any() else "infinity or a value too large for %r" % X.dtype
        raise ValueError(f"Input X contains {kind}. Remove or impute such values "
                         f"(e.g. with sklearn.impute.SimpleImputer) before fitting.")


def validation_split(n: int, fraction: float, rng: np.random.RandomState,
                     stratify: np.ndarray | None, sw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (training rows, validation rows) for ``early_stopping``, stratified by class if given.

    Raises ValueError when either part is empty, a class is too rare to stratify,
    or the validation rows' weights sum to 0 (no score could be computed).
    """
    try:
        train, val = train_test_split(np.arange(n), test_size=fraction, random_state=rng,
                                      stratify=stratify)
    except ValueError as exc:
        raise ValueError(
            f"The validation split with validation_fraction={fraction} of {n} samples failed: "
            f"{exc} Change validation_fraction, add samples, or set early_stopping=False.") from exc
    val = np.sort(val).astype(np.int64)
    if not sw[val].sum() > 0:
        raise ValueError("The sample weights of the validation rows are all zero: no validation "
                         "score can be computed; use another random_state or early_stopping=False.")
    return np.sort(train).astype(np.int64), val


def kernel(name: str, X: Any) -> Any:
    """The compiled ``_core`` function ``name`` for X's dtype (``objective_grad`` -> ``objective_grad_f64``).

    Data held elsewhere (``pygd.dask``'s distributed rows) has ``pygd_kernel(name)``,
    a stand-in with the same signature that runs the compiled kernel where the rows live.
    """
    own = getattr(X, "pygd_kernel", None)
    if own is not None:
        return own(name)
    return getattr(_core, f"{name}_{core_suffix(X.dtype)}")
