"""BaseGD: what GDRegressor and GDClassifier share — parameters, constraints, the fit template.

A concrete estimator validates its data and encodes its targets, then calls
:meth:`BaseGD._fit` or :meth:`BaseGD._partial_fit`, which build or continue
one :class:`~pygd.linear_model._trainer.Trainer` (the training state), run its
epochs and publish the fitted attributes.  Imports go one way: the concrete
estimators import this module, this module imports the trainer.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _core
from .._config import threads
from .._names import KINKED_LOSSES, QUASI_NEWTON, SCHEDULES
from ._data import engine_input
from ._settings import OPTIMIZER_CLASSES, Settings
from ._trainer import Trainer

__all__ = ["BaseGD"]


def _tame_weights(sw_arg: np.ndarray | None,
                  sw: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Sample weights so large that sums of weighted losses overflow, divided by their maximum.

    The objective is a weighted *mean*, so this changes nothing but the rounding;
    weights up to 1e100 are used as given (bitwise the same results as always).
    """
    top = float(np.max(sw)) if sw.size else 0.0
    if not np.isfinite(top):
        raise ValueError("sample_weight contains infinity")
    if top <= 1e100:
        return sw_arg, sw
    scaled = np.ascontiguousarray(sw / sw.dtype.type(top))
    return scaled, scaled


class BaseGD(BaseEstimator):
    """Shared parameters and the fit / partial_fit template of pygd's linear estimators.

    A subclass stores its parameters in ``__init__`` (scikit-learn's rule) and
    provides ``_engine_loss()`` (the engine's loss name and epsilon) and
    ``_validation_score`` (a function ``(P, Y, s) -> float``, the early-stopping
    score of predictions ``P`` against targets ``Y`` with weights ``s``).

    Examples
    --------
    >>> from pygd.linear_model import GDClassifier, GDRegressor
    >>> from pygd.linear_model._base import BaseGD
    >>> issubclass(GDRegressor, BaseGD) and issubclass(GDClassifier, BaseGD)
    True
    """

    #: Constraints of the parameters both estimators take (scikit-learn's validation).
    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "optimizer": [StrOptions(set(OPTIMIZER_CLASSES) | set(QUASI_NEWTON) | {"auto"}), type],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer_params": [dict, None],
        "lr_schedule": [StrOptions(set(SCHEDULES))],
        "schedule_params": [dict, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"full", "auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "standardize": ["boolean", StrOptions({"scale"})],
        "average": [Interval(numbers.Integral, 0, None, closed="left"), "boolean"],
        "sparse_updates": [StrOptions({"lazy", "dense"})],
        "warm_start": ["boolean"],
        "n_jobs": [Interval(numbers.Integral, 1, None, closed="left"),
                   Options(numbers.Integral, {-1}), None],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    #: What optimizer="auto" runs where L-BFGS does not apply (a first-order optimizer).
    _first_order_default: str = "adam"
    #: optimizer name -> (pygd.optim class, presets).
    _optimizer_presets: dict[str, tuple[type, dict[str, Any]]] = OPTIMIZER_CLASSES
    #: learning_rate="auto" for the whole training set as one batch, where it differs.
    _adaptive_full_rates: dict[type, float] = {}

    # -- hooks -------------------------------------------------------------------------
    def _engine_loss(self) -> tuple[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _default_intercept(self, Y: np.ndarray, sw: np.ndarray,
                           labels: np.ndarray | None = None) -> np.ndarray | None:
        """The intercepts a fresh model starts from (None: the trainer's weighted mean of Y).

        ``labels``: the rows' class positions (classifiers), else None.
        """
        return None

    @staticmethod
    def _validation_score(P: np.ndarray, Y: np.ndarray, s: np.ndarray) -> float:  # pragma: no cover
        raise NotImplementedError

    # -- the template --------------------------------------------------------------------
    def _resolved_optimizer(self, loss: str, partial: bool) -> Any:
        """``optimizer``, with "auto" resolved: "lbfgs" for a full-batch fit of a smooth loss
        where no parameter asks for steps of a first-order optimizer, else the estimator's
        first-order default (see the ``optimizer`` parameter)."""
        if self.optimizer != "auto":
            return self.optimizer
        quasi_newton = (not partial and (loss not in KINKED_LOSSES or loss == "hinge")
                        and self.batch_size in ("auto", "full") and self.learning_rate == "auto"
                        and self.lr_schedule == "plateau" and not self.schedule_params
                        and not self.optimizer_params and not self.early_stopping and not self.average)
        return "lbfgs" if quasi_newton else self._first_order_default

    def _settings(self, partial: bool = False) -> Settings:
        """The parameters as the trainer reads them (fresh at every fit / partial_fit call)."""
        loss, epsilon = self._engine_loss()
        return Settings(
            engine_loss=loss, epsilon=epsilon, penalty=self.penalty, alpha=self.alpha,
            l1_ratio=self.l1_ratio, fit_intercept=self.fit_intercept,
            optimizer=self._resolved_optimizer(loss, partial),
            learning_rate=self.learning_rate, optimizer_params=self.optimizer_params,
            lr_schedule=self.lr_schedule, schedule_params=self.schedule_params,
            batch_size=self.batch_size, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction, shuffle=self.shuffle,
            standardize=self.standardize, average=self.average,
            sparse_updates=self.sparse_updates, verbose=self.verbose,
            callback=self.callback, validation_score=type(self)._validation_score,
            owner=type(self).__name__, optimizer_presets=self._optimizer_presets,
            adaptive_full_rates=self._adaptive_full_rates,
        )

    def _fit(self, X: np.ndarray, Y: np.ndarray, one_d: bool, sw_arg: np.ndarray | None,
             sw: np.ndarray, coef_init: Any, intercept_init: Any,
             stratify: np.ndarray | None = None) -> None:
        """Up to ``max_iter`` epochs on a fresh trainer (or, with warm_start, the last one), then publish."""
        X = engine_input(X)
        sw_arg, sw = _tame_weights(sw_arg, sw)
        previous: Trainer | None = getattr(self, "_trainer", None)
        fits = (self.warm_start and previous is not None and coef_init is None and intercept_init is None
                and previous.params.dtype == X.dtype and previous.n_outputs == Y.shape[1]
                and previous.params.size == Y.shape[1] * (X.shape[1] + 1))
        settings = self._settings()
        if fits and previous.settings.optimizer == settings.optimizer \
                and previous.settings.optimizer_params == self.optimizer_params:
            # Continue where the last fit stopped: weights, optimizer state, batch size, rate.
            trainer = previous
            trainer.restart(settings, X, sw, stratify)
        else:
            if fits:  # another optimizer: a new one, from the last fit's weights
                coef_init, intercept_init = previous.weights(X.shape[1])
                if not self.fit_intercept:
                    intercept_init = None
            if coef_init is None and intercept_init is None:
                intercept_init = self._default_intercept(Y, sw, stratify)
            rng = check_random_state(self.random_state)
            trainer = Trainer(settings, X, Y, sw, rng, coef_init, intercept_init, one_d=one_d,
                              stratify=stratify)
            self._trainer = trainer
        trainer.passes = 0  # n_passes_: this call's
        with threads(self.n_jobs):
            if trainer.quasi_newton:
                trainer.run_lbfgs(X, Y, sw_arg, sw)
            else:
                trainer.run_epochs(X, Y, sw_arg, sw, self.max_iter, trainer.rng)
        self._publish(trainer, X)

    def _partial_fit(self, X: np.ndarray, Y: np.ndarray, one_d: bool, sw_arg: np.ndarray | None,
                     sw: np.ndarray, stratify: np.ndarray | None = None) -> None:
        """One epoch on a new or continued trainer (set up from this call's data when new)."""
        X = engine_input(X)
        settings = self._settings(partial=True)
        if settings.quasi_newton:
            raise ValueError(f"partial_fit needs a stochastic optimizer; optimizer={self.optimizer!r} "
                             "works on the whole training set at once (use fit)")
        sw_arg, sw = _tame_weights(sw_arg, sw)
        trainer: Trainer | None = getattr(self, "_trainer", None)
        if trainer is None:
            rng = check_random_state(self.random_state)
            trainer = Trainer(settings, X, Y, sw, rng, None, self._default_intercept(Y, sw, stratify),
                              partial=True, one_d=one_d)
            self._trainer = trainer
        elif trainer.settings.optimizer != settings.optimizer:
            # Fitted by another optimizer (an L-BFGS fit, or optimizer changed): a stochastic
            # trainer set up from this call's data that starts from the fitted weights.
            if Y.shape[1] != trainer.n_outputs:
                raise ValueError(f"y has {Y.shape[1]} targets; this model was fitted with "
                                 f"{trainer.n_outputs}")
            coef, intercept = trainer.weights(X.shape[1])
            previous = trainer
            trainer = Trainer(settings, X, Y, sw, previous.rng, coef,
                              intercept if self.fit_intercept else None, partial=True,
                              one_d=previous.one_d)
            trainer.n_iter = previous.n_iter
            self._trainer = trainer
        else:
            trainer.settings = settings
            if Y.shape[1] != trainer.n_outputs:
                raise ValueError(f"y has {Y.shape[1]} targets; this model was fitted with "
                                 f"{trainer.n_outputs}")
        if X.dtype != trainer.params.dtype:
            raise ValueError(f"X has dtype {X.dtype}; this model was fitted with {trainer.params.dtype}")
        trainer.passes = 0  # n_passes_: this call's
        with threads(self.n_jobs):
            trainer.run_epochs(X, Y, sw_arg, sw, 1, trainer.rng, partial=True, stratify=stratify)
        self._publish(trainer, X)

    def _publish(self, trainer: Trainer, X: np.ndarray) -> None:
        """The fitted attributes, from the trainer's state."""
        coef, intercept = trainer.weights(X.shape[1])
        self.coef_ = (coef[0] if trainer.one_d else coef).astype(X.dtype, copy=False)  # (new arrays)
        self.intercept_ = intercept.astype(X.dtype)
        self.learning_rate_ = trainer.learning_rate
        self.mean_ = trainer.mean
        self.scale_ = trainer.scale
        self.optimizer_ = trainer.settings.optimizer
        self.n_iter_ = trainer.n_iter
        self.n_passes_ = trainer.passes
        self.t_ = trainer.t
        # Copies: the trainer's lists grow with later partial_fit / warm-start epochs, and
        # what was published must not change unless the estimator publishes again.
        self.loss_curve_ = list(trainer.loss_curve)
        self.best_loss_ = trainer.best_loss
        self.validation_scores_ = (None if trainer.validation_scores is None
                                   else list(trainer.validation_scores))
        self.best_validation_score_ = trainer.best_validation_score
        self.stop_reason_ = trainer.stop_reason
        self.n_divergences_ = trainer.divergences

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X: CSR kernels, never densified
        return tags

    def sparsify(self) -> BaseGD:
        """Store ``coef_`` as a scipy.sparse CSR matrix (scikit-learn's SparseCoefMixin).

        Worth it when most coefficients are zero (an L1 penalty): ``predict`` and
        the other methods work on the sparsified model; a later ``fit`` or
        ``partial_fit`` stores a dense ``coef_`` again.

        Returns
        -------
        self : the estimator

        Examples
        --------
        >>> import numpy as np
        >>> from pygd.linear_model import GDRegressor
        >>> X = np.random.default_rng(0).normal(size=(50, 4))
        >>> reg = GDRegressor(penalty="l1", alpha=0.5).fit(X, X[:, 0])
        >>> reg.sparsify().coef_.format
        'csr'
        """
        check_is_fitted(self, "coef_")
        if not sp.issparse(self.coef_):
            self.coef_ = sp.csr_matrix(np.atleast_2d(self.coef_))
        return self

    def densify(self) -> BaseGD:
        """Store ``coef_`` as a NumPy array again (the inverse of :meth:`sparsify`).

        Returns
        -------
        self : the estimator

        Examples
        --------
        >>> import numpy as np
        >>> from pygd.linear_model import GDRegressor
        >>> X = np.random.default_rng(0).normal(size=(50, 4))
        >>> reg = GDRegressor().fit(X, X[:, 0]).sparsify().densify()
        >>> type(reg.coef_).__name__, reg.coef_.shape
        ('ndarray', (4,))
        """
        check_is_fitted(self, "coef_")
        if sp.issparse(self.coef_):
            coef = self.coef_.toarray()
            self.coef_ = coef[0] if getattr(self._trainer, "one_d", False) else coef
        return self

    def _decision(self, X: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_`` as (n, outputs), computed in float64, in X's float dtype."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C", accept_sparse="csr",
                          reset=False)
        X = engine_input(X)
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_  # sparsify()
        coef = np.ascontiguousarray(np.atleast_2d(coef), dtype=np.float64)
        intercept = np.ascontiguousarray(self.intercept_, dtype=np.float64)
        predict = _core.batch_predict_f32 if X.dtype == np.float32 else _core.batch_predict_f64
        with threads(self.n_jobs):
            return predict(X, None, coef, intercept)
