"""show_config, SIMD dispatch and thread control."""

from __future__ import annotations

import io
import os
import threading
from contextlib import redirect_stdout

import numpy as np
import pytest

import pygd
from pygd import _core
from pygd._config import threads
from pygd.linear_model import GDRegressor

from conftest import CHECKOUT, run_python


def test_show_config_reports_build_and_choice(capsys):
    config = pygd.show_config(verbose=True)
    printed = capsys.readouterr().out
    assert config["version"] == pygd.__version__
    assert "baseline" in config["simd_compiled"]
    assert config["simd_active"] in config["simd_supported"]
    assert set(config["simd_supported"]) <= set(config["simd_compiled"])
    assert config["num_threads"] >= 1
    for key in ("compiler", "simd_active", "openmp", "num_threads"):
        assert key in printed


def test_default_level_is_the_best_supported():
    if os.environ.get("PYGD_SIMD"):
        pytest.skip("PYGD_SIMD is set")
    out = run_python("import pygd; print(pygd.show_config()['simd_active'])")
    assert out.stdout.strip() == _core.simd_levels_supported()[-1]


@pytest.mark.parametrize("level", _core.simd_levels_supported())
def test_pygd_simd_overrides(level):
    out = run_python("import pygd; print(pygd.show_config()['simd_active'])", PYGD_SIMD=level)
    assert out.stdout.strip() == level


def test_pygd_simd_unknown_level_is_refused():
    out = run_python("import pygd", PYGD_SIMD="sse9", check=False)
    assert out.returncode != 0
    assert "PYGD_SIMD=sse9" in out.stderr and "unknown SIMD level" in out.stderr


def test_unsupported_level_is_refused():
    missing = [lvl for lvl in ("avx2", "avx512") if lvl not in _core.simd_levels_supported()]
    if not missing:
        pytest.skip("this CPU supports every level")
    with pytest.raises(ValueError, match="not"):
        _core.set_simd_level(missing[-1])
    out = run_python("import pygd", PYGD_SIMD=missing[-1], check=False)
    assert out.returncode != 0 and "PYGD_SIMD" in out.stderr


def test_set_simd_level_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown SIMD level"):
        _core.set_simd_level("mmx")


def test_set_num_threads(threads_restored):
    pygd.set_num_threads(1)
    assert pygd.get_num_threads() == 1
    pygd.set_num_threads(3)
    assert pygd.get_num_threads() == (3 if _core.have_openmp() else 1)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        pygd.set_num_threads(bad)


def test_default_threads_are_the_available_cpus():
    out = run_python("import pygd; print(pygd.get_num_threads())", OMP_NUM_THREADS="")
    expected = len(os.sched_getaffinity(0)) if _core.have_openmp() else 1
    assert int(out.stdout) == expected


def test_threadpoolctl_sees_and_limits_the_pool(threads_restored):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _core.have_openmp():
        pytest.skip("built without OpenMP")
    pygd.set_num_threads(2)
    apis = {info["internal_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in apis
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert pygd.get_num_threads() == 1
    assert pygd.get_num_threads() == 2


def test_tests_use_the_installed_package():
    if not os.environ.get("PYGD_TEST_INSTALLED"):
        pytest.skip("set PYGD_TEST_INSTALLED=1 to check (CI does)")
    assert "site-packages" in pygd.__file__, pygd.__file__


def test_run_python_starts_outside_the_checkout():
    # Child interpreters of the tests must import the installed pygd even when
    # pytest runs from the checkout root (the README's command), so neither
    # their folder nor their sys.path may be the checkout.
    extra = os.path.join(os.sep, "pygd-nonexistent-path")
    out = run_python("import os, sys; print(os.getcwd()); print(*sys.path, sep='\\n')",
                     PYTHONPATH=os.pathsep.join([str(CHECKOUT), str(CHECKOUT / "pygd"), extra]))
    cwd, *path = out.stdout.splitlines()
    for entry in [cwd, *path]:
        resolved = os.path.realpath(entry or cwd)
        assert os.path.commonpath([resolved, str(CHECKOUT)]) != str(CHECKOUT), entry
    assert extra in path  # other PYTHONPATH entries are kept


def test_run_python_failure_shows_the_childs_output():
    code = "import sys; print('on stdout'); sys.stderr.write('on stderr\\n'); sys.exit(3)"
    with pytest.raises(AssertionError, match=r"(?s)exited with 3.*on stderr.*on stdout"):
        run_python(code)
    assert run_python(code, check=False).returncode == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_threads_names_n_jobs(bad):
    with pytest.raises(ValueError, match=f"n_jobs must be None, -1 .* got {bad!r}"):
        with threads(bad):
            pass


def test_threads_all_cpus_are_the_available_ones(threads_restored, monkeypatch):
    # -1 means the CPUs the process may run on, not the machine's.
    monkeypatch.setattr(os, "cpu_count", lambda: 4096)
    available = len(os.sched_getaffinity(0))
    with threads(-1):
        assert pygd.get_num_threads() == (available if _core.have_openmp() else 1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_fits_with_different_n_jobs_restore_the_thread_count(threads_restored):
    if not _core.have_openmp() or pygd.get_num_threads() < 2:
        pytest.skip("needs OpenMP and a default of 2 threads or more")
    before = pygd.get_num_threads()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.arange(4.0)
    # Fit "a" (n_jobs=1) waits inside its n_jobs block for fit "b" (n_jobs=2)
    # to enter its own, and "b" leaves last: the interleaving that leaked.
    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()
    waited = []

    class Gate(io.StringIO):  # stdout of verbose fits: a hook inside their n_jobs block
        def write(self, text: str) -> int:
            name = threading.current_thread().name
            if name == "fit-a" and not a_in.is_set():
                a_in.set()
                waited.append(b_in.wait(60))
            elif name == "fit-b" and not b_in.is_set():
                b_in.set()
                waited.append(a_done.wait(60))
            return len(text)

    def fit_a() -> None:
        GDRegressor(n_jobs=1, max_iter=2, tol=None, verbose=2).fit(X, y)
        a_done.set()

    def fit_b() -> None:
        waited.append(a_in.wait(60))
        GDRegressor(n_jobs=2, max_iter=2, tol=None, verbose=2).fit(X, y)

    workers = [threading.Thread(target=fit_a, name="fit-a"), threading.Thread(target=fit_b, name="fit-b")]
    with redirect_stdout(Gate()):
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    assert waited == [True, True, True]  # the interleaving happened
    assert pygd.get_num_threads() == before


def test_thread_count_is_per_calling_thread(threads_restored):
    # Like OpenMP's own limit: a setting in one thread is invisible in another,
    # and a new thread starts from the default.
    if not _core.have_openmp() or pygd.get_num_threads() < 2:
        pytest.skip("needs OpenMP and a default of 2 threads or more")
    pygd.set_num_threads(1)
    seen = []

    def worker() -> None:
        seen.append(pygd.get_num_threads())
        pygd.set_num_threads(2)
        seen.append(pygd.get_num_threads())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen[0] >= 2  # not capped by the main thread's 1
    assert seen[1] == 2
    assert pygd.get_num_threads() == 1  # not changed by the worker's 2
