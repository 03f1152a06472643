"""pygd._names: one vocabulary for losses, optimizers and schedules, used everywhere."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from pygd import _names, linear, optim
from pygd._minimize import METHODS, SCHEDULES as MINIMIZE_SCHEDULES
from pygd.linear_model import GDClassifier, GDRegressor
from pygd.linear_model._settings import KERNELS, OPTIMIZER_CLASSES, SCHEDULE_DEFAULTS


def test_estimator_losses_come_from_the_one_list():
    assert GDRegressor._parameter_constraints["loss"][0].options == set(_names.REGRESSION_LOSSES)
    assert GDClassifier._parameter_constraints["loss"][0].options == set(_names.CLASSIFICATION_LOSSES)
    assert set(linear.LOSSES) <= set(_names.LOSSES)
    assert _names.KINKED_LOSSES == {"epsilon_insensitive", "hinge", "perceptron"}


def test_optimizer_names_are_shared_by_estimators_and_minimize():
    assert set(OPTIMIZER_CLASSES) == set(_names.OPTIMIZERS) == set(METHODS)
    for name, (cls, presets) in OPTIMIZER_CLASSES.items():
        assert METHODS[name] == (cls, presets)
        assert cls is getattr(optim, _names.OPTIMIZERS[name].cls)
    assert {cls.__name__ for cls in KERNELS} == set(_names.OPTIMIZER_KERNELS)


@pytest.mark.parametrize("schedule", _names.SCHEDULES)
def test_schedule_parameters_use_one_vocabulary(schedule):
    allowed = set(_names.SCHEDULE_PARAMS[schedule])
    assert set(SCHEDULE_DEFAULTS[schedule]) <= allowed
    assert set(MINIMIZE_SCHEDULES[schedule]) <= allowed


def test_shared_estimator_defaults_agree():
    reg = inspect.signature(GDRegressor.__init__).parameters
    clf = inspect.signature(GDClassifier.__init__).parameters
    shared = (set(reg) & set(clf)) - {"self", "loss", "optimizer"}
    assert len(shared) > 15
    for name in shared:
        assert reg[name].default == clf[name].default, name


@pytest.mark.parametrize("old, new, schedule", [("t_max", "T_max", "cosine"),
                                                ("warmup_epochs", "warmup", "warmup_cosine")])
def test_former_schedule_names_warn_and_give_the_same_model(old, new, schedule):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, 2.0, -1.0]
    fit = dict(lr_schedule=schedule, optimizer="sgd", batch_size=8, max_iter=6, tol=None, random_state=0)
    params = {"T_max": 5.0} if new == "warmup" else {}
    with pytest.warns(FutureWarning, match=f"'{old}' was renamed '{new}'"):
        before = GDRegressor(schedule_params={**params, old: 2.0}, **fit).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = GDRegressor(schedule_params={**params, new: 2.0}, **fit).fit(X, y)
    assert before.coef_.tobytes() == after.coef_.tobytes()
    with pytest.raises(ValueError, match="both"), pytest.warns(FutureWarning):
        GDRegressor(schedule_params={old: 2.0, new: 2.0}, **fit).fit(X, y)
