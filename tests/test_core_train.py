"""The training engine (_core.train_epoch_*, bind/train.cpp) against pygd.reference.train_reference."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

import pygd
from pygd import _core
from pygd import reference as ref

OPTIMIZERS = {
    "sgd": dict(kind="sgd", lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    "momentum": dict(kind="sgd", lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False),
    "nesterov": dict(kind="sgd", lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True),
    "adagrad": dict(kind="adagrad", lr=0.1, lr_decay=0.01, weight_decay=0.0, eps=1e-10),
    "rmsprop": dict(kind="rmsprop", lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.5,
                    centered=True),
    "adam": dict(kind="adam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False),
    "adamw": dict(kind="adam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=True,
                  decoupled_weight_decay=True),
    "nadam": dict(kind="nadam", lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled_weight_decay=False),
    "adadelta": dict(kind="adadelta", lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
}
# Every OptimizerOptions / ScheduleOptions field with the engine's defaults: the
# reference takes the partial dicts above, the engine the complete options.
OPTIMIZER_FIELDS = dict(momentum=0.0, dampening=0.0, nesterov=False, betas=(0.9, 0.999), eps=1e-8,
                        weight_decay=0.0, amsgrad=False, decoupled_weight_decay=False, lr_decay=0.0,
                        alpha=0.99, centered=False, rho=0.9, momentum_decay=4e-3)
SCHEDULE_FIELDS = dict(power_t=0.25, gamma=0.1, step_size=10.0, T_max=1000.0, eta_min=0.0, warmup=1.0)


def optimizer_options(opt: dict) -> _core.OptimizerOptions:
    fields = dict(OPTIMIZER_FIELDS, **{key: value for key, value in opt.items() if key != "kind"})
    return _core.OptimizerOptions(kind=_core.OptimizerKind.__members__[opt["kind"]], **fields)


def schedule_options(sched: dict | None) -> _core.ScheduleOptions:
    sched = sched or dict(kind="constant")
    fields = dict(SCHEDULE_FIELDS, **{key: value for key, value in sched.items() if key != "kind"})
    return _core.ScheduleOptions(kind=_core.ScheduleKind.__members__[sched["kind"]], **fields)


def train_options(*, optimizer: dict, schedule: dict | None = None, loss: str = "squared_error",
                  epsilon: float = 0.1, fit_intercept: bool = True, l2: float = 0.0, l1: float = 0.0,
                  weight_per_row: float = 1.0, average_start: int = -1, steps_per_epoch: int = 1,
                  schedule_offset: float = 0.0, lr_factor: float = 1.0) -> _core.TrainOptions:
    return _core.TrainOptions(
        loss=_core.Loss.__members__[loss], epsilon=epsilon, fit_intercept=fit_intercept, l2=l2, l1=l1,
        weight_per_row=weight_per_row, average_start=average_start, steps_per_epoch=steps_per_epoch,
        schedule_offset=schedule_offset, lr_factor=lr_factor, optimizer=optimizer_options(optimizer),
        schedule=schedule_options(schedule))


PENALTIES = {"none": (0.0, 0.0), "l2": (0.01, 0.0), "l1": (0.0, 0.05), "elasticnet": (0.005, 0.02)}


def _problem(n=157, d=9, k=1, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 5, d) + rng.normal(size=d) * 3).astype(dtype)
    w = rng.normal(size=(d, k))
    Y = np.ascontiguousarray((X @ w + rng.normal(size=(n, k)) + 2.0).astype(dtype))
    sw = rng.uniform(0.2, 2.0, n).astype(dtype)
    return X, Y, sw, rng


def _run_engine(X, Y, sw, orders, batch, opt, *, l2=0.0, l1=0.0, mean=None, scale=None,
                schedule=None, loss="squared_error", fit_intercept=True, average_start=-1):
    k, d = Y.shape[1], X.shape[1]
    size = k * d + k
    params = np.zeros(size, dtype=X.dtype)
    states = [np.zeros(size, dtype=X.dtype) for _ in range(3)]
    average = params.copy() if average_start >= 0 else None
    counters = _core.TrainCounters()
    n_order = len(orders[0]) if orders[0] is not None else X.shape[0]
    options = train_options(loss=loss, epsilon=0.5, steps_per_epoch=-(-n_order // batch),
                            fit_intercept=fit_intercept, l2=l2, l1=l1,
                            weight_per_row=1.0 if sw is None else float(sw.astype(np.float64).mean()),
                            average_start=average_start, optimizer=opt, schedule=schedule)
    engine = _core.train_epoch_f32 if X.dtype == np.float32 else _core.train_epoch_f64
    losses = []
    for order in orders:
        result = engine(X, Y, sw, order, batch, params, states, average, counters, mean, scale, options)
        assert result.finite
        assert result.steps == -(-n_order // batch)
        losses.append(result.loss_sum)
    return params, average, losses, counters


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch", [1, 32, "full"])
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
def test_engine_matches_reference_f64(optimizer, batch, penalty):
    X, Y, sw, rng = _problem()
    n = X.shape[0]
    b = n if batch == "full" else batch
    orders = [rng.permutation(n) for _ in range(3)]
    mean, scale = X.mean(axis=0), X.std(axis=0)
    l2, l1 = PENALTIES[penalty]
    opt = OPTIMIZERS[optimizer]
    params, _, losses, _ = _run_engine(X, Y, sw, orders, b, opt, l2=l2, l1=l1, mean=mean, scale=scale)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.train_reference(X, Y, sw, orders, b, expected, optimizer=opt, l2=l2, l1=l1,
                                           mean=mean, scale=scale, weight_per_row=float(sw.mean()))
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    assert not np.array_equal(params, np.zeros_like(params))  # it trained
    if l1 > 0 and optimizer in ("sgd", "adam"):
        pass  # exact zeros are checked in test_l1_gives_exact_zeros


@pytest.mark.parametrize("loss", ["huber", "epsilon_insensitive", "squared_epsilon_insensitive"])
@pytest.mark.parametrize("schedule", [dict(kind="invscaling", power_t=0.5), dict(kind="step", step_size=1.0, gamma=0.5),
                                      dict(kind="exponential", gamma=0.8), dict(kind="cosine", T_max=3.0, eta_min=0.001),
                                      dict(kind="warmup_cosine", T_max=3.0, eta_min=0.0, warmup=1.0)])
def test_losses_and_schedules_match_reference(loss, schedule):
    X, Y, sw, rng = _problem(k=3)
    orders = [rng.permutation(X.shape[0]) for _ in range(3)]
    opt = OPTIMIZERS["adam"]
    params, average, losses, _ = _run_engine(X, Y, None, orders, 16, opt, loss=loss, schedule=schedule,
                                             mean=X.mean(0), scale=X.std(0), average_start=5)
    expected = np.zeros_like(params)
    _, exp_avg, ref_losses = ref.train_reference(X, Y, None, orders, 16, expected, optimizer=opt, loss=loss,
                                                 epsilon=0.5, schedule=schedule, mean=X.mean(0),
                                                 scale=X.std(0), average_start=5)
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()
    assert np.abs(average - exp_avg).max() <= 1e-12 * np.abs(exp_avg).max()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("kind", ["invscaling", "step", "exponential", "cosine", "warmup_cosine"])
def test_scheduled_lr_matches_reference(kind):
    opt = dict(kind="adam", lr=0.3)
    sched = dict(kind=kind, T_max=7.0, warmup=2.0, step_size=2.0, gamma=0.5)
    core_opt, core_sched = optimizer_options(opt), schedule_options(sched)
    values = [_core.scheduled_lr(core_opt, core_sched, float(t), 5) for t in range(1, 60)]
    expected = [ref.scheduled_lr(opt, sched, float(t), 5) for t in range(1, 60)]
    np.testing.assert_allclose(values, expected, rtol=1e-15)
    assert len(set(values)) > 3  # it schedules something


@pytest.mark.parametrize("kind", ["step", "cosine", "warmup_cosine"])
def test_schedule_offset_keeps_counting_passes(kind):
    # After E epochs of T steps at one batch size, offset = E * spe' - T makes the next step's
    # fractional epoch exactly E at the new spe' (what GDRegressor sets when a batch grows).
    opt = dict(kind="adam", lr=0.3)
    sched = dict(kind=kind, T_max=7.0, warmup=3.0, step_size=1.0, gamma=0.5)
    core_opt, core_sched = optimizer_options(opt), schedule_options(sched)
    E, spe, spe_new = 2, 10, 3
    T = E * spe
    offset = E * spe_new - T
    values = [_core.scheduled_lr(core_opt, core_sched, float(t), spe_new, offset) for t in range(T + 1, T + 12)]
    expected = [ref.scheduled_lr(opt, sched, float(t), spe_new, offset) for t in range(T + 1, T + 12)]
    np.testing.assert_allclose(values, expected, rtol=1e-15)
    # ... and equal the schedule of a run that had used spe' from the start.
    same = [ref.scheduled_lr(opt, sched, float(t), spe_new) for t in range(E * spe_new + 1, E * spe_new + 12)]
    np.testing.assert_allclose(values, same, rtol=1e-15)
    assert _core.scheduled_lr(core_opt, core_sched, 5.0, 3) == _core.scheduled_lr(core_opt, core_sched, 5.0, 3, 0.0)
    with pytest.raises(ValueError, match="offset must be finite"):
        _core.scheduled_lr(core_opt, core_sched, 5.0, 3, float("nan"))


def test_engine_with_a_grown_batch_matches_reference():
    # Two epochs of 16-row batches, then two of 64 with the schedule offset; plain SGD has no
    # state, so the reference can run the two phases as separate calls (its step restarts at 1).
    X, Y, sw, rng = _problem(n=160)
    n = X.shape[0]
    opt = OPTIMIZERS["sgd"]
    sched = dict(kind="step", step_size=1.0, gamma=0.7)
    mean, scale = X.mean(0), X.std(0)
    orders = [rng.permutation(n) for _ in range(4)]
    size = X.shape[1] + 1
    params = np.zeros(size)
    states = [np.zeros(size) for _ in range(3)]
    counters = _core.TrainCounters()
    options = train_options(loss="squared_error", steps_per_epoch=10, weight_per_row=float(sw.mean()),
                            optimizer=opt, schedule=sched)
    for order in orders[:2]:
        _core.train_epoch_f64(X, Y, sw, order, 16, params, states, None, counters, mean, scale, options)
    options.steps_per_epoch = 3
    options.schedule_offset = 2 * 3 - counters.steps
    for order in orders[2:]:
        _core.train_epoch_f64(X, Y, sw, order, 64, params, states, None, counters, mean, scale, options)
    expected = np.zeros(size)
    common = dict(optimizer=opt, schedule=sched, mean=mean, scale=scale, weight_per_row=float(sw.mean()))
    ref.train_reference(X, Y, sw, orders[:2], 16, expected, **common)
    ref.train_reference(X, Y, sw, orders[2:], 64, expected, schedule_offset=2 * 3, **common)
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()
    # Without the offset the third epoch would be scheduled as the seventh: a different result.
    other = np.zeros(size)
    ref.train_reference(X, Y, sw, orders[:2], 16, other, **common)
    ref.train_reference(X, Y, sw, orders[2:], 64, other, schedule_offset=20, **common)
    assert np.abs(other - expected).max() > 1e-6


@pytest.mark.parametrize("penalty", sorted(PENALTIES) + ["strong-l1"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimality_is_the_least_norm_subgradient(penalty, dtype):
    # The engine's fifth result: max |g_j| of the last batch's gradient at the weights before its
    # step, with the l1 term's subgradient chosen to cancel most of g (0 where |g_j| <= l1, w_j = 0).
    X, Y, sw, rng = _problem(d=12, k=2, dtype=dtype)
    n = X.shape[0]
    l2, l1 = PENALTIES[penalty] if penalty != "strong-l1" else (0.0, 0.8)
    mean, scale = X.astype(np.float64).mean(0), X.astype(np.float64).std(0)
    k, d = Y.shape[1], X.shape[1]
    size = k * d + k
    params = np.zeros(size, dtype=dtype)
    states = [np.zeros(size, dtype=dtype) for _ in range(3)]
    counters = _core.TrainCounters()
    config = train_options(loss="squared_error", steps_per_epoch=1, fit_intercept=True, l2=l2, l1=l1,
                           weight_per_row=float(sw.astype(np.float64).mean()), average_start=-1,
                           optimizer=OPTIMIZERS["sgd"])
    engine = _core.train_epoch_f32 if dtype == np.float32 else _core.train_epoch_f64
    for _ in range(5):
        before = params.astype(np.float64)
        optimality = engine(X, Y, sw, None, n, params, states, None, counters, mean, scale, config).optimality
    w = before[: k * d].reshape(k, d)
    b = before[k * d :]
    v = w / scale
    G, Gb, _, S = ref.batch_loss_grad(X, Y, sw, np.arange(n), v, b - v @ mean, loss="squared_error")
    g = ((G - mean[None, :] * Gb[:, None]) / scale) / S + l2 * w
    sub = np.where(w > 0, np.abs(g + l1), np.where(w < 0, np.abs(g - l1), np.maximum(np.abs(g) - l1, 0)))
    expected = max(sub.max(), np.abs(Gb / S).max())
    np.testing.assert_allclose(optimality, expected, rtol=1e-10 if dtype == np.float64 else 1e-5)
    if penalty == "strong-l1":
        assert (w == 0).sum() > 0  # the zero branch was exercised
    # Mini-batches: the measure of the epoch's last batch, still finite and positive.
    order = rng.permutation(n)
    config.steps_per_epoch = -(-n // 16)
    last = engine(X, Y, sw, order, 16, params, states, None, counters, mean, scale, config).optimality
    assert np.isfinite(last) and last > 0


def test_optimality_at_zero_weights_subtracts_l1():
    # All weights 0 (the first step, no intercept): the measure is max(|g_j| - l1, 0).
    X, Y, sw, _ = _problem(d=12)
    n, d = X.shape
    mean, scale = X.mean(0), X.std(0)
    G, _, _, S = ref.batch_loss_grad(X, Y, sw, np.arange(n), np.zeros((1, d)), np.zeros(1))
    g = np.abs((G[0] - 0.0) / scale / S)  # mean = 0 when no intercept is fitted
    l1 = float(np.sort(g)[d // 2])
    config = train_options(loss="squared_error", steps_per_epoch=1, fit_intercept=False, l2=0.0, l1=l1,
                           weight_per_row=float(sw.mean()), average_start=-1, optimizer=OPTIMIZERS["sgd"])
    params = np.zeros(d + 1)
    states = [np.zeros(d + 1) for _ in range(3)]
    optimality = _core.train_epoch_f64(X, Y, sw, None, n, params, states, None, _core.TrainCounters(),
                                       np.zeros(d), scale, config).optimality
    np.testing.assert_allclose(optimality, g.max() - l1, rtol=1e-12)


def test_float32_trains_in_float32_close_to_reference(simd_level):
    X, Y, sw, rng = _problem(dtype=np.float32)
    orders = [rng.permutation(X.shape[0]) for _ in range(2)]
    opt = OPTIMIZERS["adam"]
    mean = X.astype(np.float64).mean(0)
    scale = X.astype(np.float64).std(0)
    params, _, _, _ = _run_engine(X, Y, sw, orders, 8, opt, mean=mean, scale=scale, l2=0.01)
    assert params.dtype == np.float32
    expected = np.zeros_like(params)
    ref.train_reference(X, Y, sw, orders, 8, expected, optimizer=opt, mean=mean, scale=scale, l2=0.01,
                        weight_per_row=float(sw.astype(np.float64).mean()))
    assert np.abs(params.astype(np.float64) - expected).max() <= 1e-4 * np.abs(expected).max()


def test_every_simd_level_matches_reference(simd_level):
    X, Y, sw, rng = _problem(n=301, d=37, k=2)
    orders = [rng.permutation(X.shape[0]) for _ in range(2)]
    opt = OPTIMIZERS["nesterov"]
    params, _, _, _ = _run_engine(X, Y, sw, orders, 13, opt, mean=X.mean(0), scale=X.std(0))
    expected = np.zeros_like(params)
    ref.train_reference(X, Y, sw, orders, 13, expected, optimizer=opt, mean=X.mean(0), scale=X.std(0),
                        weight_per_row=float(sw.mean()))
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()


@pytest.mark.parametrize("batch", [7, 4096, "full"])
def test_bits_do_not_depend_on_threads(batch, threads_restored):
    # Large enough for several row blocks per batch (plan_row_blocks), so the
    # parallel reduction really runs.
    X, Y, sw, rng = _problem(n=20000, d=40, k=2)
    n = X.shape[0]
    b = n if batch == "full" else batch
    orders = [rng.permutation(n) if batch != "full" else None]
    results = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        params, _, losses, _ = _run_engine(X, Y, sw, orders, b, OPTIMIZERS["adam"], mean=X.mean(0),
                                           scale=X.std(0), l1=0.001)
        results.append((params.copy(), losses))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_l1_gives_exact_zeros():
    X, Y, sw, rng = _problem(d=20)
    Y = np.ascontiguousarray(X[:, :1] * 2.0 + 1.0)  # only the first feature matters
    orders = [rng.permutation(X.shape[0]) for _ in range(20)]
    params, _, _, _ = _run_engine(X, Y, None, orders, 16, OPTIMIZERS["sgd"], l1=0.5,
                                  mean=X.mean(0), scale=X.std(0))
    assert (params[1:20] == 0).sum() >= 15
    assert params[0] != 0


def test_non_finite_loss_stops_the_epoch():
    X, Y, sw, rng = _problem()
    X = X.copy()
    X[50, 3] = np.inf
    order = np.arange(X.shape[0])
    params = np.zeros(X.shape[1] + 1)
    states = [np.zeros_like(params) for _ in range(3)]
    counters = _core.TrainCounters()
    config = train_options(loss="squared_error", optimizer=OPTIMIZERS["adam"])
    result = _core.train_epoch_f64(X, Y, None, order, 10, params, states, None, counters,
                                   None, None, config)
    assert not result.finite
    assert result.steps == 5  # rows 0..49 were fine; the batch with row 50 made no update
    assert counters.steps == 5


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_epoch_in_parts_with_epoch_rows(optimizer, dtype, n_threads, threads_restored):
    # pygd.dask runs an epoch chunk by chunk: parts whose lengths are whole batches (one of
    # them a single batch) give the whole epoch's steps only with epoch_rows set; without it
    # a single-batch part is a full batch, normalised by its weight sum instead of m * mean.
    pygd.set_num_threads(n_threads)
    X, Y, sw, rng = _problem(n=157, dtype=dtype)
    n = X.shape[0]
    order = rng.permutation(n).astype(np.int64)
    parts = [order[:64], order[64:80], order[80:]]  # 4 + 1 + 5 batches of 16 (the last 13)
    opt = OPTIMIZERS[optimizer]
    mean, scale = X.astype(np.float64).mean(0), X.astype(np.float64).std(0)
    engine = _core.train_epoch_f32 if dtype == np.float32 else _core.train_epoch_f64
    wpr = float(sw.astype(np.float64).mean())

    def run(epoch_rows):
        params = np.zeros(X.shape[1] + 1, dtype=dtype)
        states = [np.zeros_like(params) for _ in range(3)]
        counters = _core.TrainCounters()
        options = train_options(optimizer=opt, steps_per_epoch=10, weight_per_row=wpr)
        options.epoch_rows = epoch_rows
        losses = [engine(X, Y, sw, part, 16, params, states, None, counters, mean, scale, options).loss_sum
                  for part in parts]
        return params, sum(losses)

    whole = np.zeros(X.shape[1] + 1, dtype=dtype)
    states = [np.zeros_like(whole) for _ in range(3)]
    engine(X, Y, sw, order, 16, whole, states, None, _core.TrainCounters(), mean, scale,
           train_options(optimizer=opt, steps_per_epoch=10, weight_per_row=wpr))
    in_parts, _ = run(n)
    assert np.array_equal(in_parts, whole)  # the same batches, the same steps
    expected = np.zeros_like(whole)
    ref.train_reference(X, Y, sw, [order], 16, expected, optimizer=opt, mean=mean, scale=scale,
                        weight_per_row=wpr, steps_per_epoch=10)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    assert np.abs(in_parts - expected).max() <= tol * np.abs(expected).max()
    if optimizer == "sgd":  # stateless at a constant rate: the reference in parts, same rule
        part_ref = np.zeros_like(whole)
        for part in parts:
            ref.train_reference(X, Y, sw, [part], 16, part_ref, optimizer=opt, mean=mean, scale=scale,
                                weight_per_row=wpr, steps_per_epoch=10, epoch_rows=n)
        assert np.abs(part_ref - expected).max() <= tol * np.abs(expected).max()
    without, _ = run(0)
    assert not np.allclose(without, whole, rtol=1e-6)  # the single-batch part was a full batch
    options = train_options(optimizer=opt)
    options.epoch_rows = 10
    with pytest.raises(ValueError, match="epoch_rows"):
        engine(X, Y, sw, order, 16, whole, states, None, _core.TrainCounters(), None, None, options)
    options.epoch_rows = -1
    with pytest.raises(ValueError, match="epoch_rows"):
        engine(X, Y, sw, order, 16, whole, states, None, _core.TrainCounters(), None, None, options)
    import pickle
    options.epoch_rows = 157
    assert pickle.loads(pickle.dumps(options)).epoch_rows == 157


def test_binding_checks():
    X, Y, sw, rng = _problem()
    params = np.zeros(X.shape[1] + 1)
    states = [np.zeros_like(params)]
    counters = _core.TrainCounters()
    config = train_options(loss="squared_error", optimizer=OPTIMIZERS["adam"])
    args = (None, None, 4, params, states, None, counters, None, None, config)
    with pytest.raises(ValueError, match="contiguous rows"):
        _core.train_epoch_f64(np.asfortranarray(X), Y, *args)
    with pytest.raises(TypeError):
        _core.train_epoch_f64(X.astype(np.float32), Y, *args)
    with pytest.raises(ValueError, match="outside"):
        _core.train_epoch_f64(X, Y, None, np.array([0, X.shape[0]]), 4, params, states, None, counters,
                              None, None, config)
    with pytest.raises(ValueError, match="params must be 1-D"):
        _core.train_epoch_f64(X, Y, None, None, 4, params[:-1], states, None, counters, None, None, config)
    with pytest.raises(TypeError):  # options are typed: no dict, no loss by a wrong name
        _core.train_epoch_f64(X, Y, None, None, 4, params, states, None, counters, None, None,
                              dict(loss="squared_error"))
    with pytest.raises(TypeError):
        config.loss = "nope"
    config.steps_per_epoch = 0
    with pytest.raises(ValueError, match="steps_per_epoch"):
        _core.train_epoch_f64(X, Y, None, None, 4, params, states, None, counters, None, None, config)
    assert counters == _core.TrainCounters()  # nothing ran


def test_batch_predict_gathers_rows():
    X, Y, sw, rng = _problem(k=3)
    coef = rng.normal(size=(3, X.shape[1]))
    intercept = rng.normal(size=3)
    rows = rng.permutation(X.shape[0])[:50]
    out = _core.batch_predict_f64(X, rows, coef, intercept)
    np.testing.assert_allclose(out, X[rows] @ coef.T + intercept, rtol=1e-12)
    assert _core.batch_predict_f32(X.astype(np.float32), None, coef, intercept).dtype == np.float32




@contextmanager
def ctrl_c_when(started):
    """Sends SIGINT (Ctrl-C) from another thread as soon as ``started()`` is true.

    The engine runs without the GIL, so the watching thread sees the epoch's
    first steps and the signal arrives inside the epoch, whatever the machine's
    speed.  Python's default handler (KeyboardInterrupt) runs in the main thread.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    done = threading.Event()

    def watch():
        while not done.is_set():
            if started():
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGINT, old)


def test_ctrl_c_stops_a_long_epoch_between_steps():
    # The engine runs Python's signal handlers once per 2**16 rows: Ctrl-C raises
    # KeyboardInterrupt there, long before the end of the epoch, with params,
    # optimizer state and counters exactly those of the steps taken (the replay).
    rng = np.random.default_rng(0)
    n, d = 2_000_000, 8
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = np.ascontiguousarray((X @ rng.normal(size=(d, 1)) + 1.0).astype(np.float32))
    options = train_options(loss="squared_error", optimizer=OPTIMIZERS["adam"], steps_per_epoch=n)

    def fresh():
        params = np.zeros(d + 1, dtype=np.float32)
        return params, [np.zeros_like(params) for _ in range(3)], _core.TrainCounters()

    params, states, counters = fresh()
    with pytest.raises(KeyboardInterrupt), ctrl_c_when(params.any):
        _core.train_epoch_f32(X, Y, None, None, 1, params, states, None, counters, None, None, options)
    steps = counters.steps
    assert 0 < steps < n  # inside the epoch, not at its end
    assert steps % 2**16 == 0  # at a check, between two steps
    # The same steps without an interrupt give the same bits: nothing half-done.
    replay, replay_states, replay_counters = fresh()
    _core.train_epoch_f32(X, Y, None, np.arange(steps), 1, replay, replay_states, None,
                          replay_counters, None, None, options)
    assert replay_counters.steps == steps
    np.testing.assert_array_equal(params, replay)
    for state, replayed in zip(states, replay_states):
        np.testing.assert_array_equal(state, replayed)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adadelta", "nadam"])
@pytest.mark.parametrize("penalty", ["none", "elasticnet"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3])
def test_full_batch_epoch_is_batch_sums_then_train_step(optimizer, penalty, dtype, k):
    # The split pygd.dask's first-order full-batch fits use: the sums (from row chunks
    # there) and the step on the client.  On one process: the epoch's own bits.
    X, Y, sw, _ = _problem(n=300, d=7, k=k, dtype=dtype)
    mean = X.astype(np.float64).mean(axis=0)
    scale = X.astype(np.float64).std(axis=0)
    l2, l1 = PENALTIES[penalty]
    size = k * X.shape[1] + k
    loss = "squared_error" if k == 1 else "multinomial"
    if k > 1:
        Y = np.ascontiguousarray(np.eye(k, dtype=dtype)[np.arange(len(X)) % k])
    options = train_options(optimizer=OPTIMIZERS[optimizer], loss=loss, l2=l2, l1=l1,
                            weight_per_row=float(sw.astype(np.float64).mean()), average_start=1)
    suffix = "f32" if dtype == np.float32 else "f64"
    epoch = getattr(_core, "train_epoch_" + suffix)
    sums_of = getattr(_core, "batch_sums_" + suffix)
    step = getattr(_core, "train_step_" + suffix)
    runs = []
    for split in (False, True):
        params = np.zeros(size, dtype=dtype)
        states = [np.zeros(size, dtype=dtype) for _ in range(3)]
        average = params.copy()
        counters = _core.TrainCounters()
        results = []
        for _ in range(4):
            if split:
                sums = sums_of(X, Y, sw, None, params.astype(np.float64), mean, scale, options)
                assert sums.shape == (size + 2,)
                result = step(sums, k, params, states, average, counters, mean, scale, options)
            else:
                result = epoch(X, Y, sw, None, len(X), params, states, average, counters, mean,
                               scale, options)
            results.append((result.loss_sum, result.weight_sum, result.steps, result.optimality,
                            result.finite))
        runs.append((params, states, average, counters, results))
    (p0, s0, a0, c0, r0), (p1, s1, a1, c1, r1) = runs
    np.testing.assert_array_equal(p1, p0)
    for x, y in zip(s1, s0):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a1, a0)
    assert (c1.steps, c1.averaged, c1.mu_product, c1.momentum_coef) == \
        (c0.steps, c0.averaged, c0.mu_product, c0.momentum_coef)
    assert r1 == r0


def test_train_step_binding_checks():
    X, Y, sw, _ = _problem(n=20, d=3)
    options = train_options(optimizer=OPTIMIZERS["sgd"])
    params = np.zeros(4)
    with pytest.raises(ValueError, match="sums"):
        _core.train_step_f64(np.zeros(5), 1, params, [], None, _core.TrainCounters(), None, None,
                             options)
    with pytest.raises(ValueError, match="n_outputs"):
        _core.train_step_f64(np.zeros(6), 3, params, [], None, _core.TrainCounters(), None, None,
                             options)
    # A non-finite loss sum: no step, finite False.
    sums = np.zeros(6)
    sums[4] = np.nan
    result = _core.train_step_f64(sums, 1, params, [], None, _core.TrainCounters(), None, None, options)
    assert not result.finite and result.steps == 0
