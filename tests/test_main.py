"""``python -m pygd``: the demo's tables and pictures, the GDRegressor hook, --help, bench."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from pygd import __main__ as demo_main

from conftest import run_python


def _quiet(msg):
    pass


def test_help_documents_demo_and_bench():
    out = run_python(["-m", "pygd", "--help"])
    assert "--out" in out.stdout and "bench" in out.stdout and "Himmelblau" in out.stdout
    out = run_python(["-m", "pygd", "bench", "--help"])
    assert "--quick" in out.stdout and "--json" in out.stdout and "--tto" in out.stdout


def test_himmelblau_table_reaches_documented_minima():
    runs = demo_main._himmelblau_runs(_quiet)
    assert set(runs) == set(demo_main.DEMO_OPTIMIZERS)
    from pygd import testing
    minima = testing.PROBLEMS["himmelblau"].minima
    for results in runs.values():
        for res in results:
            assert res.success, res.message
            assert np.min(np.linalg.norm(minima - res.x, axis=1)) < 1e-5
    table = demo_main.himmelblau_table(runs)
    lines = table.splitlines()
    assert len(lines) == 2 + len(runs)
    assert all(line.count("|") == 3 + len(demo_main.DEMO_STARTS) for line in lines)
    assert "not converged" not in table


def test_demo_without_plots(capsys, tmp_path):
    assert demo_main.main(["--no-plots", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr()
    assert "pygd configuration" in out.out
    assert "GDRegressor on the diabetes data (test R²" in out.out
    assert re.search(r"\| diabetes, unscaled column \| momentum +\| \d+", out.out)
    assert "| adam" in out.out
    assert "minimising Himmelblau with adam" in out.err  # progress on stderr
    assert not (tmp_path / "d").exists()


def test_demo_writes_pictures(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "pictures"
    assert demo_main.main(["--out", str(out_dir)]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    curves = [f"loss_curve_{name}.png" for name in demo_main.REGRESSION_OPTIMIZERS]
    assert names == sorted(["learning_rate_sweep.png", "paths_himmelblau.png", "paths_rosenbrock.png",
                            "paths_saddle.png", "surface_himmelblau.png", *curves])
    for p in out_dir.iterdir():
        assert p.read_bytes()[:4] == b"\x89PNG"
    assert str(out_dir) in capsys.readouterr().out


def test_demo_without_matplotlib(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert demo_main.demo(out=str(tmp_path / "x"), progress=_quiet) == 0
    assert 'pip install "pygd[plot]"' in capsys.readouterr().out
    assert not (tmp_path / "x").exists()


def test_regression_table_with_the_real_regressor():
    table, fitted = demo_main._regression_table(_quiet)
    lines = table.splitlines()
    assert len(lines) == 2 + 2 * len(demo_main.REGRESSION_OPTIMIZERS)
    assert set(fitted) == set(demo_main.REGRESSION_OPTIMIZERS)
    for name, est in fitted.items():
        assert len(est.loss_curve_) == est.n_iter_ >= 1, name


def test_bench_subcommand_is_wired(monkeypatch, capsys):
    calls = {}
    monkeypatch.setattr(demo_main._bench, "run", lambda **kw: calls.update(kw))
    assert demo_main.main(["bench", "--quick", "--json", "x.json", "--repeat", "2"]) == 0
    assert calls["full"] is False and calls["repeat"] == 2 and calls["json_path"] == "x.json"


def test_bench_tto_flag_adds_the_table_to_the_json(monkeypatch, tmp_path):
    import json

    calls = {}
    monkeypatch.setattr(demo_main._bench, "run", lambda **kw: None)  # writes no JSON
    monkeypatch.setattr(demo_main._tto, "run", lambda **kw: calls.update(kw) or [{"fit": "x"}])
    path = tmp_path / "x.json"
    assert demo_main.main(["bench", "--quick", "--tto", "--json", str(path)]) == 0
    assert calls["full"] is False
    results = json.loads(path.read_text())
    assert results["tto"] == [{"fit": "x"}] and results["full"] is False
    calls.clear()
    assert demo_main.main(["bench", "--quick", "--json", str(path)]) == 0
    assert not calls  # the table only with --tto
