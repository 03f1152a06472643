r"""Sparse input against scikit-learn on text-like CSR data (issue 13's benchmarks).

Shared by ``bench/test_bench_sparse.py`` and ``python -m pygd bench --sparse``.
:func:`text_like` generates a bag-of-words-like problem: each row draws about
``nnz_row`` column ranks from a Zipf (1/r) law over ``n_features`` columns
(hashed to columns by a fixed permutation, duplicates summed), positive
weights, and labels from a random linear model (binary: its sign around the
median; k classes: its arg max).  :func:`run` measures, side by side in one
process:

- ``loss_grad``: one fused pass over the CSR matrix (binary log-loss) against
  the read probe over the same bytes (``data`` and ``indices``); and the
  kernel's floor: the engine's pass alone (no validation) over the same rows
  with their columns merged into 1024 (``column >> shift``, duplicates summed:
  coefficients and gradient stay in L1, so no random access waits), per
  stored value against the probe's;
- one epoch: pygd's default fit for sparse input (L-BFGS: one pass), pygd's
  256-row mini-batch epoch (Adam at rate 1e-3, lazy steps) and SGDClassifier's
  epoch (hinge, log_loss), all ``max_iter=1`` fits including their set-up;
- time to the objective: ``LogisticRegression(C=1/(alpha n))`` with the
  lbfgs and saga solvers at their default tolerances, and pygd's default fit
  (``standardize=False``: the same objective on the same weights) stopped by
  its callback once its objective is at or below the better of the two; each
  objective, :math:`\frac1n\sum_i \ell_i + \frac\alpha2\|W\|^2`, is
  evaluated by one float64 formula;
- the peak memory of a default fit in a fresh process (Linux's VmHWM, reset
  after loading the matrix) against the CSR matrix plus the parameters and
  optimizer state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["ALPHA", "format_table", "objective", "run", "text_like"]

#: pygd's default alpha, the one penalty of every fit here.
ALPHA: float = 1e-4


def text_like(n: int, d: int, k: int = 2, nnz_row: int = 100, seed: int = 0,
              dtype: Any = np.float64) -> tuple[sp.csr_matrix, np.ndarray]:
    """(X CSR (n, d), labels (n,)): Zipf-distributed columns, about ``nnz_row`` stored per row.

    Examples
    --------
    >>> from pygd._sparse_bench import text_like
    >>> X, y = text_like(1000, 2**12, nnz_row=20)
    >>> X.shape, X.format, sorted(set(y.tolist()))
    ((1000, 4096), 'csr', [0, 1])
    """
    rng = np.random.default_rng(seed)
    draws = int(nnz_row * 1.25)  # the frequent columns repeat: about nnz_row distinct remain
    ranks = np.exp(rng.random(n * draws) * np.log(d)).astype(np.int64) - 1  # P(r) ~ 1/r
    columns = rng.permutation(d)[np.minimum(ranks, d - 1)]
    indptr = np.arange(0, n * draws + 1, draws, dtype=np.int64)
    X = sp.csr_matrix((rng.random(n * draws) + 0.5, columns.astype(np.int32), indptr), shape=(n, d))
    X.sum_duplicates()  # canonical: sorted, each column once
    X = X.astype(dtype)
    W = rng.standard_normal((max(k, 2) if k > 2 else 1, d))
    Z = np.asarray(X @ W.T)
    y = Z.argmax(axis=1) if k > 2 else (Z[:, 0] > np.median(Z[:, 0])).astype(np.int64)
    return X, y


def objective(X: sp.csr_matrix, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
              classes: np.ndarray, alpha: float = ALPHA) -> float:
    """Mean log-loss (sigmoid for 2 classes, softmax else) + alpha/2 |W|^2, in float64."""
    from scipy.special import log_softmax, logsumexp

    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    P = np.asarray(X.astype(np.float64) @ coef.T) + np.asarray(intercept, dtype=np.float64)
    index = np.searchsorted(classes, y)
    if coef.shape[0] == 1:
        p = P[:, 0]
        target = (index == 1).astype(np.float64)
        loss = np.mean(logsumexp(np.stack([np.zeros_like(p), p]), axis=0) - target * p)
    else:
        loss = -np.mean(log_softmax(P, axis=1)[np.arange(len(y)), index])
    return float(loss + 0.5 * alpha * np.sum(coef * coef))


def _best_time(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def _probe_seconds(X: sp.csr_matrix, repeat: int) -> float:
    """The read probe over X's data and indices (the bytes a pass must read)."""
    from . import _core

    data = X.data if X.data.dtype == np.float64 else X.data.astype(np.float64)
    indices = X.indices.view(np.float32 if X.indices.dtype == np.int32 else np.float64)
    read = _core.probe_read_sum_f32 if indices.dtype == np.float32 else _core.probe_read_sum_f64
    t_data, _ = _best_time(lambda: _core.probe_read_sum_f64(data), repeat)
    t_index, _ = _best_time(lambda: read(indices), repeat)
    return t_data + t_index


def _merged_columns(X: sp.csr_matrix, columns: int = 1024) -> sp.csr_matrix:
    """X's rows with neighbouring columns merged (``column >> shift``, duplicates summed)
    into at most ``columns`` (a power of 2); X is left as it is."""
    n, d = X.shape
    shift = max(int(np.ceil(np.log2(d))) - int(np.log2(columns)), 0)
    # (copies: sum_duplicates works in place, and X's arrays are the caller's)
    merged = sp.csr_matrix((X.data.copy(), X.indices >> shift, X.indptr.copy()),
                           shape=(n, (d + (1 << shift) - 1) >> shift))
    merged.sum_duplicates()
    return merged


def _in_l1_pass_seconds(X: sp.csr_matrix, y: np.ndarray, repeat: int) -> tuple[float, int]:
    """(seconds, stored values) of one engine pass (binary log-loss, no validation) over
    X's rows with their columns merged into 1024 (8 KB of coefficients: in L1)."""
    from . import _core

    merged = _merged_columns(X)
    Xc = _core.CsrMatrix(merged.data, merged.indices, merged.indptr, merged.shape[1])
    options = _core.TrainOptions.for_objective(_core.Loss.log_loss, 0.0)
    params = np.random.default_rng(1).standard_normal(merged.shape[1] + 1) * 0.01
    grad = np.empty_like(params)
    Y = y.astype(np.float64)[:, None]
    seconds, (_, weight, finite) = _best_time(
        lambda: _core.objective_grad_f64(Xc, Y, None, None, params, grad, None, None, options), repeat)
    if not finite or weight != X.shape[0]:  # the timed pass did the whole work
        raise RuntimeError(f"the in-L1 pass gave finite={finite}, weight={weight} for {X.shape[0]} rows")
    return seconds, int(merged.nnz)


# Linux: writing 5 to /proc/self/clear_refs resets the peak resident size (VmHWM) to the
# current one, so the peak read after the fit is the fit's own.
_MEMORY_CHILD = r"""
import sys, warnings, numpy as np, scipy.sparse as sp
from pygd.linear_model import GDClassifier
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
f = np.load(sys.argv[1])
X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
y = f["y"]
del f
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
base = status("VmRSS:")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    GDClassifier(random_state=0, max_iter=int(sys.argv[2])).fit(X, y)
print(base, status("VmHWM:"))
"""


def _peak_memory(X: sp.csr_matrix, y: np.ndarray, max_iter: int) -> tuple[float, float]:
    """(bytes a default fit added to the process's peak, bytes of CSR + params + state)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "problem.npz")
        np.savez(path, data=X.data, indices=X.indices, indptr=X.indptr, shape=np.array(X.shape), y=y)
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, path, str(max_iter)],
                             capture_output=True, text=True, check=True, cwd=tmp)
    base, peak = (float(v) for v in out.stdout.split())
    k = len(np.unique(y))
    outputs = 1 if k == 2 else k
    params = outputs * (X.shape[1] + 1) * 8
    # L-BFGS (the default for sparse fits) keeps 2 m vectors of the parameters' size (m = 10)
    # plus a few work vectors; a first-order fit keeps up to 3 state arrays.
    state = (2 * 10 + 6) * params
    csr = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return peak - base, csr + params + state


def run(full: bool = False, repeat: int = 3, progress: Callable[[str], None] | None = None,
        memory: bool = True, sizes: list[tuple[int, int, int]] | None = None) -> list[dict]:
    """The sparse benchmark rows (see the module docstring); full sizes take minutes.

    ``sizes``: (rows, columns, classes) of each problem, instead of the issue's sizes
    (``full``) or the quick ones.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from . import _core
    from .linear import loss_grad
    from .linear_model import GDClassifier

    if sizes is None:
        sizes = ([(200_000, 2**18, 2), (200_000, 2**20, 2), (200_000, 2**18, 20)] if full
                 else [(20_000, 2**16, 2), (20_000, 2**16, 5)])
    rows: list[dict] = []
    say = progress or (lambda message: None)
    for n, d, k in sizes:
        X, y = text_like(n, d, k)
        label = f"{n}x2^{int(np.log2(d))}, {k} classes, {X.nnz / n:.0f} nnz/row"
        say(label)
        classes = np.unique(y)
        row: dict[str, Any] = {"problem": label, "n": n, "d": d, "classes": k, "nnz": int(X.nnz),
                               "cpu": _core.simd_level()}
        if k == 2:  # one pass of the fused kernel against the read probe
            w = np.random.default_rng(1).standard_normal(d) * 0.01
            t_pass, _ = _best_time(lambda: loss_grad(X, y.astype(np.float64), w, 0.0, loss="log_loss"),
                                   repeat + 2)
            t_probe = _probe_seconds(X, repeat + 2)
            row["loss_grad_s"] = t_pass
            row["probe_s"] = t_probe
            row["loss_grad_of_probe"] = t_probe / t_pass
            t_floor, floor_nnz = _in_l1_pass_seconds(X, y, repeat + 2)
            row["in_l1_pass_s"] = t_floor
            row["in_l1_pass_of_probe"] = (t_probe / X.nnz) / (t_floor / floor_nnz)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            epoch = {
                "pygd_default_epoch_s": lambda: GDClassifier(max_iter=1, tol=None, random_state=0).fit(X, y),
                # A fixed rate: one epoch at the "auto" rate for 256 rows (0.028) can end above
                # its start on these features (rare columns scaled by their small deviation),
                # which a one-epoch fit reports as an error; later epochs would lower it.
                "pygd_batch256_epoch_s": lambda: GDClassifier(optimizer="adam", batch_size=256, max_iter=1,
                                                              learning_rate=1e-3, tol=None,
                                                              random_state=0).fit(X, y),
                "sgd_hinge_epoch_s": lambda: SGDClassifier(loss="hinge", max_iter=1, tol=None,
                                                           random_state=0).fit(X, y),
                "sgd_log_epoch_s": lambda: SGDClassifier(loss="log_loss", max_iter=1, tol=None,
                                                         random_state=0).fit(X, y),
            }
            for name, fit in epoch.items():
                row[name] = _best_time(fit, repeat)[0]
            sgd = min(row["sgd_hinge_epoch_s"], row["sgd_log_epoch_s"])
            row["batch256_vs_sgd"] = sgd / row["pygd_batch256_epoch_s"]
            row["default_vs_sgd"] = sgd / row["pygd_default_epoch_s"]
            C = 1.0 / (ALPHA * n)
            for solver in ("lbfgs", "saga"):
                t, model = _best_time(lambda: LogisticRegression(C=C, solver=solver).fit(X, y), 1)
                row[f"lr_{solver}_s"] = t
                row[f"lr_{solver}_objective"] = objective(X, y, model.coef_, model.intercept_, classes)
            # pygd's default fit on the same objective, stopped by its callback as soon as its
            # objective (the engine's float64 value) is at or below the better peer's; the
            # callback also records when it first reached each peer's objective.
            target = min(row["lr_lbfgs_objective"], row["lr_saga_objective"])
            reached: dict[str, float] = {}
            start = [0.0]

            def callback(epoch: int, value: float) -> bool:
                for solver in ("lbfgs", "saga"):
                    if solver not in reached and value <= row[f"lr_{solver}_objective"]:
                        reached[solver] = time.perf_counter() - start[0]
                return value <= target

            start[0] = time.perf_counter()
            model = GDClassifier(standardize=False, random_state=0, callback=callback).fit(X, y)
            row["pygd_s"] = time.perf_counter() - start[0]
            row["pygd_passes"] = int(model.n_passes_)
            row["pygd_objective"] = objective(X, y, model.coef_, model.intercept_, classes)
        row["pygd_reaches_lr"] = row["pygd_objective"] <= target * (1 + 1e-9)
        for solver in ("lbfgs", "saga"):  # the peer's time over pygd's to the peer's objective
            row[f"pygd_to_{solver}_s"] = reached.get(solver, np.inf)
            row[f"tto_vs_{solver}"] = row[f"lr_{solver}_s"] / reached.get(solver, np.inf)
        row["tto_vs_lr"] = min(row["tto_vs_lbfgs"], row["tto_vs_saga"])
        if memory:
            added, needed = _peak_memory(X, y, max_iter=1000)
            row["fit_peak_added_bytes"] = added
            row["csr_params_state_bytes"] = needed
            csr = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
            row["peak_ratio"] = (csr + added) / needed
        rows.append(row)
        say(format_table([row]).splitlines()[-1])
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a markdown table of the ratios and times."""
    head = ("| problem | loss_grad / probe (kernel in L1 / probe) | default epoch vs SGD "
            "| batch-256 epoch vs SGD "
            "| time to LogisticRegression's objective (its time, its objective) | peak memory ratio |")
    lines = [head, "|" + "---|" * 6]
    for r in rows:
        probe = (f"{r['loss_grad_of_probe']:.2f} ({r['in_l1_pass_of_probe']:.2f})"
                 if "loss_grad_of_probe" in r else "–")
        tto = (f"{r['tto_vs_lbfgs']:.1f}x lbfgs ({r['lr_lbfgs_s']:.1f} s to {r['lr_lbfgs_objective']:.6g}), "
               f"{r['tto_vs_saga']:.1f}x saga ({r['lr_saga_s']:.1f} s to {r['lr_saga_objective']:.6g})")
        memory = f"{r['peak_ratio']:.2f}" if "peak_ratio" in r else "–"
        lines.append(f"| {r['problem']} | {probe} | {r['default_vs_sgd']:.1f}x "
                     f"({r['pygd_default_epoch_s'] * 1e3:.0f} ms) | {r['batch256_vs_sgd']:.1f}x "
                     f"({r['pygd_batch256_epoch_s'] * 1e3:.0f} ms) | {tto} | {memory} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - by hand: python -m pygd._sparse_bench [--full]
    table = run(full="--full" in sys.argv, progress=print)
    print(format_table(table))
