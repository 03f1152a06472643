"""Linear models trained by gradient descent, with the whole epoch loop in C++.

:class:`GDRegressor` is a scikit-learn regressor: ``__init__`` only stores its
parameters, :meth:`~GDRegressor.fit` validates with scikit-learn's helpers and
then runs one engine call per epoch (``pygd._core.train_epoch_*``): the batches
are gathered by a shuffled permutation, their fused loss and gradient computed
over fixed row blocks (the same bits for any number of threads), and the
update made by pygd.optim's kernels, all with the GIL released.  The maths of
an epoch is :func:`pygd.reference.train_reference`.

Examples
--------
>>> import numpy as np
>>> from pygd.linear_model import GDRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> y = X @ [1.0, -2.0, 0.5] + 3.0
>>> model = GDRegressor(alpha=0.0, random_state=0).fit(X, y)
>>> model.coef_.round(2).tolist(), model.intercept_.round(2).tolist()
([1.0, -2.0, 0.5], [3.0])
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)

from . import _core, optim
from ._validation import core_suffix
from .preprocessing import _scale_from_var
from ._config import get_num_threads, set_num_threads

__all__ = ["DivergenceWarning", "GDRegressor"]


class DivergenceWarning(ConvergenceWarning):
    """Training diverged (a non-finite or exploding loss); the weights were restored."""


#: optimizer name -> (pygd.optim class, presets applied before ``optimizer_params``).
_OPTIMIZERS: dict[str, tuple[type, dict[str, Any]]] = {
    "sgd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (optim.Adagrad, {}),
    "rmsprop": (optim.RMSprop, {}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
    "nadam": (optim.NAdam, {}),
    "adadelta": (optim.Adadelta, {}),
}
#: pygd.optim class -> the engine's update kernel.
_KERNELS: dict[type, str] = {
    optim.SGD: "sgd",
    optim.Adam: "adam",
    optim.AdamW: "adam",
    optim.Adagrad: "adagrad",
    optim.RMSprop: "rmsprop",
    optim.Adadelta: "adadelta",
    optim.NAdam: "nadam",
}
#: schedule name -> its parameters and defaults (t_max defaults to max_iter).
_SCHEDULES: dict[str, dict[str, float]] = {
    "constant": {},
    "invscaling": {"power_t": 0.25},
    "step": {"step_size": 10.0, "gamma": 0.1},
    "exponential": {"gamma": 0.9},
    "cosine": {"t_max": -1.0, "eta_min": 0.0},
    "warmup_cosine": {"t_max": -1.0, "eta_min": 0.0, "warmup_epochs": 1.0},
    "plateau": {"factor": 0.2, "min_lr": 1e-6},
}
#: Every _core.OptimizerOptions field with torch.optim's default: what the engine is
#: given for the fields the chosen optimizer class does not take.
_OPTIMIZER_FIELDS: dict[str, Any] = {
    "momentum": 0.0, "dampening": 0.0, "nesterov": False, "betas": (0.9, 0.999), "eps": 1e-8,
    "weight_decay": 0.0, "amsgrad": False, "decoupled_weight_decay": False, "lr_decay": 0.0,
    "alpha": 0.99, "centered": False, "rho": 0.9, "momentum_decay": 4e-3,
}
#: Every _core.ScheduleOptions field (torch's names) with its default, and the
#: estimators' schedule_params names that differ.
_SCHEDULE_FIELDS: dict[str, float] = {
    "power_t": 0.25, "gamma": 0.1, "step_size": 10.0, "T_max": 1000.0, "eta_min": 0.0, "warmup": 1.0,
}
_SCHEDULE_RENAMES = {"t_max": "T_max", "warmup_epochs": "warmup"}


def _optimizer_options(kernel: str, lr: float, hyper: dict[str, Any]) -> _core.OptimizerOptions:
    """The engine's options for optimizer kernel ``kernel`` with hyper-parameters ``hyper``
    (a pygd.optim class's keyword arguments; the other fields keep their defaults)."""
    fields = dict(_OPTIMIZER_FIELDS)
    for key, value in hyper.items():
        if key != "initial_accumulator_value":
            fields[key] = tuple(float(b) for b in value) if key == "betas" else value
    return _core.OptimizerOptions(kind=_core.OptimizerKind.__members__[kernel], lr=lr, **fields)


def _schedule_options(kind: str, params: dict[str, float]) -> _core.ScheduleOptions:
    """The engine's options for schedule ``kind`` (a _core.ScheduleKind name) with the
    estimators' ``schedule_params`` (t_max and warmup_epochs become T_max and warmup)."""
    fields = dict(_SCHEDULE_FIELDS)
    fields.update({_SCHEDULE_RENAMES.get(key, key): value for key, value in params.items()})
    return _core.ScheduleOptions(kind=_core.ScheduleKind.__members__[kind], **fields)


_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
#: Engine losses with a kink: their gradient does not vanish at the optimum, so the
#: full-batch gradient test of tol does not apply to them.
_NONSMOOTH = frozenset({"epsilon_insensitive", "hinge", "perceptron"})
#: batch_size="auto": the first batch size and its growth factor at each stall.
_AUTO_BATCH = 32
_BATCH_GROWTH = 4


def _batch_growth(n_train: int) -> int:
    """Factor of an "auto" batch at a stall: 4, or more so that at most 4 stalls reach n_train."""
    return max(_BATCH_GROWTH, math.ceil((n_train / _AUTO_BATCH) ** 0.25))


def _standardization_stats(
    X: np.ndarray, sample_weight: np.ndarray, rows: np.ndarray | None, center: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of X's columns over ``rows``, in float64.

    Computed by the StandardScaler kernels (one pass over X, no copy, bitwise
    the same for any thread count); rows outside ``rows`` (the validation
    split) simply get weight 0.  Columns whose variance is rounding noise get
    scale 1 (scikit-learn's rule); without ``center`` the mean is 0 and the
    scale is the root mean square, since no intercept absorbs a shift.
    """
    weights = np.ascontiguousarray(sample_weight, dtype=X.dtype)
    count = X.shape[0]
    if rows is not None:
        weights = np.zeros_like(weights)
        weights[rows] = sample_weight[rows]
        count = len(rows)
    stats = getattr(_core, "column_stats_" + core_suffix(X.dtype))
    _, mean, var, _ = stats(X, weights, None)
    if not center:
        return np.zeros_like(mean), _scale_from_var(var + mean * mean, np.zeros_like(mean), count)
    return mean, _scale_from_var(var, mean, count)


def _epoch_order(rng: np.random.RandomState, rows: int | np.ndarray) -> np.ndarray:
    """The shuffled order of one epoch (int64): a permutation of range(rows) or of rows.

    Drawn by a PCG64 generator seeded from ``rng`` (the estimator's
    ``random_state``), which shuffles about twice as fast as RandomState.
    """
    generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    return generator.permutation(rows).astype(np.int64, copy=False)


def _check_finite_input(X: np.ndarray) -> None:
    """Raise scikit-learn's ValueError if X has a NaN or an infinity.

    The estimators' fit and partial_fit skip scikit-learn's up-front scan of X
    (a full pass, ~10% of an epoch): a non-finite value always reaches the loss
    or the weights of the epoch that visits its row (NaN and inf propagate
    through every product), so the training loop calls this only then.
    """
    if not np.isfinite(X).all():
        kind = "NaN" if np.isnan(X).any() else "infinity or a value too large for %r" % X.dtype
        raise ValueError(f"Input X contains {kind}. Remove or impute such values "
                         f"(e.g. with sklearn.impute.SimpleImputer) before fitting.")


@contextmanager
def _threads(n_jobs: int | None) -> Iterator[None]:
    if n_jobs is None:
        yield
        return
    old = get_num_threads()
    import os

    set_num_threads(max(1, os.cpu_count() or 1) if n_jobs < 0 else n_jobs)
    try:
        yield
    finally:
        set_num_threads(old)


class _Engine:
    """The training plumbing GDRegressor and GDClassifier share.

    Optimizer and schedule configuration, the learning-rate rule, batch growth,
    the epoch loop over the C++ engine with its stopping rules, divergence
    handling and progress reports.  A subclass is a scikit-learn estimator with
    the parameters of :class:`GDRegressor` that it uses, and provides
    ``_engine_loss`` (the engine's loss name and epsilon) and
    ``_validation_score`` (the early-stopping score).
    """

    # -- configuration -------------------------------------------------------
    def _optimizer_class(self) -> tuple[type, dict[str, Any]]:
        """The pygd.optim class and the presets the ``optimizer`` name stands for."""
        if isinstance(self.optimizer, str):
            return self._optimizer_presets[self.optimizer]
        if isinstance(self.optimizer, type) and self.optimizer in _KERNELS:
            return self.optimizer, {}
        raise ValueError(
            f"optimizer must be one of {sorted(_OPTIMIZERS)} or a pygd.optim class among "
            f"{[c.__name__ for c in _KERNELS]}, got {self.optimizer!r}"
        )

    def _optimizer_config(self, lr: float) -> tuple[_core.OptimizerOptions, str]:
        """The engine's optimizer options (every hyper-parameter explicit) and its kernel."""
        cls, presets = self._optimizer_class()
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
        kernel = _KERNELS[cls]
        if cls is optim.AdamW:
            hyper["decoupled_weight_decay"] = True
        config = _optimizer_options(kernel, lr, hyper)
        self._initial_accumulator = float(hyper.get("initial_accumulator_value", 0.0))
        return config, kernel

    def _resolve_learning_rate(self, X: np.ndarray, sw: np.ndarray) -> float:
        """``learning_rate``, or for "auto" a rate from the problem's curvature.

        SGD, momentum and Nesterov (momentum beta):
        ``min(0.2 (1 + beta) / (1.1 lambda_max), 0.5 (1 - beta) batch_size / trace)``
        where lambda_max and the trace are those of the (weighted)
        second-moment matrix of the features the engine sees (standardised,
        plus the intercept's column), lambda_max by power iteration on at most
        2^18 elements of evenly spaced training rows.  The first term keeps
        heavy-ball steps stable on the full-batch curvature of the squared
        error (the other losses curve less); the second, used only when
        batches are smaller than the training set, keeps the effective
        step ``lr / (1 - beta)`` times a small batch's curvature (about
        ``trace / batch_size``) below 1/2, so mini-batch noise cannot blow up.  Adaptive optimizers normalise their
        steps, so "auto" is a fixed rate: 0.01 for Adam, AdamW, NAdam and
        RMSprop, 0.1 for Adagrad, 1.0 for Adadelta (``_adaptive_rates``), or
        where ``_adaptive_full_rates`` names a rate for the whole training set,
        ``0.01 sqrt(B / 32)`` for batches of B rows, capped by that rate.

        Returns the rate for the first batch; ``_rate_for_batch`` gives it for
        the larger batches of ``batch_size="auto"``.
        """
        self._auto_rule: tuple[str, float, float | None] | None = None
        if self.learning_rate != "auto":
            return float(self.learning_rate)
        cls, presets = self._optimizer_class()
        rows = self._train_rows if self._train_rows is not None else None
        n_train = X.shape[0] if rows is None else len(rows)
        if cls in self._adaptive_rates:
            self._auto_rule = ("adaptive", self._adaptive_rates[cls], self._adaptive_full_rates.get(cls))
            return self._rate_for_batch(self._batch_rows(n_train), n_train)
        momentum = float({**presets, **(self.optimizer_params or {})}.get("momentum", 0.0))
        d = X.shape[1]
        m = int(min(n_train, max(64, (1 << 18) // max(d, 1))))
        pick = np.linspace(0, n_train - 1, m).round().astype(np.int64)
        pick = pick if rows is None else rows[pick]
        Z = np.asarray(X[pick], dtype=np.float64)  # one copy of at most 2 MB
        if not np.isfinite(Z).all():
            _check_finite_input(X)
        if self.standardize:
            Z -= self.mean_
            Z /= self.scale_
        if self.fit_intercept and not self.standardize:
            Z = np.hstack([Z, np.ones((m, 1))])
        w = sw[pick].astype(np.float64)
        if not w.sum() > 0:
            w = np.ones(m)
        # Power iteration with pygd's own deterministic kernel: the gradient of
        # 0.5 (z . v)^2 averaged over rows is C v (BLAS would make the rate,
        # and so coef_, depend on the thread count).
        from .linear import loss_grad

        v = np.random.default_rng(0).standard_normal(Z.shape[1])
        lam = 0.0
        for _ in range(30):
            norm = np.sqrt(np.sum(v * v))
            if not norm > 0:
                break
            v = v / norm
            v = loss_grad(Z, np.zeros(m), v, 0.0, sample_weight=w)[1]
            lam = float(np.sqrt(np.sum(v * v)))
        if self.fit_intercept and self.standardize:
            lam = max(lam, 1.0)  # the intercept's direction: centred features leave it at 1
        trace = float(np.sum(w * np.einsum("ij,ij->i", Z, Z)) / np.sum(w))
        if self.fit_intercept and self.standardize:
            trace += 1.0
        if not (lam > 0 and trace > 0):
            return 0.1
        self._auto_rule = ("curvature", 0.2 * (1.0 + momentum) / (1.1 * lam),
                           0.5 * (1.0 - momentum) / trace)
        return self._rate_for_batch(self._batch_rows(n_train), n_train)

    def _rate_for_batch(self, batch: int, n_train: int) -> float:
        """The "auto" rate for batches of ``batch`` rows (see _resolve_learning_rate)."""
        kind, a, b = self._auto_rule
        if kind == "adaptive":  # a: the rate for 32 rows; b: for the whole set, or None (a fixed rate)
            if b is None:
                return a
            return b if batch >= n_train else min(b, a * math.sqrt(batch / _AUTO_BATCH))
        # "curvature": a is the full-batch term, b * batch the mini-batch noise term
        return a if batch >= n_train else min(a, b * batch)

    #: optimizer name -> (pygd.optim class, presets).
    _optimizer_presets: dict[str, tuple[type, dict[str, Any]]] = _OPTIMIZERS
    #: learning_rate="auto" for the adaptive optimizers (with _adaptive_full_rates: for 32 rows).
    _adaptive_rates: dict[type, float] = {
        optim.Adam: 0.01, optim.AdamW: 0.01, optim.NAdam: 0.01, optim.RMSprop: 0.01,
        optim.Adagrad: 0.1, optim.Adadelta: 1.0,
    }
    #: ... and for the whole training set, where it differs (the rate grows as sqrt(batch)).
    _adaptive_full_rates: dict[type, float] = {}

    def _batch_rows(self, n_train: int) -> int:
        """Rows per step now: ``batch_size``, or for "auto" 32 times the growth so far."""
        if self.batch_size == "full":
            return n_train
        base = _AUTO_BATCH if self.batch_size == "auto" else int(self.batch_size)
        return min(base * self._batch_factor, n_train)

    def _schedule_config(self) -> _core.ScheduleOptions:
        defaults = dict(_SCHEDULES[self.lr_schedule])
        user = dict(self.schedule_params or {})
        unknown = set(user) - set(defaults)
        if unknown:
            raise ValueError(f"unknown schedule_params for lr_schedule={self.lr_schedule!r}: "
                             f"{sorted(unknown)}; accepted: {sorted(defaults)}")
        defaults.update({key: float(value) for key, value in user.items()})
        if "t_max" in defaults and defaults["t_max"] <= 0:
            defaults["t_max"] = float(self.max_iter)
        for key, value in defaults.items():
            if not math.isfinite(value) or (key != "eta_min" and value < 0):
                raise ValueError(f"schedule parameter {key} must be finite and >= 0, got {value}")
        if self.lr_schedule == "warmup_cosine" and defaults["warmup_epochs"] >= defaults["t_max"]:
            raise ValueError("warmup_epochs must be smaller than t_max")
        if self.lr_schedule == "plateau":  # a constant rate; factor and min_lr act between epochs
            return _schedule_options("constant", {})
        return _schedule_options(self.lr_schedule, defaults)

    def _penalties(self) -> tuple[float, float]:
        alpha = float(self.alpha)
        if self.penalty is None:
            return 0.0, 0.0
        if self.penalty == "l2":
            return alpha, 0.0
        if self.penalty == "l1":
            return 0.0, alpha
        return alpha * (1.0 - self.l1_ratio), alpha * self.l1_ratio

    # -- the training loop -----------------------------------------------------
    def _start(self, X: np.ndarray, Y: np.ndarray, one_d: bool, sw: np.ndarray,
               rng: np.random.RandomState, coef_init: Any, intercept_init: Any,
               partial: bool = False) -> None:
        """Validation split, standardisation, parameters, optimizer state."""
        n, d = X.shape
        k = Y.shape[1]
        dtype = X.dtype
        self._batch_factor = 1
        self._sched_config = self._schedule_config()
        if self.early_stopping and not partial:
            try:
                train, val = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                              random_state=rng)
            except ValueError as exc:
                raise ValueError(
                    f"The validation split with validation_fraction={self.validation_fraction} "
                    f"leaves no training or no validation rows for {n} samples: {exc}") from exc
            self._train_rows: np.ndarray | None = np.sort(train).astype(np.int64)
            self._val_rows: np.ndarray | None = np.sort(val).astype(np.int64)
        else:
            self._train_rows = None
            self._val_rows = None
        if self.standardize:
            self.mean_, self.scale_ = _standardization_stats(X, sw, self._train_rows,
                                                             center=self.fit_intercept)
        else:
            self.mean_ = self.scale_ = None
        self.learning_rate_ = self._resolve_learning_rate(X, sw)
        self._opt_config, kernel = self._optimizer_config(self.learning_rate_)
        size = k * d + k
        params = np.zeros(size, dtype=dtype)
        train_sw = sw if self._train_rows is None else sw[self._train_rows]
        train_Y = Y if self._train_rows is None else Y[self._train_rows]
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64).reshape(-1)
            if coef.size != k * d:
                raise ValueError(f"coef_init has {coef.size} values, expected {k * d} "
                                 f"({k} target(s) x {d} features)")
            coef = coef.reshape(k, d)
            params[: k * d] = (coef * self.scale_ if self.standardize else coef).ravel()
        if self.fit_intercept:
            if intercept_init is not None:
                b = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
                if b.size != k:
                    raise ValueError(f"intercept_init has {b.size} values, expected {k}")
                if self.standardize:
                    b = b + params[: k * d].astype(np.float64).reshape(k, d) / self.scale_ @ self.mean_
                params[k * d :] = b
            elif coef_init is None:
                # Weighted mean of y, without BLAS (thread-independent bits).
                s = train_sw.astype(np.float64)
                params[k * d :] = (train_Y * s[:, None]).sum(axis=0) / s.sum()
        self._params = params
        self._params_k = k
        self._one_d = one_d
        self._states = [np.zeros(size, dtype=dtype) for _ in range(3)]
        if kernel == "adagrad":
            self._states[0][:] = self._initial_accumulator
        avg = self.average
        self._average_start = -1 if avg is False else (0 if avg is True else int(avg))
        self._average = params.copy() if self._average_start >= 0 else None
        self._counters = _core.TrainCounters()
        self._lr_factor = 1.0
        self._schedule_offset = 0.0
        self._best = math.inf
        self._last_full = math.inf
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = [] if self._val_rows is not None else None
        self.best_validation_score_: float | None = None
        self.best_loss_ = math.inf
        self._no_improvement = 0
        self.n_iter_ = 0
        self.t_ = 0

    def _objective_penalty(self, params: np.ndarray, l2: float, l1: float, kd: int) -> float:
        w = params[:kd].astype(np.float64)
        return 0.5 * l2 * float(np.sum(w * w)) + l1 * float(np.abs(w).sum())

    def _run(self, X: np.ndarray, Y: np.ndarray, sw_arg: np.ndarray | None, sw: np.ndarray,
             epochs: int, rng: np.random.RandomState, partial: bool = False) -> None:
        n, d = X.shape
        k = Y.shape[1]
        kd = k * d
        train = self._train_rows if not partial else None
        n_train = n if train is None else len(train)
        l2, l1 = self._penalties()
        train_weight = sw if train is None else sw[train]
        engine_loss, epsilon = self._engine_loss()
        config = _core.TrainOptions(
            loss=_core.Loss.__members__[engine_loss],
            epsilon=epsilon,
            fit_intercept=bool(self.fit_intercept),
            l2=l2,
            l1=l1,
            weight_per_row=float(train_weight.astype(np.float64).mean()),
            average_start=self._average_start,
            steps_per_epoch=1,  # set per epoch below
            schedule_offset=self._schedule_offset,
            lr_factor=self._lr_factor,
            optimizer=self._opt_config,
            schedule=self._sched_config,
        )
        engine = _core.train_epoch_f32 if X.dtype == np.float32 else _core.train_epoch_f64
        states = self._states
        mean = self.mean_
        scale = self.scale_
        if mean is not None and not self.fit_intercept:
            mean = np.zeros(d)
        plateau = self.lr_schedule == "plateau"
        sched = dict(_SCHEDULES["plateau"], **(self.schedule_params or {})) if plateau else {}
        val = self._val_rows if not partial else None
        if val is not None:
            Yv = Y[val].astype(np.float64)
            sv = sw[val].astype(np.float64)
        start = time.perf_counter()
        best_params = None
        for _ in range(epochs):
            epoch = self.n_iter_ + 1
            batch = self._batch_rows(n_train)
            config.steps_per_epoch = -(-n_train // batch)
            config.schedule_offset = self._schedule_offset
            if batch == n_train and train is None:
                order = None
            elif self.shuffle:
                order = _epoch_order(rng, n_train if train is None else train)
            else:
                order = train if train is not None else np.arange(n, dtype=np.int64)
            saved = (self._params.copy(), [s.copy() for s in states], self._counters.copy(),
                     None if self._average is None else self._average.copy())
            penalty = self._objective_penalty(self._params, l2, l1, kd)
            config.lr_factor = self._lr_factor
            result = engine(
                X, Y, sw_arg, order, batch, self._params, states, self._average, self._counters,
                mean, scale, config)
            loss_sum, weight_sum, finite, optimality = (
                result.loss_sum, result.weight_sum, result.finite, result.optimality)
            loss = loss_sum / weight_sum + penalty
            first = self.loss_curve_[0] if self.loss_curve_ else None
            exploding = first is not None and first > 0 and loss > 1e10 * first
            if not finite or not math.isfinite(loss) or exploding or not np.isfinite(self._params).all():
                self._params, self._states, self._counters, self._average = saved
                states = self._states
                _check_finite_input(X)
                rate = self.learning_rate_ * self._lr_factor
                warnings.warn(
                    f"{type(self).__name__} diverged in epoch {epoch}: the loss became "
                    f"{'non-finite' if not (finite and math.isfinite(loss)) else f'{loss:.3g}'} with "
                    f"learning_rate={self.learning_rate_:g} (current rate {rate:g}, optimizer "
                    f"{self._opt_config.kind.name!r}, batch_size={self.batch_size!r}). The weights "
                    f"of epoch {epoch - 1} were restored and training stopped. Try a smaller "
                    f"learning_rate (e.g. {self.learning_rate_ / 10:g}), standardize=True, or an "
                    f"adaptive optimizer such as 'adam'.", DivergenceWarning, stacklevel=3)
                break
            self.n_iter_ = epoch
            self.t_ = self._counters.steps
            self.loss_curve_.append(loss)
            stop = False
            if val is not None:
                coef, intercept = self._raw_weights(d, k)
                predict = _core.batch_predict_f32 if X.dtype == np.float32 else _core.batch_predict_f64
                Pv = predict(X, val, coef, intercept).astype(np.float64)
                if not np.isfinite(Pv).all():
                    _check_finite_input(X)
                score = self._validation_score(Pv, Yv, sv)
                self.validation_scores_.append(score)
                if self.best_validation_score_ is None or score > self.best_validation_score_:
                    best_params = (self._params.copy(),
                                   None if self._average is None else self._average.copy())
                if self.tol is not None and self.best_validation_score_ is not None and \
                        score <= self.best_validation_score_ + self.tol:
                    self._no_improvement += 1
                else:
                    self._no_improvement = 0
                if self.best_validation_score_ is None or score > self.best_validation_score_:
                    self.best_validation_score_ = score
            self.best_loss_ = min(self.best_loss_, loss)
            self._report(epoch, loss, start, self.max_iter if not partial else None)
            if self.callback is not None and self.callback(epoch, loss) is True:
                stop = True
            verdict = None
            if self.tol is not None:
                if val is None and batch == n_train and engine_loss not in _NONSMOOTH:
                    verdict = self._full_batch_verdict(loss, optimality)
                else:
                    if val is None:
                        if loss > self._best - self.tol * abs(self._best):
                            self._no_improvement += 1
                        else:
                            self._no_improvement = 0
                        self._best = min(self._best, loss)
                    if self._no_improvement >= self.n_iter_no_change:
                        verdict = "stalled"
            if verdict == "stalled":
                self._no_improvement = 0
                self._best = math.inf
                self._last_full = math.inf
                if batch < n_train and self.batch_size == "auto":
                    # Average the gradient noise away rather than shrinking the steps; the
                    # schedule's clock keeps counting passes over the data.
                    old_batch = batch
                    self._batch_factor *= _batch_growth(n_train)
                    if self._auto_rule is not None:  # "auto" rates follow the batch
                        self._lr_factor *= (self._rate_for_batch(self._batch_rows(n_train), n_train)
                                            / self._rate_for_batch(old_batch, n_train))
                    spe = -(-n_train // self._batch_rows(n_train))
                    self._schedule_offset = float(self.n_iter_ * spe) - self._counters.steps
                    if self.verbose >= 2:
                        print(f"Batch size raised to {self._batch_rows(n_train)}")
                elif plateau and self.learning_rate_ * self._lr_factor * sched["factor"] >= sched["min_lr"]:
                    self._lr_factor *= sched["factor"]
                    if self.verbose >= 2:
                        print(f"Learning rate lowered to {self.learning_rate_ * self._lr_factor:g}")
                elif not partial:
                    stop = True
            elif verdict == "converged" and not partial:
                # The test was passed by the weights the epoch started from: keep those.
                self._params, self._average = saved[0], saved[3]
                stop = True
            if stop:
                break
        else:
            if not partial and self.tol is not None and epochs > 0 and self.n_iter_ >= self.max_iter:
                warnings.warn(
                    f"{type(self).__name__} reached max_iter={self.max_iter} epochs before the objective "
                    f"stopped improving (tol={self.tol}); consider increasing max_iter or "
                    f"learning_rate.", ConvergenceWarning, stacklevel=3)
        if self.verbose == 1:
            sys.stderr.write("\n")
            sys.stderr.flush()
        if val is not None and best_params is not None:
            self._params, self._average = best_params
        coef, intercept = self._raw_weights(d, k)
        dtype = X.dtype
        self.coef_ = (coef[0] if self._one_d else coef).astype(dtype)
        self.intercept_ = intercept.astype(dtype)

    def _full_batch_verdict(self, loss: float, optimality: float) -> str | None:
        """Convergence on exact (full-batch) objectives: "converged", "stalled" or None.

        ``optimality`` is the engine's largest gradient component (least-norm
        subgradient with L1) at the start of the epoch; the rule is the one
        documented under ``tol``.
        """
        if optimality <= self.tol * math.sqrt(2.0 * abs(loss)):
            return "converged"
        if loss > self._last_full and self._opt_config.kind == _core.OptimizerKind.sgd:
            self._counters.momentum_started = False  # restart the momentum: the next step starts it from the gradient
        self._last_full = loss
        if loss < self._best:
            self._best = loss
            self._no_improvement = 0
            return None
        self._no_improvement += 1
        return "stalled" if self._no_improvement >= 2 * self.n_iter_no_change else None

    def _raw_weights(self, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(coef (k, d), intercept (k,)) in X's units, float64, C order."""
        source = self._average if (self._average is not None and self._counters.averaged > 0) else self._params
        w = source[: k * d].astype(np.float64).reshape(k, d)
        b = source[k * d :].astype(np.float64) if self.fit_intercept else np.zeros(k)
        if self.scale_ is not None:
            w = w / self.scale_
            if self.fit_intercept:
                b = b - w @ self.mean_
        return np.ascontiguousarray(w), np.ascontiguousarray(b)

    def _report(self, epoch: int, loss: float, start: float, total: int | None) -> None:
        if self.verbose >= 2:
            lr = self.learning_rate_ * self._lr_factor
            print(f"Epoch {epoch}, loss {loss:.6g}, lr {lr:.3g}, steps {self.t_}, "
                  f"time {time.perf_counter() - start:.3f} s", flush=True)
        elif self.verbose == 1:
            width = 30
            if total:
                filled = min(width, int(width * epoch / total))
                bar = f"[{'#' * filled}{'.' * (width - filled)}] {epoch}/{total}"
            else:
                bar = f"epoch {epoch}"
            sys.stderr.write(f"\r{bar} loss {loss:.6g}")
            sys.stderr.flush()


class GDRegressor(RegressorMixin, _Engine, BaseEstimator):
    r"""Linear regression trained by (mini-batch) gradient descent in C++.

    Minimises, over weights :math:`w` and intercepts :math:`b`,

    .. math::

        \frac{\sum_i s_i\, \ell(x_i \cdot w + b, y_i)}{\sum_i s_i}
        + \alpha\Big(\frac{1 - \rho}{2}\|w\|_2^2 + \rho\|w\|_1\Big)

    (:math:`\rho` = 1 for ``"l1"``, 0 for ``"l2"``, ``l1_ratio`` for
    ``"elasticnet"``) with pygd.optim's update rules.  With ``standardize=True``
    (default) the model is trained on standardised features without copying X
    (the mean and scale are folded into the engine), the penalty applies to the
    standardised weights, and ``coef_``/``intercept_`` are mapped back to the
    original units.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}, default="squared_error"
    epsilon : float, default=0.1
        Threshold of the huber and epsilon-insensitive losses.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        L2 enters the gradient; L1 is a proximal (soft-threshold) step after
        each update, so exact zeros appear.
    alpha : float, default=1e-4
    l1_ratio : float, default=0.15
        Elastic-net mixing, in [0, 1].
    fit_intercept : bool, default=True
        Without an intercept, standardisation only scales (no centring).
    optimizer : str or pygd.optim optimizer class, default="momentum"
        "sgd", "momentum" (SGD, momentum 0.9), "nesterov", "adagrad",
        "rmsprop", "adam", "adamw", "nadam", "adadelta", or one of
        ``pygd.optim.SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta, NAdam``.
        Momentum is the regressor's default: with ``learning_rate="auto"`` it
        needs no tuning, is stable for features of any scale, and crosses the
        long valleys of correlated features quickly.
    learning_rate : float or "auto", default="auto"
        Base rate of the optimizer.  "auto" (see ``learning_rate_``): for
        SGD, momentum and Nesterov, a rate from the curvature of the
        standardised problem — ``min(0.2 (1 + beta) / (1.1 lambda_max),
        0.5 (1 - beta) batch_size / trace)`` with lambda_max and trace of the
        features' second-moment matrix (power iteration on at most 2^18
        elements of evenly spaced rows; the second term only when batches are
        smaller than the training set; recomputed for each batch size of
        "auto") — so that neither the full-batch
        curvature nor mini-batch noise can make it diverge; for adaptive
        optimizers a fixed rate (0.01 Adam/AdamW/NAdam/RMSprop, 0.1 Adagrad,
        1.0 Adadelta).
    optimizer_params : dict, default=None
        Other hyper-parameters of the optimizer (``betas``, ``momentum``,
        ``eps``, ...), with pygd.optim's names, defaults and checks.
    lr_schedule : str, default="plateau"
        Per-step schedule (e = fractional epoch, t = step from 1):
        "constant"; "invscaling" (lr / t^power_t, sklearn's; power_t=0.25);
        "step" (lr gamma^floor(e / step_size); 10, 0.1); "exponential"
        (lr gamma^e; gamma=0.9); "cosine" (to eta_min=0 over t_max=max_iter
        epochs); "warmup_cosine" (linear warm-up over warmup_epochs=1, then
        cosine); "plateau" (the rate times factor=0.2 after
        ``n_iter_no_change`` epochs without improvement, as sklearn's
        "adaptive", at each stall described under ``tol`` once the batch cannot
        grow; training stops below min_lr=1e-6).
    schedule_params : dict, default=None
        Overrides of the schedule's parameters named above.
    batch_size : int, "auto" or "full", default="auto"
        Rows per step: 1 is plain SGD, "full" batch gradient descent (one
        deterministic parallel gradient per epoch).  "auto" starts with 32
        rows and makes the batch 4 times larger at each stall (see ``tol``)
        until it is the whole training set: small batches make fast progress
        early, larger ones average away the gradient noise that keeps small
        batches from the optimum, and the last phase converges to it with the
        exact gradient.  The schedules keep counting passes over the data
        across the changes.  Capped at the number of training rows.
    max_iter : int, default=1000
        Maximum number of epochs.
    tol : float or None, default=1e-4
        With mini-batches, the objective *stalls* after ``n_iter_no_change``
        epochs not below ``best * (1 - tol)`` (relative, so independent of
        y's units); with ``early_stopping``, after as many epochs whose
        validation score is not above ``best + tol``.  At a stall "auto"
        batches grow, else the "plateau" schedule lowers the rate, else
        training stops.  When one batch is the whole training set (and no
        ``early_stopping``), training stops once every component of the
        objective's gradient (standardised units; with L1, the subgradient of
        least norm) is at most ``tol * sqrt(2 * objective)`` — for the squared
        error: no feature's covariance with the residuals exceeds tol times
        their root mean square — and a stall is ``2 * n_iter_no_change``
        epochs without a new best objective (momentum may overshoot for a
        while); there, with SGD and momentum, an epoch whose objective rose
        restarts the momentum from the gradient (O'Donoghue and Candès'
        function restart: heavy-ball steps no longer circle the optimum of a
        well-conditioned problem).  The weights returned are those that
        passed the test.  A relative test on the objective's decrease would stop
        gradient descent wherever it is slow, far from the optimum on
        ill-conditioned or nearly separable data.  Losses with a kink
        ("epsilon_insensitive"; GDClassifier's "hinge" and "perceptron"),
        whose gradient need not vanish at the optimum, keep the relative test
        with full batches too.  None: run ``max_iter`` epochs.
    n_iter_no_change : int, default=5
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score R² on them after
        each epoch, stop as above and restore the best epoch's weights.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Draw a new permutation of the rows each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations and the validation split.  The same seed gives
        bitwise-identical ``coef_`` for any number of threads.
    standardize : bool, default=True
    average : bool or int, default=False
        Averaged SGD: ``coef_`` is the average of the iterates after
        ``average`` steps (True: from the first).
    warm_start : bool, default=False
        ``fit`` starts from the previous ``coef_``/``intercept_`` (fresh
        optimizer state).
    n_jobs : int or None, default=None
        Threads for this estimator's calls (None: pygd.get_num_threads(),
        -1: all CPUs).
    verbose : int, default=0
        1: a progress bar over epochs (stderr); 2: a line per epoch (stdout).
    callback : callable or None, default=None
        ``callback(epoch, loss)`` after each epoch; returning True stops.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        In X's units and dtype (float32 input gives float32).
    intercept_ : ndarray of shape (1,) or (n_targets,)
    n_iter_ : int
        Epochs run (by the last fit, or in total for partial_fit).
    t_ : int
        Optimizer steps taken.
    learning_rate_ : float
        The base rate used (``learning_rate``, or what "auto" chose for the
        first batch size; "auto" batches then rescale it as they grow).
    loss_curve_ : list of float
        Per-epoch objective: the weighted mean loss of the rows as each
        batch saw them, plus the penalty at the start of the epoch (for
        "full" batches, exactly the objective before the epoch's step).
    best_loss_ : float
    validation_scores_ : list of float or None
        R² on the validation rows per epoch (``early_stopping`` only).
    best_validation_score_ : float or None
    mean_, scale_ : ndarray of shape (n_features,) or None
        The standardisation used (None without it).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X had string column names.

    See Also
    --------
    sklearn.linear_model.SGDRegressor : one sample at a time, SGD only.
    pygd.reference.train_reference : the NumPy specification of an epoch.

    Notes
    -----
    Decisions where scikit-learn has none to copy: the intercept starts at
    the weighted mean of y (targets are not rescaled); a partial batch of m
    rows is normalised by m times the mean training weight (the whole epoch's
    batch by the total weight), so rows of weight 2 and duplicated rows give
    the same full-batch trajectory; divergence restores the previous epoch's
    weights and emits :class:`DivergenceWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.linear_model import GDRegressor
    >>> X = np.array([[0.0, 1000.0], [1.0, 3000.0], [2.0, 2000.0], [3.0, 5000.0]])
    >>> y = X @ [2.0, 0.001] + 1.0
    >>> reg = GDRegressor(batch_size="full", alpha=0.0, learning_rate=0.1,
    ...                   max_iter=3000, tol=None, random_state=0).fit(X, y)
    >>> round(reg.score(X, y), 6)
    1.0
    >>> reg.predict([[4.0, 1000.0]]).round(3).tolist()
    [10.0]
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions(set(_LOSSES))],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer_params": [dict, None],
        "lr_schedule": [StrOptions(set(_SCHEDULES))],
        "schedule_params": [dict, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"full", "auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "standardize": ["boolean"],
        "average": [Interval(numbers.Integral, 0, None, closed="left"), "boolean"],
        "warm_start": ["boolean"],
        "n_jobs": [Interval(numbers.Integral, -1, None, closed="left"), None],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(
        self,
        loss: str = "squared_error",
        *,
        epsilon: float = 0.1,
        penalty: str | None = "l2",
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        optimizer: str | type = "momentum",
        learning_rate: float | str = "auto",
        optimizer_params: dict | None = None,
        lr_schedule: str = "plateau",
        schedule_params: dict | None = None,
        batch_size: int | str = "auto",
        max_iter: int = 1000,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        standardize: bool = True,
        average: bool | int = False,
        warm_start: bool = False,
        n_jobs: int | None = None,
        verbose: int = 0,
        callback: Callable[[int, float], Any] | None = None,
    ) -> None:
        self.loss = loss
        self.epsilon = epsilon
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.lr_schedule = lr_schedule
        self.schedule_params = schedule_params
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.standardize = standardize
        self.average = average
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.callback = callback

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # -- data --------------------------------------------------------------
    def _validate_xy(self, X: Any, y: Any, sample_weight: Any, reset: bool):
        # X's finiteness is checked by the training itself (see _Engine._run).
        X, y = _validate_data(self, X, y, dtype=[np.float64, np.float32], order="C",
                              multi_output=True, y_numeric=True, reset=reset,
                              ensure_all_finite=False)
        one_d = y.ndim == 1
        Y = np.ascontiguousarray(y.reshape(-1, 1) if one_d else y, dtype=X.dtype)
        if not np.isfinite(Y).all():
            raise ValueError("Input y contains NaN or infinity (as %s)." % X.dtype)
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if not sw.sum() > 0:
            raise ValueError("sample_weight must have a positive sum")
        return X, Y, one_d, (None if sample_weight is None else np.ascontiguousarray(sw)), sw

    # -- public API ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None, coef_init: Any = None,
            intercept_init: Any = None) -> "GDRegressor":
        """Fit the model: up to ``max_iter`` epochs of the engine.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 stays float32 (trained in float32 storage); other dtypes
            become float64.  C-contiguous float arrays are never copied.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
        coef_init : array-like of shape (n_features,) or (n_targets, n_features), default=None
            Starting weights in X's units.
        intercept_init : array-like of shape (1,) or (n_targets,), default=None

        Returns
        -------
        self : GDRegressor
        """
        previous = None
        if self.warm_start and hasattr(self, "coef_") and coef_init is None and intercept_init is None:
            previous = (self.coef_, self.intercept_)
        X, Y, one_d, sw_arg, sw = self._validate_xy(X, y, sample_weight, reset=True)
        if previous is not None and np.shape(previous[0])[-1] == X.shape[1]:
            coef_init, intercept_init = previous
        rng = check_random_state(self.random_state)
        self._rng = rng  # partial_fit after fit continues the permutations
        self._start(X, Y, one_d, sw, rng, coef_init, intercept_init)
        with _threads(self.n_jobs):
            self._run(X, Y, sw_arg, sw, self.max_iter, rng)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GDRegressor":
        """One epoch over (X, y), continuing the optimizer state and the schedule.

        The first call sets up the model (standardisation statistics from
        this call's data).  ``partial_fit`` called E times on the same data
        gives the same ``coef_`` bit for bit as ``fit`` with ``max_iter=E,
        tol=None`` (same ``random_state``, no ``early_stopping``).

        Returns
        -------
        self : GDRegressor
        """
        first = not hasattr(self, "_params")
        X, Y, one_d, sw_arg, sw = self._validate_xy(X, y, sample_weight, reset=first)
        if first:
            self._rng = check_random_state(self.random_state)
            self._start(X, Y, one_d, sw, self._rng, None, None, partial=True)
        elif Y.shape[1] != self._params_k:
            raise ValueError(f"y has {Y.shape[1]} targets; this model was fitted with {self._params_k}")
        if X.dtype != self._params.dtype:
            raise ValueError(f"X has dtype {X.dtype}; this model was fitted with {self._params.dtype}")
        with _threads(self.n_jobs):
            self._run(X, Y, sw_arg, sw, 1, self._rng, partial=True)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions ``X @ coef_.T + intercept_`` (computed in float64, X's float dtype).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self, "coef_")
        X = _validate_data(self, X, dtype=[np.float64, np.float32], order="C", reset=False)
        coef = np.ascontiguousarray(np.atleast_2d(self.coef_), dtype=np.float64)
        intercept = np.ascontiguousarray(self.intercept_, dtype=np.float64)
        predict = _core.batch_predict_f32 if X.dtype == np.float32 else _core.batch_predict_f64
        with _threads(self.n_jobs):
            out = predict(X, None, coef, intercept)
        return out[:, 0] if self.coef_.ndim == 1 else out

    def _engine_loss(self) -> tuple[str, float]:
        """The engine's row loss and epsilon."""
        return self.loss, float(self.epsilon)

    def _validation_score(self, P: np.ndarray, Y: np.ndarray, s: np.ndarray) -> float:
        """Weighted R² of predictions P on the validation rows (mean over targets)."""
        y_mean = (Y * s[:, None]).sum(axis=0) / s.sum()
        ss_tot = (((Y - y_mean) ** 2) * s[:, None]).sum(axis=0)
        ss_res = (((Y - P) ** 2) * s[:, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))



from ._classifier import GDClassifier  # noqa: E402  (builds on GDRegressor above)

__all__ += ["GDClassifier"]
