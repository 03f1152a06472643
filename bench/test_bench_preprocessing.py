"""StandardScaler benchmarks: pygd vs scikit-learn vs the NumPy reference, and
pygd's fit vs the read-bandwidth probe, in the same run.

Small by default so ``pytest bench --benchmark-disable`` runs as quick tests;
``PYGD_BENCH_FULL=1`` uses the issue's 2e6 x 64.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import sklearn.preprocessing

from pygd import _core, reference
from pygd.preprocessing import StandardScaler

FULL = os.environ.get("PYGD_BENCH_FULL") == "1"
SHAPE = (2_000_000, 64) if FULL else (20_000, 64)
DTYPES = [np.float64, np.float32]


@pytest.fixture(scope="module", params=DTYPES, ids=["f64", "f32"])
def data(request):
    rng = np.random.default_rng(0)
    X = np.empty(SHAPE, dtype=request.param)
    for start in range(0, SHAPE[0], 250_000):  # fill in chunks: no 2e6 x 64 float64 temporary
        stop = min(start + 250_000, SHAPE[0])
        X[start:stop] = rng.normal(size=(stop - start, SHAPE[1])) * 2.0 + 5.0
    expected = reference.column_stats(X[:5000])
    return X, expected


def _check_stats(scaler, X):
    head_mean = X[:5000].astype(np.float64).mean(axis=0)
    # Whole-X statistics of N(5, 4) data: close to 5 and 2 and to the head's.
    assert np.allclose(scaler.mean_, 5.0, atol=0.2) and np.allclose(scaler.scale_, 2.0, rtol=0.1)
    assert np.allclose(scaler.mean_, head_mean, atol=0.2)


@pytest.mark.parametrize("impl", ["pygd", "sklearn", "numpy"])
def test_fit(benchmark, data, impl):
    X, _ = data
    benchmark.group = f"fit {X.dtype} {X.shape}"
    if impl == "numpy":
        weight, mean, var = benchmark(reference.column_stats, X)
        np.testing.assert_allclose(mean, StandardScaler().fit(X).mean_, rtol=1e-10)
        return
    cls = StandardScaler if impl == "pygd" else sklearn.preprocessing.StandardScaler
    scaler = benchmark(lambda: cls().fit(X))
    _check_stats(scaler, X)


def test_fit_read_bandwidth_probe(benchmark, data):
    X, _ = data
    benchmark.group = f"fit {X.dtype} {X.shape}"
    probe = getattr(_core, "probe_read_sum_" + ("f32" if X.dtype == np.float32 else "f64"))
    total = benchmark(probe, X)
    assert np.isfinite(total)


@pytest.mark.parametrize("impl", ["pygd", "sklearn", "numpy"])
def test_transform(benchmark, data, impl):
    X, _ = data
    benchmark.group = f"transform {X.dtype} {X.shape}"
    ours = StandardScaler().fit(X)
    if impl == "numpy":
        Z = benchmark(reference.standardize, X, ours.mean_, ours.scale_)
    else:
        scaler = ours if impl == "pygd" else sklearn.preprocessing.StandardScaler().fit(X)
        Z = benchmark(scaler.transform, X)
    assert Z.dtype == X.dtype
    np.testing.assert_allclose(Z[:100], ours.transform(X[:100]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", ["pygd", "sklearn"])
def test_fit_transform(benchmark, data, impl):
    X, _ = data
    benchmark.group = f"fit_transform {X.dtype} {X.shape}"
    cls = StandardScaler if impl == "pygd" else sklearn.preprocessing.StandardScaler
    Z = benchmark(lambda: cls().fit_transform(X))
    assert Z.dtype == X.dtype
    assert np.allclose(Z[:2000].mean(axis=0), 0.0, atol=0.2)
