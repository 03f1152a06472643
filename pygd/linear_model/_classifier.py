"""GDClassifier: linear classification by (mini-batch) gradient descent on pygd's C++ engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from .. import optim
from .._names import CLASSIFICATION_LOSSES, PROBA_LOSSES
from ..dask import dask_call, is_dask_collection
from ._base import BaseGD
from ._data import dot, weighted_mean
from ._settings import OPTIMIZER_CLASSES

__all__ = ["GDClassifier"]


def _has_proba(estimator: "GDClassifier") -> bool:
    if estimator.loss not in PROBA_LOSSES:
        raise AttributeError(f"probability estimates are not available for loss={estimator.loss!r}")
    return True


def weighted_accuracy(P: np.ndarray, Y: np.ndarray, s: np.ndarray) -> float:
    """Weighted accuracy of the decisions P against the encoded targets Y."""
    if P.shape[1] == 1:
        right = (P[:, 0] > 0) == (Y[:, 0] > 0)
    else:
        right = P.argmax(axis=1) == Y.argmax(axis=1)
    return dot(s.astype(np.float64, copy=False), right.astype(np.float64)) / float(s.sum())


class GDClassifier(ClassifierMixin, BaseGD):
    r"""Linear classifier trained by (mini-batch) gradient descent in C++.

    The same engine, optimizers, schedules, batching, standardisation, early
    stopping, determinism and progress reporting as :class:`GDRegressor`.
    Minimises, over weights :math:`W` (one row per output) and intercepts,

    .. math::

        \frac{\sum_i s_i\, \ell_i}{\sum_i s_i}
        + \alpha\Big(\frac{1 - \rho}{2}\|W\|_2^2 + \rho\|W\|_1\Big)

    where :math:`s_i` is the sample weight times the class weight, and
    :math:`\ell_i` is

    - ``"log_loss"`` with two classes: the sigmoid cross-entropy
      :math:`\log(1 + e^{p}) - y p` of one output (y = 1 for ``classes_[1]``);
      with more classes and ``multi_class="multinomial"``: the softmax
      cross-entropy over all k outputs at once,
      :math:`\operatorname{lse}(p_i) - p_{i, y_i}` (log-sum-exp, one pass over
      each batch); with ``multi_class="ovr"``: k independent sigmoid losses;
    - ``"hinge"`` :math:`\max(0, 1 - z)`, ``"squared_hinge"``
      :math:`\max(0, 1 - z)^2`, ``"modified_huber"`` (:math:`\max(0, 1 - z)^2`
      for :math:`z \ge -1`, else :math:`-4z`), ``"perceptron"``
      :math:`\max(0, -z)`, with :math:`z = p\,y` and :math:`y = \pm 1`,
      summed over the outputs one-vs-rest (one output for two classes); all
      classes' gradients come from the same pass over each batch.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"}, default="log_loss"
    penalty, alpha, l1_ratio, fit_intercept, learning_rate, optimizer_params, lr_schedule, schedule_params, batch_size, max_iter, tol, n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, standardize, average, sparse_updates, warm_start, n_jobs, verbose, callback
        As :class:`GDRegressor`, with its defaults (so ``batch_size="auto"``
        and the gradient test of ``tol`` once the batch is the whole training
        set); with ``early_stopping`` the validation score is the (weighted)
        accuracy.  ``learning_rate="auto"`` for Adam, AdamW and NAdam is
        0.1 for the whole training set as one batch (standardised features and
        a loss whose curvature is at most 1/4 or 1/2 of the squared error's)
        and ``0.01 sqrt(B / 32)`` (at most 0.1) for batches of B rows, as the
        gradient noise shrinks like ``1 / sqrt(B)``; "auto" batches raise the
        rate as they grow.
    optimizer : str or pygd.optim optimizer class, default="auto"
        As :class:`GDRegressor`: "auto" is "lbfgs" for the smooth losses
        ("log_loss", "squared_hinge", "modified_huber") where it applies,
        else "adam" (the kinked losses "hinge" and "perceptron", mini-batch
        settings, ``partial_fit``).  The names "adam", "adamw" and
        "nadam" preset ``betas=(0.9, 0.9)`` (``optimizer_params`` overrides;
        the classes ``pygd.optim.Adam`` etc. keep torch's 0.999).  On nearly
        separable data the optimum lies far out along directions of tiny
        curvature; momentum SGD at a stable rate needs tens of thousands of
        epochs there, and Adam with beta2 = 0.999 keeps the memory of early,
        large gradients for about a thousand steps, so its steps stay small
        once the gradients have shrunk.  With beta2 = 0.9 an "adam" fit
        reaches LogisticRegression's log-loss within 1e-4 in about 200 epochs
        on scikit-learn's breast_cancer, iris and digits data.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes (``{label: weight}``); "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))``.  Multiplied into
        ``sample_weight``.
    multi_class : {"multinomial", "ovr"}, default="multinomial"
        For ``loss="log_loss"`` with more than two classes: one softmax over
        all classes, or one sigmoid per class (probabilities normalised as
        scikit-learn's one-vs-rest).  The other losses are always one-vs-rest.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        One row for two classes (the decision for ``classes_[1]``), in X's units
        and dtype.
    intercept_ : ndarray of shape (1,) or (n_classes,)
    optimizer_, n_iter_, n_passes_, t_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, mean_, scale_, n_features_in_, feature_names_in_
        As :class:`GDRegressor`.

    See Also
    --------
    GDRegressor : the same engine for regression.
    sklearn.linear_model.SGDClassifier : one sample at a time, one-vs-rest only.
    sklearn.linear_model.LogisticRegression : the exact optimum of the log-loss objective.

    Notes
    -----
    With ``standardize=True`` the penalty applies to the weights of the
    standardised features, so the objective for ``loss="log_loss"`` equals
    ``LogisticRegression(C=1 / (alpha * n_samples))`` fitted on
    ``StandardScaler().fit_transform(X)`` (unit sample weights).  The
    intercepts start at the log-odds of the weighted class frequencies for
    ``"log_loss"`` (clipped to [1e-3, 1 - 1e-3]) and at 0 for the other losses.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pygd.linear_model import GDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = GDClassifier(random_state=0).fit(X, y)
    >>> clf.coef_.shape, round(clf.score(X, y), 2) >= 0.95
    ((3, 4), True)
    >>> clf.predict_proba(X[:1]).round(2).sum()
    np.float64(1.0)
    """

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "multi_class": [StrOptions({"multinomial", "ovr"})],
    }

    def __init__(
        self,
        loss: str = "log_loss",
        *,
        penalty: str | None = "l2",
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        optimizer: str | type = "auto",
        learning_rate: Any = "auto",
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
        standardize: bool | str = True,
        average: bool | int = False,
        sparse_updates: str = "lazy",
        warm_start: bool = False,
        n_jobs: int | None = None,
        verbose: int = 0,
        callback: Callable[[int, float], Any] | None = None,
        class_weight: dict | str | None = None,
        multi_class: str = "multinomial",
    ) -> None:
        self.loss = loss
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
        self.sparse_updates = sparse_updates
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.callback = callback
        self.class_weight = class_weight
        self.multi_class = multi_class

    # -- hooks of the fit template --------------------------------------------------------
    def _engine_loss(self) -> tuple[str, float]:
        return self._outputs()[0], 0.1

    #: "adam", "adamw", "nadam": beta2 = 0.9 (see the ``optimizer`` parameter).
    _optimizer_presets = {
        **OPTIMIZER_CLASSES,
        **{name: (cls, {**presets, "betas": (0.9, 0.9)})
           for name, (cls, presets) in OPTIMIZER_CLASSES.items() if name in ("adam", "adamw", "nadam")},
    }
    _adaptive_full_rates = {optim.Adam: 0.1, optim.AdamW: 0.1, optim.NAdam: 0.1}
    _validation_score = staticmethod(weighted_accuracy)

    # -- data ----------------------------------------------------------------------
    def _outputs(self) -> tuple[str, int]:
        """The engine's loss and number of outputs for ``classes_``."""
        n_classes = len(self.classes_)
        if self.loss == "log_loss":
            if n_classes == 2:
                return "log_loss", 1
            return ("multinomial" if self.multi_class == "multinomial" else "log_loss"), n_classes
        return self.loss, 1 if n_classes == 2 else n_classes

    def _encode(self, y_index: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Targets (n, outputs): 0/1 for the log losses, -1/+1 for the hinge family."""
        engine, k = self._outputs()
        low = 0.0 if engine in ("log_loss", "multinomial") else -1.0
        n = len(y_index)
        if k == 1:
            Y = np.where(y_index == 1, 1.0, low)[:, None]
        else:
            Y = np.full((n, k), low)
            Y[np.arange(n), y_index] = 1.0
        return np.ascontiguousarray(Y, dtype=dtype)

    def _class_index(self, y: np.ndarray) -> np.ndarray:
        """Positions of y's labels in ``classes_``; unknown labels raise ValueError."""
        classes = self.classes_
        if y.dtype.kind in "iu" and classes.dtype.kind in "iu" and len(y) and \
                np.array_equal(classes, np.arange(len(classes))) and \
                y.min() >= 0 and y.max() < len(classes):
            return y.astype(np.intp, copy=False)  # labels 0 .. k-1 are their own positions
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(f"y contains labels not in classes {self.classes_.tolist()}: "
                             f"{np.unique(np.asarray(y)[unknown]).tolist()}")
        return index

    def _weights(self, X: np.ndarray, y_index: np.ndarray, sample_weight: Any,
                 class_weight: Any) -> tuple[np.ndarray | None, np.ndarray]:
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        weighted = sample_weight is not None
        if class_weight is not None:
            cw = compute_class_weight(class_weight, classes=self.classes_,
                                      y=self.classes_[y_index])
            sw = sw * cw[y_index].astype(X.dtype)  # a new array: the caller's is never written
            weighted = True
        if not sw.max(initial=0.0) > 0:  # non-negative: the same as a positive sum, without overflow
            raise ValueError("sample_weight must have a positive sum")
        return (np.ascontiguousarray(sw) if weighted else None), sw

    def _default_intercept(self, Y: np.ndarray, sw: np.ndarray,
                           labels: np.ndarray | None = None) -> np.ndarray:
        engine, k = self._outputs()
        if engine not in ("log_loss", "multinomial"):
            return np.zeros(k)
        if k > 1 and labels is not None and not hasattr(Y, "weighted_mean"):
            # The class frequencies from the labels (Y one-hot: weighted_mean's sum over the
            # rows adds each class's weights in row order, as bincount does: the same bits,
            # without three passes over the n x k targets)
            w = sw.astype(np.float64)
            mean = np.bincount(labels, weights=w, minlength=k) / w.sum()
        else:
            mean = weighted_mean(Y, sw)
        frequency = np.clip(mean, 1e-3, 1 - 1e-3)
        if engine == "multinomial":
            return np.log(frequency)
        return np.log(frequency) - np.log1p(-frequency)

    # -- public API ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None, coef_init: Any = None,
            intercept_init: Any = None) -> "GDClassifier":
        """Fit the model: up to ``max_iter`` epochs of the engine.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            float32 stays float32; other dtypes become float64.  C-contiguous
            float arrays are never copied.
        y : array-like of shape (n_samples,)
            Class labels of any type scikit-learn accepts.
        sample_weight : array-like of shape (n_samples,), default=None
        coef_init : array-like of shape (n_outputs, n_features), default=None
            Starting weights in X's units (n_outputs = 1 for two classes).
        intercept_init : array-like of shape (n_outputs,), default=None

        Returns
        -------
        self : GDClassifier
        """
        if is_dask_collection(X):  # trained on a dask.distributed cluster (pygd.dask)
            return dask_call("fit", self, X, y, sample_weight, coef_init, intercept_init)
        previous_classes = getattr(self, "classes_", None)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C", accept_sparse="csr", reset=True,
                             ensure_all_finite=False)  # checked by the training (Trainer.run_epochs)
        check_classification_targets(y)
        # (np.unique without the inverse needs no sort of y; labels 0 .. k-1 are their own
        # positions, others are found by a binary search: 28 ms less at 2e5 rows)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{len(self.classes_)} class")
        y_index = self._class_index(y)
        sw_arg, sw = self._weights(X, y_index, sample_weight, self.class_weight)
        Y = self._encode(y_index, X.dtype)
        if hasattr(self, "_trainer") and not (
                self.warm_start and previous_classes is not None
                and np.array_equal(previous_classes, self.classes_)):
            del self._trainer  # a fresh start (warm_start continues only with the same classes)
        self._fit(X, Y, False, sw_arg, sw, coef_init, intercept_init, stratify=y_index)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> "GDClassifier":
        """One epoch over (X, y), continuing the optimizer state and the schedule.

        The first call needs ``classes`` (every label the model will see) and
        sets up the model, its standardisation statistics and intercepts from
        this call's data.  ``partial_fit`` called E times on the same data gives
        the same ``coef_`` bit for bit as ``fit`` with ``max_iter=E, tol=None``
        (same ``random_state``, no ``early_stopping``, ``classes`` all present).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Required on the first call, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GDClassifier
        """
        if is_dask_collection(X):
            return dask_call("partial_fit", self, X, y, sample_weight, classes=classes)
        first = not hasattr(self, "_trainer")
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, y=y). "
                "In place of y you can use a large enough sample of the full training set "
                "target to properly estimate the class frequency distributions. Pass the "
                "resulting weights as the class_weight parameter.")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C", accept_sparse="csr", reset=first,
                             ensure_all_finite=False)  # checked by the training (Trainer.run_epochs)
        if first:
            # Later calls need no check: _class_index accepts only labels in classes_.
            check_classification_targets(y)
            _check_partial_fit_first_call(self, classes)
            if len(self.classes_) < 2:
                raise ValueError(f"The number of classes has to be greater than one; got "
                                 f"{len(self.classes_)} class")
        y_index = self._class_index(y)
        sw_arg, sw = self._weights(X, y_index, sample_weight, self.class_weight)
        Y = self._encode(y_index, X.dtype)
        self._partial_fit(X, Y, False, sw_arg, sw, stratify=y_index)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed scores ``X @ coef_.T + intercept_`` (in float64, rounded to X's float dtype).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive: ``classes_[1]``),
        else (n_samples, n_classes)
        """
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "decision_function", X)
        out = self._decision(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: the sign of the decision (two classes) or its argmax.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) with labels from ``classes_``
        """
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "predict", X)
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed stably for ``loss="log_loss"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
        """
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "predict_log_proba", X)
        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        if self.loss == "log_loss":
            if scores.ndim == 1:
                return np.column_stack([log_expit(-scores), log_expit(scores)])
            if self.multi_class == "multinomial":
                return log_softmax(scores, axis=1)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (``loss`` "log_loss" or "modified_huber").

        "log_loss": the sigmoid (two classes), the softmax
        (``multi_class="multinomial"``) or scikit-learn's normalised
        one-vs-rest sigmoids, all without overflow for any finite decision;
        "modified_huber": scikit-learn's ``(clip(decision, -1, 1) + 1) / 2``,
        normalised over the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64, rows summing to 1
        """
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "predict_proba", X)
        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        if self.loss == "log_loss":
            if scores.ndim == 1:
                return np.column_stack([expit(-scores), expit(scores)])
            if self.multi_class == "multinomial":
                return np.exp(log_softmax(scores, axis=1))
            prob = expit(scores)
            return prob / prob.sum(axis=1, keepdims=True)
        prob = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if prob.ndim == 1:
            return np.column_stack([1.0 - prob, prob])
        total = prob.sum(axis=1)
        all_zero = total == 0
        if np.any(all_zero):
            prob[all_zero, :] = 1.0
            total[all_zero] = len(self.classes_)
        return prob / total[:, None]
