"""pygd.plot: the figures have the expected artists and save as PNG; matplotlib stays optional."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from pygd import minimize, testing

from conftest import run_python

mpl = pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from pygd import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_learning_rate_sweep_one_line_per_rate_and_divergence_marked(tmp_path):
    fig = plot.learning_rate_sweep()
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["lr=0.01 (too small)", "lr=0.18 (right)", "lr=0.195 (too large: zig-zags)",
                      "lr=0.21 (diverged)"]
    assert ax.get_yscale() == "log"
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 1  # the divergence cross
    for line in ax.get_lines():
        assert np.all(np.isfinite(line.get_ydata())) and np.all(line.get_ydata() > 0)
    fig.savefig(tmp_path / "sweep.png")
    assert _is_png(tmp_path / "sweep.png")


def test_learning_rate_sweep_overflow_does_not_crash():
    # lr=10 overflows to inf within a few hundred steps: clipped, marked, no warning raised.
    fig = plot.learning_rate_sweep(testing.rosenbrock, [-1.0, 1.0], [1e-4, 1e-3, 10.0],
                                   jac=testing.rosenbrock_grad, max_iter=400)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    assert lines[2].get_label() == "lr=10 (diverged)"
    assert lines[0].get_label() == "lr=0.0001"
    assert np.all(np.isfinite(lines[2].get_ydata()))


def test_paths_contour_and_one_line_per_result(tmp_path):
    runs = {m: minimize(testing.himmelblau, [-0.5, -4.5], jac=testing.himmelblau_grad, method=m,
                        lr=lr, max_iter=200, record_path=True)
            for m, lr in [("sgd", 0.01), ("momentum", 0.005), ("adagrad", 0.5), ("adam", 0.1)]}
    fig = plot.paths(testing.himmelblau, runs)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(runs)
    for line, res in zip(lines, runs.values()):
        np.testing.assert_array_equal(line.get_xydata(), res.path)
    # a filled contour (QuadContourSet) and the colorbar
    from matplotlib.contour import ContourSet
    filled = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    assert len(filled) == 1
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "paths.png")
    assert _is_png(tmp_path / "paths.png")


def test_paths_sequence_labels_and_unknown_function():
    res = minimize(lambda v: float(v @ v), [1.0, 2.0], jac=lambda v: 2 * v, method="sgd", lr=0.1,
                   max_iter=20, record_path=True)
    fig = plot.paths(lambda v: float(v[0] ** 2 + v[1] ** 2), [res], labels=["gd"], resolution=20)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["gd"]
    xlo, xhi = ax.get_xlim()
    assert xlo < 0 and xhi > 1  # the path's extent, padded


def test_paths_bad_input():
    res = minimize(testing.booth, [0.0, 0.0], jac=testing.booth_grad, max_iter=2)
    with pytest.raises(ValueError, match="record_path"):
        plot.paths(testing.booth, [res])
    res3 = minimize(testing.rosenbrock, [0.0, 0.0, 0.0], jac=testing.rosenbrock_grad, max_iter=2,
                    record_path=True)
    with pytest.raises(ValueError, match="2-D"):
        plot.paths(testing.rosenbrock, [res3])
    with pytest.raises(ValueError, match="labels"):
        plot.paths(testing.booth, [res3], labels=["a", "b"])


def test_surface_is_3d(tmp_path):
    fig = plot.surface(testing.rosenbrock, log=True, resolution=30)
    ax = fig.axes[0]
    assert ax.name == "3d"
    assert sum(isinstance(c, Poly3DCollection) for c in ax.collections) == 1
    fig.savefig(tmp_path / "surface.png")
    assert _is_png(tmp_path / "surface.png")


def test_loss_curve_with_and_without_validation_scores(tmp_path):
    est = SimpleNamespace(loss_curve_=[4.0, 2.0, 1.0, 0.5], validation_scores_=[0.1, 0.5, 0.7, 0.8])
    fig = plot.loss_curve(est)
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), est.loss_curve_)
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_ydata(), est.validation_scores_)
    fig.savefig(tmp_path / "loss.png")
    assert _is_png(tmp_path / "loss.png")
    fig = plot.loss_curve(SimpleNamespace(loss_curve_=list(np.geomspace(1e3, 1e-2, 50)), validation_scores_=None))
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="fit"):
        plot.loss_curve(SimpleNamespace())


def test_draws_into_given_axes():
    fig, ax = plt.subplots()
    assert plot.learning_rate_sweep(ax=ax, max_iter=5) is fig
    assert len(ax.get_lines()) == 4


def test_import_pygd_does_not_import_matplotlib():
    code = "import sys, pygd; assert 'matplotlib' not in sys.modules; import pygd.plot; " \
           "assert 'matplotlib' not in sys.modules; print(pygd.plot.__name__)"
    out = run_python(code)
    assert out.stdout.strip() == "pygd.plot"


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "pygd\[plot\]"'):
        plot.surface(testing.booth)


def test_headless_uses_agg():
    code = ("import os; os.environ.pop('DISPLAY', None); os.environ.pop('WAYLAND_DISPLAY', None); "
            "os.environ.pop('MPLBACKEND', None); from pygd import plot, testing; "
            "plot.surface(testing.booth, resolution=5); import matplotlib; print(matplotlib.get_backend())")
    out = run_python(code)
    assert out.stdout.strip().lower() == "agg"
