"""GDRegressor: linear regression by (mini-batch) gradient descent on pygd's C++ engine."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

from .._names import REGRESSION_LOSSES
from ..dask import dask_call, is_dask_collection
from ._base import BaseGD

__all__ = ["GDRegressor"]


def weighted_r2(P: np.ndarray, Y: np.ndarray, s: np.ndarray) -> float:
    """Weighted R² of predictions P on the validation rows (mean over targets)."""
    y_mean = (Y * s[:, None]).sum(axis=0) / s.sum()
    ss_tot = (((Y - y_mean) ** 2) * s[:, None]).sum(axis=0)
    ss_res = (((Y - P) ** 2) * s[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(r2))


class GDRegressor(RegressorMixin, BaseGD):
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
        each update, so exact zeros appear.  Each coordinate is shrunk by
        ``l1`` times the step size it actually took (Adam's, Adagrad's ...
        per-coordinate rate; momentum's accumulated one), so every optimizer's
        fixed point is the L1 optimum.
    alpha : float, default=1e-4
    l1_ratio : float or None, default=0.15
        Elastic-net mixing, in [0, 1]; None is accepted (as scikit-learn >= 1.7
        does) unless ``penalty="elasticnet"``.
    fit_intercept : bool, default=True
        Without an intercept, standardisation only scales (no centring).
    optimizer : str or pygd.optim optimizer class, default="auto"
        "auto", "lbfgs", "sgd", "momentum" (SGD, momentum 0.9), "nesterov",
        "adagrad", "rmsprop", "adam", "adamw", "nadam", "adadelta", or one of
        ``pygd.optim.SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta, NAdam``.

        "lbfgs" is limited-memory BFGS on the whole training set (each
        iteration one or two passes of the fused loss-and-gradient kernel,
        a line search that satisfies the strong Wolfe conditions; with
        ``penalty="l1"`` or ``"elasticnet"`` OWL-QN, which gives exact
        zeros).  It needs a smooth loss (not "epsilon_insensitive") and full
        batches, and refuses ``early_stopping``, ``average``, a numeric
        ``learning_rate``, another ``lr_schedule`` and ``partial_fit``;
        ``optimizer_params={"memory": m}`` sets its memory (10).  ``max_iter``
        counts its iterations and ``tol``'s gradient test stops it, together
        with its estimate of the gap to the optimum (``g . H g / 2``, H its
        inverse-Hessian estimate) at most ``tol**2`` times the objective
        (``tol**2 / 100`` with an L1 term, so that the zero pattern is
        settled): default fits end within about 1e-6 of the optimum's
        objective, relative.

        "auto" (the default) is "lbfgs" where it applies and no parameter
        asks for a first-order optimizer's steps (a smooth loss, ``batch_size``
        "auto" or "full", and ``learning_rate``, ``optimizer_params``,
        ``lr_schedule``, ``schedule_params``, ``early_stopping`` and
        ``average`` at their defaults): it reaches the optimum in the fewest
        passes.  Otherwise, and always in ``partial_fit``, "auto" is
        "momentum": with ``learning_rate="auto"`` it needs no tuning, is
        stable for features of any scale, and crosses the long valleys of
        correlated features quickly.  ``optimizer_`` is what ran.
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
        (lr gamma^e; gamma=0.9); "cosine" (to eta_min=0 over T_max=max_iter
        epochs); "warmup_cosine" (linear warm-up over warmup=1 epoch, then
        cosine); "plateau" (the rate times factor=0.2 after
        ``n_iter_no_change`` epochs without improvement, as sklearn's
        "adaptive", at each stall described under ``tol`` once the batch cannot
        grow; training stops below min_lr=1e-6).
    schedule_params : dict, default=None
        Overrides of the schedule's parameters named above, spelled as
        torch.optim.lr_scheduler and :func:`pygd.minimize` spell them
        (``T_max``, ``warmup``; the former ``t_max`` and ``warmup_epochs`` are
        accepted with a FutureWarning until pygd 0.3).
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
        With mini-batches, the objective *stalls* after a patience of epochs
        not below ``best * (1 - tol)`` (relative, so independent of y's
        units; the patience is 5 while an adaptation is left, else
        ``n_iter_no_change``).  At a stall "auto" batches grow, else the
        "plateau" schedule lowers the rate, else training stops.  With
        ``early_stopping``, training stops after ``n_iter_no_change`` epochs
        whose validation score is not above ``best + tol``.  When one batch is the whole training set (and no
        ``early_stopping``), training stops once every component of the
        objective's gradient (standardised units; with L1, the subgradient of
        least norm) is at most ``tol * sqrt(2 * objective)`` — for the squared
        error: no feature's covariance with the residuals exceeds tol times
        their root mean square — and a stall is twice the patience (see
        ``n_iter_no_change``) in epochs without a new best objective (momentum may overshoot for a
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
        Epochs without improvement (as defined under ``tol``) before training
        stops, once nothing is left to adapt.  The adaptations at a stall — an
        "auto" batch that grows, a "plateau" rate that falls — always wait 5
        epochs (10 in the full-batch gradient regime), so the trajectory does
        not depend on ``n_iter_no_change`` and more patience never stops
        earlier.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified by class in
        GDClassifier), score them after each epoch (R² here), stop after
        ``n_iter_no_change`` epochs without a score above ``best + tol`` — as
        scikit-learn, with no batch growth or rate cut in between — and
        restore the best epoch's weights; a stop on validation is a pass (no
        ConvergenceWarning).  ``partial_fit`` holds out the same fraction of
        each call's rows and records their score, as scikit-learn's does.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Draw a new permutation of the rows each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the permutations and the validation split.  The same seed gives
        bitwise-identical ``coef_`` for any number of threads.
    standardize : bool or "scale", default=True
        True: train on ``(x - mean_) / scale_`` (weighted, over the training
        rows; scale only without an intercept); "scale": on ``x / scale_``,
        never centred; False: on X as it is (the objective of scikit-learn's
        LogisticRegression or Ridge; with an intercept, L-BFGS iterates on the
        implicitly centred model ``(x - mu) . w + c``, the same objective and
        optimum, better conditioned for positive features such as counts, and
        reports the raw intercept).  Sparse X (scipy.sparse CSR) is
        never densified: the mean is folded into the intercept and the
        gradient, which costs O(n_features) per step.  So with mini-batches True
        acts as "scale" there (``mean_`` is 0, as ``StandardScaler(with_mean=False)``
        does), and full-batch fits (L-BFGS, ``batch_size="full"``: one step per
        pass over X) centre as for dense X.  With an intercept the optimum does
        not depend on the centring (the intercept absorbs it); the optimizer's
        path does: dense X with "scale" follows the same path as its CSR form
        in mini-batches, and with True in full batches.
    average : bool or int, default=False
        Averaged SGD: ``coef_`` is the average of the iterates from the
        ``average``-th optimizer step on (True or 1: from the first; False or
        0: no averaging), as scikit-learn's ``average`` counts samples with
        batches of one row.
    sparse_updates : {"lazy", "dense"}, default="lazy"
        For scipy.sparse X in mini-batches only (full batches and dense X
        ignore it).  "lazy": a step costs what the batch's rows store, not
        ``n_features``: it updates the columns those rows store (and the
        intercepts); a column catches up on the steps it missed where their
        effect has a closed form (the decay of the optimizers' running
        averages), SGD's L2 shrink is one factor for every coefficient (as
        scikit-learn's ``wscale``), and every column is brought up to date
        at the end of each epoch.  This is exactly the dense step for SGD
        without momentum (L2 included) and, without a penalty, for Adagrad,
        RMSprop without momentum and Adadelta; for Adam, AdamW, NAdam, momentum
        and the other penalised cases it is the approximation of torch's
        ``SparseAdam`` (the drift a column's momentum would give it, and the
        penalty's pull, in the steps it missed are left out).  With several
        outputs (classes, targets) a lazy epoch works on its own copies of the
        weights and the optimizer's state, laid out column by column (a
        second copy of them while it runs).  Averaging
        (``average``) and early stopping are unaffected.  "dense": every step
        updates all ``n_features`` weights, exactly as for the same data
        dense (with ``standardize="scale"``), at O(n_features) per step.
    warm_start : bool, default=False
        ``fit`` continues where the previous fit (or ``partial_fit``) stopped:
        its weights, optimizer state, batch size, learning rate and
        standardisation carry on (so refitting a converged model on the same
        data stops after one epoch); ``n_iter_``, ``loss_curve_`` and the
        stopping counts start afresh.  Without it, or with ``coef_init`` /
        ``intercept_init``, or when the shapes or dtype differ, ``fit``
        starts afresh.
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
    optimizer_ : str or type
        The optimizer that ran ("auto" resolved: "lbfgs" or the first-order one).
    n_iter_ : int
        Epochs run (by the last fit, or in total for partial_fit); L-BFGS
        iterations (each a line search; Newton steps included) for "lbfgs".
    n_passes_ : int
        Passes over the training data the last call made: epochs, the
        objective's extra passes (the starting objective, and the final
        check against it; none where every coefficient is 0, as each row
        then predicts its intercepts), and for "lbfgs" every function
        evaluation and the second-moment pass of its Newton steps.
    t_ : int
        Optimizer steps taken (L-BFGS iterations for "lbfgs").
    learning_rate_ : float
        The base rate used (``learning_rate``, or what "auto" chose for the
        first batch size; "auto" batches then rescale it as they grow); 1.0
        for "lbfgs" (the unit step its line search tries first).
    loss_curve_ : list of float
        Per-epoch objective: the weighted mean loss of the rows as each
        batch saw them, plus the penalty at the start of the epoch (for
        "full" batches, exactly the objective before the epoch's step); for
        "lbfgs" the objective after each iteration (for the hinge, of the
        smoothed hinge of that stage).
    best_loss_ : float
    validation_scores_ : list of float or None
        R² on the validation rows per epoch (``early_stopping`` only).
    best_validation_score_ : float or None
    stop_reason_ : str
        Why the last fit stopped: "converged" (the gradient test passed),
        "stalled" (the relative test: no more progress), "min_lr" (the plateau
        schedule reached min_lr), "validation" (early stopping), "max_iter",
        "callback", or "partial_fit".  "max_iter", and "min_lr" where the
        gradient test applies, come with a ConvergenceWarning.  ``verbose``
        prints it with the epochs and the time taken.
    n_divergences_ : int
        Epochs of the last fit that diverged and were run again at a tenth
        of the rate (see Notes).
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
    the same full-batch trajectory.  Divergence (a non-finite or exploding
    objective) restores the state at the start of the epoch, lowers the rate
    tenfold and runs the epoch again, at most 6 times per fit
    (``n_divergences_`` counts them); then ``fit`` raises ValueError naming
    the optimizer and a rate to try.  ``fit`` never returns non-finite
    weights.

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
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
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
        optimizer: str | type = "auto",
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
        standardize: bool | str = True,
        average: bool | int = False,
        sparse_updates: str = "lazy",
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
        self.sparse_updates = sparse_updates
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
        # X's finiteness is checked by the training itself (see Trainer.run_epochs).
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C", accept_sparse="csr",
                             multi_output=True, y_numeric=True, reset=reset,
                             ensure_all_finite=False)
        one_d = y.ndim == 1
        Y = np.ascontiguousarray(y.reshape(-1, 1) if one_d else y, dtype=X.dtype)
        if not np.isfinite(Y).all():
            raise ValueError("Input y contains NaN or infinity (as %s)." % X.dtype)
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if not sw.max(initial=0.0) > 0:  # non-negative: the same as a positive sum, without overflow
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
        if is_dask_collection(X):  # trained on a dask.distributed cluster (pygd.dask)
            return dask_call("fit", self, X, y, sample_weight, coef_init, intercept_init)
        X, Y, one_d, sw_arg, sw = self._validate_xy(X, y, sample_weight, reset=True)
        if hasattr(self, "_trainer") and not self.warm_start:
            del self._trainer
        self._fit(X, Y, one_d, sw_arg, sw, coef_init, intercept_init)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "GDRegressor":
        """One epoch over (X, y), continuing the optimizer state and the schedule.

        The first call sets up the model (standardisation statistics from
        this call's data).  ``partial_fit`` called E times on the same data
        gives the same ``coef_`` bit for bit as ``fit`` with ``max_iter=E,
        tol=None`` (same ``random_state``, no ``early_stopping``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GDRegressor
        """
        if is_dask_collection(X):
            return dask_call("partial_fit", self, X, y, sample_weight)
        first = not hasattr(self, "_trainer")
        X, Y, one_d, sw_arg, sw = self._validate_xy(X, y, sample_weight, reset=first)
        self._partial_fit(X, Y, one_d, sw_arg, sw)
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
        if is_dask_collection(X):  # lazy, block by block
            return dask_call("blockwise", self, "predict", X)
        out = self._decision(X)
        return out[:, 0] if self._trainer.one_d else out

    def _engine_loss(self) -> tuple[str, float]:
        """The engine's row loss and epsilon."""
        return self.loss, float(self.epsilon)

    _first_order_default = "momentum"
    _validation_score = staticmethod(weighted_r2)
