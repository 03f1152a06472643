"""pygd.optim given what a torch.optim user might pass: a clear error, or a correct result.

Each case here gave NaN parameters, a wrong update or a confusing error before
(issue 12, item 4).  A refused call changes nothing.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from pygd import optim
from pygd.optim import lr_scheduler as S


def _snapshot(opt, params):
    return [p.copy() for p in params], pickle.dumps(opt.state_dict())


def assert_unchanged(opt, params, before):
    after = _snapshot(opt, params)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1] == after[1]


# -- 1. hyper-parameters: finite, in range, checked when set and at each step ----------


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: optim.SGD(p, lr=np.inf), "Invalid learning rate: inf"),
        (lambda p: optim.SGD(p, weight_decay=np.inf), "Invalid weight_decay value: inf"),
        (lambda p: optim.SGD(p, momentum=np.inf), "Invalid momentum value: inf"),
        (lambda p: optim.SGD(p, momentum=0.9, dampening=np.inf), "Invalid dampening value: inf"),
        (lambda p: optim.Adam(p, eps=np.inf), "Invalid epsilon value: inf"),
        (lambda p: optim.Adam(p, betas=(np.nan, 0.999)), "Invalid beta parameter at index 0: nan"),
        (lambda p: optim.AdamW(p, weight_decay=np.inf), "Invalid weight_decay value: inf"),
        (lambda p: optim.Adagrad(p, lr_decay=np.inf), "Invalid lr_decay value: inf"),
        (lambda p: optim.Adagrad(p, initial_accumulator_value=np.inf), "Invalid initial_accumulator_value"),
        (lambda p: optim.RMSprop(p, alpha=2.0), "Invalid alpha value: 2.0"),
        (lambda p: optim.RMSprop(p, alpha=np.inf), "Invalid alpha value: inf"),
        (lambda p: optim.RMSprop(p, momentum=np.inf), "Invalid momentum value: inf"),
        (lambda p: optim.NAdam(p, momentum_decay=np.inf), "Invalid momentum_decay value: inf"),
        (lambda p: optim.SGD([{"params": p, "lr": np.nan}], lr=0.1), "Invalid learning rate: nan"),
    ],
)
def test_non_finite_or_out_of_range_hyper_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make([np.ones(3)])


@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0])
@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "RMSprop", "Adadelta", "NAdam"])
def test_learning_rate_set_by_hand_is_checked_at_step(name, value):
    a, b = np.ones(3), np.ones(2)
    opt = getattr(optim, name)([{"params": [a]}, {"params": [b]}], lr=0.1)
    opt.step([np.ones(3), np.ones(2)])
    opt.param_groups[1]["lr"] = value
    before = _snapshot(opt, [a, b])
    with pytest.raises(ValueError, match=rf"param_groups\[1\]: Invalid learning rate: {value}"):
        opt.step([np.ones(3), np.ones(2)])
    assert_unchanged(opt, [a, b], before)


def test_other_hyper_parameter_set_by_hand_is_checked_at_step():
    w = np.ones(3)
    opt = optim.Adam([w])
    opt.param_groups[0]["betas"] = (0.9, np.nan)
    with pytest.raises(ValueError, match=r"param_groups\[0\]: Invalid beta parameter at index 1"):
        opt.step([np.ones(3)])
    np.testing.assert_array_equal(w, np.ones(3))


@pytest.mark.parametrize(
    "make",
    [
        lambda o: S.ExponentialLR(o, gamma=np.nan),
        lambda o: S.ExponentialLR(o, gamma=np.inf),
        lambda o: S.StepLR(o, step_size=1, gamma=np.nan),
        lambda o: S.StepLR(o, step_size=1, gamma=-0.5),
        lambda o: S.MultiStepLR(o, milestones=[1], gamma=np.nan),
        lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=np.nan),
        lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=-1.0),
        lambda o: S.LinearLR(o, start_factor=np.nan),
        lambda o: S.LinearLR(o, end_factor=np.nan),
        lambda o: S.InverseScalingLR(o, power_t=np.inf),
        lambda o: S.OneCycleLR(o, max_lr=np.nan, total_steps=10),
        lambda o: S.OneCycleLR(o, max_lr=[np.inf], total_steps=10),
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, div_factor=0.0),
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, final_div_factor=np.nan),
        lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, max_momentum=np.nan),
        lambda o: S.ReduceLROnPlateau(o, factor=np.nan),
        lambda o: S.ReduceLROnPlateau(o, factor=-0.5),
        lambda o: S.ReduceLROnPlateau(o, min_lr=np.nan),
        lambda o: S.ReduceLROnPlateau(o, min_lr=[-1.0]),
    ],
)
def test_scheduler_arguments_are_checked_and_change_nothing(make):
    opt = optim.SGD([np.ones(2)], lr=0.1, momentum=0.9)
    groups = pickle.dumps(opt.state_dict()["param_groups"])
    with pytest.raises(ValueError):
        make(opt)
    assert pickle.dumps(opt.state_dict()["param_groups"]) == groups


def test_one_cycle_beta1_must_stay_below_one():
    opt = optim.Adam([np.ones(2)])
    with pytest.raises(ValueError, match="max_momentum"):
        S.OneCycleLR(opt, max_lr=1.0, total_steps=10, max_momentum=1.0)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


def test_scheduler_that_overflows_the_learning_rate_stops_the_step():
    w = np.ones(2)
    opt = optim.SGD([w], lr=1.0)
    sched = S.ExponentialLR(opt, gamma=1e200)
    sched.step(); sched.step()  # 1e400: inf
    with pytest.raises(ValueError, match=r"param_groups\[0\]: Invalid learning rate: inf"):
        opt.step([np.ones(2)])
    np.testing.assert_array_equal(w, np.ones(2))


# -- 2. several groups, read-only and aliasing parameters ------------------------------


def test_read_only_parameter_in_second_group_is_named_and_nothing_changes():
    a, b, c = np.ones(3), np.ones(2), np.ones(4)
    opt = optim.SGD([{"params": [a]}, {"params": [b, c]}], lr=0.1, momentum=0.9)
    opt.step([np.ones(3), np.ones(2), np.ones(4)])
    before = _snapshot(opt, [a, b, c])
    c.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[2\] \(param_groups\[1\]\['params'\]\[1\]\) is read-only"):
        opt.step([np.ones(3), np.ones(2), np.ones(4)])
    assert_unchanged(opt, [a, b, c], before)


@pytest.mark.parametrize(
    "make",
    [
        lambda w: [w, w[::-1]],
        lambda w: [w, w.view()],
        lambda w: [w[:3], w[2:]],
        lambda w: [w.reshape(2, 3), w[1:2]],
        lambda w: [w[::2], w[2:3]],
    ],
)
def test_parameters_sharing_memory_are_refused(make):
    w = np.arange(6.0)
    with pytest.raises(ValueError, match="share memory"):
        optim.SGD(make(w), lr=0.1)
    np.testing.assert_array_equal(w, np.arange(6.0))


def test_parameter_group_sharing_memory_is_refused_and_not_added():
    w = np.arange(6.0)
    opt = optim.Adam([w[:3]])
    with pytest.raises(ValueError, match=r"params\[0\] \(param_groups\[0\]\['params'\]\[0\]\) and "
                                         r"params\[2\] \(param_groups\[1\]\['params'\]\[1\]\) share memory"):
        opt.add_param_group({"params": [np.zeros(2), w[2:4]], "lr": 0.5})
    assert len(opt.param_groups) == 1 and len(opt.state) == 1


def test_interleaved_views_that_do_not_overlap_are_accepted():
    # A guard (it passed before): the aliasing check is exact, not by bounds.
    w = np.arange(6.0)
    even, odd = w[::2], w[1::2]
    opt = optim.SGD([even, odd], lr=0.5)
    opt.step([np.ones(3), 2 * np.ones(3)])
    np.testing.assert_array_equal(w, np.arange(6.0) - [0.5, 1.0] * 3)


# -- 3. clip_grad_norm_ of huge finite gradients ----------------------------------------


def test_clip_grad_norm_of_huge_finite_gradients():
    g = np.array([1e300, 1e300])
    total = optim.clip_grad_norm_([g], max_norm=1.0)
    assert math.isfinite(total)
    assert total == pytest.approx(math.sqrt(2) * 1e300, rel=1e-15)
    np.testing.assert_allclose(g, [1 / math.sqrt(2)] * 2, rtol=1e-15)


# Each case gave an infinite or zero norm (|x|^p overflowed or underflowed in float64).
FAR_CASES = [(np.float64, scale, p) for scale in (1e300, 1e200, 1e-300, 1e-170) for p in (2.0, 3.0, 20.0)]
FAR_CASES += [(np.float32, 3e37, 20.0), (np.float32, 1e-30, 20.0)]


@pytest.mark.parametrize("dtype,scale,norm_type", FAR_CASES)
def test_clip_grad_norm_far_from_one_equals_the_scaled_norm(norm_type, scale, dtype):
    rng = np.random.default_rng(0)
    base = [rng.standard_normal(50), rng.standard_normal((3, 4))]
    grads = [(b * scale).astype(dtype) for b in base]
    ref = [(g.astype(np.float64) / scale) for g in grads]
    expected = np.linalg.norm(np.concatenate([r.ravel() for r in ref]), ord=norm_type) * scale
    originals = [g.copy() for g in grads]
    max_norm = scale / 2
    total = optim.clip_grad_norm_(grads, max_norm=max_norm, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12, abs=0)
    coef = min(1.0, max_norm / (expected + 1e-6))  # torch's rule (the 1e-6 counts for tiny norms)
    for g, o in zip(grads, originals):
        np.testing.assert_allclose(g, (o.astype(np.float64) * coef).astype(dtype),
                                   rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)


def test_clip_grad_norm_beyond_float64_still_clips():
    g = np.full(4, 1.5e308)
    total = optim.clip_grad_norm_([g], max_norm=1.0)
    assert total == math.inf  # 3e308 is not a float64
    np.testing.assert_allclose(g, [0.5] * 4, rtol=1e-14)


def test_clip_grad_norm_negative_max_norm_raises():
    g = np.ones(2)
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm_([g], max_norm=-1.0)
    np.testing.assert_array_equal(g, np.ones(2))


# -- 4. torch's calling conventions --------------------------------------------------------


@pytest.mark.parametrize("closure", [lambda: 1.0, None])
def test_step_with_a_closure_or_none_says_what_it_expects(closure):
    w = np.ones(2)
    opt = optim.Adam([w])
    with pytest.raises(TypeError, match=r"step\(\) takes the gradients .* pygd has no autograd"):
        opt.step(closure)
    np.testing.assert_array_equal(w, np.ones(2))


def test_step_with_a_bare_gradient_for_a_single_parameter():
    w, v = np.ones(2), np.ones(2)
    optim.SGD([w], lr=0.5).step(np.array([1.0, 2.0]))
    optim.SGD([v], lr=0.5).step([np.array([1.0, 2.0])])
    np.testing.assert_array_equal(w, v)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_gradient_that_is_another_parameter(name):
    a, b = np.ones(2), np.full(2, 2.0)
    opt = getattr(optim, name)([{"params": [a]}, {"params": [b]}], lr=1.0)
    ref_a, ref_b = a.copy(), b.copy()
    ref = getattr(optim, name)([{"params": [ref_a]}, {"params": [ref_b]}], lr=1.0)
    opt.step([b, a])  # each gradient is the other parameter, read before any update
    ref.step([np.full(2, 2.0), np.ones(2)])
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(b, ref_b)


def test_gradient_that_is_a_view_of_another_parameter():
    w = np.arange(6.0)
    first, second = w[:3], w[3:]
    opt = optim.SGD([first, second], lr=1.0)
    opt.step([second[::-1], first])  # views of w, overlapping the other parameter
    np.testing.assert_array_equal(w, [0 - 5, 1 - 4, 2 - 3, 3 - 0, 4 - 1, 5 - 2])


def test_step_with_a_generator_or_a_number():
    w = np.ones(2)
    opt = optim.SGD([w], lr=0.5)
    opt.step(g for g in [np.ones(2)])
    np.testing.assert_array_equal(w, [0.5, 0.5])
    with pytest.raises(TypeError, match=r"step\(\) takes the gradients .*got float"):
        opt.step(1.0)


def test_python_numbers_and_lists_take_the_parameters_dtype():
    b, w = np.zeros((), np.float32), np.zeros(2, np.float32)
    opt = optim.SGD([b, w], lr=0.5)
    opt.step([2.0, [1, 2]])
    assert b.dtype == w.dtype == np.float32
    assert float(b) == -1.0 and w.tolist() == [-0.5, -1.0]
    with pytest.raises(TypeError, match="dtype"):  # NumPy arrays must match
        opt.step([np.float64(1.0), np.ones(2)])
