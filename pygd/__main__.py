"""``python -m pygd``: what gradient descent does, in under a minute; ``python -m pygd bench``: the kernels' speed.

``python -m pygd [--out DIR] [--no-plots]``
    show_config(); GDRegressor with several optimizers on the diabetes data
    (when pygd.linear_model is installed); Himmelblau minimised from four
    starts with each optimizer; with matplotlib, PNG pictures in ``DIR``
    (default ``./pygd-demo``).
``python -m pygd bench [--quick] [--json FILE] [--repeat N] [--tto] [--sparse]``
    the benchmark cases, a ratio table and JSON; ``--tto`` adds the
    time-to-optimum table of pygd and scikit-learn on generated problems
    (:mod:`pygd._tto`; small sizes with ``--quick``); ``--sparse`` the
    sparse-input table (:mod:`pygd._sparse_bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import Any, Callable

import numpy as np

from . import _bench, _sparse_bench, _tto
from ._config import show_config
from ._minimize import minimize
from . import testing

#: The demo's optimizers: label -> (method, learning rate), rates that work on Himmelblau.
DEMO_OPTIMIZERS: dict[str, tuple[str, float]] = {
    "sgd": ("sgd", 0.01),
    "momentum": ("momentum", 0.005),
    "nesterov": ("nesterov", 0.005),
    "adagrad": ("adagrad", 0.5),
    "rmsprop": ("rmsprop", 0.01),
    "adam": ("adam", 0.1),
}
#: Himmelblau starts: one per quadrant, near the centre, so the four minima compete.
DEMO_STARTS: list[tuple[float, float]] = [(0.0, 0.0), (-1.0, 4.0), (-4.5, -0.5), (1.0, -4.5)]
_MINIMA_NAMES = ["A (3.00, 2.00)", "B (-2.81, 3.13)", "C (-3.78, -3.28)", "D (3.58, -1.85)"]


def _progress(msg: str) -> None:
    print(f"  ... {msg}", file=sys.stderr, flush=True)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def _himmelblau_runs(progress: Callable[[str], None]) -> dict[str, list[Any]]:
    runs: dict[str, list[Any]] = {}
    for label, (method, lr) in DEMO_OPTIMIZERS.items():
        progress(f"minimising Himmelblau with {label} (lr={lr:g}) from {len(DEMO_STARTS)} starts")
        runs[label] = [minimize(testing.himmelblau, start, jac=testing.himmelblau_grad, method=method,
                                lr=lr, max_iter=5000, gtol=1e-6, record_path=True)
                       for start in DEMO_STARTS]
    return runs


def himmelblau_table(runs: dict[str, list[Any]]) -> str:
    """The markdown table: for each optimizer and start, the minimum reached and the iterations."""
    minima = testing.PROBLEMS["himmelblau"].minima
    header = ["optimizer", "lr"] + [f"from ({x:g}, {y:g})" for x, y in DEMO_STARTS]
    rows = []
    for label, results in runs.items():
        cells = [label, f"{DEMO_OPTIMIZERS[label][1]:g}"]
        for res in results:
            k = int(np.argmin(np.linalg.norm(minima - res.x, axis=1)))
            if res.success:
                cells.append(f"{_MINIMA_NAMES[k][0]} in {res.nit}")
            else:
                cells.append(f"not converged ({res.nit}, f={res.fun:.2g})")
        rows.append(cells)
    return _table(header, rows)


# ---------------------------------------------------------------------------------------------
# GDRegressor with each optimizer on scikit-learn's diabetes data (issue 4).
# ---------------------------------------------------------------------------------------------
REGRESSION_OPTIMIZERS = ["sgd", "momentum", "adagrad", "rmsprop", "adam"]


def _regression_table(progress: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """GDRegressor with several optimizers on the diabetes data, as shipped and with an unscaled column.

    Returns the markdown table and the fitted estimators by name (for the
    loss-curve picture).
    """
    from sklearn.exceptions import ConvergenceWarning

    from .linear_model import GDRegressor
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    X_unscaled = X.copy()
    X_unscaled[:, 0] *= 1000.0  # age back in something like its own units: 1000x the others' scale
    header = ["data", "optimizer", "epochs", "R²", "time", "LinearRegression R²"]
    rows = []
    fitted: dict[str, Any] = {}
    for data_name, data in (("diabetes", X), ("diabetes, unscaled column", X_unscaled)):
        X_tr, X_te, y_tr, y_te = train_test_split(data, y, test_size=0.25, random_state=0)
        ref = LinearRegression().fit(X_tr, y_tr).score(X_te, y_te)
        for opt_name in REGRESSION_OPTIMIZERS:
            progress(f"fitting GDRegressor(optimizer={opt_name!r}) on {data_name}")
            est = GDRegressor(optimizer=opt_name, random_state=0)
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                est.fit(X_tr, y_tr)
            elapsed = time.perf_counter() - t0
            epochs = str(est.n_iter_)
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                epochs += " (max_iter)" if est.n_iter_ >= est.max_iter else " (warned)"
            rows.append([data_name, opt_name, epochs,
                         f"{est.score(X_te, y_te):.3f}", f"{elapsed * 1e3:.0f} ms", f"{ref:.3f}"])
            if data_name == "diabetes":
                fitted[opt_name] = est
    return _table(header, rows), fitted


def _pictures(out: str, runs: dict[str, list[Any]], estimators: dict[str, Any],
              progress: Callable[[str], None]) -> list[str]:
    from . import plot

    plt = plot._pyplot()
    os.makedirs(out, exist_ok=True)
    written = []

    def save(fig: Any, name: str) -> None:
        path = os.path.join(out, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    progress("drawing the learning-rate sweep")
    save(plot.learning_rate_sweep(), "learning_rate_sweep.png")
    progress("drawing optimizer paths on Himmelblau")
    start = 3  # from (1, -4.5): the optimizers end in different minima
    save(plot.paths(testing.himmelblau, {k: v[start] for k, v in runs.items()},
                    title=f"Himmelblau from {DEMO_STARTS[start]}: where each optimizer goes"),
         "paths_himmelblau.png")
    progress("drawing optimizer paths on Rosenbrock and on a saddle")
    rosen = {label: minimize(testing.rosenbrock, [-1.5, 2.5], jac=testing.rosenbrock_grad, method=m,
                             lr=lr, max_iter=2000, record_path=True)
             for label, m, lr in [("sgd", "sgd", 1e-3), ("momentum", "momentum", 2e-4),
                                  ("adagrad", "adagrad", 0.1), ("adam", "adam", 0.05)]}
    save(plot.paths(testing.rosenbrock, rosen, ylim=(-1.0, 3.0),
                    title="Rosenbrock from (-1.5, 2.5), 2000 steps"), "paths_rosenbrock.png")
    saddle = {label: minimize(testing.saddle, [-1.8, 1e-3], jac=testing.saddle_grad, method=m, lr=lr,
                              max_iter=60, record_path=True)
              for label, m, lr in [("sgd", "sgd", 0.05), ("momentum", "momentum", 0.05),
                                   ("adagrad", "adagrad", 0.3), ("adam", "adam", 0.1)]}
    save(plot.paths(testing.saddle, saddle, xlim=(-2, 2), ylim=(-2, 2),
                    title="saddle x² - y² from (-1.8, 0.001), 60 steps"), "paths_saddle.png")
    progress("drawing the Himmelblau surface")
    save(plot.surface(testing.himmelblau), "surface_himmelblau.png")
    if estimators:
        progress("drawing GDRegressor loss curves")
        for name, est in estimators.items():
            save(plot.loss_curve(est, title=f"GDRegressor(optimizer={name!r}) on diabetes"),
                 f"loss_curve_{name}.png")
    return written


def demo(out: str = "pygd-demo", plots: bool = True, progress: Callable[[str], None] = _progress) -> int:
    """The no-argument ``python -m pygd``: tables on stdout, pictures in ``out``.

    Parameters
    ----------
    out : str, default "pygd-demo"
        Folder for the PNGs (created).
    plots : bool, default True
        Draw the pictures (skipped with a note when matplotlib is missing).
    progress : callable
        Called with a message before each step (default: to stderr).

    Returns
    -------
    int
        The exit status, 0.

    Examples
    --------
    >>> from pygd.__main__ import demo
    >>> demo(plots=False, progress=lambda m: None)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    print("pygd configuration")
    show_config(verbose=True)
    print()

    table, estimators = _regression_table(progress)
    print("GDRegressor on the diabetes data (test R², 25% held out)")
    print(table)
    print()

    runs = _himmelblau_runs(progress)
    print("Himmelblau from four starts: minimum reached (see pygd.testing.PROBLEMS) and iterations to "
          "gradient norm <= 1e-6")
    print("A = (3.00, 2.00), B = (-2.81, 3.13), C = (-3.78, -3.28), D = (3.58, -1.85)")
    print(himmelblau_table(runs))
    print()

    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print('pictures: skipped, matplotlib is not installed (pip install "pygd[plot]")')
        else:
            written = _pictures(out, runs, estimators, progress)
            print(f"pictures written to {os.path.abspath(out)}:")
            for path in written:
                print(f"  {os.path.basename(path)}")
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m pygd``.

    Examples
    --------
    >>> from pygd.__main__ import main
    >>> main(["--help"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(
        prog="python -m pygd",
        description=(
            "pygd demo: without a command, shows the build configuration, fits GDRegressor with "
            "several optimizers on the diabetes data (when available), minimises Himmelblau from "
            "several starts with each optimizer and, with matplotlib, writes the learning-rate "
            "sweep, optimizer paths, a surface and loss curves as PNGs into --out. Under a minute."
        ),
        epilog="python -m pygd bench --help: the benchmark suite's options.",
    )
    parser.add_argument("--out", default="pygd-demo",
                        help="folder for the demo's PNG pictures (default: ./pygd-demo)")
    parser.add_argument("--no-plots", action="store_true", help="skip the pictures")
    sub = parser.add_subparsers(dest="command", metavar="{bench}")
    bench = sub.add_parser("bench", help="run the benchmark cases and print the ratio table",
                           description="Run the kernels' benchmark cases (pygd vs NumPy and "
                                       "scikit-learn) and print a ratio table; results also go to JSON.")
    bench.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    bench.add_argument("--json", default="pygd-bench.json", help="where to write the results")
    bench.add_argument("--repeat", type=int, default=5, help="timings per case (best is kept)")
    bench.add_argument("--tto", action="store_true",
                       help="also time pygd and scikit-learn to the exact optimum of generated least "
                            "squares, Huber and logistic problems (time, passes, objective gap; "
                            "'tto' in the JSON); full sizes take minutes, --quick seconds")
    bench.add_argument("--sparse", action="store_true",
                       help="also run the sparse-input benchmark (text-like CSR data: loss_grad "
                            "against the read probe, epochs against SGDClassifier, time to "
                            "LogisticRegression's objective, peak memory; 'sparse' in the JSON)")
    args = parser.parse_args(argv)

    if args.command == "bench":
        print("pygd configuration")
        show_config(verbose=True)
        print()
        progress = lambda msg: print(f"  measuring {msg} ...", file=sys.stderr, flush=True)  # noqa: E731
        _bench.run(full=not args.quick, repeat=args.repeat, json_path=args.json, progress=progress)
        if args.tto:
            print("\nTime to the optimum (pygd._tto)")
            rows = _tto.run(full=not args.quick, progress=progress)
            results = {"config": show_config(), "full": not args.quick}
            if os.path.exists(args.json):
                with open(args.json) as f:
                    results = json.load(f)
            results["tto"] = rows
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
        if args.sparse:
            print("\nSparse input: text-like CSR data against scikit-learn (pygd._sparse_bench)")
            rows = _sparse_bench.run(full=not args.quick, progress=progress)
            print(_sparse_bench.format_table(rows))
            with open(args.json) as f:
                results = json.load(f)
            results["sparse"] = rows
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2, default=str)
        print(f"\nresults written to {args.json}")
        return 0
    return demo(out=args.out, plots=not args.no_plots)


if __name__ == "__main__":
    sys.exit(main())
