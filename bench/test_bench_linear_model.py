"""GDRegressor: one epoch against SGDRegressor (and torch where installed), time to the optimum.

Small by default; ``PYGD_BENCH_FULL=1`` uses the issue's sizes (2e6 x 64 epochs,
1e6 x 100 time-to-optimum).  Every case asserts its result.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor

from conftest import FULL
from pygd.linear_model import GDRegressor

N_EPOCH, D_EPOCH = (2_000_000, 64) if FULL else (100_000, 64)
N_OPT, D_OPT = (1_000_000, 100) if FULL else (50_000, 100)


def _epoch_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_EPOCH, D_EPOCH))
    y = X @ rng.normal(size=D_EPOCH) + 1.0 + 0.1 * rng.normal(size=N_EPOCH)
    return X, y


_DATA: dict = {}


def _data():
    if "epoch" not in _DATA:
        _DATA["epoch"] = _epoch_data()
    return _DATA["epoch"]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("batch_size", ["full", 256, 32, 1])
def test_epoch_pygd(benchmark, optimizer, batch_size):
    X, y = _data()
    benchmark.group = "epoch"
    lr = 0.01 if optimizer == "adam" else (0.001 if batch_size == 1 else 0.01)
    est = GDRegressor(optimizer=optimizer, batch_size=batch_size, learning_rate=lr, max_iter=1, tol=None,
                      random_state=0)
    benchmark.extra_info["rows"] = X.shape[0]
    # The first partial_fit computes the standardisation statistics; the timed
    # calls are epochs (plus scikit-learn's input validation, a pass over X).
    est.partial_fit(X, y)

    benchmark.pedantic(est.partial_fit, args=(X, y), rounds=1 if batch_size == 1 else 3, iterations=1)
    assert np.isfinite(est.coef_).all() and est.n_iter_ >= 2
    if batch_size != "full":
        assert est.score(X[:10000], y[:10000]) > 0.5  # one epoch of mini-batches learns


def test_epoch_sklearn_sgdregressor(benchmark):
    X, y = _data()
    benchmark.group = "epoch"
    est = SGDRegressor(max_iter=1, tol=None, random_state=0)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return est.fit(X, y)

    benchmark.pedantic(run, rounds=1, iterations=1)
    assert est.score(X[:10000], y[:10000]) > 0.5


def test_epoch_torch_minibatch_adam(benchmark):
    torch = pytest.importorskip("torch")
    X, y = _data()
    benchmark.group = "epoch"
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    torch.manual_seed(0)

    def run():
        w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w, b], lr=0.01)
        perm = torch.randperm(X.shape[0])
        for start in range(0, X.shape[0], 256):
            idx = perm[start : start + 256]
            opt.zero_grad()
            loss = 0.5 * ((Xt[idx] @ w + b - yt[idx]) ** 2).mean()
            loss.backward()
            opt.step()
        return w.detach().numpy()

    w = benchmark.pedantic(run, rounds=1, iterations=1)
    assert np.isfinite(w).all()


def _opt_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N_OPT, D_OPT)) * rng.uniform(0.5, 2.0, D_OPT)
    y = X @ rng.normal(size=D_OPT) + 2.0 + rng.normal(size=N_OPT)
    return X, y


@pytest.mark.parametrize("solver", ["pygd-defaults", "SGDRegressor", "Ridge-sag", "LinearRegression"])
def test_time_to_optimum(benchmark, solver):
    """Wall time of one fit and its objective's gap to the least-squares optimum (extra_info)."""
    X, y = _opt_data()
    benchmark.group = "time-to-optimum"
    best = LinearRegression().fit(X, y)
    best_obj = 0.5 * np.mean((best.predict(X) - y) ** 2)
    make = {
        "pygd-defaults": lambda: GDRegressor(random_state=0),
        "SGDRegressor": lambda: SGDRegressor(random_state=0),
        "Ridge-sag": lambda: Ridge(alpha=1e-8, solver="sag", random_state=0),
        "LinearRegression": lambda: LinearRegression(),
    }[solver]

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return make().fit(X, y)

    est = benchmark.pedantic(run, rounds=1, iterations=1)
    obj = 0.5 * np.mean((est.predict(X) - y) ** 2)
    gap = (obj - best_obj) / best_obj
    benchmark.extra_info["relative_gap"] = float(gap)
    print(f"{solver}: relative objective gap {gap:.3g}")
    assert gap < 0.5, gap  # every solver gets near; the 1e-6 target is reported, not asserted
