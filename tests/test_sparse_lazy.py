"""Lazy epochs on CSR X (_core.train_epoch_* with TrainOptions.lazy) against
pygd.reference.lazy_train_reference, and where the lazy step is exact, against the dense epoch."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import pygd
from pygd import _core
from pygd import reference as ref

OPTIMIZERS = {
    "sgd": dict(kind="sgd", lr=0.02, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    "sgd_wd": dict(kind="sgd", lr=0.02, momentum=0.0, dampening=0.0, weight_decay=0.05, nesterov=False),
    "momentum": dict(kind="sgd", lr=0.02, momentum=0.9, dampening=0.1, weight_decay=0.0, nesterov=False),
    "nesterov": dict(kind="sgd", lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True),
    "adam": dict(kind="adam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False),
    "adamw": dict(kind="adam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False,
                  decoupled_weight_decay=True),
    "amsgrad": dict(kind="adam", lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.0, amsgrad=True,
                    decoupled_weight_decay=False),
    "nadam": dict(kind="nadam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled_weight_decay=False),
    "adagrad": dict(kind="adagrad", lr=0.1, lr_decay=0.01, weight_decay=0.0, eps=1e-10),
    "rmsprop": dict(kind="rmsprop", lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False),
    "rmsprop_momentum": dict(kind="rmsprop", lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.5,
                             centered=False),
    "rmsprop_centered": dict(kind="rmsprop", lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0,
                             centered=True),
    "adadelta": dict(kind="adadelta", lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
}
OPTIMIZER_FIELDS = dict(momentum=0.0, dampening=0.0, nesterov=False, betas=(0.9, 0.999), eps=1e-8,
                        weight_decay=0.0, amsgrad=False, decoupled_weight_decay=False, lr_decay=0.0,
                        alpha=0.99, centered=False, rho=0.9, momentum_decay=4e-3)
SCHEDULE_FIELDS = dict(power_t=0.25, gamma=0.1, step_size=10.0, T_max=1000.0, eta_min=0.0, warmup=1.0)
PENALTIES = {"none": (0.0, 0.0), "l2": (0.02, 0.0), "l1": (0.0, 0.01), "elasticnet": (0.01, 0.005)}
# The cases where a lazy step is the dense step (the C++ comment and GDRegressor's docstring).
EXACT = [("sgd", "none"), ("sgd", "l2"), ("sgd_wd", "none"), ("sgd_wd", "l2"), ("adagrad", "none"),
         ("rmsprop", "none"), ("adadelta", "none")]


def train_options(opt: dict, *, loss="squared_error", fit_intercept=True, l2=0.0, l1=0.0,
                  weight_per_row=1.0, steps_per_epoch=1, lazy=True, schedule=None) -> _core.TrainOptions:
    fields = dict(OPTIMIZER_FIELDS, **{key: value for key, value in opt.items() if key != "kind"})
    sched = schedule or dict(kind="constant")
    sfields = dict(SCHEDULE_FIELDS, **{key: value for key, value in sched.items() if key != "kind"})
    options = _core.TrainOptions(
        loss=_core.Loss.__members__[loss], epsilon=0.5, fit_intercept=fit_intercept, l2=l2, l1=l1,
        weight_per_row=weight_per_row, average_start=-1, steps_per_epoch=steps_per_epoch,
        schedule_offset=0.0, lr_factor=1.0,
        optimizer=_core.OptimizerOptions(kind=_core.OptimizerKind.__members__[opt["kind"]], **fields),
        schedule=_core.ScheduleOptions(kind=_core.ScheduleKind.__members__[sched["kind"]], **sfields))
    options.lazy = lazy
    return options


def sparse_problem(n=48, d=14, k=1, dtype=np.float64, index_dtype=np.int32, seed=0, loss="squared_error"):
    """CSR X with empty rows, a never-stored column, columns of different scale; Y (n, k)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d)
    A[rng.uniform(size=(n, d)) > 0.3] = 0.0
    A[:, 3] = 0.0  # never stored
    A[[5, 17], :] = 0.0  # empty rows
    X = sp.csr_matrix(A.astype(dtype))
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    W = rng.normal(size=(d, k))
    if loss == "multinomial":
        Y = np.eye(k)[np.argmax(A @ W + rng.normal(size=(n, k)), axis=1)]
    elif loss in ("log_loss",):
        Y = (A @ W + rng.normal(size=(n, k)) > 0).astype(float)
    elif loss in ("hinge", "modified_huber", "smoothed_hinge"):
        Y = np.where(A @ W + rng.normal(size=(n, k)) > 0, 1.0, -1.0)
    else:
        Y = A @ W + rng.normal(size=(n, k)) + 1.5
    sw = rng.uniform(0.2, 2.0, n).astype(dtype)
    return X, np.ascontiguousarray(Y.astype(dtype)), sw, rng


def core_csr(X):
    return _core.CsrMatrix(X.data, X.indices, X.indptr, X.shape[1])


def run_engine(X, Y, sw, orders, batch, opt, *, l2=0.0, l1=0.0, scale=None, mean=None, loss="squared_error",
               fit_intercept=True, lazy=True, schedule=None):
    """Epochs of _core.train_epoch_* over ``orders`` from zero parameters and state."""
    k, d = Y.shape[1], X.shape[1]
    size = k * d + k
    params = np.zeros(size, dtype=X.dtype)
    states = [np.zeros(size, dtype=X.dtype) for _ in range(3)]
    counters = _core.TrainCounters()
    n_order = len(orders[0]) if orders[0] is not None else X.shape[0]
    options = train_options(opt, loss=loss, fit_intercept=fit_intercept, l2=l2, l1=l1,
                            weight_per_row=1.0 if sw is None else float(sw.astype(np.float64).mean()),
                            steps_per_epoch=-(-n_order // batch), lazy=lazy, schedule=schedule)
    engine = _core.train_epoch_f32 if X.dtype == np.float32 else _core.train_epoch_f64
    Xe = core_csr(X) if sp.issparse(X) else X
    if scale is not None and mean is None:
        mean = np.zeros(d)  # the lazy path takes a zero mean (the Python layer passes one)
    losses = []
    for order in orders:
        result = engine(Xe, Y, sw, order, batch, params, states, None, counters, mean, scale, options)
        assert result.finite
        assert result.steps == -(-n_order // batch)
        losses.append(result.loss_sum)
    return params, losses


def assert_rel(actual, expected, rtol):
    scale = np.abs(expected).max()
    err = np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max()
    assert err <= rtol * scale, f"max error {err:.3g} > {rtol:.0e} * {scale:.3g}"


RTOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [1, 3])  # 3: the engine's column-by-column copies of every array
def test_lazy_epoch_matches_lazy_reference(optimizer, penalty, fit_intercept, k):
    X, Y, sw, rng = sparse_problem(seed=1, k=k)
    n = X.shape[0]
    orders = [rng.permutation(n) for _ in range(3)]
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    scale = rng.uniform(0.5, 2.0, X.shape[1])
    params, losses = run_engine(X, Y, sw, orders, 5, opt, l2=l2, l1=l1, scale=scale,
                                fit_intercept=fit_intercept)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, 5, expected, optimizer=opt, l2=l2, l1=l1,
                                                scale=scale, fit_intercept=fit_intercept,
                                                weight_per_row=float(sw.mean()))
    assert_rel(params, expected, 1e-12)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    assert np.any(params[: X.shape[1]] != 0)  # it trained
    if not fit_intercept:
        assert np.all(params[-k:] == 0)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adagrad", "rmsprop_centered", "adadelta",
                                       "nadam"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_lazy_epoch_float32_and_multi_output(optimizer, index_dtype, simd_level):
    X, Y, sw, rng = sparse_problem(k=3, dtype=np.float32, index_dtype=index_dtype, seed=2)
    orders = [rng.permutation(X.shape[0]) for _ in range(2)]
    opt = OPTIMIZERS[optimizer]
    params, losses = run_engine(X, Y, sw, orders, 7, opt, l2=0.01, l1=0.002)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, 7, expected, optimizer=opt, l2=0.01,
                                                l1=0.002, weight_per_row=float(sw.astype(np.float64).mean()))
    assert params.dtype == np.float32
    assert_rel(params, expected, 1e-5)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)


@pytest.mark.parametrize("loss,k", [("multinomial", 3), ("log_loss", 1), ("huber", 2), ("hinge", 1)])
@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_lazy_epoch_other_losses(loss, k, optimizer):
    X, Y, sw, rng = sparse_problem(k=k, seed=3, loss=loss)
    orders = [None, rng.permutation(X.shape[0])]  # storage order, then gathered rows
    opt = OPTIMIZERS[optimizer]
    params, losses = run_engine(X, Y, None, orders, 6, opt, l2=0.01, loss=loss)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, None, orders, 6, expected, optimizer=opt, l2=0.01,
                                                loss=loss, epsilon=0.5)
    assert_rel(params, expected, 1e-12)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("optimizer,penalty", EXACT)
def test_lazy_reference_is_the_dense_epoch_where_exact(optimizer, penalty):
    # The specification agrees with train_reference where the docs say the lazy step is exact,
    # and the engine's lazy and dense epochs on CSR agree there too.
    X, Y, sw, rng = sparse_problem(seed=4)
    orders = [rng.permutation(X.shape[0]) for _ in range(3)]
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    scale = rng.uniform(0.5, 2.0, X.shape[1])
    lazy = np.zeros(X.shape[1] + 1)
    ref.lazy_train_reference(X, Y, sw, orders, 5, lazy, optimizer=opt, l2=l2, l1=l1, scale=scale,
                             weight_per_row=float(sw.mean()))
    dense = np.zeros_like(lazy)
    ref.train_reference(X, Y, sw, orders, 5, dense, optimizer=opt, l2=l2, l1=l1, mean=np.zeros(X.shape[1]),
                        scale=scale, weight_per_row=float(sw.mean()))
    assert_rel(lazy, dense, 1e-12)
    engine_lazy, _ = run_engine(X, Y, sw, orders, 5, opt, l2=l2, l1=l1, scale=scale, lazy=True)
    engine_dense, _ = run_engine(X, Y, sw, orders, 5, opt, l2=l2, l1=l1, scale=scale, lazy=False)
    assert_rel(engine_lazy, engine_dense, 1e-12)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_lazy_differs_from_dense_where_documented(optimizer):
    # Not exact (a column's missed momentum drift is left out): the reference must say so too,
    # else the test above proves nothing.
    X, Y, sw, rng = sparse_problem(seed=4)
    orders = [rng.permutation(X.shape[0])]
    opt = OPTIMIZERS[optimizer]
    lazy = np.zeros(X.shape[1] + 1)
    ref.lazy_train_reference(X, Y, sw, orders, 5, lazy, optimizer=opt)
    dense = np.zeros_like(lazy)
    ref.train_reference(X, Y, sw, orders, 5, dense, optimizer=opt)
    assert np.abs(lazy - dense).max() > 1e-6 * np.abs(dense).max()


def test_lazy_epoch_bits_do_not_depend_on_threads(threads_restored):
    X, Y, sw, rng = sparse_problem(n=400, d=30, k=2, seed=5)
    orders = [rng.permutation(X.shape[0]) for _ in range(2)]
    results = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        results.append(run_engine(X, Y, sw, orders, 300, OPTIMIZERS["adam"], l2=0.01, l1=0.001)[0])
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("optimizer", ["nadam", "momentum", "adadelta"])
@pytest.mark.parametrize("k", [1, 2])
def test_lazy_step_chunks_in_parallel_same_bits(threads_restored, optimizer, k):
    # Batches of 40 rows touch 1280 columns: 2 chunks of a step for one output, 3 for two,
    # which the threads share (each with its own buffers and copy of the step's counters;
    # the last chunk carries the intercepts).  1, 2 and 3 threads give the same bits, equal
    # to the reference (a chunk stepped twice, skipped, or counting a step of its own fails).
    X, Y, sw, rng = chunky_problem()
    Y = Y[:, :k].copy()
    orders = [rng.permutation(X.shape[0]), None]
    opt = OPTIMIZERS[optimizer]
    results = []
    for threads in (1, 2, 3):
        pygd.set_num_threads(threads)
        results.append(run_engine(X, Y, sw, orders, 40, opt, l2=0.01, l1=0.001)[0])
    assert np.array_equal(results[0], results[1])
    assert np.array_equal(results[0], results[2])
    expected = np.zeros_like(results[0])
    ref.lazy_train_reference(X, Y, sw, orders, 40, expected, optimizer=opt, l2=0.01, l1=0.001,
                             weight_per_row=float(sw.mean()))
    assert_rel(results[0], expected, 1e-12)


@pytest.mark.parametrize("optimizer,penalty", [("adam", "elasticnet"), ("sgd", "l2"), ("momentum", "l1")])
@pytest.mark.parametrize("dtype,index_dtype,loss,k", [(np.float64, np.int32, "squared_error", 1),
                                                      (np.float64, np.int64, "squared_error", 2),
                                                      (np.float32, np.int32, "log_loss", 1),
                                                      (np.float64, np.int32, "multinomial", 3)])
@pytest.mark.parametrize("shuffled", [False, True])
def test_lazy_batches_of_two_row_blocks(threads_restored, optimizer, penalty, dtype, index_dtype, loss, k,
                                        shuffled):
    # Batches of 256 rows or more are summed in two row blocks that the threads share (one
    # output: each block's gradient in a buffer of its own, added in block order; several:
    # the rows' derivatives by block, then the columns by group).  Batches of 300 rows over
    # 700 (the last of 100 rows: one block), 1, 2 and 3 threads: the same bits, and the
    # reference's model (a block summed twice, left out, or a buffer not cleared fails it).
    X, Y, sw, rng = sparse_problem(n=700, d=40, k=k, seed=11, dtype=dtype, index_dtype=index_dtype, loss=loss)
    orders = [rng.permutation(X.shape[0]) if shuffled else None, rng.permutation(X.shape[0])]
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    results = []
    for threads in (1, 2, 3):
        pygd.set_num_threads(threads)
        results.append(run_engine(X, Y, sw, orders, 300, opt, l2=l2, l1=l1, loss=loss))
    for params, losses in results[1:]:
        assert np.array_equal(params, results[0][0])
        assert losses == results[0][1]
    expected = np.zeros_like(results[0][0])
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, 300, expected, optimizer=opt, l2=l2, l1=l1,
                                                loss=loss, weight_per_row=float(sw.astype(np.float64).mean()))
    assert_rel(results[0][0], expected, RTOL[dtype])
    np.testing.assert_allclose(results[0][1], ref_losses, rtol=RTOL[dtype])


@pytest.mark.parametrize("k", [1, 2])
def test_lazy_shrink_factor_not_positive(k):
    # lr (l2 + weight_decay) > 1: the shrink factor is <= 0 (no logarithm), the engine's fallback path.
    X, Y, sw, rng = sparse_problem(seed=6, k=k)
    orders = [rng.permutation(X.shape[0])]
    opt = dict(OPTIMIZERS["sgd"], lr=0.02, weight_decay=60.0)
    params, _ = run_engine(X, Y, None, orders, 8, opt)
    expected = np.zeros_like(params)
    ref.lazy_train_reference(X, Y, None, orders, 8, expected, optimizer=opt)
    dense = np.zeros_like(params)
    ref.train_reference(X, Y, None, orders, 8, dense, optimizer=opt)
    assert np.all(np.isfinite(params))
    assert_rel(params, expected, 1e-12)
    assert_rel(params, dense, 1e-12)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lazy_shrink_factor_multiplied_in_before_it_underflows(k, dtype):
    # SGD's L2 shrink is one factor omega for every coefficient (the stored values are
    # w / omega).  At 0.25 a step, 600 one-row steps take it to 0.25^600 = 1e-361, far
    # below the smallest double: the engine multiplies it into the stored values whenever
    # it falls below 1e-20 (the stored values of float32 stay in range) and goes on.
    X, Y, sw, rng = sparse_problem(n=600, seed=7, k=k, dtype=dtype)
    orders = [rng.permutation(X.shape[0])]
    opt = dict(OPTIMIZERS["sgd"], lr=0.02, weight_decay=37.5)  # 1 - lr * weight_decay = 0.25
    params, _ = run_engine(X, Y, sw, orders, 1, opt, l2=0.0)
    expected = np.zeros_like(params, dtype=np.float64)
    ref.lazy_train_reference(X, Y, sw, orders, 1, expected, optimizer=opt,
                             weight_per_row=float(sw.astype(np.float64).mean()))
    assert np.all(np.isfinite(params))
    assert_rel(params, expected, RTOL[dtype])


@pytest.mark.parametrize("optimizer,penalty", [("sgd", "l2"), ("sgd_wd", "elasticnet"), ("adam", "l2"),
                                               ("rmsprop_momentum", "none")])
@pytest.mark.parametrize("schedule", [dict(kind="invscaling", power_t=0.5),
                                      dict(kind="warmup_cosine", T_max=3.0, eta_min=0.001, warmup=1.0)])
def test_lazy_epoch_with_a_schedule(optimizer, penalty, schedule):
    # A varying rate: SGD's catch-up shrink is a product of different factors, not a power.
    X, Y, sw, rng = sparse_problem(seed=7)
    orders = [rng.permutation(X.shape[0]) for _ in range(3)]
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    params, losses = run_engine(X, Y, sw, orders, 4, opt, l2=l2, l1=l1, schedule=schedule)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, 4, expected, optimizer=opt, l2=l2, l1=l1,
                                                schedule=schedule, weight_per_row=float(sw.mean()))
    assert_rel(params, expected, 1e-12)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("batch", [1, 47, 48, 100])
@pytest.mark.parametrize("k", [1, 2])
def test_lazy_epoch_batch_sizes(batch, k):
    # One row per step; a short last batch; one batch that is the whole epoch (D = S).
    X, Y, sw, rng = sparse_problem(seed=8, k=k)
    orders = [rng.permutation(X.shape[0]) for _ in range(2)]
    opt = OPTIMIZERS["adam"]
    params, losses = run_engine(X, Y, sw, orders, batch, opt, l2=0.01, l1=0.001)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, batch, expected, optimizer=opt, l2=0.01,
                                                l1=0.001, weight_per_row=float(sw.mean()))
    assert_rel(params, expected, 1e-12)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


def chunky_problem(n=64, per_row=32, empty=16, seed=9):
    """Row i stores columns [per_row i, per_row (i + 1)): a batch of b rows touches b per_row
    distinct columns (b = 16: exactly the engine's chunk for two outputs, 512 columns, 1024
    values); then `empty` empty rows."""
    rng = np.random.default_rng(seed)
    d = n * per_row
    indptr = np.concatenate([np.arange(n + 1) * per_row, np.full(empty, n * per_row)])
    X = sp.csr_matrix((rng.normal(size=n * per_row), np.arange(n * per_row), indptr), shape=(n + empty, d))
    Y = np.ascontiguousarray(np.column_stack([rng.normal(size=n + empty), rng.normal(size=n + empty)]))
    sw = rng.uniform(0.2, 2.0, n + empty)
    return X, Y, sw, rng


@pytest.mark.parametrize("optimizer,penalty", [("sgd", "l2"), ("momentum", "elasticnet"), ("nadam", "l1"),
                                               ("rmsprop_momentum", "l2"), ("adadelta", "l1"),
                                               ("adam", "elasticnet")])
@pytest.mark.parametrize("batch", [16, 17, 32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lazy_step_in_chunks_of_columns(optimizer, penalty, batch, fit_intercept):
    # A lazy step catches up, gathers, steps and scatters the batch's columns in chunks (512
    # columns for these two outputs): 512 columns (one chunk), 544 (two, the second short)
    # and 1024 (two full ones);
    # the optimizer's scalars (momentum, NAdam's product) advance once per step, not per
    # chunk; the intercepts ride with the last chunk. Storage order ends with a batch of
    # empty rows: without intercepts that step has nothing to update, yet counts.
    X, Y, sw, rng = chunky_problem()
    orders = [None, rng.permutation(X.shape[0])]
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    scale = rng.uniform(0.5, 2.0, X.shape[1])
    params, losses = run_engine(X, Y, sw, orders, batch, opt, l2=l2, l1=l1, scale=scale,
                                fit_intercept=fit_intercept)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.lazy_train_reference(X, Y, sw, orders, batch, expected, optimizer=opt, l2=l2,
                                                l1=l1, scale=scale, fit_intercept=fit_intercept,
                                                weight_per_row=float(sw.mean()))
    assert_rel(params, expected, 1e-12)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
