"""The training state of a linear estimator as one object, and its epoch loop.

:class:`Trainer` holds everything that must survive between ``partial_fit``
calls and pickling: the parameters and optimizer state the C++ engine updates,
the engine's counters, the schedule's clock, the batch growth, the stopping
counters and the per-epoch history.  An estimator builds one from its
:class:`Settings` at ``fit`` (or the first ``partial_fit``) and calls
:meth:`Trainer.run_epochs`; each epoch is one call of
``pygd._core.train_epoch_*`` with the GIL released.  The maths of an epoch is
:func:`pygd.reference.train_reference`.  With ``optimizer="lbfgs"`` (what
"auto" runs for full-batch fits) it calls :meth:`Trainer.run_lbfgs` instead:
:func:`pygd._lbfgs.lbfgs` over one-pass ``pygd._core.objective_grad_*`` calls
(:func:`pygd.reference.objective_grad`), with Newton steps on the squared
error's exact Hessian (``pygd._core.gram_*``, :func:`pygd.reference.gram`).

Imports go one way: the estimators import this module, this module imports
:mod:`pygd._core`, :mod:`pygd.optim` and :mod:`._stopping`, never an estimator.

:class:`Settings` (what the parameters mean) lives in ``_settings.py``, the data
helpers (standardisation statistics, epoch orders, validation splits) in ``_data.py``.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from .. import _core, optim
from .._lbfgs import DiagonalGuess, LBFGSResult, lbfgs, pseudo_gradient
from .._names import KINKED_LOSSES
from ._data import (as_scipy, check_finite_input, dot, epoch_order, is_csr, kernel, max_abs,
                    row_dots, standardization_stats, validation_split, weighted_mean)
from ._settings import OPTIMIZER_FIELDS, Settings
from ._stopping import GradientTest, RelativeStall, StallCounter, ValidationStall, Verdict

__all__ = ["DivergenceWarning", "Trainer"]


class DivergenceWarning(ConvergenceWarning):
    """Training diverged (a non-finite or exploding loss); the weights were restored.

    Examples
    --------
    >>> from pygd.linear_model import DivergenceWarning
    >>> from sklearn.exceptions import ConvergenceWarning
    >>> issubclass(DivergenceWarning, ConvergenceWarning)
    True
    """


#: learning_rate="auto" for the adaptive optimizers (for 32 rows where a full-batch rate is given).
ADAPTIVE_RATES: dict[type, float] = {
    optim.Adam: 0.01, optim.AdamW: 0.01, optim.NAdam: 0.01, optim.RMSprop: 0.01,
    optim.Adagrad: 0.1, optim.Adadelta: 1.0,
}
#: Why training stopped (``stop_reason_``), as the verbose report says it.
STOP_REASONS: dict[str, str] = {
    "converged": "Converged (gradient test passed)",
    "stalled": "Converged (the objective stopped improving)",
    "min_lr": "Stopped (the plateau schedule reached min_lr)",
    "validation": "Stopped early (no validation improvement)",
    "max_iter": "Stopped at max_iter",
    "callback": "Stopped by the callback",
    "partial_fit": "One partial_fit epoch",
}
#: Epochs without progress before a stall grows an "auto" batch or lowers a "plateau" rate
#: (n_iter_no_change decides only the final stop, so the trajectory does not depend on it).
ADAPT_PATIENCE = 5
#: Divergences recovered by lowering the rate (times 0.1 each) before a fit gives up.
MAX_RECOVERIES = 6
#: optimizer="lbfgs" on the squared error: Newton steps on the exact Hessian (one pass of second
#: moments) once L-BFGS has taken this many iterations without converging, for at most this many
#: features (the second moments' cost grows as d^2 per row, their memory as d^2).
NEWTON_AFTER = 8
GRAM_MAX_FEATURES = 512
#: batch_size="auto": the first batch size and its growth factor at each stall.
AUTO_BATCH = 32
BATCH_GROWTH = 4


def batch_growth(n_train: int) -> int:
    """Factor of an "auto" batch at a stall: 4, or more so that at most 4 stalls reach n_train."""
    return max(BATCH_GROWTH, math.ceil((n_train / AUTO_BATCH) ** 0.25))


def _largest_eigenvalue(times: Any, size: int, iterations: int = 30) -> float:
    """lambda_max of a symmetric positive semi-definite operator ``times`` by power iteration.

    From a fixed random start (seed 0), so the estimate, like everything it sets, does
    not depend on anything but the data.
    """
    v = np.random.default_rng(0).standard_normal(size)
    lam = 0.0
    for _ in range(iterations):
        norm = np.sqrt(np.sum(v * v))
        if not norm > 0:
            break
        v = times(v / norm)
        lam = float(np.sqrt(np.sum(v * v)))
    return lam


class Trainer:
    """The training state of one model and its epoch loop (see the module docstring).

    Attributes the estimator publishes after each call: ``params`` (through
    :meth:`weights`), ``n_iter``, ``t``, ``learning_rate``, ``mean``,
    ``scale``, ``loss_curve``, ``validation_scores``,
    ``best_validation_score``, ``best_loss``.
    """

    def __init__(self, settings: Settings, X: np.ndarray, Y: np.ndarray, sw: np.ndarray,
                 rng: np.random.RandomState, coef_init: Any, intercept_init: Any,
                 partial: bool = False, one_d: bool = False,
                 stratify: np.ndarray | None = None) -> None:
        """Validation split, standardisation, learning rate, parameters, optimizer state.

        ``rng`` draws the validation split here and the epochs' orders later
        (partial_fit after fit continues it); ``one_d``: y was 1-D; ``stratify``:
        class labels to stratify the validation split by (classifiers).
        """
        self.settings = s = settings
        self.rng = rng
        self.one_d = one_d
        n, d = X.shape
        k = Y.shape[1]
        dtype = X.dtype
        self.batch_factor = 1
        self.schedule = s.schedule_config()
        if s.early_stopping and not partial:
            self.train_rows, self.val_rows = validation_split(
                n, s.validation_fraction, rng, stratify, sw)
        else:
            self.train_rows = None
            self.val_rows = None
        self.mean: np.ndarray | None
        self.scale: np.ndarray | None
        if s.standardize:
            # The engine folds the mean into the intercept and the gradient, never into X;
            # for CSR X that costs O(d) per step, so only full-batch fits (one step per
            # pass over X, which costs more) centre it; mini-batches of CSR X only scale.
            full_batch = s.quasi_newton or s.batch_size == "full"
            shift = s.standardize is True and (full_batch or not is_csr(X))
            self.mean, self.scale = standardization_stats(X, sw, self.train_rows, center=s.fit_intercept,
                                                          shift=shift)
            self.centred = shift and s.fit_intercept
            if not (np.isfinite(self.mean).all() and np.isfinite(self.scale).all()):
                check_finite_input(X)
                raise ValueError(
                    "X has values too large to standardise (their squares overflow float64: "
                    f"max |x| = {max_abs(X):.3g}); rescale X, e.g. divide it by a power of 2.")
        else:
            self.mean = self.scale = None
            self.centred = False
        self.quasi_newton = s.quasi_newton
        if self.quasi_newton:  # its steps come from a line search: no rate, no optimizer state
            s.lbfgs_memory(n if self.train_rows is None else len(self.train_rows))
            self.auto_rule = None
            self.learning_rate = 1.0
            self.optimizer, kernel, initial_accumulator = None, "lbfgs", 0.0
        else:
            self.learning_rate = self._resolve_learning_rate(X, sw)
            self.optimizer, kernel, initial_accumulator = s.optimizer_config(self.learning_rate)
        size = k * d + k
        params = np.zeros(size, dtype=dtype)
        for name, init in (("coef_init", coef_init), ("intercept_init", intercept_init)):
            if init is not None and not np.isfinite(np.asarray(init, dtype=np.float64)).all():
                raise ValueError(f"{name} contains NaN or infinity")
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64).reshape(-1)
            if coef.size != k * d:
                raise ValueError(f"coef_init has {coef.size} values, expected {k * d} "
                                 f"({k} target(s) x {d} features)")
            coef = coef.reshape(k, d)
            params[: k * d] = (coef * self.scale if s.standardize else coef).ravel()
        if s.fit_intercept:
            if intercept_init is not None:
                b = np.asarray(intercept_init, dtype=np.float64).reshape(-1)
                if b.size != k:
                    raise ValueError(f"intercept_init has {b.size} values, expected {k}")
                if s.standardize and coef_init is not None:  # (w . mean = 0 without coef_init)
                    b = b + row_dots(params[: k * d].astype(np.float64).reshape(k, d) / self.scale, self.mean)
                params[k * d :] = b
            elif coef_init is None:
                # Weighted mean of y, without BLAS (thread-independent bits).
                params[k * d :] = weighted_mean(Y, sw, self.train_rows)
        self.params = params
        self.n_outputs = k
        # The optimizer's state arrays (none for L-BFGS, whose pairs live in its run).
        self.states = [np.zeros(size, dtype=dtype) for _ in range(0 if self.quasi_newton else 3)]
        if kernel == "adagrad":
            self.states[0][:] = initial_accumulator
        # scikit-learn's meaning: average=k averages the iterates from the k-th step on
        # (True: from the first); the engine averages after step average_start.
        avg = s.average
        self.average_start = 0 if avg is True else (-1 if not avg else int(avg) - 1)
        self.average = params.copy() if self.average_start >= 0 else None
        self.counters = _core.TrainCounters()
        self.lr_factor = 1.0
        self.schedule_offset = 0.0
        self.stall = StallCounter()
        self.loss_curve: list[float] = []
        self.validation_scores: list[float] | None = [] if s.early_stopping else None
        self.best_validation_score: float | None = None
        self.best_loss = math.inf
        self.n_iter = 0
        self.t = 0
        self.divergences = 0
        self.passes = 0
        self.stop_reason = "max_iter"
        self.reference_objective: float | None = None

    def restart(self, settings: Settings, X: np.ndarray, sw: np.ndarray,
                stratify: np.ndarray | None) -> None:
        """A new fit that continues this state (``warm_start``).

        Weights, optimizer state, step count, standardisation, batch size and
        rate carry on, so a converged model refitted on the same data passes
        its test again at once; the history (``n_iter``, ``loss_curve``,
        validation scores, stall counts) starts afresh, and ``early_stopping``
        draws a validation split of the new data.
        """
        self.settings = s = settings
        if s.early_stopping:
            self.train_rows, self.val_rows = validation_split(
                X.shape[0], s.validation_fraction, self.rng, stratify, sw)
        else:
            self.train_rows = self.val_rows = None
        self.stall = StallCounter()
        self.loss_curve = []
        self.validation_scores = [] if s.early_stopping else None
        self.best_validation_score = None
        self.best_loss = math.inf
        self.n_iter = 0
        self.divergences = 0
        self.stop_reason = "max_iter"
        self.reference_objective: float | None = None

    # -- the learning rate ---------------------------------------------------------
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
        ``trace / batch_size``) below 1/2, so mini-batch noise cannot blow up.
        Adaptive optimizers normalise their steps, so "auto" is a fixed rate:
        0.01 for Adam, AdamW, NAdam and RMSprop, 0.1 for Adagrad, 1.0 for
        Adadelta (:data:`ADAPTIVE_RATES`), or where ``adaptive_full_rates``
        names a rate for the whole training set, ``0.01 sqrt(B / 32)`` for
        batches of B rows, capped by that rate.

        Returns the rate for the first batch; :meth:`_rate_for_batch` gives it
        for the larger batches of ``batch_size="auto"``.
        """
        s = self.settings
        self.auto_rule: tuple[str, float, float | None] | None = None
        if s.learning_rate != "auto":
            return float(s.learning_rate)
        cls, presets = s.optimizer_class()
        rows = self.train_rows
        n_train = X.shape[0] if rows is None else len(rows)
        if cls in ADAPTIVE_RATES:
            self.auto_rule = ("adaptive", ADAPTIVE_RATES[cls], s.adaptive_full_rates.get(cls))
            return self._rate_for_batch(self.batch_rows(n_train), n_train)
        momentum = float({**presets, **(s.optimizer_params or {})}.get("momentum", 0.0))
        d = X.shape[1]
        m = int(min(n_train, max(64, (1 << 18) // max(d, 1))))
        pick = np.linspace(0, n_train - 1, m).round().astype(np.int64)
        pick = pick if rows is None else rows[pick]
        Z_rows = None
        if hasattr(X, "gather_rows"):  # rows held elsewhere (pygd.dask): these rows fetched
            Z_rows, w_rows = X.gather_rows(pick)
            w = w_rows.astype(np.float64)
        else:
            w = sw[pick].astype(np.float64)
        if not w.sum() > 0:
            w = np.ones(m)
        if is_csr(X):
            lam, trace = self._sparse_curvature(X, pick, w)
            self.auto_rule = ("curvature", 0.2 * (1.0 + momentum) / (1.1 * lam),
                              0.5 * (1.0 - momentum) / trace)
            return self._rate_for_batch(self.batch_rows(n_train), n_train)
        Z = np.asarray(X[pick] if Z_rows is None else Z_rows,
                       dtype=np.float64)  # one copy of at most 2 MB
        if not np.isfinite(Z).all():
            check_finite_input(X)
        # Centred features (standardize=True with an intercept) leave the intercept's
        # direction orthogonal to them; otherwise it is a column of ones.
        centred = self.centred
        if s.standardize:
            Z -= self.mean
            Z /= self.scale
        if s.fit_intercept and not centred:
            Z = np.hstack([Z, np.ones((m, 1))])
        # Power iteration with pygd's own deterministic kernel: the gradient of
        # 0.5 (z . v)^2 averaged over rows is C v (BLAS would make the rate,
        # and so coef_, depend on the thread count).
        from ..linear import loss_grad

        lam = _largest_eigenvalue(lambda v: loss_grad(Z, np.zeros(m), v, 0.0, sample_weight=w)[1],
                                  Z.shape[1])
        if centred:
            lam = max(lam, 1.0)  # the intercept's direction: centred features leave it at 1
        trace = float(np.sum(w * np.einsum("ij,ij->i", Z, Z)) / np.sum(w))
        if centred:
            trace += 1.0
        if not (lam > 0 and trace > 0):
            return 0.1
        self.auto_rule = ("curvature", 0.2 * (1.0 + momentum) / (1.1 * lam),
                          0.5 * (1.0 - momentum) / trace)
        return self._rate_for_batch(self.batch_rows(n_train), n_train)

    def _sparse_curvature(self, X: Any, pick: np.ndarray, w: np.ndarray) -> tuple[float, float]:
        """(lambda_max, trace) of the second moments for CSR X, as for dense X (above).

        The picked rows stay sparse (their stored values only: no dense copy, whatever
        d), the features are scaled, not centred (so the intercept's column is kept as
        a column of ones), and the products are scipy's sparse ones: single-threaded,
        so the rate does not depend on the thread count either.
        """
        s = self.settings
        Z = as_scipy(X)[pick].astype(np.float64)
        if s.standardize:
            Z = Z @ sp.diags(1.0 / self.scale)
        # Centred (full-batch fits): z - mu with mu = mean / scale, applied in the products
        # (Z v - mu . v, Z^T u - mu sum(u)), never to Z's entries.
        mu = self.mean / self.scale if self.centred else None
        if s.fit_intercept and mu is None:
            Z = sp.hstack([Z, np.ones((len(pick), 1))], format="csr")
        w = w / w.sum()

        def second_moments_times(v: np.ndarray) -> np.ndarray:
            u = w * (Z @ v if mu is None else Z @ v - dot(mu, v))
            return Z.T @ u if mu is None else Z.T @ u - mu * u.sum()

        lam = _largest_eigenvalue(second_moments_times, Z.shape[1])
        trace = dot(w, np.asarray(Z.multiply(Z).sum(axis=1)).ravel())
        if mu is not None:  # sum_i w_i |z_i - mu|^2 (w sums to 1), plus the intercept's 1
            trace += dot(mu, mu) - 2.0 * dot(mu, Z.T @ w) + 1.0
            lam = max(lam, 1.0)
        if not (lam > 0 and trace > 0):
            return 1.0, 1.0
        return lam, trace

    def _rate_for_batch(self, batch: int, n_train: int) -> float:
        """The "auto" rate for batches of ``batch`` rows (see _resolve_learning_rate)."""
        kind, a, b = self.auto_rule
        if kind == "adaptive":  # a: the rate for 32 rows; b: for the whole set, or None (a fixed rate)
            if b is None:
                return a
            return b if batch >= n_train else min(b, a * math.sqrt(batch / AUTO_BATCH))
        # "curvature": a is the full-batch term, b * batch the mini-batch noise term
        return a if batch >= n_train else min(a, b * batch)

    def batch_rows(self, n_train: int) -> int:
        """Rows per step now: ``batch_size``, or for "auto" 32 times the growth so far."""
        batch_size = self.settings.batch_size
        if batch_size == "full":
            return n_train
        base = AUTO_BATCH if batch_size == "auto" else int(batch_size)
        return min(base * self.batch_factor, n_train)

    # -- results -------------------------------------------------------------------------
    def weights(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(coef (k, d), intercept (k,)) in X's units, float64, C order."""
        k = self.n_outputs
        source = self.average if (self.average is not None and self.counters.averaged > 0) else self.params
        w = source[: k * d].reshape(k, d)
        b = source[k * d :].astype(np.float64) if self.settings.fit_intercept else np.zeros(k)
        if self.scale is not None:
            w = w / self.scale  # float64 (scale is): one new array, the same bits as converting first
            if self.settings.fit_intercept:
                b = b - row_dots(w, self.mean)
        else:
            w = w.astype(np.float64)
        return np.ascontiguousarray(w), np.ascontiguousarray(b)

    def _objective(self, engine: Any, X: np.ndarray, Y: np.ndarray, sw_arg: np.ndarray | None,
                   train: np.ndarray | None, mean: np.ndarray | None, config: _core.TrainOptions,
                   penalty: float) -> float:
        """The exact objective at the current weights: one pass of the engine at rate 0 on copies.

        (For CSR X: one objective_grad pass instead, which needs no copies of the state
        and no lazy bookkeeping; the same sums.  With every coefficient 0, as at the
        start of a fit, each row's prediction is its intercepts whatever X holds: that
        pass over a CSR matrix of X's shape and no stored value, O(n k + k d), without
        reading X, and not counted in ``passes``.)
        """
        d = X.shape[1]
        zero = not hasattr(X, "pygd_kernel") and not self.params[: self.n_outputs * d].any()
        if zero:
            X = _core.CsrMatrix(np.zeros(0, X.dtype), np.zeros(0, np.int32),
                                np.zeros(X.shape[0] + 1, np.int32), d)
        if is_csr(X):
            params = self.params.astype(np.float64)
            grad = np.empty_like(params)
            options = _core.TrainOptions.for_objective(config.loss, config.epsilon,
                                                       config.fit_intercept, 0.0)
            loss, _, _ = kernel("objective_grad", X)(X, Y, sw_arg, train, params, grad, mean,
                                                     self.scale, options)
            self.passes += 0 if zero else 1
            return loss + penalty
        n_train = X.shape[0] if train is None else len(train)
        kept = config.lr_factor, config.steps_per_epoch
        config.lr_factor, config.steps_per_epoch = 0.0, 1
        try:
            result = engine(X, Y, sw_arg, train, n_train, self.params.copy(),
                            [state.copy() for state in self.states],
                            None if self.average is None else self.average.copy(),
                            self.counters.copy(), mean, self.scale, config)
        finally:
            config.lr_factor, config.steps_per_epoch = kept
        self.passes += 1
        return result.loss_sum / result.weight_sum + penalty

    def _objective_penalty(self, l2: float, l1: float, kd: int) -> float:
        w = self.params[:kd].astype(np.float64)
        return 0.5 * l2 * float(np.sum(w * w)) + l1 * float(np.abs(w).sum())

    # -- the epoch loop ------------------------------------------------------------------
    def run_epochs(self, X: np.ndarray, Y: np.ndarray, sw_arg: np.ndarray | None, sw: np.ndarray,
                   epochs: int, rng: np.random.RandomState, partial: bool = False,
                   stratify: np.ndarray | None = None) -> None:
        """Up to ``epochs`` epochs of the engine, with the stopping rules, divergence and reports.

        ``sw_arg`` is the sample weight the engine reads (None: all ones), ``sw``
        the weights as an array; ``partial`` (partial_fit) never stops early and
        never warns about max_iter, and with ``early_stopping`` holds out a
        validation split of this call's rows (stratified by ``stratify``) as
        scikit-learn's partial_fit does.  Sets ``stop_reason`` (see
        :data:`STOP_REASONS`).
        """
        s = self.settings
        n, d = X.shape
        k = Y.shape[1]
        kd = k * d
        if partial:
            train = val = None
            if s.early_stopping:
                train, val = validation_split(n, s.validation_fraction, rng, stratify, sw)
        else:
            train, val = self.train_rows, self.val_rows
        n_train = n if train is None else len(train)
        l2, l1 = s.penalties()
        train_weight = sw if train is None else sw[train]
        config = _core.TrainOptions(
            loss=_core.Loss.__members__[s.engine_loss],
            epsilon=s.epsilon,
            fit_intercept=bool(s.fit_intercept),
            l2=l2,
            l1=l1,
            weight_per_row=float(train_weight.astype(np.float64).mean()),
            average_start=self.average_start,
            steps_per_epoch=1,  # set per epoch below
            schedule_offset=self.schedule_offset,
            lr_factor=self.lr_factor,
            optimizer=self.optimizer,
            schedule=self.schedule,
        )
        # CSR mini-batches: lazy steps unless asked for dense ones (the engine takes them
        # only without averaging and without a mean to fold in).
        config.lazy = is_csr(X) and s.sparse_updates == "lazy"
        engine = kernel("train_epoch", X)
        mean = self.mean
        if mean is not None and not s.fit_intercept:
            mean = np.zeros(d)
        plateau = s.lr_schedule == "plateau"
        plateau_values = s.schedule_values() if plateau else {}
        if val is not None:
            Yv = Y[val].astype(np.float64)
            sv = sw[val].astype(np.float64)
        validation_rule = ValidationStall(self.stall, s.tol, s.n_iter_no_change)
        start = time.perf_counter()
        # The objective at the start: the reference for divergence, and a bound for the result.
        # One extra pass per fit; partial_fit computes it on its first call only (an epoch
        # per call: a pass each time would cost up to half the call).
        if partial and self.reference_objective is not None:
            initial = self.reference_objective
        else:
            initial = self._objective(engine, X, Y, sw_arg, train, mean, config,
                                      self._objective_penalty(l2, l1, kd))
            self.reference_objective = initial
        if not math.isfinite(initial):
            check_finite_input(X)
            raise ValueError(f"The objective at the starting weights is {initial}: X, y or the "
                             f"sample weights are too large for {X.dtype} arithmetic; rescale them.")
        best_params = None
        self.stop_reason = "max_iter" if not partial else "partial_fit"
        done = 0
        while done < epochs:
            epoch = self.n_iter + 1
            batch = self.batch_rows(n_train)
            gradient_test = (s.tol is not None and val is None and batch == n_train
                             and s.engine_loss not in KINKED_LOSSES)
            config.steps_per_epoch = -(-n_train // batch)
            config.schedule_offset = self.schedule_offset
            if batch == n_train and train is None:
                order = None
            elif s.shuffle:
                order = epoch_order(rng, n_train if train is None else train)
            else:
                order = train if train is not None else np.arange(n, dtype=np.int64)
            saved = (self.params.copy(), [state.copy() for state in self.states], self.counters.copy(),
                     None if self.average is None else self.average.copy())
            penalty = self._objective_penalty(l2, l1, kd)
            config.lr_factor = self.lr_factor
            try:
                result = engine(X, Y, sw_arg, order, batch, self.params, self.states, self.average,
                                self.counters, mean, self.scale, config)
            except BaseException:  # Ctrl-C (or any signal handler's exception) between two steps
                # Ctrl-C stops the engine between two steps of the epoch: back to the
                # epoch's start, which n_iter and loss_curve describe.
                self.params, self.states, self.counters, self.average = saved
                raise
            self.passes += 1
            finite, optimality = result.finite, result.optimality
            loss = result.loss_sum / result.weight_sum + penalty
            if initial > 0:
                exploding = loss > 1e3 * initial
            else:  # a start at objective 0 (the perceptron's zero model): the first epoch is the scale
                first = self.loss_curve[0] if self.loss_curve else 0.0
                exploding = first > 0 and loss > 1e10 * first
            if not finite or not math.isfinite(loss) or exploding or not np.isfinite(self.params).all():
                self.params, self.states, self.counters, self.average = saved
                check_finite_input(X)
                self._recover(X, epoch, finite and math.isfinite(loss), loss)
                continue  # the same epoch again, at the lower rate
            done += 1
            self.n_iter = epoch
            self.t = self.counters.steps
            self.loss_curve.append(loss)
            verdict = Verdict()
            if val is not None:
                coef, intercept = self.weights(d)
                predict = kernel("batch_predict", X)
                Pv = predict(X, val, coef, intercept).astype(np.float64)
                if not np.isfinite(Pv).all():
                    check_finite_input(X)
                score = s.validation_score(Pv, Yv, sv)
                self.validation_scores.append(score)
                if self.best_validation_score is None or score > self.best_validation_score:
                    best_params = (self.params.copy(), None if self.average is None else self.average.copy())
                verdict = validation_rule.update(score, self.best_validation_score)
                if self.best_validation_score is None or score > self.best_validation_score:
                    self.best_validation_score = score
            self.best_loss = min(self.best_loss, loss)
            self._report(epoch, loss, start, s.max_iter if not partial else None)
            if s.callback is not None and s.callback(epoch, loss) is True:
                self.stop_reason = "callback"
                break
            # A stall first adapts (grows an "auto" batch, else lowers a "plateau" rate) with a
            # fixed patience, so the trajectory never depends on n_iter_no_change; only once
            # nothing is left to adapt does n_iter_no_change decide when to stop.  So more
            # patience never stops earlier.
            grow = batch < n_train and s.batch_size == "auto"
            cut = plateau and self.learning_rate * self.lr_factor * plateau_values["factor"] >= \
                plateau_values["min_lr"]
            patience = ADAPT_PATIENCE if (grow or cut) else s.n_iter_no_change
            if gradient_test:
                verdict = GradientTest(self.stall, s.tol, patience).update(loss, optimality)
                if verdict.restart_momentum and self.optimizer.kind == _core.OptimizerKind.sgd:
                    self.counters.momentum_started = False  # the next step starts it from the gradient
            elif s.tol is not None and val is None:
                verdict = RelativeStall(self.stall, s.tol, patience).update(loss)
            if verdict.status == "stalled":
                self.stall.reset()
                if val is not None:
                    if not partial:  # scikit-learn's early stopping: stop, no growth or rate cut
                        self.stop_reason = "validation"
                        break
                elif grow:
                    self._grow_batch(batch, n_train)
                elif cut:
                    self.lr_factor *= plateau_values["factor"]
                    if s.verbose >= 2:
                        print(f"Learning rate lowered to {self.learning_rate * self.lr_factor:g}")
                elif not partial:
                    self.stop_reason = "min_lr" if plateau else "stalled"
                    break
            elif verdict.status == "converged" and not partial:
                # The test was passed by the weights the epoch started from: keep those.
                self.params, self.average = saved[0], saved[3]
                self.stop_reason = "converged"
                break
        if self.stop_reason in ("max_iter", "min_lr") and s.tol is not None and epochs > 0:
            self._warn_unconverged(gradient_test)
        if s.verbose == 1:
            sys.stderr.write("\n")
            sys.stderr.flush()
        if s.verbose and not partial:
            print(f"{STOP_REASONS[self.stop_reason]} after {self.n_iter} epochs took "
                  f"{time.perf_counter() - start:.2f} seconds", flush=True)
        if val is not None and best_params is not None and not partial:
            self.params, self.average = best_params
        if not partial and initial > 0 and self.loss_curve and self.loss_curve[-1] > initial:
            final = self._objective(engine, X, Y, sw_arg, train, mean, config,
                                    self._objective_penalty(l2, l1, kd))
            if not final <= initial:
                raise ValueError(
                    f"{s.owner} ended at objective {final:.6g}, above its start ({initial:.6g}): "
                    f"the learning rate {self.learning_rate * self.lr_factor:g} is too large for "
                    f"optimizer {s.optimizer if isinstance(s.optimizer, str) else s.optimizer.__name__!r}; "
                    f"try learning_rate='auto' or a smaller rate.")

    # -- the quasi-Newton path -------------------------------------------------------------
    def run_lbfgs(self, X: np.ndarray, Y: np.ndarray, sw_arg: np.ndarray | None,
                  sw: np.ndarray) -> None:
        """``optimizer="lbfgs"``: up to ``max_iter`` iterations of :func:`pygd._lbfgs.lbfgs`.

        Its function is the engine's one-pass ``objective_grad`` of the whole
        training set (the GIL released); L1 and elastic net run as OWL-QN on the
        coefficients (exact zeros).  The test is the gradient test of ``tol``
        (largest component of the least-norm subgradient at most
        ``tol * sqrt(2 * objective)``) together with the quasi-Newton estimate
        of the remaining gap (at most ``tol**2`` times the objective,
        ``tol**2 / 100`` with L1), asked at the start too, so a converged
        model refitted with ``warm_start`` stops at once.

        The hinge has a kink: it runs as a sequence of stages on the
        ``smoothed_hinge`` of width e = 1, 0.1, 0.01, ... from the last stage's
        weights, until the hinge objective exceeds the smoothed one by at
        most ``tol`` times itself at a stage's optimum.  As the smoothed
        hinge is below the hinge, the smoothed optimum is below the hinge
        optimum, so that excess bounds the hinge's relative gap.

        Raw columns (``standardize=False``) start from a diagonal guess of the
        inverse Hessian (:meth:`_inverse_curvature`); with an intercept (and
        outside the squared error's Newton path) the iterates are those of the
        implicitly centred model ``(x - mu) . w + c``, the same objective with
        ``c = b + w . mu`` (mu: the weighted column means), so the test reads
        that model's gradient; ``params`` hold ``b`` before and after.

        ``n_iter`` counts iterations (line searches) over all stages,
        ``passes`` the function evaluations; ``loss_curve`` holds the
        (smoothed) objective after each iteration.
        """
        s = self.settings
        d = X.shape[1]
        k = Y.shape[1]
        kd = k * d
        memory = s.lbfgs_memory(X.shape[0])
        l2, l1 = s.penalties()
        hinge = s.engine_loss == "hinge"
        config = _core.TrainOptions(
            loss=_core.Loss.__members__[s.engine_loss], epsilon=s.epsilon,
            fit_intercept=bool(s.fit_intercept), l2=l2, l1=l1, weight_per_row=1.0,
            average_start=-1, steps_per_epoch=1, schedule_offset=0.0, lr_factor=1.0,
            optimizer=_core.OptimizerOptions(kind=_core.OptimizerKind.sgd, lr=0.0, **OPTIMIZER_FIELDS),
            schedule=self.schedule)
        engine = kernel("objective_grad", X)
        mean = self.mean
        if mean is not None and not s.fit_intercept:
            mean = np.zeros(d)
        mask = None  # the L1 term's: coefficients 1, intercepts 0 (no vector without an L1 term)
        if l1:
            mask = np.zeros(kd + k)
            mask[:kd] = 1.0

        # The squared error's Hessian is constant: where L-BFGS is slow (ill-conditioned
        # features) one pass of second moments buys Newton steps that end in 1 or 2 passes.
        newton = s.engine_loss == "squared_error" and d <= GRAM_MAX_FEATURES
        # Raw columns (standardize=False: the objective of LogisticRegression, Ridge...) may
        # differ in curvature by orders of magnitude (text: frequent and rare words); a
        # diagonal guess of the inverse Hessian lets L-BFGS take them in its stride.  With an
        # intercept, L-BFGS also runs on the implicitly centred model (x - mu) . w + c: the
        # same objective (c = b + w . mu, unpenalised), whose Hessian lacks the large
        # mu mu^T term that positive features (counts, TF-IDF) couple every coefficient by.
        # The engine folds mu into the intercept and the gradient (O(k d) per pass, no copy
        # of X); the Gram-Newton path of the squared error keeps raw coordinates.
        h0 = centre = None
        if self.scale is None:
            centre_raw = bool(s.fit_intercept) and not newton
            h0, centre = self._inverse_curvature(X, Y, sw, l2, centre_raw)
            if centre is not None:
                mean, unit = centre, np.ones(d)

        start_value: list[tuple[float, np.ndarray]] = []  # the start's (f, grad): lbfgs asks first

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            if start_value:
                return start_value.pop()
            grad = np.empty(kd + k)  # lbfgs keeps the gradients it needs: a new one each time
            value, _, _ = engine(X, Y, sw_arg, None, x, grad, mean,
                                 self.scale if centre is None else unit, config)
            self.passes += 1
            return value, grad

        def objective(x: np.ndarray) -> float:  # with the L1 term
            return fun(x)[0] + l1 * float(np.abs(x[:kd]).sum())

        start = time.perf_counter()
        tol = s.tol

        # tol=None runs to max_iter (or to the limits of floating point); the hinge's stages
        # still need a test to move on to the next width: 1e-6 then.
        test_tol = tol if tol is not None else (1e-6 if hinge else None)

        def converged(F: float, pg: np.ndarray, gap: float) -> bool:
            # The gradient test, and the quasi-Newton estimate of the gap to the optimum
            # at most tol^2 F (a gradient test alone stops 1e-6..1e-5 above the optimum of
            # ill-conditioned problems: their small curvatures turn small gradients into gaps).
            return (test_tol is not None
                    and max(float(pg.max()), -float(pg.min())) <= test_tol * math.sqrt(2.0 * abs(F))
                    and gap <= test_tol * test_tol * abs(F) * (0.01 if l1 else 1.0))

        done = {"iterations": 0}

        def callback(iteration: int, F: float, x: np.ndarray, g: np.ndarray) -> bool:
            self.n_iter = done["iterations"] + iteration
            self.loss_curve.append(F)
            self._report(self.n_iter, F, start, s.max_iter)
            return s.callback is not None and s.callback(self.n_iter, F) is True

        x = self.params.astype(np.float64, copy=False)  # read only: lbfgs never writes into x
        # b -> c = b + w . mu: in place (no second copy of the parameters, 42 MB at 20 classes
        # x 2^18) where x is self.params, undone on the way out of an error; float32
        # parameters shift their float64 copy.
        in_place = centre is not None and x is self.params
        if centre is not None:
            x[kd:] += row_dots(x[:kd].reshape(k, d), centre)
        try:
            smooth0, grad0 = fun(x)
            f0 = smooth0 + l1 * float(np.abs(x[:kd]).sum()) if l1 else smooth0
            self.best_loss = min(self.best_loss, f0)
            if not math.isfinite(f0):
                check_finite_input(X)
                raise ValueError(f"The objective at the starting weights is {f0}: X, y or the "
                                 f"sample weights are too large for {X.dtype} arithmetic; rescale them.")
            if not hinge:  # the first stage of the hinge starts on another (smoothed) function
                start_value.append((smooth0, grad0))
            del grad0  # lbfgs holds the gradients it needs (a vector of the parameters' size)
            width = 1.0
            while True:
                if hinge:
                    config.loss = _core.Loss.smoothed_hinge
                    config.epsilon = width
                budget = s.max_iter - done["iterations"]
                result = lbfgs(fun, x, converged=converged,
                               max_iter=min(budget, NEWTON_AFTER) if newton else budget,
                               memory=memory, l1=l1, l1_mask=mask, callback=callback, copy=False,
                               h0=h0)
                x = result.x
                done["iterations"] += result.n_iter
                if newton and result.status == "max_iter" and done["iterations"] < s.max_iter:
                    newton = False
                    result = self._gram_newton(X, Y, sw_arg, mean, x, fun, converged, l2, l1,
                                               s.max_iter - done["iterations"], callback)
                    x = result.x
                    done["iterations"] += result.n_iter
                    if result.status == "stalled":  # the model Hessian did not help: L-BFGS goes on
                        continue
                if not hinge:
                    final = result.fun
                    break
                config.loss = _core.Loss.hinge
                final = objective(x)  # the hinge's own objective, whatever ended the stage
                if result.status != "converged":
                    break
                # hinge >= smoothed hinge, so min hinge >= min smoothed ~ F_smooth(x) (the stage
                # passed the test of tol): final - F_smooth(x) bounds the hinge's gap at x.
                excess = final - result.fun
                if (tol is not None and excess <= tol * final) or width < 1e-12:
                    break
                width *= 0.1
            self.best_loss = min(self.best_loss, final)
        except BaseException:  # (lbfgs never writes into its start: the same w . mu)
            if in_place:
                self.params[kd:] -= row_dots(self.params[:kd].reshape(k, d), centre)
            raise
        if centre is not None:  # c -> b = c - w . mu (x is lbfgs's own array, or self.params)
            x[kd:] -= row_dots(x[:kd].reshape(k, d), centre)
        self.params = x.astype(self.params.dtype, copy=False)  # (x: lbfgs's own, or params)
        if self.params.dtype != np.float64:
            # float32 rounding of the iterate must not add what L1 removed.
            self.params[:kd][x[:kd] == 0] = 0
        self.n_iter = done["iterations"]
        self.t = self.n_iter
        self.reference_objective = f0
        self.stop_reason = {"converged": "converged", "max_iter": "max_iter", "stalled": "stalled",
                            "callback": "callback"}[result.status]
        if s.verbose == 1:
            sys.stderr.write("\n")
            sys.stderr.flush()
        if s.verbose:
            print(f"{STOP_REASONS[self.stop_reason]} after {self.n_iter} iterations "
                  f"({self.passes} passes) took {time.perf_counter() - start:.2f} seconds", flush=True)
        if result.status == "max_iter" and tol is not None:
            self._warn_unconverged(True)
        elif result.status == "stalled" and tol is not None and not converged(result.fun, result.grad, 0.0):
            warnings.warn(
                f"{s.owner} (optimizer={s.optimizer!r}) stopped after {self.n_iter} iterations: "
                f"the line search found no lower objective in floating point, and the gradient "
                f"test (tol={tol}) was not passed (largest gradient component "
                f"{float(np.max(np.abs(result.grad))):.3g}); consider a larger tol, or float64 data.",
                ConvergenceWarning, stacklevel=3)

    def _inverse_curvature(self, X: Any, Y: Any, sw: Any, l2: float,
                           centre: bool) -> tuple[DiagonalGuess, np.ndarray | None]:
        """L-BFGS's diagonal guess of the inverse Hessian for raw columns, and the centre mu.

        The objective's curvature along coefficient (t, j) is about c m_j + l2,
        with m_j the weighted mean of x_j^2 over the rows (``centre``: the
        variance of x_j, the curvature of the centred model, and mu the
        weighted column means; else mu is None) and c the loss's second
        derivative: for the log losses the mean over the outputs of
        p_t (1 - p_t) at the class frequencies p_t (at least 0.01), 1 for the
        others; an intercept's is c.  (One c for all outputs: class frequencies
        per output made the tail of multinomial fits slower.)  One pass over X
        (the StandardScaler kernels: no copy, also for CSR X and Dask).
        """
        k = Y.shape[1]
        mu, scale = standardization_stats(X, sw, None, center=centre)
        m2 = scale.astype(np.float64) ** 2  # a column of zeros (or constant): 1 (gradient 0 anyway)
        c = 1.0
        if self.settings.engine_loss in ("log_loss", "multinomial"):
            p = weighted_mean(Y, sw)
            c = max(float(np.mean(p * (1.0 - p))), 0.01)
        # One d-vector for the k outputs' coefficients, float32: a guess needs no more.
        guess = DiagonalGuess((1.0 / (c * m2 + l2)).astype(np.float32), np.full(k, 1.0 / c))
        return guess, (mu.astype(np.float64) if centre else None)

    def _sparse_gram(self, X: Any, sw_arg: np.ndarray | None) -> np.ndarray:
        """``_core.gram_*``'s A for CSR X: the (d + 1, d + 1) second moments of (x / scale, 1).

        Sparse X is never centred (its mean is 0), so the moments are scipy's sparse
        products, ``Z^T diag(s) Z / S``: single-threaded, the same bits for any thread
        count, and O(nnz times the nonzeros per column) — at most GRAM_MAX_FEATURES columns.
        """
        Z = as_scipy(X).astype(np.float64)
        if self.scale is not None:
            Z = Z @ sp.diags(1.0 / self.scale)
        n, d = Z.shape
        w = np.ones(n) if sw_arg is None else np.asarray(sw_arg, dtype=np.float64)
        S = float(w.sum())
        A = np.empty((d + 1, d + 1))
        A[:d, :d] = (Z.T @ sp.diags(w) @ Z).toarray() / S
        A[:d, d] = A[d, :d] = (Z.T @ w) / S
        A[d, d] = 1.0
        return A

    def _gram_newton(self, X: np.ndarray, Y: np.ndarray, sw_arg: np.ndarray | None,
                     mean: np.ndarray | None, x: np.ndarray, fun: Any, converged: Any, l2: float,
                     l1: float, max_iter: int, callback: Any) -> LBFGSResult:
        """Newton steps for the squared error from ``x``, with its exact Hessian from one pass.

        ``_core.gram_*`` gives the standardised rows' second moments A (and the
        L2 term adds l2 on the coefficients' diagonal): the Hessian H of every
        output's (w_t, b_t).  Each step solves the model
        ``g . D + D H D / 2 (+ l1 |x + D|)`` — a Cholesky solve, or with L1 a
        proximal Newton step (OWL-QN on the model, no pass over the data) —
        and moves there; the model's decrease is the test's gap estimate
        (exact for a quadratic).  Each step is one pass (the gradient at the
        new point).  Returns status "stalled" if a step does not lower the
        objective (H inaccurate), for L-BFGS to go on from the last point.
        """
        from scipy.linalg import cho_factor, cho_solve

        s = self.settings
        d, k = X.shape[1], Y.shape[1]
        kd = k * d
        m = d + 1 if s.fit_intercept else d
        shift = x[kd:].copy() if s.fit_intercept else np.zeros(k)
        if is_csr(X):
            A = self._sparse_gram(X, sw_arg)
        else:
            A = kernel("gram", X)(X, Y, sw_arg, None, mean, self.scale, shift)[0]
        self.passes += 1
        H = A[:m, :m].copy()
        H[np.arange(d), np.arange(d)] += l2
        jitter = 1e-13 * max(float(np.trace(H)) / m, np.finfo(np.float64).tiny)
        while True:  # constant columns (scale 1, z = 0) make H singular without L2
            try:
                factor = cho_factor(H + jitter * np.eye(m))
                break
            except np.linalg.LinAlgError:
                jitter *= 100.0

        def unpack(v: np.ndarray) -> np.ndarray:
            P = np.zeros((k, m))
            P[:, :d] = v[:kd].reshape(k, d)
            if s.fit_intercept:
                P[:, d] = v[kd:]
            return P

        def pack(P: np.ndarray) -> np.ndarray:
            v = np.zeros(kd + k)
            v[:kd] = P[:, :d].ravel()
            if s.fit_intercept:
                v[kd:] = P[:, d]
            return v

        mask = np.zeros(kd + k)
        mask[:kd] = 1.0

        def penalty(v: np.ndarray) -> float:
            return l1 * float(np.abs(v[:kd]).sum())

        f, g = fun(x)
        F = f + penalty(x)
        it = 0
        while True:
            pg = pseudo_gradient(x, g, l1, mask if l1 else None)
            G = unpack(g)
            if l1 == 0:
                D = -cho_solve(factor, G.T).T
                model = float(np.sum(G * D) + 0.5 * np.sum(D * (D @ H)))
                xn = x + pack(D)
            else:
                x0 = x

                def quadratic(v: np.ndarray) -> tuple[float, np.ndarray]:
                    D = unpack(v - x0)
                    HD = D @ H
                    return float(np.sum(G * D) + 0.5 * np.sum(D * HD)), pack(G + HD)

                # The model to well within the outer test (its own gap estimate is exact-ish:
                # the model is the quadratic it is minimising).
                tight = 1e-4 * (s.tol if s.tol is not None else 1e-4) ** 2 * max(abs(F), 1e-300)
                sub = lbfgs(quadratic, x, converged=lambda Fq, pgq, gap: gap <= tight, max_iter=5_000,
                            l1=l1, l1_mask=mask)
                xn = sub.x
                model = sub.fun - penalty(x)  # the model's value at xn, relative to F at x
            decrease = -model
            if converged(F, pg, decrease):
                return LBFGSResult(x=x, fun=F, grad=pg, n_iter=it, n_fun=0, status="converged")
            if it >= max_iter:
                return LBFGSResult(x=x, fun=F, grad=pg, n_iter=it, n_fun=0, status="max_iter")
            fn, gn = fun(xn)
            Fn = fn + penalty(xn)
            if not Fn < F:
                return LBFGSResult(x=x, fun=F, grad=pg, n_iter=it, n_fun=0, status="stalled")
            x, f, g, F = xn, fn, gn, Fn
            it += 1
            if callback(it, F, x, g):
                pg = pseudo_gradient(x, g, l1, mask if l1 else None)
                return LBFGSResult(x=x, fun=F, grad=pg, n_iter=it, n_fun=0, status="callback")

    def _warn_unconverged(self, gradient_test: bool) -> None:
        """ConvergenceWarning for a fit that ended without passing its stopping test."""
        s = self.settings
        if self.stop_reason == "max_iter":
            warnings.warn(
                f"{s.owner} reached max_iter={s.max_iter} "
                f"{'iterations' if self.quasi_newton else 'epochs'} before the objective "
                f"stopped improving (tol={s.tol}); consider increasing max_iter or "
                f"learning_rate.", ConvergenceWarning, stacklevel=4)
        elif gradient_test:  # "min_lr" passes the relative test, not the gradient test
            warnings.warn(
                f"{s.owner} stopped after {self.n_iter} epochs: the learning rate cannot fall "
                f"below min_lr={self.settings.schedule_values()['min_lr']:g}, and the gradient "
                f"test (tol={s.tol}) was not passed; consider a larger max_iter with "
                f"n_iter_no_change larger, or a smaller min_lr.", ConvergenceWarning, stacklevel=4)

    def _grow_batch(self, batch: int, n_train: int) -> None:
        """An "auto" batch at a stall: average the gradient noise away rather than shrink the steps.

        The schedule's clock keeps counting passes over the data.
        """
        self.batch_factor *= batch_growth(n_train)
        if self.auto_rule is not None:  # "auto" rates follow the batch
            self.lr_factor *= (self._rate_for_batch(self.batch_rows(n_train), n_train)
                               / self._rate_for_batch(batch, n_train))
        steps_per_epoch = -(-n_train // self.batch_rows(n_train))
        self.schedule_offset = float(self.n_iter * steps_per_epoch) - self.counters.steps
        if self.settings.verbose >= 2:
            print(f"Batch size raised to {self.batch_rows(n_train)}")

    def _recover(self, X: np.ndarray, epoch: int, finite: bool, loss: float) -> None:
        """After a diverged epoch (state already restored): lower the rate, or raise ValueError."""
        s = self.settings
        name = s.optimizer if isinstance(s.optimizer, str) else s.optimizer.__name__
        rate = self.learning_rate * self.lr_factor
        what = "non-finite" if not finite else f"{loss:.3g}"
        if self.divergences >= MAX_RECOVERIES:
            big = max_abs(X)
            hint = (f"X has values as large as {big:.3g}: rescale X (and y)" if big > 1e150 else
                    f"try learning_rate={rate * 0.01:g} or learning_rate='auto'")
            raise ValueError(
                f"{s.owner} diverged in epoch {epoch} (the objective became {what}) with optimizer "
                f"{name!r} even after lowering the learning rate {MAX_RECOVERIES} times "
                f"(from {self.learning_rate:g} to {rate:g}); {hint}.")
        self.divergences += 1
        self.lr_factor *= 0.1
        if s.verbose >= 2:
            print(f"Epoch {epoch} diverged (objective {what}) with optimizer {name!r} at rate "
                  f"{rate:g}: restored the epoch's start, rate lowered to {rate * 0.1:g}")

    def _report(self, epoch: int, loss: float, start: float, total: int | None) -> None:
        verbose = self.settings.verbose
        if verbose >= 2:
            lr = self.learning_rate * self.lr_factor
            print(f"Epoch {epoch}, loss {loss:.6g}, lr {lr:.3g}, steps {self.t}, "
                  f"time {time.perf_counter() - start:.3f} s", flush=True)
        elif verbose == 1:
            width = 30
            if total:
                filled = min(width, int(width * epoch / total))
                bar = f"[{'#' * filled}{'.' * (width - filled)}] {epoch}/{total}"
            else:
                bar = f"epoch {epoch}"
            sys.stderr.write(f"\r{bar} loss {loss:.6g}")
            sys.stderr.flush()
