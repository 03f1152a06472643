"""Optimizer step benchmarks: pygd vs the NumPy reference and torch (fused and single-tensor).

Run: ``pytest bench/test_bench_optim.py`` (``--benchmark-disable`` runs them as
quick correctness tests).  Sizes 1e3 and 1e5 run by default; ``PYGD_BENCH_FULL=1``
adds 1e7.  Each benchmark checks its result against one reference step.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from pygd import optim, reference

SIZES = [1_000, 100_000] + ([10_000_000] if os.environ.get("PYGD_BENCH_FULL") else [])
DTYPES = [np.float64, np.float32]
CASES = {
    "Adam": (dict(lr=1e-3), reference.adam_step),
    "SGD-momentum": (dict(lr=1e-3, momentum=0.9), reference.sgd_step),
    "Adagrad": (dict(lr=1e-2), reference.adagrad_step),
}
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def _problem(n, dtype):
    rng = np.random.default_rng(0)
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


def _check(param, start, grad, name, dtype, steps):
    """param after `steps` steps equals the reference's (same gradient each step)."""
    options, ref_step = CASES[name]
    expected, state = start.copy(), {}
    for _ in range(steps):
        ref_step(expected, grad, state, **options)
    np.testing.assert_allclose(param, expected, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10 * np.abs(expected).max())


def _run(benchmark, fn, rounds):
    # Fixed rounds so the number of steps (and so the result to check) is known.
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
    return rounds if benchmark.enabled else 1


def _rounds(n):
    return 20 if n <= 100_000 else 5


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(CASES))
def test_pygd(benchmark, name, n, dtype):
    benchmark.group = f"{name} n={n:.0e} {np.dtype(dtype).name}"
    param, grad = _problem(n, dtype)
    start = param.copy()
    options, _ = CASES[name]
    opt = getattr(optim, "Adam" if name == "Adam" else "SGD" if name.startswith("SGD") else name)([param], **options)
    steps = _run(benchmark, lambda: opt.step([grad]), _rounds(n))
    _check(param, start, grad, name, dtype, steps)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(CASES))
def test_numpy_reference(benchmark, name, n, dtype):
    benchmark.group = f"{name} n={n:.0e} {np.dtype(dtype).name}"
    param, grad = _problem(n, dtype)
    start = param.copy()
    options, ref_step = CASES[name]
    state: dict = {}
    steps = _run(benchmark, lambda: ref_step(param, grad, state, **options), _rounds(n))
    _check(param, start, grad, name, dtype, steps)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "single-tensor"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(CASES))
def test_torch(benchmark, name, n, dtype, fused):
    torch = pytest.importorskip("torch")
    benchmark.group = f"{name} n={n:.0e} {np.dtype(dtype).name}"
    param, grad = _problem(n, dtype)
    start = param.copy()
    options, _ = CASES[name]
    tensor = torch.from_numpy(param).requires_grad_(True)  # shares memory with param
    tensor.grad = torch.from_numpy(grad)
    cls = {"Adam": "Adam", "SGD-momentum": "SGD", "Adagrad": "Adagrad"}[name]
    kw = dict(fused=True) if fused else dict(foreach=False)
    opt = getattr(torch.optim, cls)([tensor], **options, **kw)
    with torch.no_grad():
        steps = _run(benchmark, opt.step, _rounds(n))
    # torch computes float32 in float32: compare loosely there.
    if dtype == np.float64:
        _check(param, start, grad, name, dtype, steps)
    else:
        assert np.isfinite(param).all() and not np.array_equal(param, start)


def test_step_overhead_10_elements(benchmark):
    """Per-step cost of a tiny problem: Python validation + one binding call."""
    benchmark.group = "step overhead n=10"
    w = np.zeros(10)
    g = np.ones(10)
    opt = optim.Adam([w], lr=1e-3)
    benchmark(opt.step, [g])
    assert np.all(w < 0)
