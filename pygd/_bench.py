"""Benchmark cases shared by ``bench/`` (pytest-benchmark) and ``python -m pygd bench``.

A case is a group, a name, data made once, a function to time and a check of
its result.  Within a group every case does the same work, so speeds are
compared as ratios measured in the same run; the bandwidth probe turns bytes
per second into a fraction of what the memory system delivers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _core
from ._config import show_config
from .linear import loss_grad

__all__ = ["Case", "epoch_cases", "linear_cases", "run"]


@dataclass
class Case:
    group: str
    name: str
    make_data: Callable[[], tuple]
    func: Callable[..., Any]
    check: Callable[[Any, tuple], None]
    #: bytes of input the function must read (for bandwidth fractions), and rows.
    nbytes: int = 0
    rows: int = 0
    baseline: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _probe_case(nbytes: int) -> Case:
    def make() -> tuple:
        return (np.ones(nbytes // 8),)

    def check(result: float, data: tuple) -> None:
        assert result == data[0].size

    return Case("bandwidth", "probe_read_sum", make, _core.probe_read_sum_f64, check, nbytes=nbytes)


def _regression_data(n: int, d: int, dtype: Any, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float64 if dtype == np.float64 else np.float32)
    coef = rng.standard_normal(d).astype(dtype)
    y = (X @ coef + rng.standard_normal(n).astype(dtype)).astype(dtype)
    w = (coef + 0.1).astype(dtype)
    return X, y, w


def _numpy_loss_grad(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return X.T @ (X @ w - y) / X.shape[0]


def _pygd_loss_grad(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return loss_grad(X, y, w)[1]


def _check_grad(result: np.ndarray, data: tuple) -> None:
    X, y, w = data
    X64 = X.astype(np.float64, copy=False)
    expected = X64.T @ (X64 @ w.astype(np.float64) - y) / X.shape[0]
    rtol = 1e-4 if X.dtype == np.float32 else 1e-10
    assert result.shape == w.shape
    assert np.abs(result - expected).max() <= rtol * np.abs(expected).max()


def linear_cases(full: bool = False) -> list[Case]:
    """Cases of issue 2: probe, loss_grad vs NumPy (f64, f32), a row sweep."""
    n = 2_000_000 if full else 100_000
    d = 64
    cases = [_probe_case((1 << 30) if full else (64 << 20))]
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        group = f"loss_grad-{tag}-{n}x{d}"
        data = _cached(lambda dtype=dtype: _regression_data(n, d, dtype))
        nbytes = n * d * np.dtype(dtype).itemsize
        cases.append(
            Case(group, "numpy X.T @ (X @ w - y) / n", data, _numpy_loss_grad, _check_grad,
                 nbytes=nbytes, rows=n, baseline=True)
        )
        cases.append(Case(group, "pygd loss_grad", data, _pygd_loss_grad, _check_grad,
                          nbytes=nbytes, rows=n))
    sizes = np.geomspace(1e4, 4e6 if full else 2e5, 5).astype(int)
    for rows in sizes:
        data = _cached(lambda rows=rows: _regression_data(int(rows), d, np.float64))
        cases.append(Case("loss_grad-f64-row-sweep", f"pygd n={rows}", data, _pygd_loss_grad,
                          _check_grad, nbytes=int(rows) * d * 8, rows=int(rows)))
    return cases


def _epoch_data(n: int, d: int) -> tuple:
    """X, Y (n, 1), a random epoch order, and the engine's state and options (batch 256, Adam)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    Y = (X @ rng.standard_normal(d))[:, None].copy()
    order = rng.permutation(n).astype(np.int64)
    from .linear_model._settings import OPTIMIZER_FIELDS, SCHEDULE_FIELDS

    options = _core.TrainOptions(
        loss=_core.Loss.squared_error, epsilon=0.1, fit_intercept=True, l2=0.0, l1=0.0,
        weight_per_row=1.0, average_start=-1, steps_per_epoch=-(-n // 256), schedule_offset=0.0,
        lr_factor=1.0,
        optimizer=_core.OptimizerOptions(kind=_core.OptimizerKind.adam, lr=1e-3, **OPTIMIZER_FIELDS),
        schedule=_core.ScheduleOptions(kind=_core.ScheduleKind.constant, **SCHEDULE_FIELDS))
    state = [np.zeros(d + 1), [np.zeros(d + 1) for _ in range(3)], _core.TrainCounters()]
    return X, Y, order, state, options


def _gather_probe(X: np.ndarray, Y: np.ndarray, order: np.ndarray, state: list, options: Any) -> float:
    return _core.probe_gather_sum_f64(X, order)


def _engine_epoch(X: np.ndarray, Y: np.ndarray, order: np.ndarray, state: list, options: Any) -> Any:
    params, states, counters = state
    return _core.train_epoch_f64(X, Y, None, order, 256, params, states, None, counters, None, None, options)


def _check_gather(result: float, data: tuple) -> None:
    X, _, order = data[:3]
    assert abs(result - X[order].sum()) <= 1e-9 * np.abs(X).sum()


def _check_epoch(result: Any, data: tuple) -> None:
    assert result.finite and result.steps == -(-data[0].shape[0] // 256)
    assert np.isfinite(data[3][0]).all()


def epoch_cases(full: bool = False) -> list[Case]:
    """A shuffled mini-batch epoch (batch 256, Adam, d=64) against the gather probe: the same
    rows in the same random order, summed at the rate the memory system allows (issue 14)."""
    n, d = (2_000_000, 64) if full else (200_000, 64)
    data = _cached(lambda: _epoch_data(n, d))
    group = f"minibatch-epoch-f64-{n}x{d}"
    nbytes = n * d * 8
    return [Case(group, "gather probe X[order]", data, _gather_probe, _check_gather, nbytes=nbytes,
                 rows=n, baseline=True),
            Case(group, "pygd engine epoch (batch 256, Adam)", data, _engine_epoch, _check_epoch,
                 nbytes=nbytes, rows=n)]


def _cached(make: Callable[[], tuple]) -> Callable[[], tuple]:
    store: dict[str, tuple] = {}

    def get() -> tuple:
        if "data" not in store:
            store["data"] = make()
        return store["data"]

    get.clear = store.clear  # type: ignore[attr-defined]
    return get


def _time(func: Callable[..., Any], data: tuple, repeat: int, min_time: float = 0.2) -> float:
    best = float("inf")
    total = 0.0
    i = 0
    while i < repeat or (total < min_time and i < 100 * repeat):
        t0 = time.perf_counter()
        func(*data)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
        i += 1
    return best


def run(cases: list[Case] | None = None, *, full: bool = False, repeat: int = 5,
        json_path: str | None = None, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Time every case, check its result, print ratios; returns the rows."""
    cases = linear_cases(full) + epoch_cases(full) if cases is None else cases
    rows: list[dict] = []
    probe_rate = None
    for case in cases:
        if progress:
            progress(f"{case.group}: {case.name}")
        data = case.make_data()
        case.check(case.func(*data), data)
        seconds = _time(case.func, data, repeat)
        row = {"group": case.group, "name": case.name, "seconds": seconds,
               "baseline": case.baseline}
        if case.nbytes:
            row["GB/s"] = case.nbytes / seconds / 1e9
        if case.rows:
            row["ns/row"] = seconds / case.rows * 1e9
        if case.group == "bandwidth":
            probe_rate = row["GB/s"]
        rows.append(row)
        clear = getattr(case.make_data, "clear", None)
        if clear is not None and case is not cases[-1] and cases[cases.index(case) + 1].make_data is not case.make_data:
            clear()
    for row in rows:
        base = [r for r in rows if r["group"] == row["group"] and r["baseline"]]
        if base:
            row["speed vs baseline"] = base[0]["seconds"] / row["seconds"]
        if probe_rate and "GB/s" in row:
            row["of probe bandwidth"] = row["GB/s"] / probe_rate
    sweep = [r for r in rows if r["group"].endswith("row-sweep")]
    if sweep:
        per_row = [r["ns/row"] for r in sweep]
        for r in sweep:
            r["ns/row vs best"] = r["ns/row"] / min(per_row)
    print(format_table(rows))
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"config": show_config(), "full": full, "results": rows}, f, indent=2)
    return rows


def format_table(rows: list[dict]) -> str:
    """A markdown table of the rows."""
    cols = ["group", "name", "seconds", "GB/s", "ns/row", "speed vs baseline",
            "of probe bandwidth", "ns/row vs best"]
    cols = [c for c in cols if any(c in r for r in rows)]

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)
