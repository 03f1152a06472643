"""Build facts, SIMD levels and thread control."""

from __future__ import annotations

import operator
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _core

__all__ = ["get_num_threads", "set_num_threads", "show_config", "threads"]


def get_num_threads() -> int:
    """Number of threads pygd's kernels use when called from this thread.

    The setting is per calling thread (as OpenMP's own thread limit is):
    :func:`set_num_threads` in one thread does not change it in another.  The
    default is the number of CPUs available to the process (or
    ``OMP_NUM_THREADS``).  ``threadpoolctl.threadpool_limits`` lowers it too
    (for the thread that calls it).

    Returns
    -------
    int
        At least 1; always 1 when pygd was built without OpenMP.

    Examples
    --------
    >>> import pygd
    >>> pygd.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Limit the threads pygd's kernels use when called from this thread.

    The setting applies to the calling thread only, like OpenMP's
    ``omp_set_num_threads`` (which it also calls): a limit set in the main
    thread does not apply to fits or kernels run from other threads (each
    starts at the default), and an estimator's ``n_jobs`` changes it only for
    the thread running that fit, restoring it afterwards.  Results never
    depend on this number: reductions run over fixed row blocks combined in a
    fixed order.

    Parameters
    ----------
    n : int
        Number of threads, at least 1.

    Raises
    ------
    ValueError
        If ``n`` is not an integer >= 1.

    Examples
    --------
    >>> import pygd
    >>> old = pygd.get_num_threads()
    >>> pygd.set_num_threads(1); pygd.get_num_threads()
    1
    >>> pygd.set_num_threads(old)
    """
    if isinstance(n, bool):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n}")
    _core.set_num_threads(n)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def show_config(verbose: bool = False) -> dict[str, Any]:
    """What was compiled into pygd and what it chose at run time.

    Parameters
    ----------
    verbose : bool, default False
        Also print the configuration.

    Returns
    -------
    dict
        Keys ``version``, ``compiler``, ``cxx_standard``, ``openmp``,
        ``simd_compiled``, ``simd_supported``, ``simd_active``,
        ``simd_override`` (the ``PYGD_SIMD`` value or None), ``num_threads``,
        ``cpus_available``, ``machine``.

    Examples
    --------
    >>> import pygd
    >>> config = pygd.show_config()
    >>> config["simd_active"] in config["simd_supported"]
    True
    """
    info = _core.build_info()
    config: dict[str, Any] = {
        "version": _core.__version__,
        "compiler": info["compiler"],
        "cxx_standard": info["cxx_standard"],
        "openmp": info["openmp"],
        "simd_compiled": list(_core.simd_levels_compiled()),
        "simd_supported": list(_core.simd_levels_supported()),
        "simd_active": _core.simd_level(),
        "simd_override": os.environ.get("PYGD_SIMD") or None,
        "num_threads": _core.get_num_threads(),
        "cpus_available": _available_cpus(),
        "machine": platform.machine(),
    }
    if verbose:
        width = max(map(len, config))
        for key, value in config.items():
            if isinstance(value, list):
                value = ", ".join(value)
            print(f"{key:<{width}} : {value}")
    return config


@contextmanager
def threads(n_jobs: int | None) -> Iterator[None]:
    """Run the block with ``n_jobs`` threads (None: unchanged; -1: all CPUs), then restore.

    The estimators' ``n_jobs`` parameter.  "All CPUs" are those the process
    may run on (its affinity mask), as for the default thread count.

    Raises
    ------
    ValueError
        If ``n_jobs`` is not None, -1 or an integer >= 1.

    Examples
    --------
    >>> import pygd
    >>> from pygd._config import threads
    >>> with threads(1):
    ...     pygd.get_num_threads()
    1
    """
    if n_jobs is None:
        yield
        return
    try:
        n = None if isinstance(n_jobs, bool) else operator.index(n_jobs)
    except TypeError:
        n = None
    if n is None or n == 0 or n < -1:
        raise ValueError(f"n_jobs must be None, -1 (all CPUs) or an integer >= 1, got {n_jobs!r}")
    old = get_num_threads()
    set_num_threads(_available_cpus() if n == -1 else n)
    try:
        yield
    finally:
        set_num_threads(old)
