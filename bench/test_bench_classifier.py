"""GDClassifier: one epoch against SGDClassifier (binary and 10 classes), and time to the same
log-loss against LogisticRegression(solver="saga").

Small by default (2e4 x 64); ``PYGD_BENCH_FULL=1`` uses the issue's 2e5 x 64.  Every case asserts
its result.  The issue's target: a 10-class epoch >= 10x faster than SGDClassifier's.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss

from conftest import FULL
from pygd.linear_model import GDClassifier

N, D = (200_000, 64) if FULL else (20_000, 64)
ALPHA = 1e-4
_DATA: dict = {}


def _data(k):
    if k not in _DATA:
        rng = np.random.default_rng(k)
        X = rng.normal(size=(N, D))
        scores = X @ rng.normal(size=(D, k)) / 4 + rng.gumbel(size=(N, k))
        y = scores.argmax(axis=1) if k > 1 else (scores[:, 0] > 0).astype(int)
        _DATA[k] = (X, y)
    return _DATA[k]


PROBLEMS = {"binary": 1, "10-class": 10}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("batch_size", [32, 256])
def test_epoch_pygd(benchmark, problem, batch_size):
    X, y = _data(PROBLEMS[problem])
    benchmark.group = f"epoch {problem}"
    est = GDClassifier(batch_size=batch_size, random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))  # the first call also computes the standardisation
    benchmark.pedantic(est.partial_fit, args=(X, y), rounds=3, iterations=1)
    assert est.score(X[:5000], y[:5000]) > (0.8 if problem == "binary" else 0.5)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_epoch_sklearn_sgdclassifier(benchmark, problem):
    X, y = _data(PROBLEMS[problem])
    benchmark.group = f"epoch {problem}"
    est = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=1, tol=None, random_state=0)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return est.fit(X, y)

    benchmark.pedantic(run, rounds=1, iterations=1)
    # One epoch of per-sample SGD is noisier than pygd's mini-batches: better than chance.
    assert est.score(X[:5000], y[:5000]) > (0.7 if problem == "binary" else 0.3)


_TARGET: dict = {}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_time_to_log_loss_pygd(benchmark, problem):
    X, y = _data(PROBLEMS[problem])
    benchmark.group = f"time to log-loss {problem}"
    result = {}

    def run():
        result["est"] = GDClassifier(alpha=ALPHA, random_state=0).fit(X, y)

    benchmark.pedantic(run, rounds=1, iterations=1)
    _TARGET[problem] = log_loss(y, result["est"].predict_proba(X))
    benchmark.extra_info["log_loss"] = _TARGET[problem]
    benchmark.extra_info["epochs"] = result["est"].n_iter_
    assert _TARGET[problem] < log_loss(y, np.full((len(y), len(np.unique(y))), 1 / len(np.unique(y))))


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_time_to_log_loss_sklearn_saga(benchmark, problem):
    # The fewest saga epochs (doubling) whose log-loss is at most pygd's, then that fit timed.
    # Same objective: C = 1 / (alpha n); the features are already standardised.
    X, y = _data(PROBLEMS[problem])
    benchmark.group = f"time to log-loss {problem}"
    if problem not in _TARGET:
        pytest.skip("run with test_time_to_log_loss_pygd")
    target = _TARGET[problem]
    C = 1.0 / (ALPHA * len(y))
    max_iter = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while True:
            lr = LogisticRegression(solver="saga", C=C, max_iter=max_iter, tol=0.0).fit(X, y)
            if log_loss(y, lr.predict_proba(X)) <= target or max_iter >= 256:
                break
            max_iter *= 2
        benchmark.extra_info["epochs"] = max_iter
        benchmark.pedantic(lambda: LogisticRegression(solver="saga", C=C, max_iter=max_iter, tol=0.0).fit(X, y),
                           rounds=1, iterations=1)
    assert log_loss(y, lr.predict_proba(X)) <= target * 1.01
