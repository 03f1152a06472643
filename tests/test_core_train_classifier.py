"""The engine's classifier losses (hinge family one-vs-rest, multinomial softmax) against
pygd.reference.train_reference, over SIMD levels and thread counts; extreme logits."""

from __future__ import annotations

import numpy as np
import pytest

import pygd
from pygd import reference as ref

from test_core_train import OPTIMIZERS, _run_engine, train_options

CLASSIFIER_LOSSES = ["hinge", "squared_hinge", "modified_huber", "perceptron", "log_loss", "multinomial"]


def _classification(n=157, d=9, k=4, dtype=np.float64, seed=0, loss="multinomial"):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.5, 5, d) + rng.normal(size=d) * 3).astype(dtype)
    labels = (X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)) * 3).argmax(axis=1)
    Y = np.eye(k)[labels]
    if loss in ("hinge", "squared_hinge", "modified_huber", "perceptron"):
        Y = 2 * Y - 1
    sw = rng.uniform(0.2, 2.0, n).astype(dtype)
    return X, np.ascontiguousarray(Y, dtype=dtype), sw, rng


@pytest.mark.parametrize("loss", CLASSIFIER_LOSSES)
@pytest.mark.parametrize("batch", [1, 16, "full"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_classifier_losses_match_reference(loss, batch, optimizer, simd_level):
    X, Y, sw, rng = _classification(loss=loss)
    n = X.shape[0]
    b = n if batch == "full" else batch
    orders = [rng.permutation(n) for _ in range(3)]
    opt = OPTIMIZERS[optimizer]
    mean, scale = X.mean(0), X.std(0)
    params, _, losses, _ = _run_engine(X, Y, sw, orders, b, opt, loss=loss, mean=mean, scale=scale,
                                       l2=0.01)
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.train_reference(X, Y, sw, orders, b, expected, optimizer=opt, loss=loss,
                                           mean=mean, scale=scale, l2=0.01,
                                           weight_per_row=float(sw.mean()))
    assert np.abs(expected).max() > 1e-3  # it trained
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("loss", ["multinomial", "hinge"])
def test_classifier_bits_do_not_depend_on_threads(loss, threads_restored):
    X, Y, sw, rng = _classification(n=20000, d=40, k=10, loss=loss)
    orders = [rng.permutation(X.shape[0])]
    results = []
    for threads in (1, 2):
        pygd.set_num_threads(threads)
        params, _, losses, _ = _run_engine(X, Y, sw, orders, 4096, OPTIMIZERS["adam"], loss=loss,
                                           mean=X.mean(0), scale=X.std(0))
        results.append((params.copy(), losses))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_multinomial_with_many_classes_uses_heap_scratch():
    # k = 300 > the kernel's stack buffer of logits (256 classes).
    X, Y, sw, rng = _classification(n=400, d=5, k=300)
    orders = [rng.permutation(X.shape[0])]
    opt = OPTIMIZERS["sgd"]
    params, _, losses, _ = _run_engine(X, Y, sw, orders, 64, opt, loss="multinomial")
    expected = np.zeros_like(params)
    _, _, ref_losses = ref.train_reference(X, Y, sw, orders, 64, expected, optimizer=opt,
                                           loss="multinomial", weight_per_row=float(sw.mean()))
    assert np.abs(params - expected).max() <= 1e-12 * np.abs(expected).max()
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("logit", [-1e4, -750.0, 0.0, 750.0, 1e4])
def test_engine_softmax_is_finite_for_extreme_logits(logit):
    # One row, one feature x = 1, intercepts folded into coef: logits (logit, 0, -logit).
    X = np.ones((1, 1))
    Y = np.array([[0.0, 1.0, 0.0]])
    opt = dict(kind="sgd", lr=0.0, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)
    from pygd import _core
    params = np.array([logit, 0.0, -logit, 0.0, 0.0, 0.0])
    config = train_options(loss="multinomial", steps_per_epoch=1, optimizer=opt)
    result = _core.train_epoch_f64(
        X, Y, None, None, 1, params, [], None, _core.TrainCounters(), None, None, config)
    assert result.finite and result.steps == 1
    assert result.loss_sum == pytest.approx(abs(logit) + np.log1p(np.exp(-abs(logit)) + np.exp(-2 * abs(logit))),
                                     rel=1e-12, abs=1e-300)
