"""Fixtures shared by the tests: every SIMD level this host supports, 1 and 2 threads."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

import pygd
from pygd import _core

SIMD_LEVELS = list(_core.simd_levels_supported())
DTYPES = [np.float32, np.float64]
# Relative tolerances of the kernels against pygd.reference, per dtype.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def pytest_report_header(config: pytest.Config) -> str:
    cfg = pygd.show_config()
    return (
        f"pygd {cfg['version']} from {os.path.dirname(pygd.__file__)}; SIMD compiled "
        f"{cfg['simd_compiled']}, supported {cfg['simd_supported']}, active "
        f"{cfg['simd_active']}; OpenMP {cfg['openmp']}; threads {cfg['num_threads']}"
    )


@pytest.fixture(params=SIMD_LEVELS)
def simd_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once per SIMD level the host supports."""
    old = _core.simd_level()
    _core.set_simd_level(request.param)
    try:
        yield request.param
    finally:
        _core.set_simd_level(old)


@pytest.fixture(params=[1, 2])
def num_threads(request: pytest.FixtureRequest) -> Iterator[int]:
    """Runs the test with 1 and with 2 threads."""
    old = pygd.get_num_threads()
    pygd.set_num_threads(request.param)
    try:
        yield request.param
    finally:
        pygd.set_num_threads(old)


@pytest.fixture
def threads_restored() -> Iterator[None]:
    """Restores pygd's thread count after a test that changes it."""
    old = pygd.get_num_threads()
    try:
        yield
    finally:
        pygd.set_num_threads(old)


def assert_close_to_scale(actual: np.ndarray, expected: np.ndarray, dtype: np.dtype, scale=None) -> None:
    """|actual - expected| <= rtol * scale, scale defaulting to max|expected|."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if scale is None:
        scale = np.max(np.abs(expected)) if expected.size else 0.0
    scale = max(float(scale), np.finfo(np.float64).tiny)
    err = np.max(np.abs(actual - expected)) if expected.size else 0.0
    assert err <= RTOL[np.dtype(dtype)] * scale, f"max error {err:.3g} > {RTOL[np.dtype(dtype)]:.0e} * {scale:.3g}"
