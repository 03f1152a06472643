"""pygd's one vocabulary: the names of losses, optimizers and schedules, and their properties.

Every other module (the estimators, :func:`pygd.minimize`, :mod:`pygd.linear`,
the engine's enums in ``_core``) takes its names from here, so a loss, an
optimizer or a schedule is spelled the same everywhere; ``tests/test_names.py``
checks the compiled module's enums against these lists.

This module imports nothing from pygd: the lists are plain data.

Examples
--------
>>> from pygd._names import LOSSES, OPTIMIZERS
>>> LOSSES["hinge"].smooth, LOSSES["hinge"].task
(False, 'classification')
>>> OPTIMIZERS["momentum"]
OptimizerName(cls='SGD', presets={'momentum': 0.9})
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple


class LossName(NamedTuple):
    """What pygd needs to know of a loss besides its formula (``csrc`` ``losses.hpp``).

    ``task`` is "regression", "classification" or "row" (a loss over a row's
    k outputs at once, chosen by :class:`~pygd.linear_model.GDClassifier`, not
    by its ``loss`` parameter); ``smooth`` is False for losses with a kink,
    whose gradient need not vanish at the optimum (so the full-batch gradient
    test of ``tol`` does not apply); ``proba`` marks the classification losses
    with probability estimates.
    """

    task: str
    smooth: bool
    proba: bool = False


#: Every loss of the engine, in the order of the C++ ``Loss`` enum.
LOSSES: dict[str, LossName] = {
    "squared_error": LossName("regression", True),
    "huber": LossName("regression", True),
    "epsilon_insensitive": LossName("regression", False),
    "squared_epsilon_insensitive": LossName("regression", True),
    "log_loss": LossName("classification", True, proba=True),
    "hinge": LossName("classification", False),
    "squared_hinge": LossName("classification", True),
    "modified_huber": LossName("classification", True, proba=True),
    "perceptron": LossName("classification", False),
    "multinomial": LossName("row", True),
    # The hinge with its kink rounded over a width epsilon: what optimizer="lbfgs" minimises,
    # with epsilon shrinking, for loss="hinge" (not an estimator's loss).
    "smoothed_hinge": LossName("internal", True),
}
REGRESSION_LOSSES: tuple[str, ...] = tuple(n for n, v in LOSSES.items() if v.task == "regression")
CLASSIFICATION_LOSSES: tuple[str, ...] = tuple(n for n, v in LOSSES.items() if v.task == "classification")
PROBA_LOSSES: tuple[str, ...] = tuple(n for n, v in LOSSES.items() if v.proba)
#: Losses with a kink: the full-batch gradient test of ``tol`` does not apply to them.
KINKED_LOSSES: frozenset[str] = frozenset(n for n, v in LOSSES.items() if not v.smooth)


class OptimizerName(NamedTuple):
    """An optimizer name: the :mod:`pygd.optim` class it stands for and the presets it adds."""

    cls: str
    presets: dict[str, Any]


#: Optimizer names of the estimators' ``optimizer`` and of ``minimize(method=...)``.
OPTIMIZERS: dict[str, OptimizerName] = {
    "sgd": OptimizerName("SGD", {}),
    "momentum": OptimizerName("SGD", {"momentum": 0.9}),
    "nesterov": OptimizerName("SGD", {"momentum": 0.9, "nesterov": True}),
    "adagrad": OptimizerName("Adagrad", {}),
    "rmsprop": OptimizerName("RMSprop", {}),
    "adam": OptimizerName("Adam", {}),
    "adamw": OptimizerName("AdamW", {}),
    "nadam": OptimizerName("NAdam", {}),
    "adadelta": OptimizerName("Adadelta", {}),
}

#: Full-batch quasi-Newton optimizers of the estimators and of ``minimize(method=...)``
#: (no pygd.optim class: their loop is :func:`pygd._lbfgs.lbfgs`, over one-pass
#: objective-and-gradient calls).
QUASI_NEWTON: tuple[str, ...] = ("lbfgs",)

#: pygd.optim class name -> the engine's update kernel (the C++ ``OptimizerKind``).
OPTIMIZER_KERNELS: dict[str, str] = {
    "SGD": "sgd",
    "Adam": "adam",
    "AdamW": "adam",
    "Adagrad": "adagrad",
    "RMSprop": "rmsprop",
    "Adadelta": "adadelta",
    "NAdam": "nadam",
}

#: Learning-rate schedules and the names of their parameters (torch.optim.lr_scheduler's
#: spelling).  The estimators count in epochs, :func:`pygd.minimize` in iterations, so
#: each keeps its own defaults (``GD*.schedule_params``, ``pygd.minimize.SCHEDULES``)
#: for these names.
SCHEDULE_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "invscaling": ("power_t",),
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("T_max", "eta_min"),
    "warmup_cosine": ("T_max", "eta_min", "warmup", "start_factor"),
    "plateau": ("factor", "patience", "threshold", "min_lr"),
}
SCHEDULES: tuple[str, ...] = tuple(SCHEDULE_PARAMS)

#: Former spellings of schedule parameters, accepted with a FutureWarning until 0.3.
DEPRECATED_SCHEDULE_PARAMS: dict[str, str] = {"t_max": "T_max", "warmup_epochs": "warmup"}


def renamed_schedule_params(params: dict[str, Any] | None, stacklevel: int = 3) -> dict[str, Any]:
    """A copy of ``params`` with former spellings replaced (and a FutureWarning for each).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed_schedule_params({"t_max": 50})
    {'T_max': 50}
    >>> caught[0].category.__name__
    'FutureWarning'
    """
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        new = DEPRECATED_SCHEDULE_PARAMS.get(key)
        if new is not None:
            warnings.warn(f"schedule parameter {key!r} was renamed {new!r} (torch's name) in pygd 0.2; "
                          f"{key!r} will stop working in 0.3", FutureWarning, stacklevel=stacklevel)
            if new in (params or {}):
                raise ValueError(f"schedule_params gives both {key!r} and its new name {new!r}")
            key = new
        out[key] = value
    return out
