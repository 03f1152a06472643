"""What an estimator's parameters ask of the training: :class:`Settings` and the engine's options.

The estimators' names (optimizers, schedules) resolved to pygd.optim classes and
to the engine's typed options (``_core.OptimizerOptions``, ``_core.ScheduleOptions``),
with every field explicit.  Imports only pygd's core modules, never an estimator.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core, optim
from .._names import KINKED_LOSSES, OPTIMIZER_KERNELS, OPTIMIZERS, QUASI_NEWTON, renamed_schedule_params

__all__ = ["KERNELS", "OPTIMIZER_CLASSES", "SCHEDULE_DEFAULTS", "Settings"]

#: optimizer name -> (pygd.optim class, presets applied before ``optimizer_params``).
OPTIMIZER_CLASSES: dict[str, tuple[type, dict[str, Any]]] = {
    name: (getattr(optim, entry.cls), dict(entry.presets)) for name, entry in OPTIMIZERS.items()
}
#: pygd.optim class -> the engine's update kernel.
KERNELS: dict[type, str] = {getattr(optim, cls): kernel for cls, kernel in OPTIMIZER_KERNELS.items()}
#: Every _core.OptimizerOptions field with a default, read from the pygd.optim classes'
#: signatures (the first class that takes it): what the engine is given for the fields the
#: chosen optimizer class does not take (they do not enter its step).
OPTIMIZER_FIELDS: dict[str, Any] = {}
for _cls in KERNELS:
    for _name, _p in inspect.signature(_cls.__init__).parameters.items():
        if _name not in ("self", "params", "lr", "maximize", "initial_accumulator_value"):
            OPTIMIZER_FIELDS.setdefault(_name, _p.default)
del _cls, _name, _p
#: Every _core.ScheduleOptions field, for the fields a schedule does not take.
SCHEDULE_FIELDS: dict[str, float] = {
    "power_t": 0.25, "gamma": 0.1, "step_size": 10.0, "T_max": 1000.0, "eta_min": 0.0, "warmup": 1.0,
}
#: the estimators' schedule names -> their parameters and defaults (T_max defaults to max_iter).
SCHEDULE_DEFAULTS: dict[str, dict[str, float]] = {
    "constant": {},
    "invscaling": {"power_t": 0.25},
    "step": {"step_size": 10.0, "gamma": 0.1},
    "exponential": {"gamma": 0.9},
    "cosine": {"T_max": -1.0, "eta_min": 0.0},
    "warmup_cosine": {"T_max": -1.0, "eta_min": 0.0, "warmup": 1.0},
    "plateau": {"factor": 0.2, "min_lr": 1e-6},
}


@dataclass(frozen=True)
class Settings:
    """What an estimator's parameters ask of the training, fixed when a fit starts.

    The estimator-specific parts: ``engine_loss`` (the engine's loss name),
    ``optimizer_presets`` (name -> class and presets), ``adaptive_full_rates``
    ("auto" rates for the whole set), ``validation_score`` (early stopping's
    score of predictions) and ``owner`` (the class name, for messages).
    """

    engine_loss: str
    epsilon: float
    penalty: str | None
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    optimizer: Any
    learning_rate: Any
    optimizer_params: dict | None
    lr_schedule: str
    schedule_params: dict | None
    batch_size: Any
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    shuffle: bool
    standardize: bool
    average: Any
    sparse_updates: str
    verbose: int
    callback: Callable[[int, float], Any] | None
    validation_score: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    owner: str
    optimizer_presets: dict[str, tuple[type, dict[str, Any]]] = field(default_factory=lambda: OPTIMIZER_CLASSES)
    adaptive_full_rates: dict[type, float] = field(default_factory=dict)

    # -- what the parameters mean ------------------------------------------------
    def optimizer_class(self) -> tuple[type, dict[str, Any]]:
        """The pygd.optim class and the presets the ``optimizer`` name stands for."""
        if isinstance(self.optimizer, str):
            return self.optimizer_presets[self.optimizer]
        if isinstance(self.optimizer, type) and self.optimizer in KERNELS:
            return self.optimizer, {}
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZER_CLASSES)} or a pygd.optim class among "
            f"{[c.__name__ for c in KERNELS]}, got {self.optimizer!r}"
        )

    @property
    def quasi_newton(self) -> bool:
        """True for ``optimizer="lbfgs"`` (the full-batch path of :meth:`Trainer.run_lbfgs`)."""
        return isinstance(self.optimizer, str) and self.optimizer in QUASI_NEWTON

    def lbfgs_memory(self, n_train: int) -> int:
        """``optimizer="lbfgs"``: its memory (``optimizer_params={"memory": m}``, default 10),
        after refusing, by name, the parameters that have no meaning for it."""
        name = self.optimizer
        if self.engine_loss in KINKED_LOSSES and self.engine_loss != "hinge":
            raise ValueError(f"optimizer={name!r} needs a smooth loss (or the hinge, which it smooths); "
                             f"loss {self.engine_loss!r} has a kink (use a first-order optimizer such "
                             "as 'adam' or 'sgd')")
        if not isinstance(self.batch_size, str) and self.batch_size < n_train:  # any integer type
            raise ValueError(f"optimizer={name!r} works on full batches: batch_size must be 'full' or "
                             f"'auto', got {self.batch_size} for {n_train} training rows")
        if self.early_stopping:
            raise ValueError(f"early_stopping needs a stochastic optimizer, not {name!r}")
        if self.average:
            raise ValueError(f"average needs a stochastic optimizer, not {name!r}")
        if (self.learning_rate != "auto" or self.lr_schedule not in ("plateau", "constant")
                or self.schedule_params):
            raise ValueError(f"optimizer={name!r} takes its steps by a line search: leave "
                             "learning_rate='auto', lr_schedule and schedule_params at their defaults")
        params = dict(self.optimizer_params or {})
        memory = params.pop("memory", 10)
        if params:
            raise ValueError(f"unknown optimizer_params for {name!r}: {sorted(params)}; accepted: ['memory']")
        if isinstance(memory, bool) or not isinstance(memory, (int, np.integer)) or memory < 1:
            raise ValueError(f"optimizer_params['memory'] must be an integer >= 1, got {memory!r}")
        return int(memory)

    def optimizer_config(self, lr: float) -> tuple[_core.OptimizerOptions, str, float]:
        """The engine's optimizer options (every field explicit), its kernel, Adagrad's start."""
        cls, presets = self.optimizer_class()
        hyper: dict[str, Any] = {}
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if name in ("self", "params", "lr", "maximize") or p.default is inspect.Parameter.empty:
                continue
            hyper[name] = p.default
        hyper.update(presets)
        user = dict(self.optimizer_params or {})
        for bad in ("lr", "params", "maximize"):
            if bad in user:
                raise ValueError(f"optimizer_params may not set {bad!r}"
                                 + ("; use learning_rate" if bad == "lr" else ""))
        unknown = set(user) - set(hyper)
        if unknown:
            raise ValueError(f"unknown optimizer_params for {cls.__name__}: {sorted(unknown)}; "
                             f"accepted: {sorted(hyper)}")
        hyper.update(user)
        # pygd.optim's own checks (torch's messages) on a throw-away parameter.
        cls([np.zeros(1)], lr=lr, **hyper)
        kernel = KERNELS[cls]
        if cls is optim.AdamW:
            hyper["decoupled_weight_decay"] = True
        fields = dict(OPTIMIZER_FIELDS)
        for key, value in hyper.items():
            if key != "initial_accumulator_value":
                fields[key] = tuple(float(b) for b in value) if key == "betas" else value
        options = _core.OptimizerOptions(kind=_core.OptimizerKind.__members__[kernel], lr=lr, **fields)
        return options, kernel, float(hyper.get("initial_accumulator_value", 0.0))

    def schedule_values(self) -> dict[str, float]:
        """The schedule's parameters: defaults, then ``schedule_params`` (torch's names)."""
        values = dict(SCHEDULE_DEFAULTS[self.lr_schedule])
        user = renamed_schedule_params(self.schedule_params, stacklevel=6)
        unknown = set(user) - set(values)
        if unknown:
            raise ValueError(f"unknown schedule_params for lr_schedule={self.lr_schedule!r}: "
                             f"{sorted(unknown)}; accepted: {sorted(values)}")
        values.update({key: float(value) for key, value in user.items()})
        return values

    def schedule_config(self) -> _core.ScheduleOptions:
        """The engine's schedule ("plateau" runs as "constant"; factor and min_lr act between epochs)."""
        values = self.schedule_values()
        if "T_max" in values and values["T_max"] <= 0:
            values["T_max"] = float(self.max_iter)
        for key, value in values.items():
            if not math.isfinite(value) or (key != "eta_min" and value < 0):
                raise ValueError(f"schedule parameter {key} must be finite and >= 0, got {value}")
        if self.lr_schedule == "warmup_cosine" and values["warmup"] >= values["T_max"]:
            raise ValueError("warmup must be smaller than T_max")
        kind = "constant" if self.lr_schedule == "plateau" else self.lr_schedule
        fields = dict(SCHEDULE_FIELDS)
        if kind != "constant":
            fields.update(values)
        return _core.ScheduleOptions(kind=_core.ScheduleKind.__members__[kind], **fields)

    def penalties(self) -> tuple[float, float]:
        """(l2, l1) strengths of the penalty."""
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")
        alpha = float(self.alpha)
        if self.penalty is None:
            return 0.0, 0.0
        if self.penalty == "l2":
            return alpha, 0.0
        if self.penalty == "l1":
            return 0.0, alpha
        return alpha * (1.0 - self.l1_ratio), alpha * self.l1_ratio
