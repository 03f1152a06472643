"""pygd.linear_model.GDRegressor: scikit-learn conventions, convergence, reference loop, determinism."""

from __future__ import annotations

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import pygd
from pygd import optim
from pygd import reference as ref
from pygd.linear_model import DivergenceWarning, GDRegressor
from pygd.linear_model._stopping import GradientTest
from pygd.linear_model._data import epoch_order as _epoch_order, standardization_stats as _standardization_stats

from conftest import run_python


def _data(n=300, d=5, k=None, seed=0, noise=0.1, cond=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.geomspace(1.0, cond, d)
    w = rng.normal(size=(d,) if k is None else (d, k))
    y = X @ w + 3.0 + noise * rng.normal(size=(n,) if k is None else (n, k))
    return X, y


# -- scikit-learn's estimator checks -----------------------------------------------


# No expected failures: the checks' data sets are small enough for the first "auto"
# batch (32 rows) to hold every row, so even check_sample_weight_equivalence passes.
@parametrize_with_checks([GDRegressor(random_state=0), GDRegressor(batch_size="full", random_state=0)])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_checks(estimator, check):
    check(estimator)


# -- against the reference loop --------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                                       "nadam", "adadelta"])
@pytest.mark.parametrize("batch_size", [1, 32, "full"])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_fit_matches_reference_loop(optimizer, batch_size, penalty):
    X, y = _data(n=97, d=4)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    est = GDRegressor(optimizer=optimizer, batch_size=batch_size, penalty=penalty, alpha=0.01,
                      learning_rate=0.01, max_iter=3, tol=None, random_state=42)
    # Start the intercept at 0, not at the mean of y: there its full-batch gradient is
    # rounding noise, which adaptive optimizers turn into a full step whose sign
    # depends on the summation order.
    est.fit(X, y, sample_weight=sw, intercept_init=[0.0])
    # The same permutations, standardisation, start and configuration, in NumPy.
    n = X.shape[0]
    rng = np.random.RandomState(42)
    orders = [None if batch_size == "full" else _epoch_order(rng, n) for _ in range(3)]
    orders = [np.arange(n) if o is None else o for o in orders]
    mean, scale = _standardization_stats(X, sw, None, center=True)
    params = np.zeros(X.shape[1] + 1)
    opt_config = ref.optimizer_dict(est._trainer.optimizer)
    l2, l1 = est._trainer.settings.penalties()
    b = n if batch_size == "full" else batch_size
    ref.train_reference(X, y[:, None], sw, orders, b, params, optimizer=opt_config, l2=l2, l1=l1,
                        mean=mean, scale=scale, weight_per_row=float(sw.mean()))
    coef = params[:-1] / scale
    intercept = params[-1] - coef @ mean
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-12, atol=1e-12 * np.abs(coef).max())
    np.testing.assert_allclose(est.intercept_, [intercept], rtol=1e-12)
    assert est.n_iter_ == 3
    assert est.t_ == 3 * (-(-n // b))


# -- convergence -------------------------------------------------------------------


@pytest.mark.parametrize("cond", [1.0, 1e3])
def test_full_batch_converges_to_lstsq(cond):
    X, y = _data(n=400, d=6, cond=cond, noise=0.5)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    est = GDRegressor(batch_size="full", optimizer="momentum", alpha=0.0, learning_rate=0.1,
                      max_iter=3000, tol=None, random_state=0).fit(X, y)
    np.testing.assert_allclose(est.coef_, solution[:-1], rtol=1e-6, atol=1e-9 * np.abs(solution).max())
    np.testing.assert_allclose(est.intercept_, solution[-1:], rtol=1e-6)


@pytest.mark.parametrize("cond", [1.0, 1e3])
def test_full_batch_tol_is_a_gradient_test(cond):
    # Stopping on the gradient (not on a slow relative decrease): with tol=1e-6 the fit
    # stops by itself, every standardised gradient component is below tol * rms(residual),
    # and the coefficients are those of least squares.
    X, y = _data(n=400, d=6, cond=cond, noise=0.5)
    solution = np.linalg.lstsq(np.hstack([X, np.ones((X.shape[0], 1))]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDRegressor(batch_size="full", alpha=0.0, tol=1e-6, max_iter=20000, random_state=0).fit(X, y)
    assert est.n_iter_ < 20000
    r = est.predict(X) - y
    Z = (X - X.mean(0)) / X.std(0)
    gradient = np.abs(np.append(Z.T @ r, r.sum()) / len(y)).max()
    assert gradient <= 1e-6 * np.sqrt(np.mean(r * r)) * (1 + 1e-9)  # the weights that passed it
    np.testing.assert_allclose(est.coef_ * X.std(0), solution[:-1] * X.std(0), rtol=1e-4, atol=1e-6)


def test_full_batch_momentum_restarts_when_the_objective_rises(monkeypatch):
    # A well-conditioned problem: heavy-ball steps (beta 0.9) circle the optimum, shrinking
    # by only sqrt(0.9) per epoch; restarting the momentum when the objective rises cuts
    # the epochs to the gradient test by more than half.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8))
    y = X @ rng.normal(size=8) + rng.normal(size=3000)
    fit = dict(optimizer="momentum", batch_size="full", tol=1e-6, max_iter=5000, random_state=0)
    with_restart = GDRegressor(**fit).fit(X, y)
    update = GradientTest.update

    def without_restart(self, loss, optimality):
        self.counter.last_full = np.inf  # never "rose"
        return update(self, loss, optimality)

    monkeypatch.setattr(GradientTest, "update", without_restart)
    plain = GDRegressor(**fit).fit(X, y)
    assert with_restart.n_iter_ < 0.5 * plain.n_iter_
    np.testing.assert_allclose(with_restart.coef_, plain.coef_, rtol=1e-4)


def test_auto_batch_grows_to_the_whole_set(capsys):
    X, y = _data(n=1000, d=6, cond=30.0, noise=0.5)
    solution = np.linalg.lstsq(np.hstack([X, np.ones((X.shape[0], 1))]), y, rcond=None)[0]
    est = GDRegressor(optimizer="momentum", alpha=0.0, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    raised = [int(line.split()[-1]) for line in out.splitlines() if line.startswith("Batch size raised")]
    assert raised == [128, 512, 1000]
    # One step per epoch at the end, and the optimum (the full-batch gradient test stopped it).
    assert est.t_ - est.n_iter_ == sum(-(-1000 // b) - 1 for b in (32, 128, 512)
                                       for _ in range(_epochs_at(out, b)))
    np.testing.assert_allclose(est.coef_ * X.std(0), solution[:-1] * X.std(0), rtol=1e-3, atol=1e-4)


def _epochs_at(out: str, batch: int) -> int:
    """Epochs printed while the batch size was ``batch`` (verbose=2 output)."""
    size, count = 32, {}
    for line in out.splitlines():
        if line.startswith("Batch size raised"):
            size = int(line.split()[-1])
        elif line.startswith("Epoch "):
            count[size] = count.get(size, 0) + 1
    return count.get(batch, 0)


def test_epsilon_insensitive_stops_by_itself():
    X, y = _data(n=500)
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            est = GDRegressor(loss="epsilon_insensitive", random_state=seed).fit(X, y)
        assert est.n_iter_ < 1000 and est.score(X, y) > 0.99


def test_fixed_batch_size_never_grows():
    X, y = _data(n=100)
    est = GDRegressor(batch_size=16, random_state=0).fit(X, y)
    assert est.n_iter_ > 10 and est.t_ == est.n_iter_ * 7


@pytest.mark.parametrize("cond", [1.0, 1e3])
def test_minibatch_adam_gets_close_to_lstsq(cond):
    X, y = _data(n=2000, d=6, cond=cond, noise=0.5)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    best = LinearRegression().fit(X, y).score(X, y)
    est = GDRegressor(alpha=0.0, learning_rate=0.1, random_state=0).fit(X, y)
    assert est.score(X, y) > best - 1e-3
    np.testing.assert_allclose(est.coef_ * X.std(0), solution[:-1] * X.std(0), atol=0.05)


def _diabetes(scaled: bool):
    X, y = load_diabetes(return_X_y=True)
    if scaled:
        X = X.copy()
        X[:, 2] *= 1000
    return X, y


@pytest.mark.parametrize("scaled", [False, True], ids=["as-shipped", "column-x1000"])
def test_diabetes_tuned_settings_reach_linear_regression(scaled):
    X, y = _diabetes(scaled)
    best = LinearRegression().fit(X, y).score(X, y)
    est = GDRegressor(optimizer="momentum", lr_schedule="plateau", learning_rate=0.1, batch_size=16,
                      random_state=0).fit(X, y)
    assert est.score(X, y) > best - 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scaled", [False, True], ids=["as-shipped", "column-x1000"])
def test_diabetes_defaults_reach_linear_regression(scaled, seed):
    X, y = _diabetes(scaled)
    best = LinearRegression().fit(X, y).score(X, y)
    assert GDRegressor(random_state=seed).fit(X, y).score(X, y) > best - 1e-3


@pytest.mark.parametrize("batch_size", [1, 32, "full"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_auto_learning_rate_is_stable_on_correlated_features(batch_size, optimizer):
    # 100 nearly collinear columns on scales 1 .. 1e4: the standardised curvature is ~100,
    # where a fixed momentum rate of 0.03 diverges in the first epochs.
    rng = np.random.default_rng(0)
    n, d = 3000, 100
    X = (rng.standard_normal((n, 1)) + 0.1 * rng.standard_normal((n, d))) * np.logspace(0, 4, d)
    y = X @ rng.standard_normal(d) / d + rng.standard_normal(n)
    est = GDRegressor(optimizer=optimizer, batch_size=batch_size, random_state=0, max_iter=60, tol=None)
    est.fit(X, y)
    assert 0 < est.learning_rate_ < 0.01
    assert est.score(X, y) > LinearRegression().fit(X, y).score(X, y) - 0.05


@pytest.mark.parametrize("scaled", [False, True], ids=["as-shipped", "column-x1000"])
def test_diabetes_defaults_are_not_garbage(scaled):
    # sklearn's SGDRegressor gives R² ~ -1e16 on the scaled column; the default must not.
    X, y = _diabetes(scaled)
    best = LinearRegression().fit(X, y).score(X, y)
    assert GDRegressor(random_state=0).fit(X, y).score(X, y) > best - 1e-2


def test_standardize_false_on_unscaled_data_recovers_from_divergence():
    # sgd at rate 1 on a column x1000 diverges: each time the epoch is run again at a tenth
    # of the rate, and the model returned is a real fit, never garbage.
    X, y = _diabetes(True)
    start = GDRegressor(standardize=False, max_iter=1, tol=None, learning_rate=1e-12,
                        optimizer="sgd").fit(X, y).score(X, y)
    est = GDRegressor(standardize=False, optimizer="sgd", learning_rate=1.0, random_state=0, max_iter=50)
    with pytest.warns(ConvergenceWarning, match="max_iter=50"):
        est.fit(X, y)
    assert est.n_divergences_ >= 1 and est.stop_reason_ == "max_iter"
    assert np.isfinite(est.coef_).all() and est.score(X, y) > max(start, 0.3)
    assert est.n_iter_ == len(est.loss_curve_) == 50


def test_divergence_that_cannot_be_recovered_raises_naming_the_optimizer():
    X, y = _diabetes(False)
    with pytest.raises(ValueError, match=r"diverged in epoch \d+ .*optimizer 'momentum' even after "
                                         r"lowering the learning rate 6 times.*try learning_rate="):
        GDRegressor(learning_rate=1e6, random_state=0).fit(X, y)


def test_large_learning_rate_recovers_like_the_default():
    # Before: learning_rate=10 warned "weights of epoch 1 restored" and returned R2 = -4.5e43.
    X, y = _diabetes(False)
    best = LinearRegression().fit(X, y).score(X, y)
    est = GDRegressor(learning_rate=10.0, random_state=0).fit(X, y)
    assert est.n_divergences_ >= 1 and est.stop_reason_ == "converged"
    assert est.score(X, y) > best - 1e-5


def test_huge_features_and_weights_give_a_fit_or_a_clear_error():
    X, y = _diabetes(False)
    with pytest.raises(ValueError, match="too large to standardise"):
        GDRegressor(random_state=0).fit(X * 1e300, y)
    plain = GDRegressor(random_state=0).fit(X, y)
    heavy = GDRegressor(random_state=0).fit(X, y, sample_weight=np.full(len(y), 1e307))
    np.testing.assert_array_equal(heavy.coef_, plain.coef_)
    with pytest.raises(ValueError, match="NaN or infinity"):
        GDRegressor().fit(X, y, coef_init=np.full(X.shape[1], np.nan))


def test_multi_target_equals_separate_fits():
    X, Y = _data(n=200, d=4, k=3)
    kw = dict(batch_size="full", optimizer="sgd", learning_rate=0.1, max_iter=50, tol=None, random_state=0)
    multi = GDRegressor(**kw).fit(X, Y)
    assert multi.coef_.shape == (3, 4) and multi.intercept_.shape == (3,)
    for t in range(3):
        single = GDRegressor(**kw).fit(X, Y[:, t])
        np.testing.assert_allclose(multi.coef_[t], single.coef_, rtol=1e-10)
        np.testing.assert_allclose(multi.intercept_[t], single.intercept_[0], rtol=1e-10)
    assert multi.predict(X).shape == (200, 3)


# -- dtypes, copies, determinism ---------------------------------------------------


def test_float32_stays_float32_and_agrees_with_float64():
    X, y = _data()
    for optimizer in ("momentum", "lbfgs"):
        e64 = GDRegressor(optimizer=optimizer, random_state=0, max_iter=20, tol=None).fit(X, y)
        e32 = GDRegressor(optimizer=optimizer, random_state=0, max_iter=20, tol=None).fit(
            X.astype(np.float32), y.astype(np.float32))
        assert e32.coef_.dtype == np.float32 and e32.intercept_.dtype == np.float32
        assert e64.coef_.dtype == np.float64
        assert e32.predict(X.astype(np.float32)).dtype == np.float32
        np.testing.assert_allclose(e32.coef_, e64.coef_, rtol=1e-3, atol=1e-3)


def test_c_contiguous_input_is_not_copied():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 50))  # 80 MB
    y = X[:, 0] + 1.0
    est = GDRegressor(batch_size=256, max_iter=1, tol=None, random_state=0)
    tracemalloc.start()
    est.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * X.nbytes, f"peak {peak / 1e6:.1f} MB for an X of {X.nbytes / 1e6:.0f} MB"


@pytest.mark.parametrize("batch_size", [1, 64, "full"])
def test_same_seed_same_bits_for_any_thread_count(batch_size, threads_restored):
    X, y = _data(n=30000, d=20)
    coefs = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        est = GDRegressor(batch_size=batch_size, max_iter=2, tol=None, random_state=3).fit(X, y)
        coefs.append(np.append(est.coef_, est.intercept_))
    assert np.array_equal(coefs[0], coefs[1])


def test_thread_determinism_in_subprocesses():
    code = (
        "import numpy as np, pygd; from pygd.linear_model import GDRegressor;"
        "rng=np.random.default_rng(0); X=rng.normal(size=(40000,16)); y=X@np.arange(16.)+1;"
        "e=GDRegressor(batch_size=4096, max_iter=2, tol=None, random_state=0).fit(X,y);"
        "print(pygd.get_num_threads(), np.append(e.coef_, e.intercept_).tobytes().hex())"
    )
    outs = []
    for threads in ("1", "2"):
        outs.append(run_python(code, OMP_NUM_THREADS=threads).stdout.split())
    assert outs[0][0] == "1"
    assert outs[0][1] == outs[1][1]


def test_different_seeds_differ():
    X, y = _data()
    a = GDRegressor(optimizer="momentum", random_state=0, max_iter=2, tol=None).fit(X, y).coef_
    b = GDRegressor(optimizer="momentum", random_state=1, max_iter=2, tol=None).fit(X, y).coef_
    assert not np.array_equal(a, b)


# -- API -----------------------------------------------------------------------------


def test_partial_fit_sequence_equals_fit():
    X, y = _data()
    fitted = GDRegressor(optimizer="momentum", max_iter=4, tol=None, random_state=5).fit(X, y)
    partial = GDRegressor(max_iter=4, tol=None, random_state=5)  # "auto": momentum in partial_fit
    for _ in range(4):
        partial.partial_fit(X, y)
    assert np.array_equal(fitted.coef_, partial.coef_)
    assert np.array_equal(fitted.intercept_, partial.intercept_)
    assert partial.n_iter_ == 4 and partial.t_ == fitted.t_
    assert partial.loss_curve_ == fitted.loss_curve_


def test_clone_pickle_pipeline_gridsearch():
    X, y = _data()
    est = GDRegressor(optimizer="momentum", random_state=0, max_iter=30, tol=None)
    assert clone(est).get_params() == est.get_params()
    est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    again.partial_fit(X, y)  # the optimizer state survived
    pipe = make_pipeline(StandardScaler(), GDRegressor(random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.99
    grid = GridSearchCV(GDRegressor(random_state=0, max_iter=50, tol=None), {"learning_rate": [0.01, 0.1]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["learning_rate"] in (0.01, 0.1)


def test_optimizer_class_and_params():
    X, y = _data()
    by_name = GDRegressor(optimizer="nesterov", max_iter=3, tol=None, random_state=0).fit(X, y)
    by_class = GDRegressor(optimizer=optim.SGD, optimizer_params={"momentum": 0.9, "nesterov": True},
                           max_iter=3, tol=None, random_state=0).fit(X, y)
    assert np.array_equal(by_name.coef_, by_class.coef_)
    with pytest.raises(ValueError, match="unknown optimizer_params"):
        GDRegressor(optimizer_params={"bogus": 1}).fit(X, y)
    with pytest.raises(ValueError, match="Invalid beta"):
        GDRegressor(optimizer="adam", optimizer_params={"betas": (1.5, 0.9)}).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        GDRegressor(optimizer_params={"lr": 0.1}).fit(X, y)


def test_bad_inputs_get_sklearn_messages():
    X, y = _data()
    with pytest.raises(ValueError, match="The 'alpha' parameter of GDRegressor must be"):
        GDRegressor(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="The 'batch_size' parameter"):
        GDRegressor(batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GDRegressor().fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GDRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        GDRegressor().fit(X, y, sample_weight=-np.ones(len(y)))
    est = GDRegressor(max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but GDRegressor is expecting 5"):
        est.predict(X[:, :4])
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        GDRegressor().predict(X)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 151, 299])
@pytest.mark.parametrize("settings", [{}, {"batch_size": 1}, {"batch_size": "full"},
                                      {"early_stopping": True, "optimizer": "adam"},
                                      {"optimizer": "sgd", "learning_rate": 0.01}])
def test_non_finite_x_raises_wherever_it_is(value, row, settings):
    # fit skips scikit-learn's up-front scan of X: the training detects the value (in the
    # learning-rate sample, the epoch's loss or weights, or the validation predictions) and
    # raises scikit-learn's message; nothing is left fitted.
    X, y = _data()
    X = X.copy()
    X[row, 3] = value
    est = GDRegressor(random_state=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            est.fit(X, y)
    assert not hasattr(est, "coef_")


def test_non_finite_x_in_partial_fit_keeps_the_model():
    X, y = _data()
    est = GDRegressor(random_state=0).partial_fit(X, y)
    before = est.coef_.copy(), est.n_iter_
    bad = X.copy()
    bad[42, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.partial_fit(bad, y)
    assert np.array_equal(est.coef_, before[0]) and est.n_iter_ == before[1]
    est.partial_fit(X, y)  # and it goes on
    assert est.n_iter_ == before[1] + 1


def test_l1_gives_sparse_coef():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 30))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=500)
    est = GDRegressor(penalty="l1", alpha=0.05, optimizer="sgd", learning_rate=0.01, random_state=0).fit(X, y)
    assert (est.coef_[2:] == 0).sum() >= 20
    assert abs(est.coef_[0]) > 2 and abs(est.coef_[1]) > 1


def test_early_stopping_restores_best_validation_weights():
    X, y = _data(n=500, noise=1.0)
    est = GDRegressor(early_stopping=True, random_state=0, max_iter=200).fit(X, y)
    assert est.validation_scores_ is not None and len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.n_iter_ < 200


def test_callback_stops_and_verbose_prints(capsys):
    X, y = _data()
    seen = []
    est = GDRegressor(callback=lambda e, loss: seen.append((e, loss)) or e == 3, verbose=2,
                      tol=None, random_state=0).fit(X, y)
    assert est.n_iter_ == 3 and [e for e, _ in seen] == [1, 2, 3]
    assert [loss for _, loss in seen] == est.loss_curve_
    out = capsys.readouterr()
    assert out.out.count("Epoch ") == 3
    GDRegressor(verbose=1, max_iter=4, tol=None, random_state=0).fit(X, y)
    assert "4/4" in capsys.readouterr().err


def test_max_iter_reached_warns():
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        GDRegressor(max_iter=2, random_state=0).fit(X, y)


def test_warm_start_and_init():
    X, y = _data()
    kw = dict(batch_size="full", optimizer="sgd", learning_rate=0.1, max_iter=5, tol=None, random_state=0)
    est = GDRegressor(**kw, warm_start=True).fit(X, y)
    twice = clone(est).fit(X, y, coef_init=est.coef_, intercept_init=est.intercept_)
    est.fit(X, y)
    np.testing.assert_allclose(est.coef_, twice.coef_, rtol=1e-12)
    assert GDRegressor(**kw).fit(X, y).score(X, y) < est.score(X, y) + 1e-12


def test_average_and_schedules_run():
    X, y = _data()
    for schedule in ["invscaling", "step", "exponential", "cosine", "warmup_cosine", "plateau"]:
        est = GDRegressor(lr_schedule=schedule, learning_rate=0.1, average=True, random_state=0, max_iter=50,
                          tol=None).fit(X, y)
        assert est.score(X, y) > 0.9, schedule
    with pytest.raises(ValueError, match="unknown schedule_params"):
        GDRegressor(schedule_params={"gama": 0.5}).fit(X, y)


def test_no_divergence_warning_on_good_data():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GDRegressor(random_state=0).fit(X, y)




def test_ctrl_c_in_a_long_epoch_leaves_the_model_as_it_was_and_refittable():
    # Ctrl-C during an epoch stops the engine between two steps (not at the end
    # of the epoch); the trainer goes back to the epoch's start, so its steps,
    # n_iter and loss curve agree, and a fitted model keeps its attributes.
    from test_core_train import ctrl_c_when

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000_000, 8)).astype(np.float32)
    y = X @ np.arange(1.0, 9.0, dtype=np.float32)
    est = GDRegressor(batch_size=1, max_iter=1, tol=None, random_state=0)
    est.fit(X[:2000], y[:2000])
    before = {name: np.copy(getattr(est, name)) for name in ("coef_", "intercept_", "n_iter_", "t_")}
    curve = list(est.loss_curve_)
    first = est._trainer
    start = []

    def stepping():  # the new fit's engine has changed its weights
        trainer = est.__dict__.get("_trainer")
        if trainer is None or trainer is first:
            return False
        if not start:
            start.append(trainer.params.copy())
        return not np.array_equal(trainer.params, start[0])

    with pytest.raises(KeyboardInterrupt), ctrl_c_when(stepping):
        est.fit(X, y)  # one epoch of 2e6 steps
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(est, name), value, err_msg=name)
    assert est.loss_curve_ == curve
    trainer = est._trainer  # the interrupted fit's, back at the start of its first epoch
    assert trainer is not first
    assert trainer.n_iter == 0 and trainer.loss_curve == []
    assert trainer.counters.steps == 0
    refit = est.fit(X[:2000], y[:2000])
    np.testing.assert_array_equal(refit.coef_, before["coef_"])
    assert refit.n_iter_ == 1
