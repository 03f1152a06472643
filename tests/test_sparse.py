"""scipy.sparse CSR input (issue #13): the CSR kernels against pygd.reference, _core.CsrMatrix's
checks, pygd.linear on sparse X, and the estimators on CSR X against the same data dense.

The lazy epochs have their own file (test_sparse_lazy.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import pygd
from pygd import _core
from pygd import reference as ref
from pygd.linear_model import GDClassifier, GDRegressor
from pygd.linear_model._data import engine_input

from conftest import RTOL, assert_close_to_scale
from test_sparse_lazy import OPTIMIZERS, core_csr, run_engine, sparse_problem

KERNEL_LOSSES = ["squared_error", "huber", "epsilon_insensitive", "log_loss", "hinge", "modified_huber",
                 "multinomial", "smoothed_hinge"]
KERNEL_CASES = [(loss, k) for loss in KERNEL_LOSSES for k in (1, 3) if not (loss == "multinomial" and k == 1)]


def _suffix(dtype) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def _model(k, d, seed=7):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(k, d)) * 0.4, rng.normal(size=k) * 0.3


def _objective(X, Y, sw, rows, params, loss, *, l2=0.0, mean=None, scale=None, fit_intercept=True):
    Xe = core_csr(X) if sp.issparse(X) else X
    grad = np.empty_like(params)
    options = _core.TrainOptions.for_objective(_core.Loss.__members__[loss], 0.5, fit_intercept, l2)
    f, S, finite = getattr(_core, "objective_grad_" + _suffix(X.dtype))(Xe, Y, sw, rows, params, grad,
                                                                       mean, scale, options)
    assert finite
    return f, grad, S


# --------------------------------------------------------------------------------------------
# Kernels: objective_grad and batch_predict on a CsrMatrix
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("standardized", [False, True])
@pytest.mark.parametrize("d", [3, 40_000])  # one column chunk, and several on the threads
def test_objective_grad_reports_an_infinite_gradient(sparse, standardized, d):
    # A finite objective whose gradient overflows: column j's two values 1e308 meet a zero
    # weight (the predictions stay 0) and residuals of -1, so grad_j = -2e308 / n = -inf.
    # objective_grad's `finite` must say so, in whichever column chunk j falls.
    n, j = 4, d - 2
    X = sp.lil_matrix((n, d))
    X[0, j] = X[1, j] = 1e308
    X[2, 0] = 1.0
    X = X.tocsr() if sparse else X.toarray()
    Y = np.ones((n, 1))
    params = np.zeros(d + 1)
    mean, scale = (np.zeros(d), np.ones(d)) if standardized else (None, None)
    Xe = core_csr(X) if sparse else X
    grad = np.empty_like(params)
    options = _core.TrainOptions.for_objective(_core.Loss.squared_error, 0.5, True, 0.0)
    f, S, finite = _core.objective_grad_f64(Xe, Y, None, None, params, grad, mean, scale, options)
    assert np.isfinite(f) and S == n
    assert grad[j] == -np.inf and np.isfinite(np.delete(grad, j)).all()
    assert not finite


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("standardized", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_objective_grad_without_columns(sparse, standardized, k):
    # d = 0 (the engine takes it; the estimators refuse it): the intercepts' model alone.  With
    # a mean (standardisation) the raw model's intercept once read a column chunk that d = 0
    # does not have (a segfault).
    n = 6
    X = sp.csr_matrix((n, 0)) if sparse else np.zeros((n, 0))
    Y = np.arange(n * k, dtype=np.float64).reshape(n, k) / 10
    params = np.full(k, 0.5)
    mean, scale = (np.zeros(0), np.ones(0)) if standardized else (None, None)
    f, grad, S = _objective(X, Y, None, None, params, "squared_error", mean=mean, scale=scale)
    residual = 0.5 - Y
    assert S == n
    np.testing.assert_allclose(f, np.mean(np.sum(0.5 * residual**2, axis=1)), rtol=1e-14)
    np.testing.assert_allclose(grad, residual.mean(axis=0), rtol=1e-14)


@pytest.mark.parametrize("loss,k", KERNEL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("gathered", [False, True])
def test_objective_grad_on_csr_matches_reference(loss, k, dtype, index_dtype, gathered, simd_level,
                                                 num_threads):
    X, Y, sw, rng = sparse_problem(n=45, d=11, k=k, dtype=dtype, index_dtype=index_dtype, seed=11, loss=loss)
    rows = rng.permutation(X.shape[0])[:40] if gathered else None
    coef, intercept = _model(k, X.shape[1])
    params = np.concatenate([coef.ravel(), intercept])
    f, grad, S = _objective(X, Y, sw, rows, params, loss, l2=0.01)
    f_ref, grad_ref, S_ref = ref.objective_grad(X, Y, sw, rows, params, loss=loss, epsilon=0.5, l2=0.01)
    rtol = RTOL[np.dtype(dtype)]
    assert abs(f - f_ref) <= rtol * abs(f_ref)
    assert abs(S - S_ref) <= rtol * S_ref
    assert_close_to_scale(grad, grad_ref, dtype)
    assert np.any(grad[: k * X.shape[1]] != 0)


@pytest.mark.parametrize("loss", ["log_loss", "multinomial", "squared_error"])
@pytest.mark.parametrize("picked", [40, 10], ids=["by-column", "by-output"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_objective_grad_on_csr_both_layouts_of_several_outputs(loss, picked, dtype, simd_level, num_threads):
    # k > 1: a block storing at least 4 d values sums column by column (the k values of a
    # column side by side), a sparser one (here: 10 gathered rows) output by output; both
    # are the reference's sums.
    X, Y, sw, rng = sparse_problem(n=45, d=30, k=4, dtype=dtype, seed=14, loss=loss)
    rows = rng.permutation(45)[:picked]
    stored = int(np.diff(X.indptr)[rows].sum())
    assert (X.nnz // 45 * picked >= 4 * 30) == (picked == 40), stored  # the kernel's estimate
    coef, intercept = _model(4, 30)
    params = np.concatenate([coef.ravel(), intercept])
    f, grad, _ = _objective(X, Y, sw, rows, params, loss, l2=0.01)
    f_ref, grad_ref, _ = ref.objective_grad(X, Y, sw, rows, params, loss=loss, epsilon=0.5, l2=0.01)
    assert abs(f - f_ref) <= RTOL[np.dtype(dtype)] * abs(f_ref)
    assert_close_to_scale(grad, grad_ref, dtype)


@pytest.mark.parametrize("loss,k,d,n,per_row", [
    ("log_loss", 1, 655_360, 60, 12),  # one output (csr_grad_block)
    ("multinomial", 4, 163_840, 60, 12),  # k outputs, few stored values: output by output
    ("multinomial", 20, 32_768, 1_100, 130),  # at least 4 d stored values: column by column
])
@pytest.mark.parametrize("gathered", [False, True])
def test_objective_grad_on_csr_with_the_column_look_ahead(loss, k, d, n, per_row, gathered, num_threads):
    # k d = 5 x 2^17 values: the CSR kernels hint the next row's columns (kColumnsAheadFrom in
    # csrc/kernels/train.cpp), reading that row's indptr and indices (shuffled rows: through
    # the gathered order) -- a path the smaller problems never take.  Hints change no bits:
    # the reference's sums, and under the sanitizers no read outside the arrays.
    rng = np.random.default_rng(21)
    X = sp.random(n, d, density=per_row / d, format="csr", random_state=rng, dtype=np.float64)
    keep = np.ones(n)
    keep[7] = 0.0  # an empty row among the others
    X = sp.csr_matrix(sp.diags(keep) @ X)
    X.eliminate_zeros()
    assert X.indptr[7] == X.indptr[8]
    labels = rng.integers(0, k if k > 1 else 2, n)
    Y = np.eye(k)[labels] if k > 1 else labels[:, None].astype(np.float64)
    rows = rng.permutation(n)[: n - 10] if gathered else None
    params = np.concatenate([rng.normal(size=k * d) * 0.1, rng.normal(size=k)])
    f, grad, S = _objective(X, Y, None, rows, params, loss, l2=0.01)
    f_ref, grad_ref, S_ref = ref.objective_grad(X, Y, None, rows, params, loss=loss, epsilon=0.5, l2=0.01)
    assert S == S_ref
    assert abs(f - f_ref) <= 1e-12 * abs(f_ref)
    assert_close_to_scale(grad, grad_ref, np.float64)


@pytest.mark.parametrize("loss,k", [("squared_error", 1), ("log_loss", 3), ("multinomial", 3)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_grad_on_csr_with_standardisation_folded(loss, k, fit_intercept, simd_level):
    # The full-batch CSR fits' centring: mean and scale folded into the model, X read as is.
    X, Y, sw, rng = sparse_problem(n=45, d=11, k=k, seed=12, loss=loss)
    mean, scale = np.asarray(X.mean(axis=0)).ravel(), rng.uniform(0.5, 2.0, X.shape[1])
    coef, intercept = _model(k, X.shape[1])
    params = np.concatenate([coef.ravel(), intercept])
    f, grad, _ = _objective(X, Y, sw, None, params, loss, l2=0.02, mean=mean, scale=scale,
                            fit_intercept=fit_intercept)
    f_ref, grad_ref, _ = ref.objective_grad(X, Y, sw, None, params, loss=loss, epsilon=0.5, l2=0.02,
                                            mean=mean, scale=scale, fit_intercept=fit_intercept)
    assert abs(f - f_ref) <= 1e-12 * abs(f_ref)
    assert_close_to_scale(grad, grad_ref, np.float64)
    # ... and equal to the dense matrix's
    f_dense, grad_dense, _ = _objective(np.ascontiguousarray(X.toarray()), Y, sw, None, params, loss, l2=0.02,
                                        mean=mean, scale=scale, fit_intercept=fit_intercept)
    assert abs(f - f_dense) <= 1e-12 * abs(f_dense)
    assert_close_to_scale(grad, grad_dense, np.float64)


@pytest.mark.parametrize("loss,k,d,n,picked,per_row", [
    ("log_loss", 1, 11, 45, 45, 12),  # one output
    ("squared_error", 1, 11, 45, 40, 12),
    # k outputs over >= 4 d stored values, one row block: column by column, and with class
    # codes as targets (one-hot, +-1) by class sums; other targets (multi-label 0/1 rows
    # sharing their first largest target, real values) column by column
    ("multinomial", 4, 30, 45, 40, 12),
    ("hinge", 3, 11, 45, 40, 12),
    ("log_loss", 3, 11, 45, 40, 12),
    ("squared_error", 3, 11, 45, 40, 12),
    ("multinomial", 4, 30, 45, 10, 12),  # ... over fewer: output by output
    ("log_loss", 1, 655_360, 60, 50, 12),  # k d >= 5 x 2^17: the next row's gradient lines hinted
    ("multinomial", 20, 32_768, 1_100, 1_000, 12),
    ("multinomial", 20, 32_768, 1_100, 1_000, 140),  # class sums over the column groups
])
@pytest.mark.parametrize("standardized", [False, True])
def test_objective_grad_on_csr_at_zero_coefficients(loss, k, d, n, picked, per_row, standardized, simd_level,
                                                    num_threads):
    # Every coefficient 0 (a fit's start): the kernels predict the intercepts without reading
    # the coefficients (BatchProblem::zero_coef), and with class codes as targets the
    # gradient comes from the columns' class sums (BatchSums::class_codes).  The reference's
    # sums; the same bits on 1, 2 and 3 threads; and those of the same model with a
    # coefficient on a column no row stores (the kernels' other path: the same predictions).
    rng = np.random.default_rng(23)
    X = sp.random(n, d, density=min(1.0, per_row / d), format="csr", random_state=rng, dtype=np.float64)
    columns, keep = rng.uniform(0.5, 3.0, d), np.ones(n)
    columns[3] = keep[5] = 0.0
    X = sp.csr_matrix(sp.diags(keep) @ X @ sp.diags(columns))
    X.eliminate_zeros()
    assert X[:, 3].nnz == 0 and X[5].nnz == 0
    labels = rng.integers(0, max(k, 2), n)
    if loss == "multinomial":
        Y = np.eye(k)[labels]
    elif loss == "hinge":
        Y = np.where(np.eye(k)[labels % k] > 0, 1.0, -1.0)
    elif loss == "log_loss":
        Y = labels[:, None].astype(np.float64) if k == 1 else (rng.uniform(size=(n, k)) < 0.5) * 1.0
    else:
        Y = rng.normal(size=(n, k)) + 1.5
    sw = rng.uniform(0.2, 2.0, n)
    sw[labels == 0] = 0.0 if loss == "multinomial" and per_row == 12 else sw[labels == 0]  # a class weighing 0
    rows = rng.permutation(n)[:picked] if picked < n else None
    mean, scale = (np.asarray(X.mean(axis=0)).ravel(), rng.uniform(0.5, 2.0, d)) if standardized else (None, None)
    params = np.concatenate([np.zeros(k * d), rng.normal(size=k)])
    f, grad, S = _objective(X, Y, sw, rows, params, loss, l2=0.01, mean=mean, scale=scale)
    f_ref, grad_ref, S_ref = ref.objective_grad(X, Y, sw, rows, params, loss=loss, epsilon=0.5, l2=0.01,
                                                mean=mean, scale=scale)
    for threads in (1, 3):
        with pygd._config.threads(threads):
            f_t, grad_t, _ = _objective(X, Y, sw, rows, params, loss, l2=0.01, mean=mean, scale=scale)
        assert f_t == f and np.array_equal(grad_t, grad)
    assert abs(S - S_ref) <= 1e-14 * S_ref
    assert abs(f - f_ref) <= 1e-12 * abs(f_ref)
    assert_close_to_scale(grad, grad_ref, np.float64)
    assert np.any(grad[: k * d] != 0)
    other = params.copy()
    other[3] = 1.0  # output 0, column 3: stored nowhere (its mean is 0)
    f_other, grad_other, _ = _objective(X, Y, sw, rows, other, loss, mean=mean, scale=scale)
    f0, grad0, _ = _objective(X, Y, sw, rows, params, loss, mean=mean, scale=scale)
    np.testing.assert_allclose(f0, f_other, rtol=1e-15, atol=0)
    assert_close_to_scale(grad0, grad_other, np.float64)  # (class sums: another summation order)
    # One coefficient of the last output on a column a summed row stores: the kernels read it.
    order = np.arange(n) if rows is None else rows
    row = next(i for i in order if X.indptr[i + 1] > X.indptr[i])
    last = params.copy()
    last[(k - 1) * d + X.indices[X.indptr[row]]] = 0.7
    f_last, grad_last, _ = _objective(X, Y, sw, rows, last, loss, l2=0.01, mean=mean, scale=scale)
    f_ref, grad_ref, _ = ref.objective_grad(X, Y, sw, rows, last, loss=loss, epsilon=0.5, l2=0.01,
                                            mean=mean, scale=scale)
    assert abs(f_last - f_ref) <= 1e-12 * abs(f_ref) and f_last != f
    assert_close_to_scale(grad_last, grad_ref, np.float64)


@pytest.mark.parametrize("loss,k", [("multinomial", 4), ("hinge", 3), ("log_loss", 1)])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_objective_grad_at_zero_coefficients_in_float32(loss, k, index_dtype, num_threads):
    # The same passes (by class sums where the targets are class codes) on float32 values
    # and targets, 32- and 64-bit indices: the reference's sums to float32's tolerance.
    X, Y, sw, rng = sparse_problem(n=45, d=11, k=k, dtype=np.float32, index_dtype=index_dtype, seed=31,
                                   loss=loss)
    params = np.concatenate([np.zeros(k * X.shape[1]), rng.normal(size=k)])
    f, grad, S = _objective(X, Y, sw, None, params, loss, l2=0.01)
    f_ref, grad_ref, S_ref = ref.objective_grad(X, Y, sw, None, params, loss=loss, epsilon=0.5, l2=0.01)
    assert abs(f - f_ref) <= RTOL[np.dtype(np.float32)] * abs(f_ref)
    assert abs(S - S_ref) <= RTOL[np.dtype(np.float32)] * S_ref
    assert_close_to_scale(grad, grad_ref, np.float32)
    assert np.any(grad[: k * X.shape[1]] != 0)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("gathered", [False, True])
def test_batch_predict_on_csr_matches_reference(k, dtype, index_dtype, gathered, simd_level, num_threads):
    X, _, _, rng = sparse_problem(n=45, d=11, dtype=dtype, index_dtype=index_dtype, seed=13)
    rows = rng.permutation(X.shape[0]) if gathered else None
    coef, intercept = _model(k, X.shape[1])
    out = getattr(_core, "batch_predict_" + _suffix(dtype))(core_csr(X), rows, coef, intercept)
    assert out.shape == (X.shape[0], k) and out.dtype == dtype
    order = np.arange(X.shape[0]) if rows is None else rows
    for t in range(k):
        expected = ref.predict(X, coef[t], intercept[t])[order]
        assert_close_to_scale(out[:, t], expected, dtype)
    assert np.all(out[[5, 17] if rows is None else np.flatnonzero(np.isin(rows, [5, 17]))]
                  == intercept.astype(dtype))  # empty rows predict the intercept


def _messy_csr(index_dtype=np.int32):
    """CSR with unsorted and duplicate column indices and an empty row, and its dense matrix."""
    data = np.array([1.0, 2.0, -0.5, 3.0, 0.25, 4.0, 1.5, -2.0, 0.75, 0.5])
    indices = np.array([4, 0, 4, 2, 1, 3, 3, 0, 4, 1], dtype=index_dtype)  # row 0: 4, 0, 4 (dup, unsorted)
    indptr = np.array([0, 3, 5, 5, 8, 10], dtype=index_dtype)  # row 2 empty; row 3: 3, 3 dup
    X = sp.csr_matrix((data, indices, indptr), shape=(5, 5))
    assert not X.has_canonical_format
    dense = np.zeros((5, 5))
    for i in range(5):
        for e in range(indptr[i], indptr[i + 1]):
            dense[i, indices[e]] += data[e]
    return X, dense


@pytest.mark.parametrize("loss,k", [("squared_error", 1), ("huber", 3), ("log_loss", 1), ("multinomial", 3),
                                    ("hinge", 1)])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_duplicates_and_unsorted_indices_stand_for_their_sum(loss, k, index_dtype, simd_level):
    X, dense = _messy_csr(index_dtype)
    rng = np.random.default_rng(0)
    if loss == "multinomial":
        Y = np.eye(3)[[0, 2, 1, 1, 0]]
    elif loss == "log_loss":
        Y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]])
    elif loss == "hinge":
        Y = np.array([[1.0], [-1.0], [1.0], [-1.0], [1.0]])
    else:
        Y = rng.normal(size=(5, k))
    Y = np.ascontiguousarray(Y)
    sw = rng.uniform(0.5, 2.0, 5)
    coef, intercept = _model(k, 5)
    params = np.concatenate([coef.ravel(), intercept])
    f, grad, _ = _objective(X, Y, sw, None, params, loss)
    f_dense, grad_dense, _ = _objective(dense, Y, sw, None, params, loss)
    f_ref, grad_ref, _ = ref.objective_grad(dense, Y, sw, None, params, loss=loss, epsilon=0.5)
    assert abs(f - f_dense) <= 1e-12 * abs(f_dense) and abs(f - f_ref) <= 1e-12 * abs(f_ref)
    assert_close_to_scale(grad, grad_dense, np.float64)
    assert_close_to_scale(grad, grad_ref, np.float64)
    out = _core.batch_predict_f64(core_csr(X), None, coef, intercept)
    assert_close_to_scale(out, dense @ coef.T + intercept, np.float64)


def _wide_problem(n=1500, d=40, k=2, seed=21):
    return sparse_problem(n=n, d=d, k=k, seed=seed)


def test_csr_kernels_bits_do_not_depend_on_threads(threads_restored):
    X, Y, sw, rng = _wide_problem()
    rows = rng.permutation(X.shape[0])
    coef, intercept = _model(2, X.shape[1])
    params = np.concatenate([coef.ravel(), intercept])
    mean = np.asarray(X.mean(axis=0)).ravel()
    scale = rng.uniform(0.5, 2.0, X.shape[1])
    out = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        f, grad, _ = _objective(X, Y, sw, rows, params, "huber", mean=mean, scale=scale)
        pred = _core.batch_predict_f64(core_csr(X), rows, coef, intercept)
        epoch, _ = run_engine(X, Y, sw, [rows, rows[::-1].copy()], 500, OPTIMIZERS["adam"], l2=0.01, lazy=False)
        out.append((f, grad, pred, epoch))
    (f1, g1, p1, e1), (f2, g2, p2, e2) = out
    assert f1 == f2
    assert np.array_equal(g1, g2)
    assert np.array_equal(p1, p2)
    assert np.array_equal(e1, e2)


def _sparse_multinomial(n, d, density, k=3, dtype=np.float64, seed=5):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64) * 3.0
    X = sp.csr_matrix(X.astype(dtype))
    Y = np.eye(k)[rng.integers(0, k, n)].astype(dtype)
    return X, np.ascontiguousarray(Y), rng.uniform(0.2, 2.0, n).astype(dtype), rng


@pytest.mark.parametrize("shape", [(9000, 2000, 0.0025), (9000, 700, 0.3)], ids=["one-block", "blocks"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gathered", [False, True])
def test_column_by_column_pass_splits_columns_and_chunks(shape, dtype, gathered, threads_restored):
    # Several outputs over a whole pass sum column by column.  "one-block": the memory cap on
    # block partial sums (an eighth of the stored values) leaves one row block, so the
    # engine shares the columns among the threads (chunks of 8192 rows, here two; column
    # groups of 64 columns, here 32); "blocks": row blocks, each column by column.  Every
    # column adds its rows in position order, so 1, 2 and 4 threads give the same bits, and
    # the sums are the reference's.
    n, d, density = shape
    X, Y, sw, rng = _sparse_multinomial(n, d, density, dtype=dtype)
    rows = rng.permutation(n)[:8500] if gathered else None
    m = n if rows is None else rows.size
    cap = m * max(X.nnz // n, 1) // (8 * 3 * d)  # the engine's block cap (plan_for)
    assert m * max(X.nnz // n, 1) >= 4 * d and (cap < 2) == (shape[1] == 2000)
    coef, intercept = _model(3, d)
    params = np.concatenate([coef.ravel(), intercept])
    out = []
    for threads in (1, 2, 4):
        pygd.set_num_threads(threads)
        out.append(_objective(X, Y, sw, rows, params, "multinomial", l2=0.01))
    for f, grad, S in out[1:]:
        assert f == out[0][0] and S == out[0][2]
        assert np.array_equal(grad, out[0][1])
    f_ref, grad_ref, _ = ref.objective_grad(X, Y, sw, rows, params, loss="multinomial", epsilon=0.5, l2=0.01)
    assert abs(out[0][0] - f_ref) <= RTOL[np.dtype(dtype)] * abs(f_ref)
    assert_close_to_scale(out[0][1], grad_ref, dtype)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad", "rmsprop_centered", "adadelta",
                                       "nadam"])
@pytest.mark.parametrize("k,loss", [(1, "squared_error"), (3, "multinomial")])
def test_dense_epoch_on_csr_equals_dense_x(optimizer, k, loss):
    # TrainOptions.lazy False (sparse_updates="dense"): the dense epoch's maths, reading CSR.
    X, Y, sw, rng = sparse_problem(k=k, seed=22, loss=loss)
    orders = [rng.permutation(X.shape[0]) for _ in range(3)]
    opt = OPTIMIZERS[optimizer]
    mean, scale = np.asarray(X.mean(axis=0)).ravel(), rng.uniform(0.5, 2.0, X.shape[1])
    kwargs = dict(l2=0.01, l1=0.002, loss=loss, mean=mean, scale=scale)
    on_csr, losses_csr = run_engine(X, Y, sw, orders, 6, opt, lazy=False, **kwargs)
    on_dense, losses_dense = run_engine(np.ascontiguousarray(X.toarray()), Y, sw, orders, 6, opt, lazy=False,
                                        **kwargs)
    assert_close_to_scale(on_csr, on_dense, np.float64)
    np.testing.assert_allclose(losses_csr, losses_dense, rtol=1e-12)
    # train_reference reads CSR too (through batch_loss_grad): the specification of this epoch.
    expected = np.zeros_like(on_csr)
    ref.train_reference(X, Y, sw, orders, 6, expected, optimizer=opt, loss=loss, epsilon=0.5, l2=0.01, l1=0.002,
                        mean=mean, scale=scale, weight_per_row=float(sw.mean()))
    assert_close_to_scale(on_csr, expected, np.float64)


def test_lazy_option_ignored_for_dense_x():
    X, Y, sw, rng = sparse_problem(seed=23)
    Xd = np.ascontiguousarray(X.toarray())
    orders = [rng.permutation(X.shape[0])]
    a, _ = run_engine(Xd, Y, sw, orders, 5, OPTIMIZERS["adam"], lazy=True)
    b, _ = run_engine(Xd, Y, sw, orders, 5, OPTIMIZERS["adam"], lazy=False)
    assert np.array_equal(a, b)


# --------------------------------------------------------------------------------------------
# _core.CsrMatrix checks
# --------------------------------------------------------------------------------------------


def _good_arrays(index_dtype=np.int32):
    return (np.array([1.0, 2.0, 3.0]), np.array([0, 2, 1], dtype=index_dtype),
            np.array([0, 2, 2, 3], dtype=index_dtype))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_matrix_accepts_good_structure(index_dtype):
    data, indices, indptr = _good_arrays(index_dtype)
    M = _core.CsrMatrix(data, indices, indptr, 3)
    assert M.shape == (3, 3) and M.nnz == 3 and M.dtype == np.float64
    assert np.shares_memory(M.data, data)


@pytest.mark.parametrize("change,message", [
    (lambda a: a[2].__setitem__(slice(None), [0, 2, 1, 3]), "non-decreasing"),
    (lambda a: a[2].__setitem__(slice(None), [1, 2, 2, 3]), r"indptr\[0\]"),
    (lambda a: a[2].__setitem__(slice(None), [0, 2, 2, 2]), r"indptr\[-1\]"),
    (lambda a: a[1].__setitem__(1, 3), "outside"),
    (lambda a: a[1].__setitem__(1, -1), "outside"),
])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_matrix_rejects_bad_structure(change, message, index_dtype):
    arrays = list(_good_arrays(index_dtype))
    change(arrays)
    with pytest.raises(ValueError, match=message):
        _core.CsrMatrix(*arrays, 3)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("bad", [-1, -2**31, 2**31 - 1])
def test_csr_matrix_index_check_at_any_width(index_dtype, bad):
    # The branch-free check reads indices as unsigned: a negative one is refused however many
    # columns there are (here more than int32 can number), and so is one at n_cols; 0 to
    # n_cols - 1 pass.
    data, indices, indptr = _good_arrays(index_dtype)
    wide = 2**31 + 5
    assert _core.CsrMatrix(data, indices, indptr, wide).shape == (3, wide)
    indices[1] = bad
    if bad >= 0:
        assert _core.CsrMatrix(data, indices, indptr, wide).nnz == 3
        with pytest.raises(ValueError, match="outside"):
            _core.CsrMatrix(data, indices, indptr, bad)
    else:
        with pytest.raises(ValueError, match="outside"):
            _core.CsrMatrix(data, indices, indptr, wide)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, None])
@pytest.mark.parametrize("at", [0, 1000, 1028])
def test_csr_matrix_finite_flag(dtype, value, at):
    # CsrMatrix.finite: one pass over the values, found wherever the bad value sits (the
    # vector body and the tail); the largest and the subnormal finite values are finite.
    info = np.finfo(dtype)
    data = np.linspace(-1, 1, 1029).astype(dtype)
    data[[3, 7, 11]] = [info.max, -info.max, info.smallest_subnormal]
    if value is not None:
        data[at] = value
    indices = (np.arange(1029) % 7).astype(np.int32)
    indptr = np.array([0, 500, 1029], dtype=np.int32)
    assert _core.CsrMatrix(data, indices, indptr, 7).finite == (value is None)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("row", [0, 4095, 4096, 9999])
@pytest.mark.parametrize("fault", [None, "unsorted", "duplicate"])
def test_csr_matrix_canonical_flag(index_dtype, row, fault):
    # CsrMatrix.canonical: every row's columns strictly increase, checked over chunks of
    # 4096 rows (a fault in the first or last row of a chunk, or in the last row, is
    # found); the pair across a row boundary may decrease.
    n = 10_000
    indices = np.tile(np.arange(5) * 7, n).astype(index_dtype)  # 0, 7, ..., 28 in every row
    indptr = np.arange(0, 5 * n + 1, 5).astype(index_dtype)
    data = np.ones(5 * n)
    a, b = 5 * row, 5 * row + 5
    if fault == "unsorted":
        indices[a], indices[a + 1] = indices[a + 1], indices[a]
    elif fault == "duplicate":
        indices[b - 1] = indices[b - 2]
    M = _core.CsrMatrix(data, indices, indptr, 50)
    assert M.canonical == (fault is None)


def test_engine_input_takes_canonical_csr_as_it_is_and_fixes_the_rest():
    # Canonical, finite CSR goes straight to CsrMatrix (its arrays shared); duplicates are
    # summed by check_csr (a new matrix), NaN refused with check_csr's message.
    from pygd.linear_model._data import engine_input

    X = sp.random(50, 20, density=0.3, format="csr", random_state=1)
    Xc = engine_input(X)
    assert Xc.canonical and np.shares_memory(Xc.data, X.data) and np.shares_memory(Xc.indices, X.indices)
    dup = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([3, 3, 0]), np.array([0, 2, 3])), shape=(2, 4))
    fixed = engine_input(dup)
    assert fixed.canonical and not np.shares_memory(fixed.data, dup.data)
    np.testing.assert_array_equal(as_scipy_dense(fixed), dup.toarray())
    assert dup.data.tolist() == [1.0, 2.0, 5.0] and dup.indices.tolist() == [3, 3, 0]  # not modified
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        engine_input(bad)
    wrong = X.copy()
    wrong.indices[0] = 20
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 20\)"):
        engine_input(wrong)


def as_scipy_dense(Xc):
    return sp.csr_matrix((Xc.data, Xc.indices, Xc.indptr), shape=Xc.shape).toarray()


@pytest.mark.parametrize("indices_dtype,indptr_dtype", [(np.int32, np.int64), (np.int64, np.int32),
                                                         (np.uint32, np.uint32), (np.float64, np.float64)])
def test_csr_matrix_rejects_mismatched_index_dtypes(indices_dtype, indptr_dtype):
    data, indices, indptr = _good_arrays()
    with pytest.raises(ValueError):
        _core.CsrMatrix(data, indices.astype(indices_dtype), indptr.astype(indptr_dtype), 3)


def test_csr_matrix_rejects_other_problems():
    data, indices, indptr = _good_arrays()
    with pytest.raises(ValueError):
        _core.CsrMatrix(data.astype(np.int64), indices, indptr, 3)  # integer values
    with pytest.raises(ValueError):
        _core.CsrMatrix(data[:2], indices, indptr, 3)  # lengths differ
    with pytest.raises(ValueError):
        _core.CsrMatrix(data, indices, indptr, -1)
    with pytest.raises(ValueError):
        _core.CsrMatrix(np.repeat(data, 2)[::2], indices, indptr, 3)  # not contiguous


def test_csr_value_dtype_must_match_the_kernel():
    data, indices, indptr = _good_arrays()
    M32 = _core.CsrMatrix(data.astype(np.float32), indices, indptr, 3)
    Y = np.ones((3, 1))
    grad = np.empty(4)
    options = _core.TrainOptions.for_objective(_core.Loss.squared_error)
    with pytest.raises(TypeError):
        _core.objective_grad_f64(M32, Y, None, None, np.zeros(4), grad, None, None, options)
    with pytest.raises(TypeError):
        _core.batch_predict_f64(M32, None, np.zeros((1, 3)), np.zeros(1))


# --------------------------------------------------------------------------------------------
# pygd.linear on sparse X
# --------------------------------------------------------------------------------------------


def _linear_y(loss, n, rng, k=3):
    if loss == "log_loss":
        return rng.uniform(size=n)
    if loss == "multinomial":
        return rng.integers(0, k, n)
    return rng.normal(size=n)


@pytest.mark.parametrize("loss", pygd.linear.LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_loss_grad_csr_equals_dense(loss, dtype, weighted):
    X, _, _, rng = sparse_problem(n=40, d=9, dtype=dtype, seed=31)
    y = _linear_y(loss, X.shape[0], rng)
    k = 3 if loss == "multinomial" else None
    coef = rng.normal(size=(k, 9) if k else 9) * 0.3
    intercept = rng.normal(size=k) * 0.3 if k else 0.2
    sw = rng.uniform(0.2, 2.0, X.shape[0]) if weighted else None
    data_before = X.data.copy()
    f, gc, gi = pygd.linear.loss_grad(X, y, coef, intercept, loss=loss, sample_weight=sw, epsilon=0.3)
    fd, gcd, gid = pygd.linear.loss_grad(X.toarray(), y, coef, intercept, loss=loss, sample_weight=sw,
                                         epsilon=0.3)
    rtol = RTOL[np.dtype(dtype)]
    assert abs(f - fd) <= rtol * abs(fd)
    assert gc.dtype == dtype and np.shape(gc) == np.shape(gcd)
    assert_close_to_scale(gc, gcd, dtype)
    assert_close_to_scale(gi, gid, dtype, scale=max(np.max(np.abs(gcd)), np.max(np.abs(gid))))
    assert np.array_equal(X.data, data_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_multinomial_probabilities_csr_equals_dense(dtype):
    X, _, _, rng = sparse_problem(n=40, d=9, dtype=dtype, seed=32)
    Y = rng.dirichlet(np.ones(3), size=X.shape[0])
    coef, intercept = rng.normal(size=(3, 9)) * 0.3, rng.normal(size=3)
    f, gc, gi = pygd.linear.loss_grad(X, Y, coef, intercept, loss="multinomial")
    fd, gcd, gid = pygd.linear.loss_grad(X.toarray(), Y, coef, intercept, loss="multinomial")
    assert abs(f - fd) <= RTOL[np.dtype(dtype)] * abs(fd)
    assert_close_to_scale(gc, gcd, dtype)
    assert_close_to_scale(gi, gid, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_linear_predict_and_formats(dtype, fmt):
    X, y, _, rng = sparse_problem(n=40, d=9, dtype=dtype, seed=33)
    Xf = X.asformat(fmt)
    coef = rng.normal(size=9)
    p = pygd.linear.predict(Xf, coef, 0.7)
    pd_ = pygd.linear.predict(X.toarray(), coef, 0.7)
    assert p.dtype == dtype
    assert_close_to_scale(p, pd_, dtype)
    f, gc, _ = pygd.linear.loss_grad(Xf, y[:, 0], coef, 0.7, loss="huber")
    fd, gcd, _ = pygd.linear.loss_grad(X.toarray(), y[:, 0], coef, 0.7, loss="huber")
    assert abs(f - fd) <= RTOL[np.dtype(dtype)] * abs(fd)
    assert_close_to_scale(gc, gcd, dtype)


def test_linear_leaves_a_messy_matrix_unchanged():
    X, dense = _messy_csr()
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    coef = np.arange(5.0) - 2
    y = np.arange(5.0)
    f, gc, gi = pygd.linear.loss_grad(X, y, coef, 0.5)
    fd, gcd, gid = pygd.linear.loss_grad(dense, y, coef, 0.5)
    assert abs(f - fd) <= 1e-12 * abs(fd)
    assert_close_to_scale(gc, gcd, np.float64)
    assert_close_to_scale(pygd.linear.predict(X, coef, 0.5), dense @ coef + 0.5, np.float64)
    for array, old in zip((X.data, X.indices, X.indptr), before):
        assert np.array_equal(array, old)
    assert not X.has_canonical_format


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_linear_non_finite_csr_raises(value):
    X, y, _, _ = sparse_problem(n=20, d=5, seed=34)
    X.data[3] = value
    with pytest.raises(ValueError):
        pygd.linear.loss_grad(X, y[:, 0], np.zeros(5))
    with pytest.raises(ValueError):
        pygd.linear.predict(X, np.zeros(5))


# --------------------------------------------------------------------------------------------
# Estimators: CSR against the same data dense
# --------------------------------------------------------------------------------------------


def _reg_data(n=90, d=12, k=None, seed=41, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) * rng.uniform(0.5, 4.0, d) + 0.5
    A[rng.uniform(size=(n, d)) > 0.35] = 0.0
    A[3] = 0.0
    w = rng.normal(size=(d, k or 1))
    y = A @ w + 0.3 * rng.normal(size=(n, k or 1)) + 2.0
    y = y[:, 0] if k is None else y
    return sp.csr_matrix(A.astype(dtype)), np.ascontiguousarray(A.astype(dtype)), y, rng.uniform(0.3, 2.0, n)


def _clf_data(n=120, d=10, classes=2, seed=42):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d)
    A[rng.uniform(size=(n, d)) > 0.4] = 0.0
    W = rng.normal(size=(d, classes))
    y = np.argmax(A @ W + 0.8 * rng.normal(size=(n, classes)), axis=1)
    return sp.csr_matrix(A), A, np.array(["a", "b", "c", "d"])[y], rng.uniform(0.3, 2.0, n)


def _fit_quietly(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        return est.fit(X, y, **kwargs)


def _assert_rel(actual, expected, rtol):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    err = np.abs(actual - expected).max()
    scale = np.abs(expected).max()
    assert err <= rtol * scale, f"max error {err:.3g} > {rtol:.0e} * {scale:.3g}"


def _assert_same_model(a, b, rtol):
    _assert_rel(a.coef_, b.coef_, rtol)
    _assert_rel(a.intercept_, b.intercept_, rtol)


def _assert_close_model(a, b, rtol):
    """coef_ and intercept_ together within rtol of the model's largest parameter: an L-BFGS fit
    that stalls (no lower objective in floating point) is settled to about sqrt(eps) only, so a
    small intercept has no 1e-8 relative accuracy of its own."""
    actual = np.concatenate([np.ravel(a.coef_), np.ravel(a.intercept_)])
    expected = np.concatenate([np.ravel(b.coef_), np.ravel(b.intercept_)])
    _assert_rel(actual, expected, rtol)


MINIBATCH_COMMON = dict(max_iter=8, tol=None, random_state=0)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad", "rmsprop"])
@pytest.mark.parametrize("batch_size", [1, 16, "auto"])
def test_minibatch_dense_updates_equal_dense_scale(optimizer, batch_size):
    Xs, Xd, y, sw = _reg_data()
    params = dict(optimizer=optimizer, batch_size=batch_size, penalty="elasticnet", alpha=1e-3,
                  **MINIBATCH_COMMON)
    if batch_size == "auto":
        params.update(tol=1e-3, max_iter=40)  # so that the batch grows
    sparse = _fit_quietly(GDRegressor(sparse_updates="dense", **params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(standardize="scale", **params), Xd, y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)
    assert sparse.n_iter_ == dense.n_iter_ and sparse.t_ == dense.t_
    assert np.all(sparse.mean_ == 0)
    _assert_rel(sparse.scale_, dense.scale_, 1e-14)


@pytest.mark.parametrize("optimizer,penalty", [("sgd", None), ("sgd", "l2"), ("adagrad", None),
                                               ("rmsprop", None), ("adadelta", None)])
@pytest.mark.parametrize("batch_size", [4, 32, "auto"])
def test_lazy_exact_cases_equal_dense_scale(optimizer, penalty, batch_size):
    Xs, Xd, y, sw = _reg_data()
    params = dict(optimizer=optimizer, batch_size=batch_size, penalty=penalty, alpha=1e-2, **MINIBATCH_COMMON)
    if batch_size == "auto":
        params.update(tol=1e-3, max_iter=40)
    sparse = _fit_quietly(GDRegressor(**params), Xs, y, sample_weight=sw)  # lazy, the default
    dense = _fit_quietly(GDRegressor(standardize="scale", **params), Xd, y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)
    assert sparse.t_ == dense.t_


@pytest.mark.parametrize("optimizer,loss", [("momentum", "squared_error"), ("adam", "huber")])
def test_full_batch_first_order_centred_equals_dense(optimizer, loss):
    # Not Adam with the squared error: there the centred intercept starts at its optimum, its
    # gradient is rounding noise (~1e-16) and Adam steps by lr g / eps, 1e6 times that noise:
    # dense and CSR sum in different orders, so their intercepts differ by ~5e-10 (relative 2e-10).
    Xs, Xd, y, sw = _reg_data()
    params = dict(optimizer=optimizer, loss=loss, epsilon=1.0, batch_size="full", max_iter=30, tol=None,
                  random_state=0)
    sparse = _fit_quietly(GDRegressor(**params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(**params), Xd, y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)
    assert np.any(sparse.mean_ != 0)  # full batches centre CSR X
    _assert_rel(sparse.mean_, dense.mean_, 1e-13)


def test_full_batch_classifier_centred_equals_dense():
    Xs, Xd, y, sw = _clf_data(classes=3)
    params = dict(optimizer="adam", batch_size="full", max_iter=30, tol=None, random_state=0)
    sparse = _fit_quietly(GDClassifier(**params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDClassifier(**params), Xd, y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)


LBFGS_RTOL = 1e-8


@pytest.mark.parametrize("penalty", ["l2", None])
def test_lbfgs_regressor_close_to_dense(penalty):
    Xs, Xd, y, sw = _reg_data()
    sparse = _fit_quietly(GDRegressor(penalty=penalty, tol=1e-10), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(penalty=penalty, tol=1e-10), Xd, y, sample_weight=sw)
    assert sparse.optimizer_ == "lbfgs"
    _assert_close_model(sparse, dense, LBFGS_RTOL)


@pytest.mark.parametrize("classes,loss,multi_class", [(2, "log_loss", "multinomial"), (3, "log_loss", "multinomial"),
                                                      (3, "log_loss", "ovr"), (2, "hinge", "multinomial"),
                                                      (4, "modified_huber", "ovr")])
def test_lbfgs_classifier_close_to_dense(classes, loss, multi_class):
    Xs, Xd, y, sw = _clf_data(classes=classes)
    params = dict(loss=loss, multi_class=multi_class, tol=1e-10, max_iter=3000, alpha=1e-3)
    sparse = _fit_quietly(GDClassifier(**params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDClassifier(**params), Xd, y, sample_weight=sw)
    assert sparse.optimizer_ == "lbfgs"
    # Along the least curved direction the curvature is about alpha alone (the softmax is
    # unchanged by adding one vector to every class's coefficients; columns the data barely
    # bend): a gradient test passed at tol leaves the coefficients up to about tol / alpha
    # from the optimum (1e-7 here), and the two fits round differently on the way.
    _assert_close_model(sparse, dense, params["tol"] / params["alpha"])
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(Xd))


def test_lbfgs_multi_output_regression_close_to_dense():
    Xs, Xd, Y, sw = _reg_data(k=3)
    sparse = _fit_quietly(GDRegressor(tol=1e-10), Xs, Y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(tol=1e-10), Xd, Y, sample_weight=sw)
    assert sparse.coef_.shape == (3, Xs.shape[1])
    _assert_close_model(sparse, dense, LBFGS_RTOL)


def test_minibatch_multi_output_and_ovr_equal_dense():
    Xs, Xd, Y, sw = _reg_data(k=3)
    params = dict(optimizer="momentum", batch_size=10, **MINIBATCH_COMMON)
    sparse = _fit_quietly(GDRegressor(sparse_updates="dense", **params), Xs, Y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(standardize="scale", **params), Xd, Y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)
    Xs, Xd, y, sw = _clf_data(classes=3)
    params = dict(optimizer="adam", batch_size=10, multi_class="ovr", **MINIBATCH_COMMON)
    sparse = _fit_quietly(GDClassifier(sparse_updates="dense", **params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDClassifier(standardize="scale", **params), Xd, y, sample_weight=sw)
    _assert_same_model(sparse, dense, 1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "minibatch"])
def test_l1_zeros_at_the_same_places(solver):
    Xs, Xd, y, sw = _reg_data(d=20, seed=43)
    if solver == "lbfgs":
        params = dict(penalty="l1", alpha=0.05, tol=1e-10)
        sparse = _fit_quietly(GDRegressor(**params), Xs, y, sample_weight=sw)
        dense = _fit_quietly(GDRegressor(**params), Xd, y, sample_weight=sw)
        check = _assert_close_model
    else:
        params = dict(penalty="l1", alpha=0.5, optimizer="sgd", batch_size=8, **MINIBATCH_COMMON)
        sparse = _fit_quietly(GDRegressor(sparse_updates="dense", **params), Xs, y, sample_weight=sw)
        dense = _fit_quietly(GDRegressor(standardize="scale", **params), Xd, y, sample_weight=sw)
        check = _assert_same_model
    zeros = sparse.coef_ == 0
    assert 0 < zeros.sum() < zeros.size
    np.testing.assert_array_equal(zeros, dense.coef_ == 0)
    check(sparse, dense, LBFGS_RTOL if solver == "lbfgs" else 1e-12)


@pytest.mark.parametrize("estimator", ["regressor", "classifier"])
def test_partial_fit_csr_equals_dense(estimator):
    if estimator == "regressor":
        Xs, Xd, y, sw = _reg_data()
        make = lambda **kw: GDRegressor(random_state=0, **kw)  # noqa: E731
        extra = {}
    else:
        Xs, Xd, y, sw = _clf_data(classes=3)
        make = lambda **kw: GDClassifier(random_state=0, **kw)  # noqa: E731
        extra = dict(classes=np.unique(y))
    sparse, dense = make(sparse_updates="dense"), make(standardize="scale")
    for chunk in (slice(0, 40), slice(40, 90), slice(0, 90)):
        sparse.partial_fit(Xs[chunk], y[chunk], sample_weight=sw[chunk], **extra)
        dense.partial_fit(Xd[chunk], y[chunk], sample_weight=sw[chunk], **extra)
    _assert_same_model(sparse, dense, 1e-12)
    assert np.all(sparse.mean_ == 0)


@pytest.mark.parametrize("path", ["lazy", "dense_updates", "lbfgs"])
def test_same_bits_for_one_and_two_threads(path):
    Xs, _, y, sw = _reg_data(n=700, d=30, seed=44)
    if path == "lbfgs":
        params = dict(tol=1e-8)
    else:
        params = dict(optimizer="adam", batch_size=300, max_iter=4, tol=None, random_state=0, penalty="l2",
                      sparse_updates="lazy" if path == "lazy" else "dense")
    fits = [_fit_quietly(GDRegressor(n_jobs=threads, **params), Xs, y, sample_weight=sw) for threads in (1, 2)]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert np.array_equal(fits[0].intercept_, fits[1].intercept_)


@pytest.mark.parametrize("params", [dict(), dict(optimizer="adam", batch_size=8, max_iter=5, tol=None)])
def test_float32_csr(params):
    Xs, Xd, y, sw = _reg_data()
    X32 = Xs.astype(np.float32)
    fit32 = _fit_quietly(GDRegressor(random_state=0, **params), X32, y, sample_weight=sw)
    fit64 = _fit_quietly(GDRegressor(random_state=0, **params), Xs, y, sample_weight=sw)
    assert fit32.coef_.dtype == np.float32
    assert fit32.predict(X32).dtype == np.float32
    _assert_rel(fit32.coef_, fit64.coef_, 1e-3)
    # the same path dense (mini-batches: dense updates and "scale"), in float32
    mini = bool(params)
    csr32 = _fit_quietly(GDRegressor(random_state=0, sparse_updates="dense", **params), X32, y, sample_weight=sw)
    dense32 = _fit_quietly(GDRegressor(random_state=0, standardize="scale" if mini else True, **params),
                           Xd.astype(np.float32), y, sample_weight=sw)
    _assert_rel(csr32.coef_, dense32.coef_, 1e-5 if mini else 1e-4)


@pytest.mark.parametrize("kind", ["regressor", "binary", "multinomial", "ovr"])
def test_sparsify_densify(kind):
    if kind == "regressor":
        Xs, Xd, y, _ = _reg_data()
        est = GDRegressor(penalty="l1", alpha=0.05).fit(Xs, y)
    else:
        Xs, Xd, y, _ = _clf_data(classes=2 if kind == "binary" else 3)
        est = GDClassifier(penalty="l1", alpha=0.02, multi_class="ovr" if kind == "ovr" else "multinomial").fit(Xs, y)
    dense_coef = est.coef_.copy()
    outputs = {}
    methods = ["predict", "score"] + ([] if kind == "regressor" else ["decision_function", "predict_proba"])
    for X in (Xs, Xd):
        for name in methods:
            args = (X, y) if name == "score" else (X,)
            outputs[name, id(X)] = getattr(est, name)(*args)
    assert est.sparsify() is est
    assert sp.issparse(est.coef_)
    for X in (Xs, Xd):
        for name in methods:
            args = (X, y) if name == "score" else (X,)
            np.testing.assert_array_equal(getattr(est, name)(*args), outputs[name, id(X)])
    for name in methods:  # CSR and dense X give the same outputs
        a, b = outputs[name, id(Xs)], outputs[name, id(Xd)]
        if np.asarray(a).dtype.kind == "f":
            _assert_rel(a, b, 1e-12)
        else:
            np.testing.assert_array_equal(a, b)
    assert est.densify() is est
    assert not sp.issparse(est.coef_)
    np.testing.assert_array_equal(est.coef_, dense_coef)


def test_mean_is_zero_for_csr_minibatches_and_centres_dense():
    Xs, Xd, y, _ = _reg_data()
    params = dict(optimizer="momentum", batch_size=16, max_iter=3, tol=None, random_state=0)
    sparse = _fit_quietly(GDRegressor(**params), Xs, y)
    dense = _fit_quietly(GDRegressor(**params), Xd, y)
    assert np.all(sparse.mean_ == 0)
    assert np.any(dense.mean_ != 0)


def test_early_stopping_on_csr_equals_dense():
    Xs, Xd, y, sw = _reg_data(n=150)
    params = dict(optimizer="momentum", batch_size=16, early_stopping=True, n_iter_no_change=3, max_iter=30,
                  random_state=0)
    sparse = _fit_quietly(GDRegressor(sparse_updates="dense", **params), Xs, y, sample_weight=sw)
    dense = _fit_quietly(GDRegressor(standardize="scale", **params), Xd, y, sample_weight=sw)
    assert sparse.validation_scores_ is not None and len(sparse.validation_scores_) == sparse.n_iter_
    np.testing.assert_allclose(sparse.validation_scores_, dense.validation_scores_, rtol=1e-12)
    _assert_same_model(sparse, dense, 1e-12)
    lazy = _fit_quietly(GDRegressor(**params), Xs, y, sample_weight=sw)
    assert lazy.stop_reason_ in ("validation", "max_iter") and np.isfinite(lazy.coef_).all()


def test_input_checks():
    Xs, _, y, _ = _reg_data()
    est = GDRegressor().fit(Xs, y)
    with pytest.raises(ValueError):
        est.predict(sp.csr_matrix(np.ones((3, Xs.shape[1] + 1))))
    bad = Xs.copy()
    bad.data[4] = np.nan
    with pytest.raises(ValueError):
        GDRegressor().fit(bad, y)
    with pytest.raises(ValueError):
        GDRegressor(optimizer="adam", batch_size=8, max_iter=2).fit(bad, y)
    with pytest.raises(ValueError):
        GDRegressor().fit(sp.csr_matrix((0, Xs.shape[1])), np.zeros(0))
    with pytest.raises(ValueError):
        est.predict(bad)


@pytest.mark.parametrize("params", [dict(), dict(optimizer="adam", batch_size=8, max_iter=3, tol=None)])
def test_users_matrix_unchanged(params):
    X, dense = _messy_csr()
    X = sp.csr_matrix((np.tile(X.data, 8), np.tile(X.indices, 8),
                       np.concatenate([[0], np.tile(np.diff(X.indptr), 8).cumsum()])), shape=(40, 5))
    assert not X.has_canonical_format  # duplicates and unsorted indices: check_csr must copy
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    y = np.arange(X.shape[0], dtype=float) % 3
    est = _fit_quietly(GDRegressor(random_state=0, **params), X, y)
    est.predict(X)
    for array, old in zip((X.data, X.indices, X.indptr), before):
        assert np.array_equal(array, old)
    ref_est = _fit_quietly(GDRegressor(random_state=0, **params), sp.csr_matrix(np.vstack([dense] * 8)), y)
    _assert_same_model(est, ref_est, 1e-10)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_canonical_float64_csr_is_not_copied(index_dtype):
    Xs, _, _, _ = _reg_data()
    Xs.indices = Xs.indices.astype(index_dtype)
    Xs.indptr = Xs.indptr.astype(index_dtype)
    assert Xs.has_canonical_format
    E = engine_input(Xs)
    assert np.shares_memory(E.data, Xs.data)
    assert np.shares_memory(E.indices, Xs.indices)
    assert np.shares_memory(E.indptr, Xs.indptr)
