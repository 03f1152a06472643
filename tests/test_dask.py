"""pygd's estimators on Dask collections over a two-process LocalCluster (pygd.dask)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from pygd.linear_model import GDClassifier, GDRegressor  # noqa: E402
from pygd.preprocessing import StandardScaler  # noqa: E402

from conftest import run_python  # noqa: E402

# distributed's own warnings while workers start, die and stop (filterwarnings = error).
pytestmark = []

ROWS = 1500
CHUNKS = (400, 350, 1, 449, 300)  # uneven, one of a single row


@pytest.fixture(scope="module")
def client():
    # No dashboard; the scheduler's HTTP server (health checks) on a free port, not on 8787,
    # which a user's own cluster may hold.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _data(seed=0, d=6, offset=3.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((ROWS, d)) * np.geomspace(0.1, 100, d) + offset
    y = X @ rng.standard_normal(d) + rng.standard_normal(ROWS)
    sw = rng.uniform(0.0, 2.0, ROWS)
    return X, y, sw


def _close(actual, expected, rtol=1e-12):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    err = float(np.max(np.abs(actual - expected)))
    assert err <= rtol * scale, f"max error {err:.3g} > {rtol:g} * {scale:.3g}"


def _d(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


@pytest.mark.parametrize("loss", ["squared_error", "huber"])
@pytest.mark.parametrize("weighted", [False, True])
def test_regressor_fit_equals_in_memory(client, loss, weighted):
    X, y, sw = _data()
    sw = sw if weighted else None
    ref = GDRegressor(loss=loss).fit(X, y, sample_weight=sw)
    got = GDRegressor(loss=loss).fit(_d(X), _d(y), sample_weight=None if sw is None else _d(sw))
    assert got.optimizer_ == "lbfgs" and got.n_iter_ == ref.n_iter_ and got.n_passes_ == ref.n_passes_
    _close(got.coef_, ref.coef_)
    _close(got.intercept_, ref.intercept_)
    _close(got.loss_curve_, ref.loss_curve_)
    assert got.n_features_in_ == X.shape[1]


def test_regressor_newton_multi_target_and_float32(client):
    # Ill-conditioned columns: L-BFGS hands over to Newton steps on the distributed gram.
    X, y, _ = _data(seed=1, d=8)
    noise = np.random.default_rng(1).standard_normal((ROWS, 2))
    X[:, 1] = X[:, 0] + 1e-3 * noise[:, 0]
    X[:, 3] = X[:, 2] + 1e-3 * noise[:, 1]
    Y = np.column_stack([y, -2 * y + 1])
    ref = GDRegressor(alpha=0.0).fit(X, Y)
    got = GDRegressor(alpha=0.0).fit(_d(X), _d(Y))
    assert got.n_iter_ == ref.n_iter_ > 8  # reached the Newton steps
    # Collinear columns (condition ~1e6): rounding is amplified; the in-memory fit of the same
    # rows in another order moves its coef_ by 6e-10 relative, the Dask fit by 1e-10.
    _close(got.coef_, ref.coef_, 1e-9)
    _close(got.loss_curve_[-1], ref.loss_curve_[-1])
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    got32 = GDRegressor().fit(_d(X32), _d(y32))
    assert got32.coef_.dtype == np.float32
    _close(got32.coef_, GDRegressor().fit(X32, y32).coef_, 1e-5)


def test_single_chunk_is_bitwise(client):
    X, y, sw = _data()
    ref = GDRegressor().fit(X, y, sample_weight=sw)
    got = GDRegressor().fit(_d(X, (ROWS,)), _d(y, (ROWS,)), sample_weight=_d(sw, (ROWS,)))
    assert np.array_equal(got.coef_, ref.coef_) and np.array_equal(got.intercept_, ref.intercept_)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_first_order_full_batch_equals_in_memory(client, optimizer):
    # One engine step per epoch from the chunks' raw sums (added in chunk order): equal to
    # the in-memory fit to rounding (1e-12 relative), bitwise with a single row chunk.
    # "auto" rates from the rows power iteration samples (fetched from the actors).
    # Adam starts from intercept 0: at the default start (the weighted mean of y) the
    # intercept's gradient is rounding noise, which Adam's normalised step turns into
    # +-lr (the in-memory fit of the same rows permuted moves intercept_ by 6e-4 there).
    X, y, sw = _data(seed=4)
    params = dict(optimizer=optimizer, batch_size="full", max_iter=25, tol=None, random_state=0)
    init = {"intercept_init": 0.0} if optimizer == "adam" else {}
    ref = GDRegressor(**params).fit(X, y, sample_weight=sw, **init)
    got = GDRegressor(**params).fit(_d(X), _d(y), sample_weight=_d(sw), **init)
    assert got.n_iter_ == ref.n_iter_ == 25 and got.t_ == ref.t_
    _close(got.coef_, ref.coef_)
    _close(got.intercept_, ref.intercept_)
    _close(got.loss_curve_, ref.loss_curve_)
    if optimizer == "sgd":
        one = GDRegressor(**params).fit(_d(X, (ROWS,)), _d(y, (ROWS,)), sample_weight=_d(sw, (ROWS,)))
        assert np.array_equal(one.coef_, ref.coef_) and np.array_equal(one.intercept_, ref.intercept_)
        assert one.loss_curve_ == ref.loss_curve_


def test_classifier_adam_full_batch_equals_in_memory(client):
    X, y, sw = _data(seed=5)
    labels = np.array(["a", "b", "c"])[np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))]
    params = dict(optimizer="adam", batch_size="full", max_iter=20, tol=None, alpha=1e-3,
                  class_weight={"a": 2.0})
    # From intercepts 0: the default ones (the optimum at coef 0) leave a noise gradient
    # that Adam amplifies (see the regressor's test above).
    ref = GDClassifier(**params).fit(X, labels, sample_weight=sw, intercept_init=np.zeros(3))
    got = GDClassifier(**params).fit(_d(X), _d(labels), sample_weight=_d(sw),
                                     intercept_init=np.zeros(3))
    assert list(got.classes_) == list(ref.classes_) and got.n_iter_ == ref.n_iter_ == 20
    _close(got.coef_, ref.coef_)
    _close(got.intercept_, ref.intercept_)
    _close(got.loss_curve_, ref.loss_curve_)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_fit_equals_in_memory(client, n_classes):
    X, y, sw = _data(seed=2)
    labels = np.array(["a", "b", "c"])[np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))]
    ref = GDClassifier(class_weight={"a": 2.0}).fit(X, labels, sample_weight=sw)
    got = GDClassifier(class_weight={"a": 2.0}).fit(_d(X), _d(labels), sample_weight=_d(sw))
    assert list(got.classes_) == list(ref.classes_) and got.n_iter_ == ref.n_iter_
    _close(got.coef_, ref.coef_)
    _close(got.intercept_, ref.intercept_)
    if n_classes == 2:
        # tol=1e-8: at the default tol, where L-BFGS stops on this problem amplifies rounding
        # to 1.8e-12 (the in-memory fit of the same rows in another order moves by 6e-13).
        balanced = GDClassifier(class_weight="balanced", tol=1e-8)
        _close(balanced.fit(_d(X), _d(labels)).coef_,
               GDClassifier(class_weight="balanced", tol=1e-8).fit(X, labels).coef_)
    # predict-like methods: lazy Dask arrays, each block bitwise the in-memory method's rows
    for method in ("predict", "decision_function", "predict_proba", "predict_log_proba"):
        lazy = getattr(got, method)(_d(X))
        assert isinstance(lazy, da.Array)
        assert np.array_equal(lazy.compute(), getattr(got, method)(X))


def test_raw_columns_fit_equals_in_memory(client):
    # standardize=False: L-BFGS on the implicitly centred model, its centre the weighted
    # column means from the chunks' statistics; the intercept reported for raw X.
    X, y, sw = _data(seed=6)
    labels = (y > np.median(y)).astype(int)
    ref = GDClassifier(standardize=False, tol=1e-8).fit(X, labels, sample_weight=sw)
    got = GDClassifier(standardize=False, tol=1e-8).fit(_d(X), _d(labels), sample_weight=_d(sw))
    _close(got.coef_, ref.coef_, 1e-10)
    _close(got.intercept_, ref.intercept_, 1e-10)
    np.testing.assert_allclose(ref.decision_function(X), X @ ref.coef_[0] + ref.intercept_[0],
                               rtol=1e-12, atol=1e-12)


def test_predict_and_dataframe_feature_names(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _ = _data()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    Xf = dd.from_pandas(frame, npartitions=3)
    yf = dd.from_pandas(pd.Series(y), npartitions=3)
    reg = GDRegressor().fit(Xf, yf)
    assert list(reg.feature_names_in_) == list(frame.columns)
    _close(reg.coef_, GDRegressor().fit(frame, y).coef_)
    lazy = reg.predict(Xf)
    assert isinstance(lazy, da.Array)
    assert np.array_equal(lazy.compute(), reg.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(Xf.rename(columns={"f0": "other"})).compute()


MINI = dict(batch_size=64, max_iter=6, tol=None, random_state=0)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_mini_batch_fit_one_chunk_is_bitwise(client, optimizer):
    # One row chunk: the chunk's epoch is the in-memory epoch, bit for bit.
    X, y, sw = _data(seed=6)
    ref = GDRegressor(optimizer=optimizer, **MINI).fit(X, y, sample_weight=sw)
    got = GDRegressor(optimizer=optimizer, **MINI).fit(_d(X, (ROWS,)), _d(y, (ROWS,)),
                                                       sample_weight=_d(sw, (ROWS,)))
    assert got.n_iter_ == ref.n_iter_ == 6 and got.t_ == ref.t_
    assert np.array_equal(got.coef_, ref.coef_) and np.array_equal(got.intercept_, ref.intercept_)
    assert got.loss_curve_ == ref.loss_curve_


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_mini_batch_fit_visits_the_blocks_in_order(client, optimizer):
    # Chunks that are whole numbers of batches, no shuffle: the model visits the blocks in
    # order, so every batch is the in-memory fit's; equal to rounding (the standardisation
    # statistics are merged from per-chunk ones).
    X, y, sw = _data(seed=7)
    chunks = (640, 64, 512, 284)  # the last one short: the in-memory fit's last batch too
    params = dict(MINI, optimizer=optimizer, shuffle=False)
    ref = GDRegressor(**params).fit(X, y, sample_weight=sw)
    got = GDRegressor(**params).fit(_d(X, chunks), _d(y, chunks), sample_weight=_d(sw, chunks))
    assert got.t_ == ref.t_ == 6 * 24
    _close(got.coef_, ref.coef_)
    _close(got.intercept_, ref.intercept_)
    _close(got.loss_curve_, ref.loss_curve_)
    # Shuffled, uneven chunks: each epoch takes the in-memory permutation block by block
    # (each block's last batch short), whatever worker holds a block.
    shuffled = dict(MINI, optimizer=optimizer)
    a = GDRegressor(**shuffled).fit(_d(X), _d(y), sample_weight=_d(sw))
    b = GDRegressor(**shuffled).fit(_d(X), _d(y), sample_weight=_d(sw))
    steps = sum(-(-rows // 64) for rows in CHUNKS)
    assert a.t_ == 6 * steps and np.array_equal(a.coef_, b.coef_)
    full = GDRegressor(optimizer=optimizer, batch_size="full", tol=None, max_iter=1).fit(X, y, sample_weight=sw)
    assert a.loss_curve_[-1] < full.loss_curve_[0]


def test_mini_batch_classifier_and_early_stopping(client):
    X, y, sw = _data(seed=8)
    labels = np.array(["a", "b", "c"])[np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))]
    params = dict(optimizer="adam", batch_size=128, early_stopping=True, random_state=0,
                  validation_fraction=0.2, n_iter_no_change=3, max_iter=200)
    ref = GDClassifier(**params).fit(X, labels, sample_weight=sw)
    one = GDClassifier(**params).fit(_d(X, (ROWS,)), _d(labels, (ROWS,)), sample_weight=_d(sw, (ROWS,)))
    # One chunk: the same stratified validation rows, epochs and scores, bit for bit.
    assert one.n_iter_ == ref.n_iter_ < 200 and one.validation_scores_ == ref.validation_scores_
    assert np.array_equal(one.coef_, ref.coef_)
    got = GDClassifier(**params).fit(_d(X), _d(labels), sample_weight=_d(sw))
    assert got.n_iter_ < 200 and got.best_validation_score_ > 0.8
    reg = GDRegressor(optimizer="sgd", batch_size="full", early_stopping=True, random_state=0,
                      max_iter=30, tol=None)
    ref = reg.fit(X, y, sample_weight=sw)
    ref_scores, ref_coef = list(ref.validation_scores_), ref.coef_.copy()
    got = reg.fit(_d(X), _d(y), sample_weight=_d(sw))
    # Full batches over the training rows: the same validation split, steps equal to rounding.
    _close(got.validation_scores_, ref_scores, 1e-10)
    _close(got.coef_, ref_coef)


@pytest.mark.parametrize("batch_size", ["full", 128])
def test_warm_start_continues(client, batch_size):
    X, y, _ = _data(seed=9)
    labels = y > np.median(y)
    params = dict(optimizer="sgd", batch_size=batch_size, max_iter=3, tol=None, warm_start=True,
                  random_state=0)
    for make, target in ((GDRegressor, y), (GDClassifier, labels)):
        ref = make(**params)
        ref.fit(X, target)
        ref.fit(X, target)
        got = make(**params)
        got.fit(_d(X, (ROWS,)), _d(target, (ROWS,)))
        got.fit(_d(X, (ROWS,)), _d(target, (ROWS,)))
        assert got.t_ == ref.t_ and np.array_equal(got.coef_, ref.coef_)
    clf = GDClassifier(**params).fit(_d(X), _d(labels))
    t = clf.t_
    clf.fit(_d(X), _d(np.where(labels, "x", "y")))  # other classes: a fresh start, as in memory
    assert clf.t_ == t


@pytest.mark.parametrize("weighted", [False, True])
def test_standard_scaler(client, weighted):
    # Per-block statistics computed in parallel and merged in chunk order (Chan): equal to one
    # in-memory fit to rounding, at an offset of 1e6, over uneven chunks with a 1-row chunk.
    X, _, sw = _data(offset=1e6)
    X[:5, 1] = np.nan  # NaNs are left out, as in memory
    X[:, 2] = np.nan
    X[750:, 2] = 1e6 + np.arange(ROWS - 750)  # a column first seen in the 1-row chunk
    sw = sw if weighted else None
    scaler = StandardScaler().fit(_d(X), sample_weight=None if sw is None else _d(sw))
    whole = StandardScaler().fit(X, sample_weight=sw)
    _close(scaler.mean_, whole.mean_)
    _close(scaler.var_, whole.var_, 1e-11)
    _close(scaler.scale_, whole.scale_, 1e-11)
    _check_seen(scaler, whole, weighted)
    assert scaler.n_features_in_ == X.shape[1] and not hasattr(scaler, "feature_names_in_")
    out = scaler.transform(_d(X))
    assert isinstance(out, da.Array) and np.array_equal(out.compute(), scaler.transform(X), equal_nan=True)
    assert np.array_equal(scaler.inverse_transform(out).compute(),
                          scaler.inverse_transform(scaler.transform(X)), equal_nan=True)
    for options in ({"with_mean": False}, {"with_std": False}, {"with_mean": False, "with_std": False}):
        got = StandardScaler(**options).fit(_d(X), sample_weight=None if sw is None else _d(sw))
        ref = StandardScaler(**options).fit(X, sample_weight=sw)
        for name in ("mean_", "var_", "scale_"):
            if getattr(ref, name) is None:
                assert getattr(got, name) is None, name
            else:
                _close(getattr(got, name), getattr(ref, name), 1e-11)
        _check_seen(got, ref, weighted)


def test_partial_fit_visits_blocks_in_order(client):
    X, y, sw = _data()
    labels = (y > np.median(y)).astype(int)
    reg = GDRegressor(random_state=0).partial_fit(_d(X), _d(y), sample_weight=_d(sw))
    clf = GDClassifier(random_state=0).partial_fit(_d(X), _d(labels), classes=[0, 1])
    clf.partial_fit(_d(X), _d(labels))  # a second pass continues the state
    ref_reg, ref_clf = GDRegressor(random_state=0), GDClassifier(random_state=0)
    start = 0
    for rows in CHUNKS:
        part = slice(start, start + rows)
        ref_reg.partial_fit(X[part], y[part], sample_weight=sw[part])
        ref_clf.partial_fit(X[part], labels[part], classes=[0, 1])
        start += rows
    start = 0
    for rows in CHUNKS:
        ref_clf.partial_fit(X[start:start + rows], labels[start:start + rows])
        start += rows
    assert np.array_equal(reg.coef_, ref_reg.coef_) and np.array_equal(clf.coef_, ref_clf.coef_)
    assert reg.t_ == ref_reg.t_ and clf.n_iter_ == ref_clf.n_iter_


def test_bad_input(client):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="do not line up"):
        GDRegressor().fit(_d(X), da.from_array(y, chunks=500))
    unknown = _d(X)[_d(X)[:, 0] > -np.inf]  # a boolean mask: chunk sizes unknown
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        GDRegressor().fit(unknown, _d(y))
    with pytest.raises(ValueError, match="dtype"):
        GDRegressor().fit(_d(X.astype(str)), _d(y))
    bad = X.copy()
    bad[1000, 2] = np.nan  # in the fourth chunk
    with pytest.raises(ValueError, match=r"Input X contains NaN \(in row chunk 3, rows 751 to 1199\)"):
        GDRegressor().fit(_d(bad), _d(y))
    bad_y = y.copy()
    bad_y[5] = np.inf
    with pytest.raises(ValueError, match="Input y contains NaN or infinity"):
        GDRegressor().fit(_d(X), _d(bad_y))
    with pytest.raises(ValueError, match="Negative values"):
        GDRegressor().fit(_d(X), _d(y), sample_weight=_d(-np.ones(ROWS)))
    with pytest.raises(ValueError, match="early_stopping needs a stochastic optimizer"):
        GDRegressor(optimizer="lbfgs", early_stopping=True).fit(_d(X), _d(y))


@pytest.mark.parametrize("params", [{}, dict(optimizer="adam", batch_size=100, max_iter=4, tol=None,
                                          random_state=0)],
                         ids=["lbfgs", "mini-batch"])
def test_worker_killed_mid_fit_gives_the_same_model(client, params):
    X, y, sw = _data(seed=3)
    Xd, yd, swd = _d(X), _d(y > 0), _d(sw)
    ref = GDClassifier(**params).fit(Xd, yd, sample_weight=swd)
    assert ref.n_iter_ >= 3
    client.wait_for_workers(2, timeout=60)
    pids = client.run(os.getpid)
    killed = []

    def kill_one(iteration, loss):
        if iteration == 2 and not killed:  # between two iterations, actors holding chunks
            worker, pid = sorted(pids.items())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(worker)

    got = GDClassifier(callback=kill_one, **params).fit(Xd, yd, sample_weight=swd)
    assert killed
    client.wait_for_workers(2, timeout=60)
    # The chunks' sums are added in chunk order wherever the chunks live, and a chunk's
    # epoch starts from the model the client sent: the same bits.
    assert got.n_iter_ == ref.n_iter_
    assert np.array_equal(got.coef_, ref.coef_) and np.array_equal(got.intercept_, ref.intercept_)
    if not params:
        _close(got.coef_, GDClassifier().fit(X, y > 0, sample_weight=sw).coef_)


def test_no_dask_import_without_a_dask_collection():
    out = run_python(
        "import sys, numpy as np\n"
        "from pygd.linear_model import GDRegressor, GDClassifier\n"
        "from pygd.preprocessing import StandardScaler\n"
        "X = np.random.default_rng(0).standard_normal((50, 3)); y = X[:, 0]\n"
        "GDRegressor().fit(X, y).predict(X); GDClassifier().fit(X, y > 0).predict_proba(X)\n"
        "StandardScaler().fit(X).transform(X)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    assert out.stdout.strip() == "[]"


def _check_seen(got, ref, weighted):
    # Counts are exact; weight sums are added per chunk, so equal to rounding.
    assert np.shape(got.n_samples_seen_) == np.shape(ref.n_samples_seen_)
    assert np.asarray(got.n_samples_seen_).dtype == np.asarray(ref.n_samples_seen_).dtype
    if weighted:
        _close(got.n_samples_seen_, ref.n_samples_seen_)
    else:
        assert np.array_equal(got.n_samples_seen_, ref.n_samples_seen_)


def test_standard_scaler_dataframe_and_bad_input(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, _, _ = _data(offset=1e6)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    scaler = StandardScaler().fit(dd.from_pandas(frame, npartitions=4))
    whole = StandardScaler().fit(frame)
    assert list(scaler.feature_names_in_) == list(frame.columns)
    _close(scaler.mean_, whole.mean_)
    _close(scaler.var_, whole.var_, 1e-11)
    assert scaler.n_samples_seen_ == whole.n_samples_seen_
    # y and sample_weight as NumPy arrays beside a DataFrame: split at its partitions
    _, y, sw = _data(offset=1e6)
    weighted = StandardScaler().fit(dd.from_pandas(frame, npartitions=4), sample_weight=sw)
    _close(weighted.mean_, StandardScaler().fit(frame, sample_weight=sw).mean_)
    Xf = dd.from_pandas(frame, npartitions=3)
    reg = GDRegressor(random_state=0).partial_fit(Xf, y, sample_weight=sw)
    ref = GDRegressor(random_state=0)
    for part in np.array_split(np.arange(ROWS), 3):
        ref.partial_fit(frame.iloc[part], y[part], sample_weight=sw[part])
    assert np.array_equal(reg.coef_, ref.coef_)
    with pytest.raises(ValueError, match="rows but sample_weight"):
        StandardScaler().fit(Xf, sample_weight=sw[:-1])
    bad = X.copy()
    bad[1000, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        StandardScaler().fit(_d(bad))
