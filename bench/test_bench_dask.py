"""pygd.dask: per-step overhead, the time of one pass for 1 and 2 workers, against the in-memory kernel.

One group per measure; each case asserts its result (the distributed objective
equals the in-memory one to 1e-12).  ``PYGD_BENCH_FULL=1``: 4e6 x 50 float64
(1.6 GB, chunks of 2e5 rows), else 2e5 x 50.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from conftest import FULL  # noqa: E402

from pygd import _core  # noqa: E402
from pygd.dask._fit import _aligned, _rows_of, _store  # noqa: E402
from pygd.linear_model import GDRegressor  # noqa: E402

ROWS, COLS, CHUNK = (4_000_000, 50, 200_000) if FULL else (200_000, 50, 20_000)


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, COLS))
    y = X @ rng.standard_normal(COLS) + rng.standard_normal(ROWS)
    return X, y


def _options(reg: GDRegressor) -> _core.TrainOptions:
    from pygd.linear_model._settings import OPTIMIZER_FIELDS

    return _core.TrainOptions(
        loss=_core.Loss.squared_error, epsilon=0.1, fit_intercept=True, l2=1e-4, l1=0.0,
        weight_per_row=1.0, average_start=-1, steps_per_epoch=1, schedule_offset=0.0, lr_factor=1.0,
        optimizer=_core.OptimizerOptions(kind=_core.OptimizerKind.sgd, lr=0.0, **OPTIMIZER_FIELDS),
        schedule=reg._settings().schedule_config())


@pytest.fixture(scope="module", params=[1, 2], ids=["1worker", "2workers"])
def cluster_client(request):
    with distributed.LocalCluster(n_workers=request.param, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield request.param, client


def _on_workers(rows, chunk):
    # Generated on the workers (a NumPy array in the graph would travel with every task).
    rng = da.random.default_rng(0)
    Xd = rng.standard_normal((rows, COLS), chunks=(chunk, COLS))
    yd = Xd @ da.ones(COLS, chunks=COLS) + rng.standard_normal(rows, chunks=chunk)
    return Xd, yd


def _distributed(client, Xd, yd):
    Xd, _ = _rows_of(Xd)
    rows = tuple(int(r) for r in Xd.chunks[0])
    store = _store(client, Xd, _aligned(yd, "y", rows), None, np.dtype(np.float64))
    store.setup("regressor", True)
    return store


@pytest.mark.benchmark(group="dask: one objective_grad pass (step)")
def test_step(benchmark, cluster_client):
    workers, client = cluster_client
    Xd, yd = _on_workers(ROWS, CHUNK)
    X, y = (np.array(a) for a in client.compute([Xd, yd], sync=True))  # aligned copies
    options = _options(GDRegressor())
    params = np.full(COLS + 1, 0.1)
    grad = np.empty(COLS + 1)
    store = _distributed(client, Xd, yd)
    Y = np.ascontiguousarray(y[:, None])
    value = benchmark(store._objective_grad, None, Y, None, None, params, grad, None, None, options)[0]
    expected = np.empty(COLS + 1)
    reference = _core.objective_grad_f64(X, Y, None, None, params, expected, None, None, options)[0]
    assert abs(value - reference) <= 1e-12 * abs(reference)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)
    store.close()


@pytest.mark.benchmark(group="dask: one objective_grad pass (step)")
def test_step_in_memory(benchmark):
    X, y = _problem()
    Y = np.ascontiguousarray(y[:, None])
    params = np.full(COLS + 1, 0.1)
    grad = np.empty(COLS + 1)
    value = benchmark(_core.objective_grad_f64, X, Y, None, None, params, grad, None, None,
                      _options(GDRegressor()))[0]
    assert np.isfinite(value)


@pytest.mark.benchmark(group="dask: per-step overhead (2 tiny chunks per worker)")
def test_step_overhead(benchmark, cluster_client):
    workers, client = cluster_client
    store = _distributed(client, *_on_workers(64 * workers, 32))
    params = np.full(COLS + 1, 0.1)
    grad = np.empty(COLS + 1)
    value = benchmark(store._objective_grad, None, np.zeros((1, 1)), None, None, params, grad, None,
                      None, _options(GDRegressor()))[0]
    assert np.isfinite(value)
    store.close()


@pytest.mark.benchmark(group="dask: GDRegressor().fit (L-BFGS)")
def test_fit(benchmark, cluster_client):
    workers, client = cluster_client
    Xd, yd = _on_workers(ROWS, CHUNK)
    X, y = (np.array(a) for a in client.compute([Xd, yd], sync=True))  # aligned copies
    reg = benchmark.pedantic(lambda: GDRegressor().fit(Xd, yd), rounds=1, iterations=1)
    ref = GDRegressor().fit(X, y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
