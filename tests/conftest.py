"""Fixtures shared by the tests: every SIMD level this host supports, 1 and 2 threads."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import pygd
from pygd import _core

# The checkout holding these tests: a child interpreter must not import its
# pygd/ folder, which has no compiled _core.
CHECKOUT = Path(__file__).resolve().parent.parent

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


def _outside_checkout(path: str) -> bool:
    resolved = Path(path or ".").resolve()
    return resolved != CHECKOUT and CHECKOUT not in resolved.parents


def run_python(
    command: str | Sequence[str], *, check: bool = True, **env: str | None
) -> subprocess.CompletedProcess:
    """Runs ``sys.executable -c command`` (or ``sys.executable *command``) as a user would.

    The child starts in a fresh temporary folder outside the checkout, with
    PYTHONPATH stripped of entries in the checkout, so that ``import pygd``
    finds the installed package (never the source folder, which has no
    ``_core``) even when pytest itself was started from the checkout root.
    ``env`` sets (a string) or removes (None) variables of the environment
    (checkout entries of a PYTHONPATH given here are dropped too).
    With ``check`` a failing child fails the test with its stderr and stdout.
    """
    args = ["-c", command] if isinstance(command, str) else list(command)
    child_env = dict(os.environ)
    for name, value in env.items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    if "PYTHONPATH" in child_env:
        kept = [p for p in child_env["PYTHONPATH"].split(os.pathsep) if p and _outside_checkout(p)]
        if kept:
            child_env["PYTHONPATH"] = os.pathsep.join(kept)
        else:
            del child_env["PYTHONPATH"]
    with tempfile.TemporaryDirectory(prefix="pygd-child-") as cwd:
        assert _outside_checkout(cwd), f"temporary folder {cwd} is inside the checkout {CHECKOUT}"
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                             env=child_env, cwd=cwd)
    if check and out.returncode != 0:
        raise AssertionError(
            f"child python {args!r} exited with {out.returncode}\n"
            f"--- stderr ---\n{out.stderr}--- stdout ---\n{out.stdout}"
        )
    return out
