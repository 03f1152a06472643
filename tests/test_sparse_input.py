"""pygd._sparse: check_csr, is_sparse and csr_kernel_arrays on good and bad sparse input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pygd._sparse
from pygd._sparse import _not_canonical, check_csr, csr_kernel_arrays, is_sparse

from conftest import run_python

CSR_CLASSES = [sp.csr_matrix, sp.csr_array]
OTHER_FORMATS = ["csc", "coo", "lil", "dok", "bsr", "dia"]


def _csr(cls, data, indices, indptr, shape):
    return cls((np.asarray(data), np.asarray(indices), np.asarray(indptr)), shape=shape)


def _example(cls=sp.csr_matrix, dtype=np.float64, index_dtype=np.int32):
    # 4 x 5, canonical, with an empty first, middle and last row between rows
    # whose neighbouring indices decrease across the boundary.
    X = _csr(cls, np.array([1.5, -2.0, 3.0, 4.0], dtype=dtype),
             np.array([1, 4, 0, 2], dtype=index_dtype),
             np.array([0, 0, 2, 2, 4], dtype=index_dtype), (4, 5))
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X


def _snapshot(X):
    return X.data.copy(), X.indices.copy(), X.indptr.copy(), X.data.dtype, X.indices.dtype


def _assert_unchanged(X, snapshot):
    data, indices, indptr, dtype, index_dtype = snapshot
    assert X.data.dtype == dtype and X.indices.dtype == index_dtype
    np.testing.assert_array_equal(X.data, data)
    np.testing.assert_array_equal(X.indices, indices)
    np.testing.assert_array_equal(X.indptr, indptr)


def _assert_canonical(X):
    assert X.format == "csr"
    assert not _not_canonical(X.indptr, X.indices)
    assert X.indices.dtype == X.indptr.dtype and X.indices.dtype in (np.int32, np.int64)


# ------------------------------------------------------------------ is_sparse


@pytest.mark.parametrize("fmt", ["csr", *OTHER_FORMATS])
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_is_sparse_every_format_and_class(fmt, kind):
    X = sp.random(3, 4, density=0.5, format=fmt, random_state=0)
    if kind == "array":
        X = sp.csr_array(X).asformat(fmt)
    assert is_sparse(X)


@pytest.mark.parametrize("X", [np.eye(2), [[1.0]], None, 1.0, "X"])
def test_is_sparse_false_for_dense(X):
    assert not is_sparse(X)


def test_is_sparse_does_not_import_scipy():
    # pygd/__init__ imports scikit-learn (hence scipy): load the module alone.
    out = run_python(
        "import importlib.util, sys, numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('s', {pygd._sparse.__file__!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(m.is_sparse(np.eye(2)), 'scipy.sparse' in sys.modules)"
    )
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------ good input


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_canonical_input_is_returned_without_copy(cls, dtype, index_dtype):
    X = _example(cls, dtype, index_dtype)
    assert X.indices.dtype == index_dtype
    snapshot = _snapshot(X)
    out = check_csr(X)
    assert out is X
    assert type(out) is cls and out.dtype == dtype and out.indices.dtype == index_dtype
    _assert_unchanged(X, snapshot)


@pytest.mark.parametrize("cls", CSR_CLASSES)
def test_read_only_canonical_input(cls):
    X = _example(cls)
    for array in (X.data, X.indices, X.indptr):
        array.flags.writeable = False
    out = check_csr(X)
    assert out is X
    data, indices, indptr, shape = csr_kernel_arrays(out)
    assert data is X.data and indices is X.indices and indptr is X.indptr and shape == (4, 5)


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("source", [np.int64, np.int8, np.bool_, np.float16, ">f8"])
def test_other_value_types_cast_to_float64_sharing_the_structure(cls, source):
    X = _example(cls)
    X.data = np.array([1, 2, 1, 3]).astype(source)
    snapshot = _snapshot(X)
    out = check_csr(X)
    assert type(out) is cls and out.dtype == np.float64 and out.data.dtype.isnative
    np.testing.assert_array_equal(out.data, X.data.astype(np.float64))  # scipy has no float16 toarray
    # Only the values needed a fix: the structure is shared, not copied.
    assert np.shares_memory(out.indices, X.indices) and np.shares_memory(out.indptr, X.indptr)
    assert not np.shares_memory(out.data, X.data)
    _assert_unchanged(X, snapshot)


def test_dtype_argument_picks_the_target():
    X = _example(dtype=np.float64)
    out = check_csr(X, dtype=np.float32)
    assert out.dtype == np.float32
    assert check_csr(_example(dtype=np.float32), dtype=(np.float64,)).dtype == np.float64
    assert check_csr(_example(dtype=np.float32), dtype=(np.float64, np.float32)).dtype == np.float32


@pytest.mark.parametrize("cls", CSR_CLASSES)
def test_duplicates_are_summed_on_a_copy(cls):
    # Row 0 holds column 2 three times (unsorted), row 2 column 0 twice.
    X = _csr(cls, [1.0, 5.0, 2.0, 4.0, 7.0, -1.0], [2, 0, 2, 2, 0, 0], [0, 4, 4, 6], (3, 3))
    snapshot = _snapshot(X)
    out = check_csr(X)
    assert out is not X and type(out) is cls
    _assert_canonical(out)
    np.testing.assert_array_equal(out.indptr, [0, 2, 2, 3])
    np.testing.assert_array_equal(out.indices, [0, 2, 0])
    np.testing.assert_array_equal(out.data, [5.0, 7.0, 6.0])
    np.testing.assert_array_equal(out.toarray(), [[5, 0, 7], [0, 0, 0], [6, 0, 0]])
    _assert_unchanged(X, snapshot)
    for mine, theirs in ((out.data, X.data), (out.indices, X.indices), (out.indptr, X.indptr)):
        assert not np.shares_memory(mine, theirs)


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("read_only", [False, True])
def test_unsorted_indices_are_sorted_on_a_copy(cls, read_only):
    X = _csr(cls, [1.0, 2.0, 3.0, 4.0], [3, 1, 0, 2], [0, 2, 4], (2, 4))
    if read_only:
        for array in (X.data, X.indices, X.indptr):
            array.flags.writeable = False
    snapshot = _snapshot(X)
    out = check_csr(X)
    _assert_canonical(out)
    np.testing.assert_array_equal(out.indices, [1, 3, 0, 2])
    np.testing.assert_array_equal(out.data, [2.0, 1.0, 3.0, 4.0])
    _assert_unchanged(X, snapshot)
    assert not np.shares_memory(out.data, X.data)


def test_duplicate_summing_to_zero_stays_an_explicit_zero():
    X = _csr(sp.csr_matrix, [1.0, -1.0, 2.0], [0, 0, 1], [0, 3], (1, 2))
    out = check_csr(X)
    np.testing.assert_array_equal(out.toarray(), [[0.0, 2.0]])
    _assert_canonical(out)


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_other_formats_convert_to_csr_of_the_same_kind(fmt, kind):
    X = sp.random(6, 5, density=0.4, format="csr", random_state=3)
    X = (sp.csr_array(X) if kind == "array" else X).asformat(fmt)
    dense = X.toarray()
    out = check_csr(X)
    assert out.format == "csr"
    # scipy < 1.11 derives its array classes from spmatrix: tell them apart by name.
    assert type(out).__name__.endswith("_array") == (kind == "array")
    _assert_canonical(out)
    np.testing.assert_array_equal(out.toarray(), dense)
    np.testing.assert_array_equal(X.toarray(), dense)


def test_coo_duplicates_are_summed():
    X = sp.coo_matrix((np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 2))
    out = check_csr(X)
    np.testing.assert_array_equal(out.toarray(), [[0.0, 3.0], [3.0, 0.0]])
    _assert_canonical(out)


@pytest.mark.parametrize("source,expected", [
    (np.int16, np.int32), (np.uint8, np.int32), (np.uint16, np.int32), (np.int32, np.int32),
    (np.uint32, np.int64), (np.uint64, np.int64), (np.int64, np.int64), (">i4", np.int32),
])
def test_index_types_become_int32_or_int64(source, expected):
    X = _example()
    X.indices = X.indices.astype(source)
    X.indptr = X.indptr.astype(source)
    snapshot = _snapshot(X)
    out = check_csr(X)
    assert out.indices.dtype == expected and out.indptr.dtype == expected
    assert out.indices.dtype.isnative
    np.testing.assert_array_equal(out.toarray(), _example().toarray())
    _assert_unchanged(X, snapshot)


def test_mixed_index_types_become_one_type():
    X = _example()
    X.indptr = X.indptr.astype(np.int64)  # indices stay int32
    out = check_csr(X)
    assert out.indices.dtype == np.int64 and out.indptr.dtype == np.int64
    assert np.shares_memory(out.indptr, X.indptr)
    data, indices, indptr, _ = csr_kernel_arrays(out)
    assert indices.dtype == indptr.dtype == np.int64


def test_more_than_int32_max_features_with_int64_indices():
    n_features = 2**31 + 10
    big = 2**31 + 5
    X = _csr(sp.csr_array, [1.0, 2.0, 3.0], np.array([0, big, 7], dtype=np.int64),
             np.array([0, 2, 3], dtype=np.int64), (2, n_features))
    out = check_csr(X, n_features=n_features)
    assert out is X
    data, indices, indptr, shape = csr_kernel_arrays(out)
    assert indices.dtype == np.int64 and int(indices[1]) == big and shape == (2, n_features)
    X.indices = np.array([7, 0, 1], dtype=np.int64)  # unsorted row 0: fixed in int64
    fixed = check_csr(X)
    assert fixed.indices.dtype == np.int64
    np.testing.assert_array_equal(fixed.indices, [0, 7, 1])


def test_empty_rows_everywhere_and_no_values():
    X = _csr(sp.csr_matrix, np.zeros(0), np.zeros(0, dtype=np.int32), np.zeros(4, dtype=np.int32), (3, 2))
    assert check_csr(X) is X
    assert check_csr(_example()) is not None  # empty first, middle and last rows


@pytest.mark.parametrize("shape,what", [((0, 3), "0 sample(s)"), ((3, 0), "0 feature(s)"),
                                        ((0, 0), "0 sample(s)")])
def test_empty_matrix_refused_unless_allowed(shape, what):
    X = sp.csr_matrix(shape)
    with pytest.raises(ValueError, match=re.escape(
            f"Found array with {what} (shape={shape}) while a minimum of 1 is required by GDRegressor.")):
        check_csr(X, estimator="GDRegressor")
    out = check_csr(X, allow_empty=True)
    assert out.shape == shape and out.dtype == np.float64


def test_copy_true_shares_nothing():
    X = _example()
    out = check_csr(X, copy=True)
    assert out is not X
    for mine, theirs in ((out.data, X.data), (out.indices, X.indices), (out.indptr, X.indptr)):
        assert not np.shares_memory(mine, theirs)
    np.testing.assert_array_equal(out.toarray(), X.toarray())


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("X", [np.eye(2), [[1.0, 2.0]], "X"])
def test_not_sparse_is_a_type_error(X):
    with pytest.raises(TypeError, match="X must be a scipy.sparse matrix or array"):
        check_csr(X)


def test_one_dimensional_sparse_array_refused():
    try:
        X = sp.coo_array(np.array([1.0, 0.0, 2.0]))
    except (ValueError, TypeError):
        pytest.skip("this scipy has no 1-D sparse arrays")
    if X.ndim != 1:  # scipy < 1.13 makes a (1, n) array of it
        pytest.skip("this scipy has no 1-D sparse arrays")
    with pytest.raises(ValueError, match="Expected a 2-D sparse X"):
        check_csr(X)


def _corrupt(**arrays):
    X = _example()
    for name, value in arrays.items():
        setattr(X, name, np.asarray(value))
    return X


@pytest.mark.parametrize("arrays,message", [
    ({"indptr": [0, 0, 2, 4]}, "X.indptr has 4 entries, expected 5"),
    ({"indptr": [1, 1, 2, 2, 4]}, "X.indptr must start at 0, got 1"),
    ({"indptr": [0, 3, 2, 2, 4]}, "X.indptr must be nondecreasing"),
    ({"indptr": [0, 0, 2, 2, 3]}, "indptr[-1] = 3, len(indices) = 4, len(data) = 4"),
    ({"data": [1.0, 2.0, 3.0]}, "indptr[-1] = 4, len(indices) = 4, len(data) = 3"),
    ({"indices": [1, 4, 0, 2, 3], "data": [1.0, 2.0, 3.0, 4.0, 5.0]}, "indptr[-1] = 4, len(indices) = 5"),
    ({"indices": [1, 5, 0, 2]}, "X.indices must lie in [0, 5), got values from 0 to 5"),
    ({"indices": [1, -1, 0, 2]}, "X.indices must lie in [0, 5), got values from -1 to 2"),
    ({"indices": np.array([1, 2**63 + 1, 0, 2], dtype=np.uint64)}, "X.indices must lie in [0, 5)"),
    ({"indptr": np.array([0, 0, 2, 2, 2**64 - 1], dtype=np.uint64)}, "indptr[-1] = 18446744073709551615"),
    ({"data": [[1.0, 2.0, 3.0, 4.0]]}, "X.data must be a 1-D array"),
])
def test_broken_structure_is_a_value_error(arrays, message):
    X = _corrupt(**arrays)
    with pytest.raises(ValueError, match=re.escape(message)):
        check_csr(X, name="X")


@pytest.mark.parametrize("name", ["indices", "indptr"])
def test_non_integer_index_arrays_are_a_type_error(name):
    X = _corrupt(**{name: getattr(_example(), name).astype(np.float64)})
    with pytest.raises(TypeError, match=f"X.{name} must be an integer array, got dtype float64"):
        check_csr(X)


def test_name_appears_in_messages():
    X = _corrupt(indptr=[0, 0, 2, 4])
    with pytest.raises(ValueError, match=re.escape("X_train.indptr has 4 entries")):
        check_csr(X, name="X_train")


@pytest.mark.parametrize("cls", CSR_CLASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value,message", [
    (np.nan, "Input X contains NaN."),
    (np.inf, "Input X contains infinity or a value too large for dtype('{}')."),
    (-np.inf, "Input X contains infinity or a value too large for dtype('{}')."),
])
def test_non_finite_values(cls, dtype, value, message):
    X = _example(cls, dtype)
    X.data[2] = value
    with pytest.raises(ValueError, match=re.escape(message.format(np.dtype(dtype).name))):
        check_csr(X)


def test_nan_reported_before_infinity():
    X = _example()
    X.data[:2] = [np.inf, np.nan]
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        check_csr(X)


def test_overflow_in_the_cast_is_infinity():
    X = _example()
    X.data = np.array([1.0, 1e300, 3.0, 4.0])
    with pytest.raises(ValueError, match="contains infinity or a value too large for dtype\\('float32'\\)"):
        check_csr(X, dtype=np.float32)


def test_complex_values_refused():
    X = _example()
    X.data = X.data.astype(np.complex128)
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_csr(X)


def test_unconvertible_values_are_a_type_error():
    X = _example()
    X.data = np.array(["a", "b", "c", "d"], dtype=object)
    with pytest.raises(TypeError, match="X.data of dtype object cannot be converted to float64"):
        check_csr(X)


@pytest.mark.parametrize("estimator,expected", [
    ("GDRegressor", "X has 5 features, but GDRegressor is expecting 4 features as input."),
    (None, "X has 5 features, but 4 features are expected as input."),
])
def test_n_features_mismatch(estimator, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        check_csr(_example(), n_features=4, estimator=estimator)
    assert check_csr(_example(), n_features=5) is not None


def test_n_features_mismatch_names_an_estimator_object():
    class GDClassifier:
        pass

    with pytest.raises(ValueError, match="but GDClassifier is expecting 6 features"):
        check_csr(_example(), n_features=6, estimator=GDClassifier())


def test_broken_csc_is_refused_before_conversion():
    X = sp.csc_matrix(np.eye(3))
    X.indices = np.array([0, 1, 7], dtype=X.indices.dtype)
    with pytest.raises(ValueError, match=re.escape("X.indices must lie in [0, 3)")):
        check_csr(X)


@pytest.mark.parametrize("axis,bound", [("row", 2), ("col", 3)])
def test_broken_coo_is_refused_before_conversion(axis, bound):
    X = sp.coo_matrix(np.ones((2, 3)))
    try:
        setattr(X, axis, np.full(6, bound, dtype=np.int32))
    except (AttributeError, ValueError):  # scipy without settable row/col
        pytest.skip("this scipy does not let row/col be replaced")
    with pytest.raises(ValueError, match=re.escape(f"X.{axis} must lie in [0, {bound})")):
        check_csr(X)


# ------------------------------------------------------------------ csr_kernel_arrays


def test_kernel_arrays_copy_only_what_is_not_contiguous():
    X = _example()
    X.data = np.array([1.5, 0.0, -2.0, 0.0, 3.0, 0.0, 4.0, 0.0])[::2]  # strided view
    out = check_csr(X)
    assert out is X  # already canonical: the strided values are not copied here
    data, indices, indptr, shape = csr_kernel_arrays(out)
    assert data.flags.c_contiguous and not np.shares_memory(data, X.data)
    np.testing.assert_array_equal(data, [1.5, -2.0, 3.0, 4.0])
    assert indices is X.indices and indptr is X.indptr
    assert type(shape[0]) is int and type(shape[1]) is int


@pytest.mark.parametrize("X", [np.eye(2), sp.csc_matrix(np.eye(2)), sp.csr_matrix(np.eye(2, dtype=np.int64))])
def test_kernel_arrays_refuse_unchecked_input(X):
    with pytest.raises(TypeError, match="check_csr"):
        csr_kernel_arrays(X)


# ------------------------------------------------------------------ property


@settings(max_examples=60, deadline=None)
@given(
    n_rows=st.integers(1, 6),
    n_cols=st.integers(1, 6),
    entries=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(-3, 3)), max_size=25),
    fmt=st.sampled_from(["csr", *OTHER_FORMATS]),
    shuffle=st.booleans(),
)
def test_any_input_gives_the_same_dense_values_in_canonical_csr(n_rows, n_cols, entries, fmt, shuffle):
    rows = np.array([r % n_rows for r, _, _ in entries], dtype=np.int64)
    cols = np.array([c % n_cols for _, c, _ in entries], dtype=np.int64)
    vals = np.array([v for _, _, v in entries], dtype=np.float64)
    order = np.argsort(rows, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    if fmt == "csr":
        # Build CSR directly, keeping duplicates and (unless sorted) the order.
        if not shuffle:
            keys = np.lexsort((cols, rows))
            rows, cols, vals = rows[keys], cols[keys], vals[keys]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        X = sp.csr_matrix((vals, cols, indptr), shape=(n_rows, n_cols))
    else:
        X = sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).asformat(fmt)
    dense = X.toarray()
    snapshot = _snapshot(X) if fmt == "csr" else None
    out = check_csr(X)
    _assert_canonical(out)
    np.testing.assert_array_equal(out.toarray(), dense)
    if snapshot is not None:
        _assert_unchanged(X, snapshot)
        assert (out is X) == (not _not_canonical(X.indptr, X.indices))
