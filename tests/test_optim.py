"""pygd.optim's optimizers and clipping against pygd.reference and torch.optim."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from pygd import optim, reference

from conftest import DTYPES, RTOL, assert_close_to_scale

SHAPES = [(4099,), (7, 3), ()]

# (optimizer class, reference step, reference defaults, options)
REF_STEPS = {
    "SGD": reference.sgd_step,
    "Adam": reference.adam_step,
    "AdamW": reference.adam_step,
    "Adagrad": reference.adagrad_step,
    "RMSprop": reference.rmsprop_step,
    "Adadelta": reference.adadelta_step,
    "NAdam": reference.nadam_step,
}
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.8), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.2)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, betas=(0.6, 0.9), maximize=True)),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in opts.items()) or 'defaults'}" for name, opts in CASES]


def reference_options(name: str, options: dict) -> dict:
    opts = dict(options)
    if name == "AdamW":
        opts.setdefault("weight_decay", 1e-2)
        opts["decoupled_weight_decay"] = True
    return opts


def make_params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def gradient(params, t, maximize=False, seed=1):
    """Gradient of 0.25 |p|^2 (of -0.25 |p|^2 when maximizing) plus fixed noise for step t."""
    rng = np.random.default_rng([seed, t])
    sign = -1.0 if maximize else 1.0
    return [np.asarray(sign * 0.5 * p.astype(np.float64) + rng.standard_normal(p.shape)).astype(p.dtype)
            for p in params]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_matches_reference(name, options, dtype, simd_level, num_threads):
    params = make_params(dtype)
    expected = [p.copy() for p in params]
    states = [{} for _ in params]
    opt = getattr(optim, name)(params, **options)
    ref_opts = reference_options(name, options)
    maximize = options.get("maximize", False)
    for t in range(200):
        grads = gradient(params, t, maximize)
        ref_grads = gradient(expected, t, maximize)
        opt.step(grads)
        for p, g, s in zip(expected, ref_grads, states):
            REF_STEPS[name](p, g, s, **ref_opts)
    for p, e in zip(params, expected):
        assert p.dtype == np.dtype(dtype)
        assert_close_to_scale(p, e, dtype)
    # The state too (what a state_dict would carry on).
    ours = opt.state_dict()["state"]
    for i, s in enumerate(states):
        for key, value in s.items():
            if isinstance(value, np.ndarray):
                assert ours[i][key].dtype == np.dtype(dtype)
                assert_close_to_scale(ours[i][key], value, dtype)


@pytest.mark.parametrize("name,options", CASES[::3], ids=CASE_IDS[::3])
def test_float32_agrees_with_float64(name, options):
    p32, p64 = make_params(np.float32, shapes=[(50,)]), make_params(np.float64, shapes=[(50,)])
    o32, o64 = getattr(optim, name)(p32, **options), getattr(optim, name)(p64, **options)
    for t in range(20):
        g64 = gradient(p64, t, options.get("maximize", False))
        o64.step(g64)
        o32.step([g.astype(np.float32) for g in g64])
    np.testing.assert_allclose(p32[0], p64[0], rtol=1e-3, atol=1e-4)


def test_gradients_are_not_modified():
    params = make_params(np.float64)
    opt = optim.Adam(params, weight_decay=0.1, maximize=True)
    grads = gradient(params, 0)
    before = [g.copy() for g in grads]
    opt.step(grads)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_gradient_that_is_the_parameter_itself():
    w = np.array([1.0, 2.0])
    expected = w.copy()
    optim.SGD([w], lr=0.5).step([w])
    reference.sgd_step(expected, expected.copy(), {}, lr=0.5)
    np.testing.assert_array_equal(w, expected)


# -- memory layouts -------------------------------------------------------------


@pytest.mark.parametrize("name,options", CASES[::4], ids=CASE_IDS[::4])
def test_non_contiguous_parameter_is_updated_in_place(name, options):
    base = np.random.default_rng(0).standard_normal((40, 6))
    view = base[::2, 1::2]          # strided view into base
    fortran = np.asfortranarray(base[:5, :4])
    contiguous = [np.ascontiguousarray(view), np.ascontiguousarray(fortran)]
    untouched = base.copy()
    opt_view = getattr(optim, name)([view, fortran], **options)
    opt_cont = getattr(optim, name)(contiguous, **options)
    for t in range(5):
        grads = gradient(contiguous, t, options.get("maximize", False))
        opt_view.step([grads[0][:, ::-1][:, ::-1], np.asfortranarray(grads[1])])  # non-contiguous grads too
        opt_cont.step(grads)
    np.testing.assert_array_equal(view, contiguous[0])
    np.testing.assert_array_equal(fortran, contiguous[1])
    assert np.shares_memory(view, base)
    mask = np.ones(base.shape, bool)
    mask[::2, 1::2] = False
    np.testing.assert_array_equal(base[mask], untouched[mask])  # elements outside the view


def test_zero_dim_parameter_accepts_numpy_and_python_scalars():
    b = np.zeros(())
    opt = optim.SGD([b], lr=0.5)
    opt.step([np.float64(2.0)])
    opt.step([2.0])
    assert b.shape == () and float(b) == -2.0


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=-1.0),
        lambda p: optim.SGD(p, momentum=-0.1),
        lambda p: optim.SGD(p, nesterov=True),
        lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
        lambda p: optim.Adam(p, eps=-1e-8),
        lambda p: optim.Adam(p, betas=(1.0, 0.999)),
        lambda p: optim.Adam(p, betas=(0.9, -0.1)),
        lambda p: optim.Adam(p, weight_decay=-1.0),
        lambda p: optim.AdamW(p, lr=float("nan")),
        lambda p: optim.Adagrad(p, lr_decay=-1.0),
        lambda p: optim.RMSprop(p, alpha=-0.5),
        lambda p: optim.Adadelta(p, rho=1.5),
        lambda p: optim.NAdam(p, momentum_decay=-1.0),
    ],
)
def test_invalid_hyper_parameters_raise(make):
    with pytest.raises(ValueError):
        make([np.zeros(3)])


def test_invalid_parameters_raise():
    with pytest.raises(TypeError, match="single array"):
        optim.SGD(np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    with pytest.raises(TypeError, match="float32 or float64"):
        optim.SGD([np.zeros(3, dtype=np.int64)])
    with pytest.raises(TypeError, match="NumPy array"):
        optim.SGD([[0.0, 1.0]])
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        optim.Adam([ro])
    w = np.zeros(3)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([w, w])
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        optim.Adam([{"params": [w], "momentum": 0.9}])


def _snapshot(opt, params):
    return [p.copy() for p in params], pickle.dumps(opt.state_dict())


@pytest.mark.parametrize(
    "bad_grads,error,match",
    [
        (lambda g: g[:1], ValueError, "one gradient per parameter"),
        (lambda g: g + [g[0]], ValueError, "one gradient per parameter"),
        (lambda g: [g[0].astype(np.float32), g[1]], TypeError, "dtype"),
        (lambda g: [g[0][:-1], g[1]], ValueError, "shape"),
        (lambda g: [g[0].reshape(1, -1), g[1]], ValueError, "shape"),
        (lambda g: [g[0], None], ValueError, "None"),
        (lambda g: [g[0], np.where(np.arange(g[1].size).reshape(g[1].shape) == 5, np.nan, g[1])], ValueError, "NaN"),
        (lambda g: [g[0], np.full_like(g[1], np.inf)], ValueError, "infinity"),
    ],
)
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_bad_gradients_raise_and_change_nothing(name, bad_grads, error, match):
    params = make_params(np.float64, shapes=[(5,), (100_000,)])
    opt = getattr(optim, name)(params, lr=0.1, **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
    opt.step(gradient(params, 0))
    before = _snapshot(opt, params)
    with pytest.raises(error, match=match):
        opt.step(bad_grads(gradient(params, 1)))
    after = _snapshot(opt, params)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1] == after[1]


def test_parameter_made_read_only_later_raises_and_changes_nothing():
    a, b = np.ones(3), np.ones(2)
    opt = optim.SGD([a, b], lr=0.1)
    b.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.step([np.ones(3), np.ones(2)])
    np.testing.assert_array_equal(a, np.ones(3))


# -- state -----------------------------------------------------------------------


@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_is_bitwise(name, options):
    params = make_params(np.float64, shapes=[(33,), ()])
    opt = getattr(optim, name)(params, **options)
    maximize = options.get("maximize", False)
    for t in range(5):
        opt.step(gradient(params, t, maximize))
    saved_params = [p.copy() for p in params]
    saved = opt.state_dict()
    for t in range(5, 10):
        opt.step(gradient(params, t, maximize))
    # A fresh optimizer (other hyper-parameters) loaded from the snapshot continues identically.
    clone = [p.copy() for p in saved_params]
    opt2 = getattr(optim, name)(clone, lr=123.0)
    opt2.load_state_dict(copy.deepcopy(saved))
    for t in range(5, 10):
        opt2.step(gradient(clone, t, maximize))
    for p, q in zip(params, clone):
        np.testing.assert_array_equal(p, q)
    # And a pickled optimizer too.
    opt3 = pickle.loads(pickle.dumps(opt2))
    for t in range(10, 13):
        opt2.step(gradient(clone, t, maximize))
        opt3.step(gradient(opt3.param_groups[0]["params"], t, maximize))
    for p, q in zip(clone, opt3.param_groups[0]["params"]):
        np.testing.assert_array_equal(p, q)


def test_state_dict_is_a_snapshot_and_mismatches_raise():
    w = np.ones(4)
    opt = optim.Adam([w])
    opt.step([np.ones(4)])
    sd = opt.state_dict()
    opt.step([np.ones(4)])
    assert sd["state"][0]["step"] == 1
    assert not np.shares_memory(sd["state"][0]["exp_avg"], opt.state[0]["exp_avg"])
    other = optim.Adam([np.ones(5)])
    before = pickle.dumps(other.state_dict())
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(sd)
    assert pickle.dumps(other.state_dict()) == before
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([{"params": [np.ones(4)]}, {"params": [np.ones(1)]}]).load_state_dict(sd)


def test_param_groups_have_their_own_hyper_parameters():
    a, b = np.ones(3), np.ones(3)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_allclose(a, 0.9)
    np.testing.assert_allclose(b, 0.5)
    opt.param_groups[0]["lr"] = 0.2  # as a scheduler does
    opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_allclose(a, 0.7)


def test_adam_amsgrad_switched_on_later_allocates_state():
    w = np.ones(3)
    opt = optim.Adam([w])
    opt.step([np.ones(3)])
    opt.param_groups[0]["amsgrad"] = True
    opt.step([np.ones(3)])
    assert "max_exp_avg_sq" in opt.state[0]


# -- clipping ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf"), "inf"])
def test_clip_grad_norm_matches_reference(norm_type, dtype, simd_level, num_threads):
    grads = make_params(dtype, shapes=[(70_001,), (5, 3), ()])
    originals = [g.copy() for g in grads]
    expected_norm = reference.grad_norm(originals, float(norm_type))
    total = optim.clip_grad_norm_(grads, max_norm=1.0, norm_type=norm_type)
    assert abs(total - expected_norm) <= RTOL[np.dtype(np.float64)] * 10 * expected_norm
    coef = min(1.0, 1.0 / (expected_norm + 1e-6))
    for g, o in zip(grads, originals):
        assert g.dtype == np.dtype(dtype)
        assert_close_to_scale(g, o.astype(np.float64) * coef, dtype)


def test_clip_grad_norm_small_norm_unchanged_and_non_contiguous():
    g = np.array([0.3, 0.4])
    assert optim.clip_grad_norm_(g, 10.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g, [0.3, 0.4])
    base = np.arange(12.0).reshape(3, 4)
    view = base[:, ::2]
    total = optim.clip_grad_norm_([view], 1.0)
    assert total == pytest.approx(np.linalg.norm(np.arange(12.0).reshape(3, 4)[:, ::2]))
    assert np.linalg.norm(view) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(base[:, 1::2], np.arange(12.0).reshape(3, 4)[:, 1::2])
    assert optim.clip_grad_norm_([], 1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    g = np.array([1.0, np.nan])
    with pytest.raises(RuntimeError, match="non-finite"):
        optim.clip_grad_norm_([g], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(g, [1.0, np.nan])
    assert np.isnan(optim.clip_grad_norm_([g], 1.0))
    assert np.isnan(g).all()  # as torch: scaled by a NaN factor
    with pytest.raises(TypeError):
        optim.clip_grad_norm_([[1.0, 2.0]], 1.0)
    ro = np.ones(2)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        optim.clip_grad_norm_([ro], 1.0)


def test_clip_grad_value():
    g = [np.array([-3.0, 0.5, 2.0]), np.array([[5.0]], dtype=np.float32)]
    optim.clip_grad_value_(g, 1.0)
    np.testing.assert_array_equal(g[0], [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(g[1], [[1.0]])
    with pytest.raises(ValueError):
        optim.clip_grad_value_(g, -1.0)


# -- torch cross-checks (skipped where torch is not installed) -----------------------


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NAdam's mu_product uses the default dtype
    try:
        yield torch
    finally:
        torch.set_default_dtype(old)


def torch_optimizer(torch, name, tensors, options):
    opts = dict(options, foreach=False)
    return getattr(torch.optim, name)(tensors, **opts)


def sync_torch_state(torch, topt, tensors, opt, params):
    for t, p in zip(tensors, params):
        t.data.copy_(torch.from_numpy(p))
    for i, t in enumerate(tensors):
        ours = opt.state[i]
        theirs = topt.state[t]
        for key, value in theirs.items():
            if key == "step":
                value.fill_(ours["step"])
            elif key == "mu_product":
                value.fill_(ours["mu_product"])
            elif isinstance(value, torch.Tensor):
                value.copy_(torch.from_numpy(ours[key]))


@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_step_locked_with_torch(torch, name, options):
    params = make_params(np.float64, shapes=[(257,), (3, 2)])
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)(params, **options)
    topt = torch_optimizer(torch, name, tensors, options)
    maximize = options.get("maximize", False)
    for t in range(30):
        grads = gradient(params, t, maximize)
        if t > 0:
            sync_torch_state(torch, topt, tensors, opt, params)
        for tensor, g in zip(tensors, grads):
            tensor.grad = torch.from_numpy(g.copy())
        opt.step(grads)
        topt.step()
        for p, tensor in zip(params, tensors):
            expected = tensor.detach().numpy()
            err = np.max(np.abs(p - expected))
            assert err <= 1e-13 * max(np.max(np.abs(expected)), 1e-300), (t, err)


@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_free_running_with_torch(torch, name, options):
    params = make_params(np.float64, shapes=[(4099,), ()])
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)(params, **options)
    topt = torch_optimizer(torch, name, tensors, options)
    maximize = options.get("maximize", False)
    for t in range(200):
        opt.step(gradient(params, t, maximize))
        for tensor, g in zip(tensors, gradient([x.detach().numpy() for x in tensors], t, maximize)):
            tensor.grad = torch.from_numpy(g)
        topt.step()
    for p, tensor in zip(params, tensors):
        expected = tensor.detach().numpy()
        err = np.max(np.abs(p - expected))
        assert err <= 1e-11 * max(np.max(np.abs(expected)), 1e-300), err


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(torch, norm_type):
    grads = make_params(np.float64, shapes=[(1000,), (4, 5)])
    tensors = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    expected = float(torch.nn.utils.clip_grad_norm_(tensors, 2.0, norm_type=norm_type, foreach=False))
    total = optim.clip_grad_norm_(grads, 2.0, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-13)
    for g, t in zip(grads, tensors):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-13, atol=1e-15)
