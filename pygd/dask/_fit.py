"""The Dask paths of the estimators' fit, partial_fit, predict-like methods and StandardScaler.

Imported only when an estimator receives a Dask collection; dask and distributed
are imported inside the functions (so this module imports, and its examples run,
where dask is not installed).  See :mod:`pygd.dask` for what runs where and which
results are bitwise the in-memory ones.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, _check_n_features

from .._config import threads
from ._store import DistributedRows, DistributedTargets, DistributedWeights

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["blockwise", "fit", "partial_fit"]


def _client() -> Any:
    from distributed import get_client

    try:
        return get_client()
    except ValueError as exc:
        raise ValueError("pygd on Dask collections runs on a dask.distributed cluster: create a "
                         "Client first (dask.distributed.Client(), or Client(cluster))") from exc


# -- the collections ------------------------------------------------------------------------
def _as_dask_array(obj: Any, name: str) -> tuple[da.Array, list[str] | None]:
    """A Dask array of ``obj`` and, for a DataFrame, its column names."""
    import dask.array as da

    if isinstance(obj, da.Array):
        return obj, None
    if hasattr(obj, "to_dask_array"):  # Dask DataFrame or Series: the partition lengths, one pass
        names = [str(c) for c in obj.columns] if hasattr(obj, "columns") else None
        return obj.to_dask_array(lengths=True), names
    raise TypeError(f"{name} is a Dask collection of type {type(obj).__name__}; pygd takes Dask "
                    "arrays, DataFrames and Series")


def _aligned(obj: Any, name: str, rows: tuple[int, ...]) -> da.Array:
    """``obj`` (y or sample_weight: Dask or NumPy) as a Dask array chunked like X's rows."""
    import dask.array as da

    from . import is_dask_collection

    if is_dask_collection(obj):
        arr, _ = _as_dask_array(obj, name)
    else:
        arr = np.asarray(obj)
        if arr.ndim == 0 and name == "sample_weight":
            arr = np.full(sum(rows), arr.item())
        arr = da.from_array(arr, chunks=(rows,) + arr.shape[1:])
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got {arr.ndim} dimensions")
    if any(np.isnan(c) for c in arr.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes (NaN); call {name}.compute_chunk_sizes() "
                         "or pass lengths")
    if arr.shape[0] != sum(rows):
        raise ValueError(f"X has {sum(rows)} rows but {name} has {arr.shape[0]}")
    if tuple(arr.chunks[0]) != rows:
        raise ValueError(f"the row chunks of {name} {tuple(arr.chunks[0])} do not line up with X's "
                         f"{rows}: rechunk it, e.g. {name}.rechunk({{0: X.chunks[0]}})")
    return arr.rechunk({1: -1}) if arr.ndim == 2 else arr


def _rows_of(X: Any) -> tuple[da.Array, list[str] | None]:
    X, names = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D X, got {X.ndim} dimensions")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes (NaN): call X.compute_chunk_sizes() (or pass "
                         "lengths=True to to_dask_array) so that X's and y's row chunks can be matched")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"X has dtype {X.dtype}; pygd takes numbers (float32 stays float32, other "
                         "numbers become float64)")
    return X.rechunk({1: -1}), names


def _aligned_block(a: Any) -> Any:
    # A block that arrived over the network may sit in an unaligned buffer, which
    # pygd's kernels refuse (and scikit-learn's validation does not copy).
    if isinstance(a, np.ndarray) and not a.flags.aligned:
        return a.copy()
    return a


def _triple(X: Any, y: Any, sw: Any) -> tuple:
    return _aligned_block(X), _aligned_block(y), _aligned_block(sw)


def _set_features(estimator: Any, X: da.Array, names: list[str] | None) -> None:
    """n_features_in_ and feature_names_in_ as scikit-learn's validation would set them."""
    meta = np.zeros((1, X.shape[1]))
    if names is not None:
        import pandas as pd

        meta = pd.DataFrame(meta, columns=names)
    _check_n_features(estimator, meta, reset=True)
    _check_feature_names(estimator, meta, reset=True)


def _store(client: Any, X: da.Array, y: da.Array, sw: da.Array | None, dtype: np.dtype) -> DistributedRows:
    import dask

    rows = [int(r) for r in X.chunks[0]]
    Xb = X.to_delayed()[:, 0]
    yb = y.to_delayed().ravel() if y.ndim == 1 else y.to_delayed()[:, 0]
    wb = [None] * len(rows) if sw is None else sw.to_delayed().ravel()
    keep = [i for i, r in enumerate(rows) if r > 0]
    blocks = [dask.delayed(_triple, pure=True)(Xb[i], yb[i], wb[i]) for i in keep]
    return DistributedRows(client, blocks, [rows[i] for i in keep], X.shape[1], dtype)


# -- fit ---------------------------------------------------------------------------------------
def fit(estimator: Any, X: Any, y: Any, sample_weight: Any = None, coef_init: Any = None,
        intercept_init: Any = None) -> Any:
    """``estimator.fit`` on Dask collections (see :mod:`pygd.dask` for each path's exactness).

    L-BFGS (and Newton) steps from per-chunk objective and gradient sums; with
    a first-order optimizer and ``batch_size="full"`` one engine step per epoch
    from per-chunk raw sums (``_core.batch_sums_*`` on the workers,
    ``_core.train_step_*`` on the client); with mini-batches, epochs that visit
    the chunks in order, the model moving to each chunk's worker.
    ``early_stopping`` and ``warm_start`` as in memory.

    Parameters
    ----------
    estimator : GDRegressor or GDClassifier
    X : dask array or DataFrame of shape (n_samples, n_features), chunked by rows
    y : dask array / Series (row chunks as X's) or NumPy array
    sample_weight : dask array (row chunks as X's), NumPy array or None
    coef_init, intercept_init : array-like or None
        As for the in-memory fit.

    Returns
    -------
    estimator
        Fitted.  Full-batch fits equal the in-memory fit on the concatenated
        rows to about 1e-12 relative (float64); every fit is bitwise the
        in-memory one with a single row chunk.

    Examples
    --------
    >>> from pygd.dask._fit import fit
    >>> callable(fit)
    True
    """
    classifier = is_classifier(estimator)
    previous_classes = getattr(estimator, "classes_", None)
    if hasattr(estimator, "_trainer") and not estimator.warm_start:
        del estimator._trainer
    Xd, names = _rows_of(X)
    rows = tuple(int(r) for r in Xd.chunks[0])
    yd = _aligned(y, "y", rows)
    wd = None if sample_weight is None else _aligned(sample_weight, "sample_weight", rows)
    if wd is not None and wd.ndim != 1:
        raise ValueError("sample_weight must be 1-D")
    if classifier and yd.ndim != 1:
        raise ValueError("y should be a 1d array for a classifier")
    dtype = np.dtype(np.float32) if Xd.dtype == np.float32 else np.dtype(np.float64)
    if classifier:
        estimator.classes_ = np.zeros(2)  # set for _settings below; the real ones come next
    estimator._settings()  # the parameters' own errors before any work on the cluster
    _set_features(estimator, Xd, names)
    client = _client()
    store = _store(client, Xd, yd, wd, dtype)
    try:
        n, d = store.shape
        weighted = sample_weight is not None
        if classifier:
            labels = [part["labels"] for part in store.per_chunk_summary()]
            classes = np.unique(np.concatenate(labels))
            check_classification_targets(classes)
            estimator.classes_ = classes
            if len(classes) < 2:
                raise ValueError(f"The number of classes has to be greater than one; got "
                                 f"{len(classes)} class")
            class_weights = None
            if estimator.class_weight is not None:
                weighted = True
                if isinstance(estimator.class_weight, str) and estimator.class_weight == "balanced":
                    counts = sum(c for _, c in store.per_chunk("class_counts", len(classes), estimator))
                    # scikit-learn's definition of "balanced" (compute_class_weight)
                    class_weights = n / (len(classes) * counts.astype(np.float64))
                else:
                    class_weights = compute_class_weight(estimator.class_weight, classes=classes, y=classes)
            store.setup("classifier", estimator, class_weights)
            one_d = False
            k = estimator._outputs()[1]
            if hasattr(estimator, "_trainer") and not (
                    previous_classes is not None and np.array_equal(previous_classes, classes)):
                del estimator._trainer  # warm_start continues only with the same classes
            stratify = None
            if estimator.early_stopping:  # the validation split is stratified by class, as in memory
                stratify = np.concatenate([index for _, index in store.per_chunk("class_indices", estimator)])
        else:
            one_d = yd.ndim == 1
            store.setup("regressor", one_d)
            k = 1 if one_d else yd.shape[1]
        top = 1.0
        if weighted:
            parts = store.per_chunk_summary()
            if any(p["sw_nan"] for p in parts):
                raise ValueError("sample_weight contains NaN")
            if min(p["sw_min"] for p in parts) < 0:
                raise ValueError("Negative values in data passed to sample_weight")
            top = max(p["sw_max"] for p in parts)
            if not np.isfinite(top):
                raise ValueError("sample_weight contains infinity")
            if not top > 0:
                raise ValueError("sample_weight must have a positive sum")
            if top > 1e100:  # pygd.linear_model._base._tame_weights, on the workers
                store.setup("scale_weights", top)
                top = 1.0
        Yp = DistributedTargets(store, n, k, dtype)
        swp = DistributedWeights(store, n, dtype, top)
        estimator._fit(store, Yp, one_d, swp if weighted else None, swp, coef_init, intercept_init,
                       **({"stratify": stratify} if classifier else {}))
    finally:
        store.close()
    return estimator


def _is_frame(X: Any) -> bool:
    import dask.array as da

    return hasattr(X, "to_delayed") and not isinstance(X, da.Array) and hasattr(X, "npartitions")


def _frame_parts(X: Any, **others: Any) -> tuple[list[Any], ...]:
    """A Dask DataFrame's partitions, and those of y / sample_weight alike.

    Each of ``others`` may be None, a Dask collection with as many partitions,
    or array-like (split at the partitions' lengths, computed once).
    """
    from . import is_dask_collection

    X_parts = list(X.to_delayed())
    out = [X_parts]
    lengths = None
    for name, other in others.items():
        if other is None:
            out.append([None] * len(X_parts))
        elif is_dask_collection(other):
            parts = list(other.to_delayed())
            if len(parts) != len(X_parts):
                raise ValueError(f"X has {len(X_parts)} partitions but {name} has {len(parts)}")
            out.append(parts)
        else:
            if lengths is None:
                lengths = [int(r) for r in X.map_partitions(len).compute()]
            values = np.asarray(other)
            if values.ndim == 0 and name == "sample_weight":
                values = np.full(sum(lengths), values.item())
            if values.shape[0] != sum(lengths):
                raise ValueError(f"X has {sum(lengths)} rows but {name} has {values.shape[0]}")
            out.append(np.split(values, np.cumsum(lengths)[:-1]))
    return tuple(out)


# -- partial_fit: the model visits the blocks in order ------------------------------------------
def _worker_threads() -> int:
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except (ValueError, AttributeError):
        return 1


def _partial_fit_block(estimator: Any, block: tuple, kwargs: dict[str, Any]) -> Any:
    X, y, sw = (_aligned_block(part) for part in block)
    with threads(_worker_threads()):
        with warnings.catch_warnings():
            return estimator.partial_fit(X, y, sample_weight=sw, **kwargs)


def partial_fit(estimator: Any, X: Any, y: Any = None, sample_weight: Any = None,
                **kwargs: Any) -> Any:
    """``estimator.partial_fit`` over the row blocks of Dask collections, in order.

    The estimator (small) moves to the worker of each block in turn; the result
    equals calling ``partial_fit`` on each block in order on one machine, bit
    for bit.  Works for GDRegressor, GDClassifier (``classes`` needed on the
    first call, as in memory) and StandardScaler.

    Examples
    --------
    >>> from pygd.dask._fit import partial_fit
    >>> callable(partial_fit)
    True
    """
    import dask

    client = _client()
    if _is_frame(X):  # its partitions go to partial_fit as they are (feature names kept)
        X_parts, y_parts, w_parts = _frame_parts(X, y=y, sample_weight=sample_weight)
    else:
        Xd, _ = _rows_of(X)
        rows = tuple(int(r) for r in Xd.chunks[0])
        X_parts = list(Xd.to_delayed()[:, 0])
        if y is None:
            y_parts = [None] * len(X_parts)
        else:
            yd = _aligned(y, "y", rows)
            y_parts = list(yd.to_delayed().ravel() if yd.ndim == 1 else yd.to_delayed()[:, 0])
        if sample_weight is None:
            w_parts = [None] * len(X_parts)
        else:
            w_parts = list(_aligned(sample_weight, "sample_weight", rows).to_delayed().ravel())
    blocks = client.compute([dask.delayed(_triple, pure=True)(a, b, c)
                             for a, b, c in zip(X_parts, y_parts, w_parts)])
    current: Any = estimator
    for i, block in enumerate(blocks):
        current = client.submit(_partial_fit_block, current, block, kwargs if i == 0 else {},
                                pure=False)
    fitted = current.result() if blocks else estimator
    estimator.__dict__.update(fitted.__dict__)
    return estimator


def _scaler_block_stats(scaler: Any, X: Any, sample_weight: Any) -> dict[str, Any] | None:
    # One block's statistics on its worker: a fresh scaler's partial_fit (the
    # kernel _core.column_stats_*, the block's own shift, NaNs left out, the
    # overflow units, the input checks), handed back as plain arrays; None for
    # an empty block (it adds nothing; Dask DataFrames often have some).
    X, sample_weight = _aligned_block(X), _aligned_block(sample_weight)
    if X.shape[0] == 0:
        return None
    with threads(_worker_threads()):
        fresh = clone(scaler).partial_fit(X, sample_weight=sample_weight)
    d = fresh.n_features_in_
    stats: dict[str, Any] = {
        "seen": np.broadcast_to(np.asarray(fresh.n_samples_seen_), (d,)).copy(),
        "n_features_in_": d,
        "feature_names_in_": getattr(fresh, "feature_names_in_", None),
    }
    if hasattr(fresh, "_shift"):  # the statistics (not when with_mean=with_std=False)
        stats.update(shift=fresh._shift, mean_rel=fresh._mean_rel, var_rel=fresh._var_rel,
                     exponent=fresh._exponent)
    return stats


def _merge_block_stats(scaler: Any, parts: list[dict[str, Any]]) -> None:
    """Sets ``scaler``'s fitted attributes from the blocks' statistics, merged in chunk order.

    Each column's shift is the one of the first block in which it has positive
    weight (as ``partial_fit`` fixes it); every block's mean, relative to its
    own shift, is re-based on that one, ``(s_c - s) + m_c`` (both shifts are
    values of the column, so the difference is of the size of the spread and
    the mean keeps its precision at any offset); columns kept in overflow units
    2**e take the largest block's e (exact rescaling).  Chan's formula
    (``pygd.preprocessing._merge_stats``) then merges the blocks in order.
    """
    from ..preprocessing import _merge_stats

    first = parts[0]
    scaler.n_features_in_ = first["n_features_in_"]
    if first["feature_names_in_"] is not None:
        scaler.feature_names_in_ = first["feature_names_in_"]
    elif hasattr(scaler, "feature_names_in_"):
        del scaler.feature_names_in_
    seen = first["seen"]
    for part in parts[1:]:
        seen = seen + part["seen"]
    if "shift" not in first:  # with_mean=with_std=False: only the counts
        scaler.mean_ = None
        scaler.var_ = None
        scaler._publish(seen)
        return
    weights = np.array([part["seen"] for part in parts], dtype=np.float64)  # (blocks, d)
    shifts = np.array([part["shift"] for part in parts])
    holder = np.argmax(weights > 0, axis=0)  # first block with weight per column (else 0)
    columns = np.arange(shifts.shape[1])
    shift = shifts[holder, columns]
    exponent = np.max([part["exponent"] for part in parts], axis=0)
    unit = np.ldexp(1.0, -exponent)
    weight = mean_rel = var_rel = None
    with np.errstate(invalid="ignore", over="ignore"):
        for part, weight_c in zip(parts, weights):
            # In units 2**exponent: shifts and means rescaled by powers of two (exact).
            mean_c = (part["shift"] * unit - shift * unit) + part["mean_rel"] * np.ldexp(
                1.0, part["exponent"] - exponent)
            var_c = None
            if part["var_rel"] is not None:
                var_c = part["var_rel"] * np.ldexp(1.0, 2 * (part["exponent"] - exponent))
            if weight is None:
                weight, mean_rel, var_rel = weight_c, mean_c, var_c
            else:
                weight, mean_rel, var_rel = _merge_stats(weight, mean_rel, var_rel, weight_c, mean_c,
                                                         var_c)
    scaler._shift, scaler._exponent, scaler._mean_rel, scaler._var_rel = shift, exponent, mean_rel, var_rel
    unit = np.ldexp(1.0, exponent)
    scaler.mean_ = shift + mean_rel * unit
    with np.errstate(over="ignore"):  # var_ is inf where it exceeds float64, as in memory
        scaler.var_ = None if var_rel is None else var_rel * unit * unit
    scaler._publish(seen)


def scaler_fit(scaler: Any, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """``StandardScaler.fit`` on a Dask collection: per-block statistics in parallel, merged in order.

    Each row block's statistics (weight, mean relative to the block's shift,
    variance, per column; NaNs left out; in the overflow units where squares
    exceed float64) are computed on its worker, all blocks at once, by a fresh
    scaler's ``partial_fit`` (pygd's ``_core.column_stats_*`` kernel); the
    client merges them in chunk order by Chan's formula (see
    :func:`_merge_block_stats`).  Equal to the in-memory ``fit`` on the
    concatenated rows to rounding (about 1e-12 relative for ``mean_`` and
    ``var_``, also at offsets of 1e6), not bitwise: the blocks are merged in
    another grouping than the kernel's own tiles.  ``n_samples_seen_``,
    ``n_features_in_`` and ``feature_names_in_`` (Dask DataFrames) as the
    in-memory fit sets them.  Every option takes this path (``with_mean``,
    ``with_std``, ``sample_weight``, NaNs, sparse blocks with
    ``with_mean=False``); empty blocks are skipped.

    Examples
    --------
    >>> from pygd.dask._fit import scaler_fit
    >>> callable(scaler_fit)
    True
    """
    import dask

    scaler._reset()
    client = _client()
    if _is_frame(X):  # its partitions go to partial_fit as they are (feature names kept)
        X_parts, w_parts = _frame_parts(X, sample_weight=sample_weight)
    else:
        Xd, _ = _rows_of(X)
        X_parts = list(Xd.to_delayed()[:, 0])
        if sample_weight is None:
            w_parts = [None] * len(X_parts)
        else:
            rows = tuple(int(r) for r in Xd.chunks[0])
            w_parts = list(_aligned(sample_weight, "sample_weight", rows).to_delayed().ravel())
    template = clone(scaler)
    parts = client.compute([dask.delayed(_scaler_block_stats, pure=True)(template, a, w)
                            for a, w in zip(X_parts, w_parts)], sync=True)
    parts = [part for part in parts if part is not None]
    if not parts:
        d = X.shape[1] if isinstance(X.shape[1], int) else len(X.columns)
        raise ValueError(f"Found array with 0 sample(s) (shape=(0, {d})) while a minimum of 1 is "
                         "required by StandardScaler.")
    _merge_block_stats(scaler, parts)
    return scaler


# -- predict-like methods: lazy, block by block ------------------------------------------------
def _apply(block: Any, estimator: Any, method: str, kwargs: dict[str, Any]) -> np.ndarray:
    with threads(_worker_threads()):
        return np.asarray(getattr(estimator, method)(_aligned_block(block), **kwargs))


def blockwise(estimator: Any, method: str, X: Any, **kwargs: Any) -> da.Array:
    """``estimator.<method>(X)`` as a lazy Dask array, computed block by block in memory.

    Each block's rows are bitwise what the in-memory method gives them.  Dask
    DataFrame partitions are passed as they are (their column names are
    checked as in memory); the result's row chunks are then of unknown size.

    Examples
    --------
    >>> from pygd.dask._fit import blockwise
    >>> callable(blockwise)
    True
    """
    import dask
    import dask.array as da

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    if hasattr(X, "npartitions") and not isinstance(X, da.Array):
        probe = np.asarray(getattr(estimator, method)(X._meta_nonempty.iloc[:1], **kwargs))
        parts = [da.from_delayed(dask.delayed(_apply, pure=True)(part, estimator, method, kwargs),
                                 shape=(np.nan,) + probe.shape[1:], dtype=probe.dtype,
                                 meta=np.empty((0,) * probe.ndim, dtype=probe.dtype))
                 for part in X.to_delayed()]
        return da.concatenate(parts, axis=0)
    X, _ = _rows_of(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a feature-name warning is the blocks' to give
        sample = np.zeros((1, X.shape[1]), dtype=X.dtype if X.dtype.kind == "f" else np.float64)
        probe = np.asarray(getattr(estimator, method)(sample, **kwargs))
    meta = np.empty((0,) * probe.ndim, dtype=probe.dtype)
    if probe.ndim == 1:
        return X.map_blocks(_apply, estimator, method, kwargs, dtype=probe.dtype, drop_axis=1,
                            meta=meta)
    return X.map_blocks(_apply, estimator, method, kwargs, dtype=probe.dtype,
                        chunks=(X.chunks[0], (probe.shape[1],)), meta=meta)
