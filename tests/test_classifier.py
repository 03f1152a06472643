"""pygd.linear_model.GDClassifier: scikit-learn conventions, reference loop, accuracy and
log-loss against LogisticRegression, probabilities, stability, determinism."""

from __future__ import annotations

import functools
import pickle
import warnings

import numpy as np
import pytest
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from pygd import optim
from pygd import reference as ref
from pygd.linear_model import DivergenceWarning, GDClassifier, GDRegressor
from pygd.linear_model._data import epoch_order as _epoch_order, standardization_stats as _standardization_stats

from conftest import run_python


def _blobs(n=300, d=5, k=3, seed=0, sep=2.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * sep
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.normal(size=(n, d))
    return X, labels


# -- scikit-learn's estimator checks -----------------------------------------------


def _expected_failures(estimator):
    # The hinge's optimum (intercept included) need not be unique, and L-BFGS reaches it
    # through smoothed stages to the objective's tol, not to 1e-7 in the decision function:
    # weighted and repeated rows give the same objective, not the same bits (scikit-learn's
    # LinearSVC and SGDClassifier fail this check too).
    if estimator.loss == "hinge":
        return {"check_sample_weight_equivalence_on_dense_data": "hinge optimum reached to tol only",
                "check_sample_weight_equivalence_on_sparse_data": "hinge optimum reached to tol only"}
    return {}


@parametrize_with_checks([GDClassifier(random_state=0), GDClassifier(batch_size="full", random_state=0),
                          GDClassifier(loss="hinge", random_state=0)],
                         expected_failed_checks=_expected_failures)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_shared_defaults_come_from_gdregressor():
    reg, clf = GDRegressor().get_params(), GDClassifier().get_params()
    shared = set(reg) & set(clf) - {"loss", "optimizer"}
    assert len(shared) >= 20
    assert {name: clf[name] for name in shared} == {name: reg[name] for name in shared}
    assert clf["optimizer"] == reg["optimizer"] == "auto"
    assert (GDClassifier._first_order_default, GDRegressor._first_order_default) == ("adam", "momentum")


def test_adam_names_preset_beta2_and_classes_keep_torch_defaults():
    X, y = load_iris(return_X_y=True)
    fit = dict(max_iter=2, tol=None, random_state=0)
    assert GDClassifier(optimizer="adam", **fit).fit(X, y)._trainer.optimizer.betas == (0.9, 0.9)
    # "auto" in partial_fit (and wherever L-BFGS does not apply) is "adam" with the preset.
    assert GDClassifier(**fit).partial_fit(X, y, np.unique(y))._trainer.optimizer.betas == (0.9, 0.9)
    assert GDClassifier(optimizer="nadam", **fit).fit(X, y)._trainer.optimizer.betas == (0.9, 0.9)
    assert GDClassifier(optimizer_params={"betas": (0.8, 0.99)}, **fit).fit(X, y)._trainer.optimizer.betas == (0.8, 0.99)
    assert GDClassifier(optimizer=optim.Adam, **fit).fit(X, y)._trainer.optimizer.betas == (0.9, 0.999)
    assert GDRegressor(optimizer="adam", **fit).fit(X, y)._trainer.optimizer.betas == (0.9, 0.999)
    # "auto" rate of Adam: 0.01 sqrt(B / 32) for batches of B rows, 0.1 for the whole set.
    adam = dict(fit, optimizer="adam")
    assert GDClassifier(**adam).fit(X, y).learning_rate_ == 0.01
    assert GDClassifier(batch_size=128, **adam).fit(X, y).learning_rate_ == pytest.approx(0.02)
    assert GDClassifier(batch_size="full", **adam).fit(X, y).learning_rate_ == 0.1
    assert GDClassifier(batch_size=150, **adam).fit(X, y).learning_rate_ == 0.1
    # Momentum keeps the curvature rule, which depends on X only.
    assert GDClassifier(optimizer="momentum", **fit).fit(X, y).learning_rate_ == \
        GDRegressor(optimizer="momentum", **fit).fit(X, y.astype(float)).learning_rate_


# -- against the reference loop --------------------------------------------------


@pytest.mark.parametrize("loss, k, multi_class", [
    ("log_loss", 2, "multinomial"), ("log_loss", 4, "multinomial"), ("log_loss", 4, "ovr"),
    ("hinge", 2, "multinomial"), ("squared_hinge", 4, "multinomial"), ("modified_huber", 4, "multinomial"),
    ("perceptron", 3, "multinomial"),
])
@pytest.mark.parametrize("batch_size", [1, 16, "full"])
def test_fit_matches_reference_loop(loss, k, multi_class, batch_size):
    X, labels = _blobs(n=97, d=4, k=k)
    classes = np.array(["c%d" % i for i in range(k)])
    y = classes[labels]
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    est = GDClassifier(loss=loss, multi_class=multi_class, batch_size=batch_size, alpha=0.01,
                       optimizer="adam", learning_rate=0.05, max_iter=3, tol=None, random_state=42)
    outputs = 1 if k == 2 else k
    est.fit(X, y, sample_weight=sw, intercept_init=np.zeros(outputs))
    n = X.shape[0]
    rng = np.random.RandomState(42)
    orders = [np.arange(n) if batch_size == "full" else _epoch_order(rng, n) for _ in range(3)]
    mean, scale = _standardization_stats(X, sw, None, center=True)
    Y = np.eye(k)[labels] if k > 2 else labels[:, None].astype(float)
    engine_loss = loss
    if loss == "log_loss" and k > 2 and multi_class == "multinomial":
        engine_loss = "multinomial"
    if loss != "log_loss":
        Y = 2 * Y - 1
    params = np.zeros(outputs * 4 + outputs)
    opt_config = ref.optimizer_dict(est._trainer.optimizer)
    b = n if batch_size == "full" else batch_size
    ref.train_reference(X, np.ascontiguousarray(Y), sw, orders, b, params, optimizer=opt_config,
                        loss=engine_loss, l2=0.01, mean=mean, scale=scale, weight_per_row=float(sw.mean()))
    coef = params[: outputs * 4].reshape(outputs, 4) / scale
    intercept = params[outputs * 4:] - coef @ mean
    assert np.abs(coef).max() > 0.05
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-12, atol=1e-12 * np.abs(coef).max())
    np.testing.assert_allclose(est.intercept_, intercept, rtol=1e-12, atol=1e-12)
    assert est.coef_.shape == (outputs, 4) and est.t_ == 3 * (-(-n // b))


# -- against LogisticRegression on scikit-learn's data sets -----------------------

DATASETS = {"breast_cancer": load_breast_cancer, "iris": load_iris, "digits": load_digits}


def _logistic_regression(X, y, alpha):
    # pygd's objective: mean log-loss + alpha/2 |w_std|^2 on standardised features; with
    # LogisticRegression's C * sum(loss) + |w|^2 / 2 that is C = 1 / (alpha n) on StandardScaler(X).
    Xs = StandardScaler().fit_transform(X)
    lr = LogisticRegression(C=1.0 / (alpha * len(y)), max_iter=100_000, tol=1e-10).fit(Xs, y)
    return lr.score(Xs, y), log_loss(y, lr.predict_proba(Xs))


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_defaults_reach_logistic_regression_accuracy(name):
    X, y = DATASETS[name](return_X_y=True)
    best_accuracy, _ = _logistic_regression(X, y, alpha=1e-4)
    clf = GDClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) >= best_accuracy - 0.01


def test_auto_batches_raise_the_auto_rate(capsys):
    X, y = load_digits(return_X_y=True)
    GDClassifier(optimizer="adam", verbose=2, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    raised = [int(line.split()[-1]) for line in lines if line.startswith("Batch size raised")]
    assert raised == [128, 512, 1797]
    rates = {}
    size = 32
    for line in lines:
        if line.startswith("Batch size raised"):
            size = int(line.split()[-1])
        elif line.startswith("Epoch ") and size not in rates:
            rates[size] = float(line.split("lr ")[1].split(",")[0])
    assert rates == {32: 0.01, 128: 0.02, 512: 0.04, 1797: 0.1}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_defaults_reach_logistic_regression_log_loss(name, dtype, seed):
    # The optimum of the same objective (lbfgs, tol 1e-10); default settings, no warnings:
    # "auto" batches grow to the whole set and the gradient test of tol stops the fit.
    X, y = DATASETS[name](return_X_y=True)
    best_accuracy, best_log_loss = _logistic_regression(X, y, alpha=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = GDClassifier(random_state=seed).fit(X.astype(dtype), y)
    assert abs(log_loss(y, clf.predict_proba(X.astype(dtype))) - best_log_loss) <= 1e-3
    assert clf.score(X.astype(dtype), y) >= best_accuracy - 0.01


# -- probabilities, labels, weights ------------------------------------------------


def test_multinomial_proba_is_softmax_of_decision():
    X, y = _blobs(k=4)
    clf = GDClassifier(optimizer="adam", random_state=0, max_iter=20, tol=None).fit(X, y)
    scores = clf.decision_function(X)
    np.testing.assert_allclose(clf.predict_log_proba(X), log_softmax(scores, axis=1), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), scores.argmax(axis=1))


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_proba_stable_for_extreme_decisions(scale):
    X, y = _blobs(k=3)
    for k in (2, 3):
        mask = y < k
        clf = GDClassifier(random_state=0, max_iter=5, tol=None).fit(X[mask], y[mask])
        clf.coef_ = clf.coef_ * 0 + scale
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proba = clf.predict_proba(X)
            log_proba = clf.predict_log_proba(X)
        assert np.isfinite(proba).all() and not np.isnan(log_proba).any()
        assert np.isfinite(log_proba[proba > 0]).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert (log_proba <= 0).all()


def test_training_survives_extreme_logits():
    # Separable data with weights pushed far out: the softmax in the engine stays finite.
    X, y = _blobs(k=3, sep=1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(standardize=False, optimizer="sgd", learning_rate=1.0, alpha=0.0,
                           max_iter=5, tol=None, random_state=0).fit(X, y)
    assert np.abs(clf.decision_function(X)).max() > 1e3
    assert np.isfinite(clf.loss_curve_).all() and clf.score(X, y) == 1.0


@pytest.mark.parametrize("loss", ["hinge", "perceptron"])
def test_kinked_losses_stop_by_themselves(loss):
    # Their subgradient need not vanish at the optimum, so full batches keep the relative
    # test of tol: no seed may run to max_iter (which once made a default fit warn at random).
    X, y = _blobs(k=3)
    for seed in range(10):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            clf = GDClassifier(loss=loss, random_state=seed).fit(X, y)
        assert clf.n_iter_ < 1000 and clf.score(X, y) > 0.85


def test_modified_huber_proba_matches_sklearn_rule():
    X, y = _blobs(k=3)
    clf = GDClassifier(loss="modified_huber", random_state=0, max_iter=20, tol=None).fit(X, y)
    prob = (np.clip(clf.decision_function(X), -1, 1) + 1) / 2
    total = prob.sum(axis=1, keepdims=True)
    expected = np.where(total == 0, 1 / 3, prob / np.where(total == 0, 1, total))
    np.testing.assert_allclose(clf.predict_proba(X), expected)
    assert not hasattr(GDClassifier(loss="hinge").fit(X, y), "predict_proba")


def test_string_labels_binary_coef_shape_and_decision_sign():
    X, y = _blobs(k=2)
    labels = np.array(["spam", "ham"])[y]
    clf = GDClassifier(random_state=0).fit(X, labels)
    assert clf.classes_.tolist() == ["ham", "spam"] and clf.coef_.shape == (1, 5)
    scores = clf.decision_function(X)
    assert scores.shape == (300,)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "spam", "ham"))
    assert clf.score(X, labels) > 0.9


def test_class_weight_equals_sample_weight():
    X, y = _blobs(k=3)
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    a = GDClassifier(class_weight=weights, random_state=0, max_iter=10, tol=None).fit(X, y)
    b = GDClassifier(random_state=0, max_iter=10, tol=None).fit(
        X, y, sample_weight=np.array([weights[c] for c in y]))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    balanced = GDClassifier(class_weight="balanced", random_state=0, max_iter=10, tol=None).fit(X, y)
    counts = np.bincount(y)
    c = GDClassifier(class_weight={i: len(y) / (3 * counts[i]) for i in range(3)}, random_state=0,
                     max_iter=10, tol=None).fit(X, y)
    np.testing.assert_allclose(balanced.coef_, c.coef_, rtol=1e-12)
    assert not np.array_equal(a.coef_, GDClassifier(random_state=0, max_iter=10, tol=None).fit(X, y).coef_)


def test_inputs_are_not_modified():
    X, y = _blobs(k=3)
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    copies = [X.copy(), y.copy(), sw.copy()]
    GDClassifier(class_weight="balanced", random_state=0, max_iter=3, tol=None).fit(X, y, sample_weight=sw)
    for a, c in zip((X, y, sw), copies):
        np.testing.assert_array_equal(a, c)


def test_float32_stays_float32_and_agrees_with_float64():
    X, y = _blobs(k=3)
    c64 = GDClassifier(random_state=0, max_iter=20, tol=None).fit(X, y)
    c32 = GDClassifier(random_state=0, max_iter=20, tol=None).fit(X.astype(np.float32), y)
    assert c32.coef_.dtype == np.float32 and c32.decision_function(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(c32.coef_, c64.coef_, rtol=1e-3, atol=1e-3 * np.abs(c64.coef_).max())


# -- determinism, partial_fit, API -------------------------------------------------


@pytest.mark.parametrize("batch_size", [32, "full"])
def test_same_seed_same_bits_for_any_thread_count(batch_size, threads_restored):
    X, y = _blobs(n=30000, d=40, k=10)
    fits = [GDClassifier(batch_size=batch_size, random_state=3, max_iter=2, tol=None, n_jobs=t).fit(X, y)
            for t in (1, 2)]
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].loss_curve_ == fits[1].loss_curve_


def test_thread_determinism_in_subprocesses():
    code = ("import numpy as np, pygd; from pygd.linear_model import GDClassifier; "
            "rng = np.random.default_rng(0); X = rng.normal(size=(20000, 30)); "
            "y = (X[:, :10] + rng.normal(size=(20000, 10))).argmax(1); "
            "pygd.set_num_threads({t}); "
            "print(GDClassifier(batch_size=4096, random_state=0, max_iter=3, tol=None).fit(X, y).coef_.tobytes().hex())")
    outs = [run_python(code.format(t=t)).stdout for t in (1, 2)]
    assert outs[0] == outs[1] and len(outs[0]) > 100


def test_partial_fit_sequence_equals_fit():
    X, y = _blobs(k=3)
    full = GDClassifier(optimizer="adam", random_state=0, max_iter=4, tol=None).fit(X, y)
    part = GDClassifier(random_state=0)  # "auto" is "adam" in partial_fit
    for _ in range(4):
        part.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(part.coef_, full.coef_)
    assert part.n_iter_ == 4


def test_partial_fit_needs_classes_and_rejects_unknown_labels():
    X, y = _blobs(k=3)
    with pytest.raises(ValueError, match="classes must be passed"):
        GDClassifier().partial_fit(X, y)
    clf = GDClassifier(random_state=0).partial_fit(X[:50], y[:50], classes=[0, 1, 2, 3])
    assert clf.coef_.shape == (4, 5)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 7)
    with pytest.raises(ValueError, match="balanced' is not supported for partial_fit"):
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_early_stopping_uses_accuracy_and_restores_best():
    X, y = _blobs(n=600, k=3, sep=1.0)
    clf = GDClassifier(early_stopping=True, random_state=0, max_iter=200).fit(X, y)
    assert clf.validation_scores_ and 0 < clf.best_validation_score_ <= 1
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_clone_pickle_pipeline_gridsearch():
    X, y = _blobs(k=3)
    clf = GDClassifier(optimizer="adam", random_state=0, max_iter=20, tol=None).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), GDClassifier(random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    grid = GridSearchCV(GDClassifier(random_state=0, max_iter=30, tol=None), {"alpha": [1e-4, 1e-2]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["alpha"] in (1e-4, 1e-2)


def test_bad_inputs_get_sklearn_messages():
    X, y = _blobs(k=3)
    with pytest.raises(ValueError, match="Unknown label type"):
        GDClassifier().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="greater than one"):
        GDClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        GDClassifier().fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="The 'loss' parameter"):
        GDClassifier(loss="squared_error").fit(X, y)
    with pytest.raises(ValueError, match="The 'multi_class' parameter"):
        GDClassifier(multi_class="auto").fit(X, y)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        GDClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="class_weight"):
        GDClassifier(class_weight={7: 2.0}).fit(X, y)
    clf = GDClassifier(max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("loss", ["log_loss", "hinge", "perceptron", "modified_huber"])
@pytest.mark.parametrize("classes", [2, 3])
def test_non_finite_x_raises(value, loss, classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = rng.integers(0, classes, 120)
    for row in (0, 77, 119):
        bad = X.copy()
        bad[row, 1] = value
        clf = GDClassifier(loss=loss, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DivergenceWarning)
            with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
                clf.fit(bad, y)
        assert not hasattr(clf, "coef_")
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            GDClassifier(loss=loss, early_stopping=True, random_state=0).fit(bad, y)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "modified_huber", "perceptron", "log_loss"])
def test_every_loss_learns_blobs(loss):
    X, y = _blobs(k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = GDClassifier(loss=loss, random_state=0, max_iter=100).fit(X, y)
    assert clf.score(X, y) > 0.9


@functools.lru_cache(maxsize=None)
def _text_logistic_regression(classes):
    from pygd._sparse_bench import text_like

    X, y = text_like(3000, 2**11, classes, nnz_row=30)
    lr = LogisticRegression(C=1.0 / (1e-4 * X.shape[0]), solver="newton-cg", tol=1e-10,
                            max_iter=100_000).fit(X, y)
    return X, y, lr


@pytest.mark.parametrize("classes", [2, 5])
@pytest.mark.parametrize("sparse", [True, False])
def test_raw_columns_reach_logistic_regression_in_the_centred_coordinates(classes, sparse):
    # standardize=False is LogisticRegression's objective on raw columns; with an intercept
    # L-BFGS runs on the implicitly centred model (the same optimum), which removes the
    # mu mu^T coupling of positive count features: raw coordinates took 124 (binary) and
    # 564-727 (5 classes) iterations here, the centred ones 54 and 178-181.
    from pygd._sparse_bench import objective

    X, y, lr = _text_logistic_regression(classes)
    X_fit = X if sparse else X.toarray()
    clf = GDClassifier(standardize=False, tol=1e-6, max_iter=5000).fit(X_fit, y)
    labels = np.unique(y)
    ours = objective(X, y, clf.coef_, clf.intercept_, labels)
    theirs = objective(X, y, lr.coef_, lr.intercept_, labels)
    assert ours <= theirs * (1 + 1e-9)
    np.testing.assert_allclose(clf.coef_, lr.coef_, atol=1e-3 * np.abs(lr.coef_).max())
    # The stored intercept is the raw model's: decision_function is X coef^T + intercept.
    np.testing.assert_allclose(clf.decision_function(X_fit),
                               np.squeeze(X @ clf.coef_.T + clf.intercept_), rtol=1e-12, atol=1e-12)
    assert clf.n_iter_ <= (80 if classes == 2 else 300)


def test_an_error_in_a_centred_lbfgs_run_leaves_the_raw_intercepts():
    # The centred run shifts the trainer's own parameters in place (no second copy); an
    # error mid-run (here the callback's) must shift them back, or a warm-started refit
    # would start from c = b + w . mu as if it were b.
    X, y, _ = _text_logistic_regression(2)
    clf = GDClassifier(standardize=False, warm_start=True, max_iter=5, tol=None).fit(X, y)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()

    def stop(iteration, value):
        raise RuntimeError("stop")

    clf.set_params(callback=stop)
    with pytest.raises(RuntimeError, match="stop"):
        clf.fit(X, y)
    d = X.shape[1]
    np.testing.assert_array_equal(clf._trainer.params[:d], coef.ravel())
    np.testing.assert_allclose(clf._trainer.params[d:], intercept, rtol=1e-14, atol=1e-14)
