"""pygd.dask: per-step overhead and time per full-batch epoch for 1 and 2 workers, against in memory.

Sizes.  ``PYGD_BENCH_FULL=1``: 4e6 x 50 float64 (1.6 GB = 1.49 GiB; y 32 MB) in
chunks of 2e5 rows, on workers of ``memory_limit=2 GiB`` each: the data is 0.75
of one worker's limit, so 2 workers hold it comfortably (0.37 each) and 1
worker holds it near its limit (its process at 1.79 GiB, 0.9 of the limit,
below the nanny's terminate mark 0.95).  Dask's spilling and pausing are off
(``distributed.worker.memory.target/spill/pause: False``): with them on, the
1-worker cluster was killed at 3e6 x 50 already (0.56 of the limit) — the
persisted chunks past the 0.6 target are spilled, pygd's actors read them back
and keep references, so spilling frees nothing, and the worker goes past 0.95.
pygd's actors need their rows in memory; so do the in-memory fits compared.
dask-ml's fit is killed at this size, on 1 worker and on 2 (its normalised
copy of X, ``(X - mean) / std``, needs more than the workers have left; on 1
worker at 3e6 x 50 too): that case skips at the full size.
Otherwise (CI): 2e5 x 50 (80 MB) in chunks of 2e4, workers of 1 GiB: a quick
check of the same code, not sized against memory.

The data is generated on the workers (``da.random``) and persisted there once
per cluster; the in-memory reference is the same graph computed in this process
(the synchronous scheduler: the same numbers).  Each case asserts its result:
the distributed objective and gradient equal the in-memory ones to 1e-12, the
fits' coef_ the in-memory fit's to 1e-10, dask-ml's fit ran the iterations
asked and came near the least-squares solution.

Measures (one pytest-benchmark group each):

- one ``objective_grad`` pass (one L-BFGS step's function evaluation);
- one first-order full-batch epoch: ``GDRegressor(optimizer="sgd",
  batch_size="full", max_iter=N, tol=None)``; the benchmark times the whole fit
  (actors built, N epochs), ``extra_info`` has ``fit_per_epoch_s`` (fit time /
  N) and ``epoch_s`` (the median time between two epochs' callbacks: the epoch
  alone);
- the per-step overhead (2 tiny chunks per worker);
- ``GDRegressor().fit`` (L-BFGS, actors built);
- dask-ml's ``LinearRegression(solver="gradient_descent")`` on the same data
  and cluster (skipped where dask_ml does not import): ``extra_info`` has
  ``iteration_s`` (median time between two iterations' gradient graphs) and
  ``passes_per_iteration`` (the graphs of one iteration: the gradient and the
  line search's objective evaluations).  dask-ml is not a dependency of pygd.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from conftest import FULL  # noqa: E402

from pygd import _core  # noqa: E402
from pygd.dask._fit import _aligned, _rows_of, _store  # noqa: E402
from pygd.linear_model import GDRegressor  # noqa: E402

ROWS, COLS, CHUNK = (4_000_000, 50, 200_000) if FULL else (200_000, 50, 20_000)
WORKER_MEMORY = "2GiB" if FULL else "1GiB"
EPOCHS = 10 if FULL else 5
DASK_ML_ITERATIONS = 10 if FULL else 5


def _options(reg: GDRegressor) -> _core.TrainOptions:
    from pygd.linear_model._settings import OPTIMIZER_FIELDS

    return _core.TrainOptions(
        loss=_core.Loss.squared_error, epsilon=0.1, fit_intercept=True, l2=1e-4, l1=0.0,
        weight_per_row=1.0, average_start=-1, steps_per_epoch=1, schedule_offset=0.0, lr_factor=1.0,
        optimizer=_core.OptimizerOptions(kind=_core.OptimizerKind.sgd, lr=0.0, **OPTIMIZER_FIELDS),
        schedule=reg._settings().schedule_config())


def _on_workers(rows, chunk):
    # Generated on the workers (a NumPy array in the graph would travel with every task).
    rng = da.random.default_rng(0)
    Xd = rng.standard_normal((rows, COLS), chunks=(chunk, COLS))
    yd = Xd @ da.ones(COLS, chunks=COLS) + rng.standard_normal(rows, chunks=chunk)
    return Xd, yd


@pytest.fixture(scope="module")
def in_memory():
    """(X, y): the workers' data, computed here by the synchronous scheduler (the same numbers)."""
    X, y = dask.compute(*_on_workers(ROWS, CHUNK), scheduler="sync")
    return np.ascontiguousarray(X), np.ascontiguousarray(y)


@pytest.fixture(scope="module", params=[1, 2], ids=["1worker", "2workers"])
def cluster(request):
    """(workers, client, Xd, yd): a LocalCluster with the data persisted on its workers."""
    no_spill = {"distributed.worker.memory." + mark: False for mark in ("target", "spill", "pause")}
    with dask.config.set(no_spill), distributed.LocalCluster(
            n_workers=request.param, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            memory_limit=WORKER_MEMORY) as local:
        with distributed.Client(local) as client:
            Xd, yd = client.persist(list(_on_workers(ROWS, CHUNK)))
            distributed.wait([Xd, yd])
            yield request.param, client, Xd, yd


def _distributed(client, Xd, yd):
    Xd, _ = _rows_of(Xd)
    rows = tuple(int(r) for r in Xd.chunks[0])
    store = _store(client, Xd, _aligned(yd, "y", rows), None, np.dtype(np.float64))
    store.setup("regressor", True)
    return store


@pytest.mark.benchmark(group="dask: one objective_grad pass (an L-BFGS step)")
def test_step(benchmark, cluster, in_memory):
    workers, client, Xd, yd = cluster
    X, y = in_memory
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


@pytest.mark.benchmark(group="dask: one objective_grad pass (an L-BFGS step)")
def test_step_in_memory(benchmark, in_memory):
    X, y = in_memory
    Y = np.ascontiguousarray(y[:, None])
    params = np.full(COLS + 1, 0.1)
    grad = np.empty(COLS + 1)
    value = benchmark(_core.objective_grad_f64, X, Y, None, None, params, grad, None, None,
                      _options(GDRegressor()))[0]
    assert np.isfinite(value)


def _sgd_epochs(benchmark, X, y):
    # The whole fit timed; the epochs alone from the callbacks' clock.
    stamps: list[float] = []

    def stamp(epoch, loss):
        stamps.append(time.perf_counter())

    def fit():
        stamps.clear()
        return GDRegressor(optimizer="sgd", batch_size="full", learning_rate=0.1,
                           lr_schedule="constant", max_iter=EPOCHS, tol=None,
                           callback=stamp).fit(X, y)

    reg = benchmark.pedantic(fit, rounds=3, iterations=1)
    assert reg.n_iter_ == EPOCHS and len(stamps) == EPOCHS
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["fit_per_epoch_s"] = benchmark.stats.stats.min / EPOCHS
    benchmark.extra_info["epoch_s"] = float(np.median(np.diff(stamps)))
    return reg


@pytest.mark.benchmark(group="dask: a first-order full-batch epoch (sgd, batch_size='full')")
def test_sgd_epoch(benchmark, cluster, in_memory):
    workers, client, Xd, yd = cluster
    reg = _sgd_epochs(benchmark, Xd, yd)
    ref = GDRegressor(optimizer="sgd", batch_size="full", learning_rate=0.1, lr_schedule="constant",
                      max_iter=EPOCHS, tol=None).fit(*in_memory)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-10)


@pytest.mark.benchmark(group="dask: a first-order full-batch epoch (sgd, batch_size='full')")
def test_sgd_epoch_in_memory(benchmark, in_memory):
    reg = _sgd_epochs(benchmark, *in_memory)
    assert np.all(np.isfinite(reg.coef_))


@pytest.mark.benchmark(group="dask: per-step overhead (2 tiny chunks per worker)")
def test_step_overhead(benchmark, cluster):
    workers, client, _, _ = cluster
    store = _distributed(client, *_on_workers(64 * workers, 32))
    params = np.full(COLS + 1, 0.1)
    grad = np.empty(COLS + 1)
    value = benchmark(store._objective_grad, None, np.zeros((1, 1)), None, None, params, grad, None,
                      None, _options(GDRegressor()))[0]
    assert np.isfinite(value)
    store.close()


@pytest.mark.benchmark(group="dask: GDRegressor().fit (L-BFGS, actors built)")
def test_fit(benchmark, cluster, in_memory):
    workers, client, Xd, yd = cluster
    reg = benchmark.pedantic(lambda: GDRegressor().fit(Xd, yd), rounds=1, iterations=1)
    ref = GDRegressor().fit(*in_memory)
    np.testing.assert_allclose(reg.coef_, ref.coef_, rtol=1e-10)


@pytest.mark.benchmark(group="dask: dask-ml LinearRegression(solver='gradient_descent')")
def test_dask_ml_gradient_descent(benchmark, cluster, in_memory, monkeypatch):
    pytest.importorskip("dask_ml")
    from dask_glm import families
    from dask_ml.linear_model import LinearRegression

    workers, client, Xd, yd = cluster
    if FULL:
        pytest.skip("dask-ml's fit is killed on workers of 2 GiB at the full size (see the module "
                    "docstring)")
    # dask_glm's gradient_descent builds one gradient graph per iteration and one objective
    # graph per line-search trial; their clock and count give the time and passes per iteration.
    gradients: list[float] = []
    objectives: list[float] = []
    gradient, loglike = families.Normal.gradient, families.Normal.loglike

    def timed_gradient(*args, **kwargs):
        gradients.append(time.perf_counter())
        return gradient(*args, **kwargs)

    def counted_loglike(*args, **kwargs):
        objectives.append(time.perf_counter())
        return loglike(*args, **kwargs)

    monkeypatch.setattr(families.Normal, "gradient", staticmethod(timed_gradient))
    monkeypatch.setattr(families.Normal, "loglike", staticmethod(counted_loglike))

    def fit():
        gradients.clear()
        objectives.clear()
        # tol=-1: never stops on a small relative decrease, runs the iterations asked.
        return LinearRegression(solver="gradient_descent", max_iter=DASK_ML_ITERATIONS,
                                tol=-1.0).fit(Xd, yd)

    model = benchmark.pedantic(fit, rounds=2, iterations=1)
    assert len(gradients) == DASK_ML_ITERATIONS
    benchmark.extra_info["iteration_s"] = float(np.median(np.diff(gradients)))
    benchmark.extra_info["passes_per_iteration"] = (len(gradients) + len(objectives)) / len(gradients)
    X, y = in_memory
    X1 = np.column_stack([X[:100_000], np.ones(100_000)])
    exact = np.linalg.lstsq(X1, y[:100_000], rcond=None)[0]
    # Unregularised least squares (its gradient_descent ignores the penalty), well conditioned:
    # a few iterations come near the solution.
    np.testing.assert_allclose(model.coef_, exact[:-1], atol=0.05)
