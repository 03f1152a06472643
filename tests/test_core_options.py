"""The typed training contract of _core (csrc/bind/options.cpp): enums named from the
Python lists, keyword-only constructors in which every field is required, counters
that copy and pickle, results that are read-only."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from pygd import _core
from pygd import reference as ref
from pygd.linear_model import GDClassifier, GDRegressor
from test_core_train import OPTIMIZERS, optimizer_options, schedule_options, train_options


def _full_options() -> dict:
    return dict(loss=_core.Loss.huber, epsilon=0.3, fit_intercept=False, l2=0.01, l1=0.02,
                weight_per_row=1.5, average_start=4, steps_per_epoch=7, schedule_offset=2.0,
                lr_factor=0.5, optimizer=optimizer_options(OPTIMIZERS["nadam"]),
                schedule=schedule_options(dict(kind="warmup_cosine", T_max=9.0, warmup=2.0)))


def test_enum_members_are_the_python_names():
    losses = set(ref.LOSS_FUNCTIONS) | set(ref.ROW_LOSS_FUNCTIONS)
    assert set(_core.Loss.__members__) == losses
    for est in (GDRegressor, GDClassifier):
        (options,) = est._parameter_constraints["loss"]
        assert options.options <= losses
    assert set(_core.OptimizerKind.__members__) == set(ref._STEP_FUNCTIONS)
    schedules = GDRegressor._parameter_constraints["lr_schedule"][0].options
    assert set(_core.ScheduleKind.__members__) == schedules - {"plateau"}  # plateau acts between epochs
    assert _core.Loss.__members__["log_loss"].name == "log_loss"


@pytest.mark.parametrize("cls, fields", [
    (_core.OptimizerOptions, lambda: dict(kind=_core.OptimizerKind.adam, lr=0.1, momentum=0.0,
                                          dampening=0.0, nesterov=False, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0.0, amsgrad=False, decoupled_weight_decay=False,
                                          lr_decay=0.0, alpha=0.99, centered=False, rho=0.9,
                                          momentum_decay=4e-3)),
    (_core.ScheduleOptions, lambda: dict(kind=_core.ScheduleKind.cosine, power_t=0.25, gamma=0.1,
                                         step_size=10.0, T_max=5.0, eta_min=0.0, warmup=1.0)),
    (_core.TrainOptions, _full_options),
])
def test_options_need_every_field_by_keyword(cls, fields):
    full = fields()
    obj = cls(**full)
    for name, value in full.items():
        got = getattr(obj, name)
        assert got == value or repr(got) == repr(value)
    for name in full:  # a missing field
        partial = {k: v for k, v in full.items() if k != name}
        with pytest.raises(TypeError):
            cls(**partial)
    with pytest.raises(TypeError):  # an unknown keyword
        cls(**full, unknown=1.0)
    with pytest.raises(TypeError):  # positional arguments
        cls(*full.values())
    if cls is _core.ScheduleOptions:
        with pytest.raises(TypeError):  # the old names are gone
            cls(**{("t_max" if k == "T_max" else k): v for k, v in full.items()})
    clone = pickle.loads(pickle.dumps(obj))
    assert repr(clone) == repr(obj)
    assert repr(obj).startswith(cls.__name__ + "(")
    assert repr(copy.deepcopy(obj)) == repr(obj)


def test_options_are_read_write():
    options = train_options(optimizer=OPTIMIZERS["adam"])
    options.steps_per_epoch = 3
    options.lr_factor = 0.25
    options.optimizer.lr = 0.5  # the nested struct is changed in place (pybind11 reference_internal)
    assert options.steps_per_epoch == 3 and options.lr_factor == 0.25
    assert options.optimizer.lr == 0.5
    opt = options.optimizer
    opt.betas = (0.8, 0.9)
    options.optimizer = opt
    assert options.optimizer.betas == (0.8, 0.9)
    with pytest.raises(TypeError):
        options.loss = "huber"
    with pytest.raises(TypeError):
        options.optimizer = {"kind": "adam"}


def test_counters_copy_and_pickle():
    counters = _core.TrainCounters()
    assert (counters.steps, counters.mu_product, counters.momentum_started, counters.averaged,
            counters.momentum_coef) == (0, 1.0, False, 0, 0.0)
    counters.steps = 12
    counters.mu_product = 0.125
    counters.momentum_started = True
    counters.averaged = 5
    counters.momentum_coef = 2.5
    for clone in (pickle.loads(pickle.dumps(counters)), counters.copy(), copy.copy(counters),
                  copy.deepcopy(counters)):
        assert clone == counters
        assert clone is not counters
        assert repr(clone) == ("TrainCounters(steps=12, mu_product=0.125, momentum_started=True, averaged=5, "
                               "momentum_coef=2.5)")
    # A state pickled before momentum_coef existed (4 fields) still loads.
    old = _core.TrainCounters.__new__(_core.TrainCounters)
    old.__setstate__((12, 0.125, True, 5))
    assert old.momentum_coef == 0.0 and old.steps == 12
    saved = counters.copy()
    counters.steps = 13
    assert saved.steps == 12


def test_epoch_result_is_read_only_and_counters_advance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = np.ascontiguousarray(X @ np.ones((3, 1)))
    params = np.zeros(4)
    states = [np.zeros(4) for _ in range(3)]
    counters = _core.TrainCounters()
    options = train_options(optimizer=OPTIMIZERS["nadam"], steps_per_epoch=4)
    result = _core.train_epoch_f64(X, Y, None, None, 10, params, states, None, counters, None, None, options)
    assert result.steps == 4 and result.finite and result.weight_sum == 40.0
    assert counters.steps == 4 and counters.mu_product < 1.0
    with pytest.raises(AttributeError):
        result.steps = 1
    assert repr(result).startswith("EpochResult(loss_sum=")


def test_optimizer_scalars_match_the_formulas():
    # torch's expressions (what pygd.optim computed in Python before they moved to C++).
    lr, beta1, beta2, md = 0.01, 0.9, 0.999, 4e-3
    for step in (1, 2, 10, 1000):
        step_size, bc2_sqrt = _core.adam_scalars(lr, beta1, beta2, step)
        assert step_size == lr / (1 - beta1**step)
        assert bc2_sqrt == (1 - beta2**step) ** 0.5
    mu_product = 1.0
    for step in (1, 2, 3):
        bc2, new_product, grad_coef, exp_avg_coef = _core.nadam_scalars(lr, beta1, beta2, md, step, mu_product)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
        assert bc2 == 1 - beta2**step
        assert new_product == mu_product * mu
        assert grad_coef == -lr * (1.0 - mu) / (1.0 - mu_product * mu)
        assert exp_avg_coef == (-lr * mu_next) / (1.0 - mu_product * mu * mu_next)
        mu_product = new_product
