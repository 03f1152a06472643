"""pygd.preprocessing on scipy.sparse input: StandardScaler(with_mean=False) and sparse_column_stats.

Compared with scikit-learn's StandardScaler(with_mean=False) on the same
sparse input, with pygd's dense scaler on ``X.toarray()``, and with
``pygd.reference.sparse_column_stats_reference``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.preprocessing

import pygd
from pygd import _core, reference
from pygd._sparse import _not_canonical, check_csr, csr_kernel_arrays
from pygd._validation import core_suffix
from pygd.preprocessing import StandardScaler, sparse_column_stats

from conftest import DTYPES

CSR_CLASSES = [sp.csr_matrix, sp.csr_array]
CENTER = ("Cannot center sparse matrices: pass `with_mean=False` instead. "
          "See docstring for motivation and alternatives.")
# Relative tolerances against float64 computations of the same statistics
# (both dtypes: the values are read as float64 either way).
STATS_RTOL = 1e-12
# Outputs rounded to the input's dtype.
OUT_RTOL = {np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-15}


def _sparse_X(cls=sp.csr_matrix, dtype=np.float64, seed=0, n=200):
    """n x 8 sparse with columns that test the formula's corners.

    0-2: random sparse; 3: all zero (nothing stored); 4: 3.7 stored in every
    row (constant, no implicit zero); 5: 1e6 + N(0, 1) in every row; 6: one
    stored value; 7: 1e6 + N(0, 1) in half the rows (a large mean and spread).
    """
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, 8)) * rng.integers(0, 2, size=(n, 8)) * [1, 5, 0.1, 0, 0, 0, 0, 0]
    D[:, 4] = 3.7
    D[:, 5] = 1e6 + rng.normal(size=n)
    D[17, 6] = -2.5
    D[: n // 2, 7] = 1e6 + rng.normal(size=n // 2)
    X = cls(D.astype(dtype))
    assert X.dtype == dtype and X.nnz < D.size
    return X


def _weights(kind, n, seed=1):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    if kind == "integers":
        return rng.integers(0, 4, size=n).astype(np.float64)
    return rng.uniform(0.1, 3.0, size=n)


def _assert_stats_close(mean, var, mean_ref, var_ref, rtol=STATS_RTOL):
    # The rounding of a two-pass variance scales with mean^2 + var.
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    np.testing.assert_allclose(mean, mean_ref, rtol=rtol, atol=0)
    bound = rtol * (var_ref + mean_ref**2) + 1e-300
    assert np.all(np.abs(var - var_ref) <= bound), np.abs(var - var_ref) / bound


def _snapshot(X):
    return X.data.copy(), X.indices.copy(), X.indptr.copy()


def _assert_unchanged(X, snapshot):
    for now, before in zip((X.data, X.indices, X.indptr), snapshot):
        assert now.dtype == before.dtype
        np.testing.assert_array_equal(now, before)


# ------------------------------------------------------------------ sparse_column_stats


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [None, "integers", "floats"])
def test_stats_match_the_reference(cls, dtype, weights):
    X = _sparse_X(cls, dtype)
    w = _weights(weights, X.shape[0])
    snapshot = _snapshot(X)
    mean, var, weight_sum = sparse_column_stats(X, sample_weight=w)
    mean_ref, var_ref, weight_ref = reference.sparse_column_stats_reference(X, sample_weight=w)
    assert mean.dtype == np.float64 and var.dtype == np.float64 and isinstance(weight_sum, float)
    assert weight_sum == pytest.approx(weight_ref, rel=1e-15)
    _assert_stats_close(mean, var, mean_ref, var_ref)
    assert mean[3] == 0.0 and var[3] == 0.0  # nothing stored
    assert var[4] <= 1e-12  # constant, stored in every row: no implicit zeros
    _assert_unchanged(X, snapshot)


def test_reference_is_the_dense_formula():
    # A hand-computed case pins the reference itself (weights 1, 3).
    X = sp.csr_matrix(np.array([[0.0, 2.0], [4.0, 0.0]]))
    mean, var, weight = reference.sparse_column_stats_reference(X, sample_weight=[1.0, 3.0])
    assert weight == 4.0
    np.testing.assert_array_equal(mean, [3.0, 0.5])
    np.testing.assert_array_equal(var, [(1 * 9 + 3 * 1) / 4, (1 * 2.25 + 3 * 0.25) / 4])


def test_stats_count_duplicates_as_their_sum():
    # Row 0 stores column 1 twice (1 + 2) and unsorted; toarray() reads 3.
    X = sp.csr_matrix((np.array([2.0, 1.0, 5.0, 1.0]), np.array([1, 1, 0, 1]), np.array([0, 2, 4])),
                      shape=(2, 2))
    assert _not_canonical(X.indptr, X.indices)
    snapshot = _snapshot(X)
    mean, var, _ = sparse_column_stats(X)
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X)
    np.testing.assert_array_equal(mean, [2.5, 2.0])
    _assert_stats_close(mean, var, mean_ref, var_ref)
    _assert_unchanged(X, snapshot)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_stats_take_any_format(fmt):
    X = _sparse_X()
    mean, var, _ = sparse_column_stats(X.asformat(fmt))
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X)
    _assert_stats_close(mean, var, mean_ref, var_ref)


def test_all_zero_weights_refused():
    X = _sparse_X(n=20)
    with pytest.raises(ValueError, match="(all zero|non-zero)"):
        sparse_column_stats(X, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="(all zero|non-zero)"):
        StandardScaler(with_mean=False).fit(X, sample_weight=np.zeros(20))
    # Some zero weights are rows left out.
    w = np.ones(20)
    w[:5] = 0.0
    mean, var, weight_sum = sparse_column_stats(X, sample_weight=w)
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X[5:])
    assert weight_sum == 15.0
    _assert_stats_close(mean, var, mean_ref, var_ref)


def test_stats_of_a_large_offset_are_exact_to_rounding():
    # 1e9 + small spread in every row but one (one implicit zero): the
    # second pass subtracts the mean first, so the spread is not lost.
    rng = np.random.default_rng(5)
    col = 1e9 + rng.normal(size=1000)
    col[3] = 0.0
    X = sp.csr_matrix(col[:, None])
    mean, var, _ = sparse_column_stats(X)
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X)
    _assert_stats_close(mean, var, mean_ref, var_ref)


@pytest.mark.parametrize("weights", [None, "floats"])
def test_stats_whose_squares_overflow_are_inf(weights):
    # Finite values whose squares overflow float64: the one-pass sum of squares is
    # infinite, so those columns take the second pass, which finds the variance
    # beyond float64 (inf), not 0; an ordinary column beside them is unaffected.
    rng = np.random.default_rng(8)
    n = 300
    D = np.zeros((n, 3))
    D[:, 0] = rng.normal(size=n) * 1e160
    D[::2, 1] = 1e300 * (1.0 + rng.random(n // 2))
    D[:, 2] = rng.normal(size=n) * (rng.random(n) < 0.5)
    X = sp.csr_matrix(D)
    w = _weights(weights, n)
    mean, var, _ = sparse_column_stats(X, sample_weight=w)
    assert np.all(np.isinf(var[:2])) and np.all(np.isfinite(mean[:2]))
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X[:, 2:], sample_weight=w)
    _assert_stats_close(mean[2:], var[2:], mean_ref, var_ref)
    assert np.all(StandardScaler(with_mean=False).fit(X, sample_weight=w).scale_ > 0)


def test_stats_refuse_nan():
    X = _sparse_X()
    X.data[0] = np.nan
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        sparse_column_stats(X)


def _split_X(dtype, index_dtype, seed=3, n=4000, d=240):
    """n x d CSR with about 60 stored values per row, enough for a column range per thread.

    Columns 0 and d - 2 are stored in every row (1e6 + N(0, 1): no implicit
    zero, a large mean), 100-109 and d - 1 are empty; the others hold
    1 + N(0, 1) values, 1e3 times that in every 7th, in about a quarter of the rows.
    """
    rng = np.random.default_rng(seed)
    D = (1.0 + rng.normal(size=(n, d))) * (rng.random((n, d)) < 0.25)
    D[:, 1::7] *= 1e3
    D[:, [0, d - 2]] = 1e6 + rng.normal(size=(n, 2))
    D[:, 100:110] = 0.0
    D[:, d - 1] = 0.0
    X = sp.csr_matrix(D.astype(dtype))
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    assert X.nnz > 50 * n
    return X


def _column_ranges(X):
    # The column bounds csr_column_stats splits X into with this thread's thread count.
    data, indices, indptr, shape = csr_kernel_arrays(check_csr(X))
    assert indices.dtype == X.indices.dtype  # the index width under test reaches the kernel
    ranges = getattr(_core, "csr_column_stats_ranges_" + core_suffix(data.dtype))
    return ranges(_core.CsrMatrix(data, indices, indptr, shape[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("weights", [None, "floats"])
def test_stats_same_bits_for_any_thread_count(dtype, index_dtype, weights, threads_restored):
    # Each thread sums the stored values of its own columns in storage order:
    # the split changes no column's order of operations, hence no bit.
    X = _split_X(dtype, index_dtype)
    w = _weights(weights, X.shape[0])
    results = {}
    for threads in (1, 2, 3):
        pygd.set_num_threads(threads)
        bounds = _column_ranges(X)
        assert len(bounds) == threads + 1, bounds  # the matrix is split as many ways
        assert bounds[0] == 0 and bounds[-1] == X.shape[1] and np.all(np.diff(bounds) > 0)
        results[threads] = sparse_column_stats(X, sample_weight=w)
    mean, var, weight_sum = results[1]
    for threads in (2, 3):
        other_mean, other_var, other_weight_sum = results[threads]
        np.testing.assert_array_equal(other_mean.view(np.int64), mean.view(np.int64))
        np.testing.assert_array_equal(other_var.view(np.int64), var.view(np.int64))
        assert other_weight_sum == weight_sum
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X, sample_weight=w)
    _assert_stats_close(mean, var, mean_ref, var_ref)
    d = X.shape[1]
    assert np.all(mean[[100, d - 1]] == 0.0) and np.all(var[[100, d - 1]] == 0.0)


@pytest.mark.parametrize("weights", [None, "floats"])
def test_stats_exact_where_the_shift_is_far_from_the_mean(weights, threads_restored):
    # The kernel's one pass (sums of y = x - c and y^2) would lose the spread of a
    # column whose shift c is far from its mean (here 100 times its largest value
    # away, or 1e3 from 1e6 + N(0, 1): var / (var + (mean - c)^2) ~ 1e-5 and 1e-6,
    # one-pass errors ~1e-11 and 1e-10 of the variance); those columns take the
    # exact second pass, which subtracts the mean first.  The bound is relative to
    # the variance alone, tighter than _assert_stats_close's.
    from pygd.preprocessing import _csr_column_stats

    X = _split_X(np.float64, np.int32)
    w = _weights(weights, X.shape[0])
    d = X.shape[1]
    largest = np.asarray(abs(X).max(axis=0).todense()).ravel()
    shift = 100.0 * largest
    shift[[0, d - 2]] = 1e6 + 1e3
    data, indices, indptr, shape = csr_kernel_arrays(check_csr(X))
    mean_ref, var_ref, _ = reference.sparse_column_stats_reference(X, sample_weight=w)
    results = {}
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        results[threads] = _csr_column_stats(data, indices, indptr, shape, w, shift)
    mean_rel, var, _ = results[1]
    np.testing.assert_array_equal(results[2][0].view(np.int64), mean_rel.view(np.int64))
    np.testing.assert_array_equal(results[2][1].view(np.int64), var.view(np.int64))
    # (the mean is relative to the shift: its rounding is the shift's)
    assert np.all(np.abs(shift + mean_rel - mean_ref) <= STATS_RTOL * np.abs(mean_ref) + 1e-15 * shift)
    np.testing.assert_allclose(var, var_ref, rtol=STATS_RTOL, atol=0)


def test_small_stats_stay_on_one_thread(threads_restored):
    # Too few stored values (the 200 x 8 corner cases), or too few per row, for a split to pay.
    pygd.set_num_threads(2)
    np.testing.assert_array_equal(_column_ranges(_sparse_X()), [0, 8])
    X = _split_X(np.float64, np.int32)
    X = X[:, :20].tocsr()  # about 5 stored per row
    X = sp.vstack([X] * 20, format="csr")
    assert X.nnz > 2 * 2**15
    np.testing.assert_array_equal(_column_ranges(X), [0, 20])


# ------------------------------------------------------------------ fit


def _sk_fit(X, w=None, **params):
    return sklearn.preprocessing.StandardScaler(with_mean=False, **params).fit(X, sample_weight=w)


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [None, "integers", "floats"])
def test_fit_matches_sklearn_and_dense_pygd(cls, dtype, weights):
    X = _sparse_X(cls, dtype)
    w = _weights(weights, X.shape[0])
    ours = StandardScaler(with_mean=False).fit(X, sample_weight=w)
    theirs = _sk_fit(X, w)
    dense = StandardScaler(with_mean=False).fit(X.toarray(), sample_weight=w)
    # scikit-learn computes float32 input's statistics in float32.
    sk_rtol = STATS_RTOL if dtype == np.float64 else 1e-6
    for other, rtol in ((theirs, sk_rtol), (dense, STATS_RTOL)):
        _assert_stats_close(ours.mean_, ours.var_, other.mean_, other.var_, rtol)
        np.testing.assert_allclose(ours.scale_, other.scale_, rtol=rtol)
        assert float(ours.n_samples_seen_) == pytest.approx(float(other.n_samples_seen_), rel=1e-7)
    # Constant (stored everywhere) and all-zero columns: scale 1, as scikit-learn.
    assert ours.scale_[3] == 1.0 and ours.scale_[4] == 1.0
    assert theirs.scale_[3] == 1.0 and theirs.scale_[4] == 1.0
    assert np.ndim(ours.n_samples_seen_) == 0 and np.asarray(ours.n_samples_seen_).dtype == np.float64
    assert ours.mean_.dtype == ours.var_.dtype == ours.scale_.dtype == np.float64
    assert ours.n_features_in_ == 8
    np.testing.assert_array_equal(ours.get_feature_names_out(), dense.get_feature_names_out())


@pytest.mark.parametrize("weights", [None, "floats"])
def test_fit_without_std_counts_samples(weights):
    X = _sparse_X()
    w = _weights(weights, X.shape[0])
    ours = StandardScaler(with_mean=False, with_std=False).fit(X, sample_weight=w)
    dense = StandardScaler(with_mean=False, with_std=False).fit(X.toarray(), sample_weight=w)
    assert ours.mean_ is None and ours.var_ is None and ours.scale_ is None
    assert np.asarray(ours.n_samples_seen_).dtype == (np.int64 if w is None else np.float64)
    assert np.asarray(ours.n_samples_seen_).dtype == np.asarray(dense.n_samples_seen_).dtype
    assert ours.n_samples_seen_ == pytest.approx(dense.n_samples_seen_, rel=1e-15)
    ours.partial_fit(X, sample_weight=w)
    assert ours.n_samples_seen_ == pytest.approx(2 * dense.n_samples_seen_, rel=1e-15)
    out = ours.transform(X)
    assert out is not X
    np.testing.assert_array_equal(out.toarray(), X.toarray())


def test_fit_leaves_read_only_input_untouched():
    X = _sparse_X()
    X.data[0], X.data[1] = X.data[1], X.data[0]  # still canonical; now freeze it
    for array in (X.data, X.indices, X.indptr):
        array.flags.writeable = False
    snapshot = _snapshot(X)
    scaler = StandardScaler(with_mean=False).fit(X)
    out = scaler.transform(X, copy=False)  # read-only values: scaled on a copy
    assert out is not X and not np.shares_memory(out.data, X.data)
    _assert_unchanged(X, snapshot)
    np.testing.assert_allclose(out.toarray(), X.toarray() / scaler.scale_, rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [None, "floats"])
def test_partial_fit_merges_to_one_fit(dtype, weights):
    X = _sparse_X(dtype=dtype, n=300)
    w = _weights(weights, X.shape[0])
    whole = StandardScaler(with_mean=False).fit(X, sample_weight=w)
    theirs = sklearn.preprocessing.StandardScaler(with_mean=False)
    chunked = StandardScaler(with_mean=False)
    for rows in (slice(0, 50), slice(50, 51), slice(51, 220), slice(220, 300)):
        sw = None if w is None else w[rows]
        chunked.partial_fit(X[rows], sample_weight=sw)
        theirs.partial_fit(X[rows], sample_weight=sw)
    sk_rtol = STATS_RTOL if dtype == np.float64 else 1e-6
    for other, rtol in ((whole, STATS_RTOL), (theirs, sk_rtol)):
        _assert_stats_close(chunked.mean_, chunked.var_, other.mean_, other.var_, rtol)
    assert float(chunked.n_samples_seen_) == pytest.approx(float(whole.n_samples_seen_), rel=1e-15)
    np.testing.assert_allclose(chunked.scale_, whole.scale_, rtol=STATS_RTOL)


def test_dense_and_sparse_chunks_mix():
    X = _sparse_X(n=300)
    whole = StandardScaler(with_mean=False).fit(X.toarray())
    for first_dense in (True, False):
        mixed = StandardScaler(with_mean=False)
        for k, rows in enumerate((slice(0, 100), slice(100, 200), slice(200, 300))):
            chunk = X[rows]
            mixed.partial_fit(chunk.toarray() if (k % 2 == 0) == first_dense else chunk)
        _assert_stats_close(mixed.mean_, mixed.var_, whole.mean_, whole.var_)
        assert mixed.n_samples_seen_ == 300


# ------------------------------------------------------------------ transform


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_transform_scales_stored_values_only(cls, dtype):
    X = _sparse_X(cls, dtype)
    snapshot = _snapshot(X)
    scaler = StandardScaler(with_mean=False).fit(X)
    out = scaler.transform(X)
    assert type(out) is cls and out.format == "csr" and out.dtype == dtype
    assert out.nnz == X.nnz
    np.testing.assert_array_equal(out.indices, X.indices)
    np.testing.assert_array_equal(out.indptr, X.indptr)
    for mine, theirs in ((out.data, X.data), (out.indices, X.indices), (out.indptr, X.indptr)):
        assert not np.shares_memory(mine, theirs)
    _assert_unchanged(X, snapshot)
    rtol = OUT_RTOL[np.dtype(dtype)]
    # x / scale in float64, rounded: what the dense kernel gives.
    expected = (X.data.astype(np.float64) / scaler.scale_[X.indices]).astype(dtype)
    np.testing.assert_array_equal(out.data, expected)
    # Against other fits: their scale_ agrees to the statistics' rounding.
    dense = StandardScaler(with_mean=False).fit(X.toarray())
    np.testing.assert_allclose(out.toarray(), dense.transform(X.toarray()), rtol=max(rtol, STATS_RTOL))
    sk = _sk_fit(X).transform(X)
    np.testing.assert_allclose(out.toarray(), sk.toarray(), rtol=max(rtol, 1e-6 if dtype == np.float32 else STATS_RTOL))


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_inverse_transform_round_trip(cls, dtype):
    X = _sparse_X(cls, dtype)
    scaler = StandardScaler(with_mean=False).fit(X)
    Z = scaler.transform(X)
    snapshot = _snapshot(Z)
    back = scaler.inverse_transform(Z)
    assert type(back) is cls and back.dtype == dtype and back.nnz == X.nnz
    _assert_unchanged(Z, snapshot)
    np.testing.assert_allclose(back.toarray(), X.toarray(), rtol=2 * OUT_RTOL[np.dtype(dtype)])
    expected = (Z.data.astype(np.float64) * scaler.scale_[Z.indices]).astype(dtype)
    np.testing.assert_array_equal(back.data, expected)


def test_copy_false_scales_in_place_when_it_can():
    X = _sparse_X()
    scaler = StandardScaler(with_mean=False, copy=False).fit(X)
    before = X.toarray()
    out = scaler.transform(X)
    assert out is X
    np.testing.assert_allclose(X.toarray(), before / scaler.scale_, rtol=1e-15)
    back = scaler.inverse_transform(X, copy=False)
    assert back is X
    np.testing.assert_allclose(X.toarray(), before, rtol=1e-15)


def test_copy_false_on_integer_values_converts_and_leaves_input():
    X = sp.csr_matrix(np.array([[0, 2], [4, 0], [2, 6]], dtype=np.int64))
    scaler = StandardScaler(with_mean=False).fit(X)
    out = scaler.transform(X, copy=False)
    assert out.dtype == np.float64 and X.dtype == np.int64
    np.testing.assert_array_equal(X.toarray(), [[0, 2], [4, 0], [2, 6]])
    np.testing.assert_allclose(out.toarray(), X.toarray() / scaler.scale_, rtol=1e-15)


def test_transform_of_other_formats_gives_csr_of_the_same_kind():
    X = _sparse_X()
    scaler = StandardScaler(with_mean=False).fit(X)
    out = scaler.transform(sp.csc_matrix(X))
    assert isinstance(out, sp.csr_matrix)
    out_array = scaler.transform(sp.csc_array(X))
    assert isinstance(out_array, sp.csr_array)
    np.testing.assert_allclose(out.toarray(), scaler.transform(X).toarray(), rtol=1e-15)


def test_dense_fit_transforms_sparse_input():
    X = _sparse_X()
    scaler = StandardScaler(with_mean=False).fit(X.toarray())
    np.testing.assert_allclose(scaler.transform(X).toarray(), scaler.transform(X.toarray()), rtol=1e-15)


# ------------------------------------------------------------------ errors


def test_with_mean_refuses_sparse_everywhere():
    X = _sparse_X()
    with pytest.raises(ValueError, match=re.escape(CENTER)):
        StandardScaler().fit(X)
    with pytest.raises(ValueError, match=re.escape(CENTER)):
        StandardScaler().partial_fit(X)
    fitted = StandardScaler().fit(X.toarray())
    for method in (fitted.transform, fitted.inverse_transform):
        with pytest.raises(ValueError, match=re.escape(CENTER)):
            method(X)
    # scikit-learn's own message, word for word.
    with pytest.raises(ValueError, match=re.escape(CENTER)):
        sklearn.preprocessing.StandardScaler().fit(X)


@pytest.mark.parametrize("value,message", [(np.nan, "Input X contains NaN."),
                                           (np.inf, "Input X contains infinity")])
def test_non_finite_input_refused(value, message):
    X = _sparse_X()
    scaler = StandardScaler(with_mean=False).fit(X)
    X.data[5] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        StandardScaler(with_mean=False).fit(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        scaler.transform(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        scaler.inverse_transform(X)


def test_feature_count_mismatch():
    scaler = StandardScaler(with_mean=False).fit(_sparse_X())
    X = sp.csr_matrix(np.ones((3, 5)))
    message = "X has 5 features, but StandardScaler is expecting 8 features as input."
    for method in (scaler.transform, scaler.inverse_transform, scaler.partial_fit):
        with pytest.raises(ValueError, match=re.escape(message)):
            method(X)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_empty_input_refused(shape):
    with pytest.raises(ValueError, match="while a minimum of 1 is required"):
        StandardScaler(with_mean=False).fit(sp.csr_matrix(shape))


@pytest.mark.parametrize("rows", [[[2, 1], [0]], [[1, 1], [0]]], ids=["unsorted", "duplicate"])
def test_core_stats_refuse_rows_that_are_not_canonical(rows):
    # The engine reads canonical rows (it finds a thread's columns by binary search and
    # counts a column once per row); pygd.preprocessing passes only such, and a direct
    # call with other rows fails instead of returning wrong sums.
    indices = np.array([j for row in rows for j in row], dtype=np.int32)
    indptr = np.cumsum([0] + [len(row) for row in rows]).astype(np.int32)
    X = _core.CsrMatrix(np.ones(indices.size), indices, indptr, 3)
    with pytest.raises(ValueError, match="canonical"):
        _core.csr_column_stats_f64(X, None, np.zeros(3))
