"""pygd.optim.lr_scheduler against closed forms and, where installed, torch's schedulers."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from pygd import optim
from pygd.optim import lr_scheduler as S


def run(make, epochs=25, lr=1.0, opt_cls=optim.SGD, **opt_kw):
    opt = opt_cls([np.zeros(2)], lr=lr, **opt_kw)
    sched = make(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(epochs):
        opt.step([np.zeros(2)])
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == lrs[-1]
    return np.array(lrs)


E = np.arange(26)
CLOSED_FORMS = [
    ("StepLR", lambda o: S.StepLR(o, step_size=3, gamma=0.5), 0.5 ** (E // 3)),
    ("MultiStepLR", lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.5),
     0.5 ** np.array([sum(m <= e for m in [2, 5, 5, 11]) for e in E])),
    ("ExponentialLR", lambda o: S.ExponentialLR(o, gamma=0.9), 0.9**E),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.1),
     0.1 + 0.9 * (1 + np.cos(np.pi * E / 10)) / 2),
    ("LinearLR", lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=8),
     0.25 + 0.5 * np.minimum(E, 8) / 8),
    ("InverseScalingLR", lambda o: S.InverseScalingLR(o, power_t=0.3), 1.0 / (E + 1) ** 0.3),
]


@pytest.mark.parametrize("name,make,expected", CLOSED_FORMS, ids=[c[0] for c in CLOSED_FORMS])
def test_closed_forms(name, make, expected):
    np.testing.assert_allclose(run(make), expected, rtol=1e-12, atol=1e-14)


def test_sequential_warmup_then_cosine():
    def make(o):
        warm = S.LinearLR(o, start_factor=0.1, total_iters=5)
        cos = S.CosineAnnealingLR(o, T_max=20)
        return S.SequentialLR(o, [warm, cos], milestones=[5])
    lrs = run(make)
    np.testing.assert_allclose(lrs[:5], 0.1 + 0.9 * E[:5] / 5, rtol=1e-12)
    np.testing.assert_allclose(lrs[5:], (1 + np.cos(np.pi * (E[5:] - 5) / 20)) / 2, rtol=1e-12, atol=1e-14)


def test_one_cycle_shape_and_momentum():
    opt = optim.SGD([np.zeros(1)], lr=0.1, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3)
    lrs, moms = [], []
    for _ in range(100):
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step([np.zeros(1)])
        if len(lrs) < 100:
            sched.step()
    assert lrs[0] == pytest.approx(1.0 / 25)
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 29
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and moms[29] == pytest.approx(0.85)
    with pytest.raises(ValueError, match="Tried to step"):
        sched.step(); sched.step()


def test_one_cycle_cycles_adam_beta1():
    opt = optim.Adam([np.zeros(1)], lr=0.1)
    S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_on_plateau():
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    for loss in [1.0, 0.5, 0.5, 0.5, 0.5]:
        sched.step(loss)
    assert sched.get_last_lr() == [0.5]
    for loss in [0.5] * 10:
        sched.step(loss)
    assert sched.get_last_lr() == [0.2]  # floored at min_lr
    with pytest.raises(ValueError):
        S.ReduceLROnPlateau(opt, factor=1.5)


def test_chaining_two_schedulers_multiplies():
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    a, b = S.ExponentialLR(opt, gamma=0.9), S.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        a.step(); b.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.9**4 * 0.25)


def test_state_dict_and_bad_arguments():
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    saved = pickle.loads(pickle.dumps(sched.state_dict()))
    sched.step()
    expected = sched.get_last_lr()
    opt2 = optim.SGD([np.zeros(1)], lr=1.0)
    sched2 = S.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(saved)
    opt2.param_groups[0]["lr"] = saved["_last_lr"][0]
    sched2.step()
    assert sched2.get_last_lr() == expected
    with pytest.raises(TypeError):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError):
        S.SequentialLR(opt, [S.StepLR(opt, 1)], milestones=[1])


# -- torch's schedulers --------------------------------------------------------------

TORCH_CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 11], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.1)),
    ("LinearLR", dict(start_factor=0.25, total_iters=8)),
    ("OneCycleLR", dict(max_lr=2.0, total_steps=40)),
    ("OneCycleLR", dict(max_lr=2.0, total_steps=40, three_phase=True, anneal_strategy="linear")),
    ("SequentialLR", None),
]


@pytest.mark.parametrize("name,kwargs", TORCH_CASES, ids=[f"{n}{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    w = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([w], lr=1.0, momentum=0.9)
    opt = optim.SGD([np.zeros(2)], lr=1.0, momentum=0.9)

    def make(mod, o):
        if name == "SequentialLR":
            return mod.SequentialLR(o, [mod.LinearLR(o, start_factor=0.1, total_iters=4),
                                        mod.CosineAnnealingLR(o, T_max=15)], milestones=[4])
        return getattr(mod, name)(o, **kwargs)

    tsched, sched = make(torch.optim.lr_scheduler, topt), make(S, opt)
    for _ in range(39):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14, abs=1e-15)
        assert opt.param_groups[0]["momentum"] == pytest.approx(topt.param_groups[0]["momentum"], rel=1e-14)
        topt.step(); opt.step([np.zeros(2)])
        tsched.step(); sched.step()


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    kw = dict(mode="max", factor=0.3, patience=1, threshold=0.1, threshold_mode="abs", cooldown=2)
    tsched, sched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw), S.ReduceLROnPlateau(opt, **kw)
    for metric in np.random.default_rng(0).standard_normal(30).cumsum():
        tsched.step(metric); sched.step(metric)
        assert sched.get_last_lr() == tsched.get_last_lr()


@pytest.mark.parametrize("total_steps,pct_start", [(10, 0.1), (2, 0.5)])
def test_one_cycle_with_a_one_step_warm_up_starts_at_max_lr(total_steps, pct_start):
    # pct_start * total_steps == 1: the warm-up ends at step 0 (torch: ZeroDivisionError).
    lrs = run(lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=total_steps, pct_start=pct_start),
              epochs=total_steps - 1, lr=0.1, momentum=0.9)
    assert lrs[0] == 1.0
    assert np.all(np.diff(lrs) < 0) and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
