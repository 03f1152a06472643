"""Stopping that users can predict and read; divergence and warm starts (issue 12, items 2-3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning

from pygd import reference as ref
from pygd.linear_model import GDClassifier, GDRegressor
from pygd.linear_model._data import validation_split
from pygd.linear_model._trainer import STOP_REASONS


def _regression(n=600, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X @ rng.normal(size=d) + rng.normal(size=n)


def test_early_stopping_stops_like_scikit_learn_without_batch_growth():
    # Before: the stall grew the batch and cut the rate, stopping ~50 epochs after the best.
    X, y = load_breast_cancer(return_X_y=True)
    clf = GDClassifier(early_stopping=True, n_iter_no_change=5, random_state=0).fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))
    assert clf.stop_reason_ == "validation"
    # Stopped exactly n_iter_no_change epochs after the last epoch that beat best + tol.
    assert clf.n_iter_ == len(scores)
    last_gain = max(i for i in range(len(scores))
                    if i == 0 or scores[i] > max(scores[:i]) + clf.tol)
    assert clf.n_iter_ == last_gain + 1 + clf.n_iter_no_change
    assert clf._trainer.batch_factor == 1 and clf._trainer.lr_factor == 1.0
    assert clf.best_validation_score_ == scores[best]


def test_early_stopping_is_a_pass_and_the_split_is_stratified():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = GDClassifier(early_stopping=True, validation_fraction=0.2, random_state=0).fit(X, y)
    val = clf._trainer.val_rows
    assert np.bincount(y[val]).tolist() == [10, 10, 10]


def test_validation_rows_with_zero_weight_raise():
    X, y = _regression()
    _, val = validation_split(len(y), 0.1, np.random.RandomState(0), None, np.ones(len(y)))
    sw = np.ones(len(y))
    sw[val] = 0.0  # the split the fit draws with random_state=0
    with pytest.raises(ValueError, match="validation rows are all zero"):
        GDRegressor(early_stopping=True, random_state=0).fit(X, y, sample_weight=sw)


def test_partial_fit_with_early_stopping_holds_out_a_validation_split():
    X, y = _regression()
    est = GDRegressor(early_stopping=True, random_state=0)
    for _ in range(3):
        est.partial_fit(X, y)
    assert len(est.validation_scores_) == 3 and est.n_iter_ == 3
    assert est.t_ == 3 * -(-int(0.9 * len(y)) // 32)  # trained on the 540 training rows only
    plain = GDRegressor(random_state=0)
    for _ in range(3):
        plain.partial_fit(X, y)
    assert plain.validation_scores_ is None


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_stop_reason_is_recorded_and_printed(kind, optimizer, capsys):
    X, y = load_iris(return_X_y=True)
    cls = GDRegressor if kind == "regressor" else GDClassifier
    est = cls(optimizer=optimizer, batch_size="full", random_state=0, verbose=2, max_iter=5000).fit(X, y)
    assert est.stop_reason_ == "converged" and est.optimizer_ == optimizer
    unit = "epochs" if optimizer == "adam" else "iterations"
    assert f"{STOP_REASONS['converged']} after {est.n_iter_} {unit}" in capsys.readouterr().out
    with pytest.warns(ConvergenceWarning, match=f"max_iter=3 {unit}"):
        est = cls(optimizer=optimizer, max_iter=3, random_state=0).fit(X, y)
    assert est.stop_reason_ == "max_iter"
    est = cls(optimizer=optimizer, callback=lambda epoch, loss: epoch == 2, random_state=0).fit(X, y)
    assert est.stop_reason_ == "callback" and est.n_iter_ == 2
    est = cls(batch_size=16, lr_schedule="constant", random_state=0).fit(X, y)
    assert est.stop_reason_ == "stalled"


def test_plateau_at_min_lr_without_passing_the_gradient_test_warns():
    # Full batches: the stopping test is the gradient test; reaching min_lr is not a pass.
    X, y = _regression()
    with pytest.warns(ConvergenceWarning, match="min_lr"):
        est = GDRegressor(batch_size="full", optimizer="adam", learning_rate=0.5, tol=1e-14,
                          schedule_params={"min_lr": 1e-3}, random_state=0).fit(X, y)
    assert est.stop_reason_ == "min_lr"


@pytest.mark.parametrize("optimizer", ["first-order", "lbfgs"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_warm_start_continues_where_the_last_fit_stopped(kind, optimizer):
    # Before: 126 more epochs and coefficients moved by 26 on a converged model.
    X, y = load_diabetes(return_X_y=True) if kind == "regressor" else load_iris(return_X_y=True)
    cls = GDRegressor if kind == "regressor" else GDClassifier
    if optimizer == "first-order":
        optimizer = cls._first_order_default
    est = cls(optimizer=optimizer, warm_start=True, random_state=0).fit(X, y)
    assert est.stop_reason_ == "converged"
    coef, objective = est.coef_.copy(), est.loss_curve_[-1]
    est.fit(X, y)
    assert est.n_iter_ <= 2 and est.stop_reason_ == "converged"
    assert abs(est.best_loss_ - objective) <= 1e-6 * abs(objective)
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-6, atol=1e-9)
    # Without warm_start a refit starts afresh and repeats the first fit bit for bit.
    fresh = cls(random_state=0).fit(X, y)
    again = fresh.fit(X, y)
    assert again.n_iter_ > 2


@pytest.mark.parametrize("average", [1, 7, True])
def test_average_k_starts_at_the_kth_step_like_scikit_learn(average):
    # sklearn's average=k averages from the k-th update on (t counts from 1); before, pygd
    # started one step later.
    X, y = _regression(n=64, d=3)
    est = GDRegressor(batch_size=8, optimizer="sgd", learning_rate=0.05, average=average, max_iter=3,
                      tol=None, shuffle=False, standardize=False, alpha=0.0, random_state=0)
    est.fit(X, y, intercept_init=[0.0])
    order = [np.arange(64)] * 3
    params = np.zeros(4)
    k = 1 if average is True else average
    _, avg, _ = ref.train_reference(X, y[:, None], np.ones(64), order, 8, params,
                                    optimizer={"kind": "sgd", "lr": 0.05}, l2=0.0,
                                    average_start=k - 1)
    # A hand-made average of the iterates from step k on.
    steps = []
    p = np.zeros(4)
    for e in range(3):
        for b in range(8):
            rows = np.arange(b * 8, b * 8 + 8)
            r = X[rows] @ p[:3] + p[3] - y[rows]
            p = p - 0.05 * np.append(X[rows].T @ r, r.sum()) / 8
            steps.append(p.copy())
    expected = np.mean(steps[k - 1:], axis=0)
    np.testing.assert_allclose(avg, expected, rtol=1e-12)
    np.testing.assert_allclose(est.coef_, expected[:3], rtol=1e-10)
    none = GDRegressor(average=0, max_iter=2, tol=None, random_state=0).fit(X, y)
    assert none._trainer.average is None


def test_l1_ratio_none_is_accepted_unless_elasticnet():
    X, y = _regression()
    GDRegressor(l1_ratio=None, penalty="l2", max_iter=3, tol=None).fit(X, y)
    GDClassifier(l1_ratio=None, penalty="l1", max_iter=3, tol=None).fit(X, y > 0)
    with pytest.raises(ValueError, match="l1_ratio must be set"):
        GDRegressor(l1_ratio=None, penalty="elasticnet").fit(X, y)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_more_patience_never_stops_earlier(kind):
    # Before, on iris: GDClassifier 304, 250, 548 epochs for n_iter_no_change 1, 2, 3, and
    # GDRegressor with 1 or 2 ran all 1000 epochs on a problem it solves in ~130.
    X, y = load_iris(return_X_y=True)
    cls = GDRegressor if kind == "regressor" else GDClassifier
    for seed in (0, 1):
        epochs = []
        for patience in (1, 2, 3, 5, 8):
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                est = cls(n_iter_no_change=patience, random_state=seed).fit(X, y)
            epochs.append(est.n_iter_)
            assert est.stop_reason_ == "converged"
        assert epochs == sorted(epochs), epochs


def test_patience_decides_the_final_stop_of_the_relative_test():
    X, y = _regression()
    epochs = [GDRegressor(batch_size=16, lr_schedule="constant", n_iter_no_change=p,
                          random_state=0).fit(X, y).n_iter_ for p in (1, 3, 6, 10)]
    assert epochs == sorted(epochs) and epochs[0] < epochs[-1]


@pytest.mark.parametrize("cls", [GDRegressor, GDClassifier])
def test_n_jobs_zero_is_refused_by_name(cls):
    X, y = _regression()
    with pytest.raises(ValueError, match="The 'n_jobs' parameter"):
        cls(n_jobs=0).fit(X, y > 0)


def test_a_noise_free_problem_stops_when_solved():
    # Before: the objective reached exactly 0 with mini-batches, the relative test never saw
    # a stall (0 > 0 - 0 is false) and the fit ran all 1000 epochs with a ConvergenceWarning.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDRegressor(alpha=0.0, random_state=0).fit(X, y)
    assert est.stop_reason_ == "converged" and est.n_iter_ < 1000
    np.testing.assert_allclose(est.coef_, [1.0, -2.0, 0.5], rtol=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("case", ["regressor", "log_loss", "multinomial", "hinge-ovr"])
def test_the_starting_objective_reads_no_rows_at_zero_coefficients(sparse, case):
    # A first-order fit's starting objective (the reference for divergence and the bound the
    # result must not exceed) at coefficients 0 (here with intercepts 0, so that it has a
    # closed form): each row predicts its intercepts, so it is computed without a pass over X
    # (n_passes_ counts the epochs alone), and it is the objective there; from nonzero
    # coefficients (warm_start) it still takes a pass.
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 6)) * rng.uniform(0.5, 3.0, 6) + 4.0
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    sw = rng.uniform(0.2, 2.0, 300)
    scores = X @ rng.normal(size=(6, 3))
    scores = (scores - scores.mean(0)) / scores.std(0)
    labels = (scores[:, 0] > np.median(scores[:, 0])).astype(int) if case == "log_loss" else scores.argmax(1)
    if case == "regressor":
        Y = X @ rng.normal(size=(6, 2)) + rng.normal(size=(300, 2))
        est = GDRegressor(optimizer="adam", max_iter=3, tol=None, random_state=0)
        # squared error at predictions 0: sum_t y_t^2 / 2, weighted
        expected = float(np.sum(sw * np.sum(Y**2, axis=1) / 2) / np.sum(sw))
    else:
        Y = labels
        loss = "hinge" if case == "hinge-ovr" else "log_loss"
        est = GDClassifier(loss=loss, optimizer="sgd", learning_rate=1e-3, max_iter=3, tol=None,
                           random_state=0, early_stopping=True)
        # log loss at 0: log(2) binary, log(3) multinomial; the hinge's three one-vs-rest
        # outputs at 0: 1 each
        expected = {"log_loss": np.log(2), "multinomial": np.log(3), "hinge-ovr": 3.0}[case]
    k = 1 if case == "log_loss" else 2 if case == "regressor" else 3
    Xf = sp.csr_matrix(X) if sparse else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xf, Y, sample_weight=sw, coef_init=np.zeros((k, 6)), intercept_init=np.zeros(k))
        assert est.n_passes_ == est.n_iter_ == 3
        np.testing.assert_allclose(est._trainer.reference_objective, expected, rtol=1e-13)
        est.set_params(warm_start=True).fit(Xf, Y, sample_weight=sw)
        assert est.n_passes_ == est.n_iter_ + 1 == 4  # (this call's passes, not the total)
        assert est._trainer.reference_objective < expected
