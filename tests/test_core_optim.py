"""pygd._core's optim bindings: cheap checks, thread and SIMD independence."""

from __future__ import annotations

import numpy as np
import pytest

import pygd
from pygd import _core, optim

from conftest import DTYPES, SIMD_LEVELS

BIG = 70_001  # above the driver's parallel threshold, not a multiple of the chunk


def run_steps(name, dtype, options, steps=3):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(BIG).astype(dtype)
    opt = getattr(optim, name)([w], **options)
    for t in range(steps):
        opt.step([(0.5 * w + rng.standard_normal(BIG)).astype(dtype)])
    return w


CONFIGS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict()),
    ("Adagrad", dict(lr_decay=0.1)),
    ("RMSprop", dict(centered=True, momentum=0.5)),
    ("Adadelta", dict()),
    ("NAdam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,options", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_updates_do_not_depend_on_threads(name, options, dtype, simd_level, threads_restored):
    pygd.set_num_threads(1)
    one = run_steps(name, dtype, options)
    pygd.set_num_threads(2)
    two = run_steps(name, dtype, options)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("name,options", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_simd_levels_agree(name, options):
    results = []
    old = _core.simd_level()
    try:
        for level in SIMD_LEVELS:
            _core.set_simd_level(level)
            results.append(run_steps(name, np.float64, options))
    finally:
        _core.set_simd_level(old)
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 2.5, float("inf")])
def test_power_sums_fixed_order(dtype, p, simd_level, threads_restored):
    x = np.random.default_rng(1).standard_normal(300_007).astype(dtype)
    pygd.set_num_threads(1)
    one = _core.grad_power_sums([x], p)
    pygd.set_num_threads(2)
    two = _core.grad_power_sums([x], p)
    assert one == two
    x64 = x.astype(np.float64)
    expected = np.abs(x64).max() if p == float("inf") else np.sum(np.abs(x64) ** p)
    assert one[0] == pytest.approx(expected, rel=1e-12)


def test_power_sums_propagate_nan():
    x = np.ones(100_000)
    x[77_777] = np.nan
    assert all(np.isnan(v) for v in _core.grad_power_sums([x, x], 2.0)[:1])
    assert np.isnan(_core.grad_power_sums([x], float("inf"))[0])


def test_check_grads_errors_and_conversion():
    p = [np.zeros(3), np.zeros((), dtype=np.float32)]
    out = _core.optim_check_grads(p, [np.ones(6)[::2], np.float32(1.0)])
    assert out[0].flags.c_contiguous and out[1].dtype == np.float32 and out[1].shape == ()
    with pytest.raises(TypeError, match="dtype"):
        _core.optim_check_grads(p, [np.ones(3), 1.0])  # a Python float is float64
    with pytest.raises(ValueError, match="shape"):
        _core.optim_check_grads(p, [np.ones(4), np.float32(1.0)])
    big = np.ones(BIG)
    big[-1] = np.inf
    with pytest.raises(ValueError, match="grads\\[0\\] contains NaN"):
        _core.optim_check_grads([np.zeros(BIG)], [big])


def test_update_bindings_refuse_bad_arrays():
    w = np.zeros(4)
    g = np.ones(4)
    with pytest.raises(ValueError, match="not C-contiguous"):
        _core.sgd_update([np.zeros(8)[::2]], [g], None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    ro = np.zeros(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.sgd_update([ro], [g], None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="momentum needs"):
        _core.sgd_update([w], [g], None, 0.1, 0.9, 0.0, 0.0, False, False, True)
    with pytest.raises(ValueError, match="wrong size"):
        _core.adagrad_update([w], [g], [np.zeros(3)], 0.1, 0.0, 1e-10, False)
    with pytest.raises(ValueError, match="does not match"):
        _core.adagrad_update([w], [g.astype(np.float32)], [np.zeros(4)], 0.1, 0.0, 1e-10, False)
    with pytest.raises(TypeError):
        _core.adagrad_update([w.astype(np.int64)], [g], [np.zeros(4)], 0.1, 0.0, 1e-10, False)
    np.testing.assert_array_equal(w, 0.0)


def test_scale_in_place():
    x = np.arange(BIG, dtype=np.float32)
    _core.grads_scale([x], 0.5)
    np.testing.assert_array_equal(x, np.arange(BIG, dtype=np.float64).astype(np.float32) * np.float32(0.5))
