"""torch.optim's optimizers, learning-rate schedules and gradient clipping on NumPy arrays.

Parameters are writable float32/float64 NumPy arrays of any shape (0-d too),
updated in place; gradients are passed to :meth:`Optimizer.step` in the same
order, shapes and dtypes.  Class names, argument names, defaults and update
rules are torch.optim's (its single-tensor functions, in their order of
operations); each step runs one fused C++ kernel per parameter (every state
array read and written once), with OpenMP over fixed chunks for large arrays,
with the GIL released.  The maths of each rule is in :mod:`pygd.reference`.

Differences from torch.optim, all deliberate:

- ``step(grads)`` takes the gradients (there is no ``.grad`` attribute); every
  parameter needs one.
- A gradient containing NaN or infinity makes ``step`` raise ``ValueError``
  before anything is changed (parameters, state and step counts keep their
  values), so a bad gradient cannot silently poison the state.
- float32 parameters keep float32 state.  Adam and AdamW compute a float32
  parameter's update in float32, as torch does (twice the SIMD lanes and a
  faster divider and square root: about twice as fast on large parameters);
  the other optimizers compute each element's update in float64 and round
  once when stored.  Either way float32 results agree with the float64
  reference to about 1e-5 relative.
- The step count is kept per parameter group (all parameters of a group always
  step together).

Examples
--------
>>> import numpy as np
>>> from pygd import optim
>>> w = np.zeros(3); b = np.zeros(())
>>> opt = optim.Adam([w, b], lr=0.1)
>>> opt.step([np.array([1.0, -2.0, 0.0]), np.array(0.5)])
>>> w.round(6).tolist(), round(float(b), 6)
([-0.1, 0.1, 0.0], -0.1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import _core

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_param(p: Any, where: str) -> np.ndarray:
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{where} must be a NumPy array, got {type(p).__name__}")
    if p.dtype not in _FLOAT_DTYPES or not p.dtype.isnative:
        raise TypeError(f"{where} must have dtype float32 or float64 (native byte order), got {p.dtype}")
    if not p.flags.writeable:
        raise ValueError(f"{where} is read-only; the optimizer updates parameters in place")
    if not p.flags.aligned:
        raise ValueError(f"{where} is not aligned")
    return p


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"Invalid {name} value: {value}")
    return value


class _GroupData:
    """What step() needs of one parameter group, computed once."""

    __slots__ = ("start", "stop", "kernel_params", "views", "states", "step", "extra")

    def __init__(self, start: int, stop: int, params: list[np.ndarray]) -> None:
        self.start = start
        self.stop = stop
        # A parameter that is not C-contiguous is updated through a persistent
        # C-contiguous scratch copy, written back into the user's array.
        self.views: list[tuple[np.ndarray, np.ndarray]] = []
        self.kernel_params: list[np.ndarray] = []
        for p in params:
            if p.flags.c_contiguous:
                self.kernel_params.append(p)
            else:
                scratch = np.ascontiguousarray(p)
                self.views.append((p, scratch))
                self.kernel_params.append(scratch)
        self.states: dict[str, list[np.ndarray] | None] = {}
        self.step = 0
        self.extra: dict[str, Any] = {}  # per-group scalars (NAdam's mu_product, SGD's buffer flag)


class Optimizer:
    """Base class: parameter groups, state, ``step``, ``state_dict``, pickling.

    Subclasses define the hyper-parameters, their checks, the state arrays and
    the call to their C++ kernel.

    Parameters
    ----------
    params : iterable of ndarray or of dict
        The arrays to optimise, or dicts with a ``"params"`` list and
        per-group hyper-parameters (torch's parameter groups).
    defaults : dict
        Hyper-parameters used where a group does not set them.
    """

    #: State arrays per parameter, in the kernel's slot order.
    _state_names: tuple[str, ...] = ()
    #: Extra per-group scalars saved in state_dict (name -> initial value).
    _extra_defaults: dict[str, Any] = {}

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._setup(params, defaults)

    # -- construction --------------------------------------------------------
    def _setup(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._params: list[np.ndarray] = []
        self._groups: list[_GroupData] = []
        if isinstance(params, np.ndarray):
            raise TypeError(
                "params must be an iterable of arrays or of dicts, got a single array; "
                "wrap it in a list: [w]"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters.

        Parameters
        ----------
        param_group : dict
            ``"params"``: an array or a list of arrays; other keys override
            the optimizer's defaults for this group.

        Raises
        ------
        TypeError, ValueError
            For a parameter that is not a writable float32/float64 array, a
            parameter already in the optimizer, or invalid hyper-parameters.
            Nothing is added then.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if isinstance(params, np.ndarray):
            params = [params]
        elif params is None or isinstance(params, (str, bytes, dict)):
            raise TypeError("param_group['params'] must be an array or a list of arrays")
        params = list(params)
        if not params:
            raise ValueError("a parameter group must contain at least one parameter")
        offset = len(self._params)
        for k, p in enumerate(params):
            _check_param(p, f"params[{offset + k}]")
        seen = {id(p) for p in self._params}
        for k, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"params[{offset + k}] appears more than once in the optimizer")
            seen.add(id(p))
        group = {key: value for key, value in param_group.items() if key != "params"}
        unknown = set(group) - set(self.defaults) - {"initial_lr"}
        if unknown:
            raise TypeError(f"unknown hyper-parameter(s) for {type(self).__name__}: {sorted(unknown)}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        group = {"params": params, **group}
        data = _GroupData(offset, offset + len(params), params)
        for name in self._state_names:
            data.states[name] = None
        data.extra = dict(self._extra_defaults)
        self._ensure_states(data, group)
        self.param_groups.append(group)
        self._groups.append(data)
        self._params.extend(params)

    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError/TypeError for invalid hyper-parameters (torch's checks)."""
        lr = _real(group["lr"], "lr")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if "eps" in group and not 0.0 <= _real(group["eps"], "eps"):
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if "weight_decay" in group and not 0.0 <= _real(group["weight_decay"], "weight_decay"):
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if "betas" in group:
            betas = group["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(f"betas must be a pair of numbers, got {betas!r}")
            for k, beta in enumerate(betas):
                if not 0.0 <= _real(beta, f"betas[{k}]") < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {k}: {beta}")
            group["betas"] = (float(betas[0]), float(betas[1]))
        for flag in ("maximize", "amsgrad", "nesterov", "centered", "decoupled_weight_decay"):
            if flag in group and not isinstance(group[flag], (bool, np.bool_)):
                raise TypeError(f"{flag} must be a bool, got {group[flag]!r}")

    def _needed_states(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self._state_names

    def _initial_value(self, name: str, group: dict[str, Any]) -> float:
        return 0.0

    def _ensure_states(self, data: _GroupData, group: dict[str, Any]) -> None:
        # State arrays are allocated once, when first needed (as torch does
        # lazily); step() only reads and writes them.
        for name in self._needed_states(group):
            if data.states[name] is None:
                value = self._initial_value(name, group)
                data.states[name] = [np.full(p.shape, value, dtype=p.dtype) for p in data.kernel_params]

    # -- stepping ------------------------------------------------------------
    def step(self, grads: Sequence[Any]) -> None:
        """Update every parameter in place with its gradient.

        Parameters
        ----------
        grads : sequence of ndarray
            One gradient per parameter, in the order the parameters were
            given (group by group), each with its parameter's shape and dtype.
            Gradients are read, never modified.

        Raises
        ------
        ValueError
            Wrong number of gradients, a shape mismatch, a gradient with NaN or
            infinity, or a parameter made read-only since construction.
        TypeError
            A gradient whose dtype differs from its parameter's.

        Nothing (parameters, state, step counts) is modified when it raises.
        """
        grads = _core.optim_check_grads(self._params, grads)
        for data in self._groups:
            for user, _ in data.views:
                if not user.flags.writeable:
                    raise ValueError("a parameter is read-only; the optimizer updates parameters in place")
        single = len(self._groups) == 1
        for group, data in zip(self.param_groups, self._groups):
            group_grads = grads if single else grads[data.start : data.stop]
            for user, scratch in data.views:
                np.copyto(scratch, user)
            self._update(group, data, group_grads)
            data.step += 1
            for user, scratch in data.views:
                np.copyto(user, scratch)

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        raise NotImplementedError

    # -- state ---------------------------------------------------------------
    @property
    def state(self) -> dict[int, dict[str, Any]]:
        """Per-parameter state (live arrays, not copies), keyed by parameter index."""
        out: dict[int, dict[str, Any]] = {}
        for data in self._groups:
            for k in range(data.stop - data.start):
                entry: dict[str, Any] = {"step": data.step}
                for name, arrays in data.states.items():
                    if arrays is not None:
                        entry[name] = arrays[k]
                entry.update(data.extra)
                out[data.start + k] = entry
        return out

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer: torch's layout, with copies of every array.

        Returns
        -------
        dict
            ``{"state": {index: {"step": int, <state arrays>...}},
            "param_groups": [{<hyper-parameters>..., "params": [indices]}]}``.
            Loading it with :meth:`load_state_dict` continues bit for bit.
        """
        state = {i: {key: (value.copy() if isinstance(value, np.ndarray) else value)
                     for key, value in entry.items()}
                 for i, entry in self.state.items()}
        groups = []
        for group, data in zip(self.param_groups, self._groups):
            g = {key: value for key, value in group.items() if key != "params"}
            g["params"] = list(range(data.start, data.stop))
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`: hyper-parameters, step counts and state arrays.

        Raises
        ------
        ValueError
            If the groups, parameter counts, array shapes or dtypes do not match
            this optimizer, or steps differ within a group.  Nothing is changed then.
        """
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError("state_dict must have 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        plan = []
        for saved, data in zip(saved_groups, self._groups):
            indices = list(saved.get("params", []))
            if len(indices) != data.stop - data.start:
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
            hyper = {key: value for key, value in saved.items() if key != "params"}
            self._validate(dict(hyper))
            entries = [saved_state.get(i, saved_state.get(str(i))) for i in indices]
            steps = {int(e.get("step", 0)) for e in entries if e is not None}
            if len(steps) > 1:
                raise ValueError("steps differ within a parameter group; pygd keeps one per group")
            arrays: dict[str, list[np.ndarray] | None] = {}
            for name in self._state_names:
                values = [None if e is None else e.get(name) for e in entries]
                if all(v is None for v in values):
                    arrays[name] = None
                    continue
                checked = []
                for k, (v, p) in enumerate(zip(values, data.kernel_params)):
                    v = np.asarray(v)
                    if v.shape != p.shape or v.dtype != p.dtype:
                        raise ValueError(
                            f"state {name!r} of parameter {data.start + k} has shape {v.shape} and "
                            f"dtype {v.dtype}; expected {p.shape} and {p.dtype}")
                    checked.append(v)
                arrays[name] = checked
            extra = {key: (entries[0] or {}).get(key, default) for key, default in self._extra_defaults.items()}
            plan.append((hyper, steps.pop() if steps else 0, arrays, extra))
        for (hyper, step, arrays, extra), group, data in zip(plan, self.param_groups, self._groups):
            group.update(hyper)
            data.step = step
            data.extra = dict(extra)
            for name, values in arrays.items():
                if values is None:
                    data.states[name] = None
                else:
                    data.states[name] = [np.array(v, dtype=p.dtype, order="C")
                                         for v, p in zip(values, data.kernel_params)]
            self._ensure_states(data, group)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "defaults": self.defaults,
            "params": [group["params"] for group in self.param_groups],
            "state_dict": self.state_dict(),
        }

    def __setstate__(self, saved: dict[str, Any]) -> None:
        groups = [dict(hyper, params=params)
                  for hyper, params in zip(saved["state_dict"]["param_groups"], saved["params"])]
        self._setup(groups, saved["defaults"])
        self.load_state_dict(saved["state_dict"])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    .. math::

        b_1 = g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t, \quad
        p_t = p_{t-1} - \gamma (g_t + \mu b_t \text{ or } b_t)

    with coupled weight decay :math:`g \leftarrow g + \lambda p` (see
    :func:`pygd.reference.sgd_step`).

    Parameters
    ----------
    params : iterable of ndarray or of dict
        Writable float32/float64 arrays updated in place, or parameter groups.
    lr : float, default 1e-3
    momentum : float, default 0
    dampening : float, default 0
    weight_decay : float, default 0
    nesterov : bool, default False
        Needs momentum > 0 and dampening == 0.
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0, 2.0])
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> opt.step([w.copy()]); w.tolist()
    [0.9, 1.8]
    """

    _state_names = ("momentum_buffer",)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        momentum = _real(group["momentum"], "momentum")
        dampening = _real(group["dampening"], "dampening")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _needed_states(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        momentum = group["momentum"]
        buffers = data.states["momentum_buffer"]
        if momentum != 0 and buffers is None:
            self._ensure_states(data, group)
            buffers = data.states["momentum_buffer"]
        first = not data.extra.get("buffer_set", False)
        _core.sgd_update(data.kernel_params, grads, buffers if momentum != 0 else None,
                         group["lr"], momentum, group["dampening"], group["weight_decay"],
                         group["nesterov"], group["maximize"], first)
        if momentum != 0:
            data.extra["buffer_set"] = True

    _extra_defaults = {"buffer_set": False}


class Adam(Optimizer):
    r"""Adam (and AMSGrad), as ``torch.optim.Adam``.

    .. math::

        m_t = \mathrm{lerp}(m_{t-1}, g_t, 1 - \beta_1), \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}
              \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    AMSGrad uses the running maximum of the uncorrected :math:`v_t`.  Weight
    decay is coupled (:math:`g \leftarrow g + \lambda p`) unless
    ``decoupled_weight_decay`` (then :math:`p \leftarrow p(1 - \gamma\lambda)`,
    i.e. AdamW).  See :func:`pygd.reference.adam_step`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
        Writable float32/float64 arrays updated in place, or parameter groups.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Each in [0, 1).
    eps : float, default 1e-8
    weight_decay : float, default 0
    amsgrad : bool, default False
    maximize : bool, default False
    decoupled_weight_decay : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0, -1.0])
    >>> opt = optim.Adam([w], lr=0.5)
    >>> for _ in range(20):
    ...     opt.step([2 * w])          # gradient of |w|^2
    >>> bool(np.abs(w).max() < 0.5)
    True
    """

    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _needed_states(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self._state_names if group["amsgrad"] else self._state_names[:2]

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        amsgrad = group["amsgrad"]
        states = data.states
        if amsgrad and states["max_exp_avg_sq"] is None:
            self._ensure_states(data, group)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        step = data.step + 1
        # torch's scalar expressions, written once in C++ (the engine uses them too).
        step_size, bias_correction2_sqrt = _core.adam_scalars(lr, beta1, beta2, step)
        _core.adam_update(data.kernel_params, grads, states["exp_avg"], states["exp_avg_sq"],
                          states["max_exp_avg_sq"] if amsgrad else None, lr, beta1, beta2,
                          group["eps"], group["weight_decay"], amsgrad, group["maximize"],
                          group["decoupled_weight_decay"], step_size, bias_correction2_sqrt)


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Same as :class:`Adam` with ``decoupled_weight_decay=True`` and a default
    ``weight_decay`` of 1e-2: each step first scales :math:`p` by
    :math:`1 - \gamma\lambda`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
    amsgrad : bool, default False
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0])
    >>> optim.AdamW([w], lr=0.1, weight_decay=0.5).step([np.zeros(1)])
    >>> w.tolist()
    [0.95]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``.

    .. math::

        s_t = s_{t-1} + g_t^2, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 + (t-1)\eta}\frac{g_t}{\sqrt{s_t} + \epsilon}

    See :func:`pygd.reference.adagrad_step`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
    lr : float, default 1e-2
    lr_decay : float, default 0
    weight_decay : float, default 0
    initial_accumulator_value : float, default 0
    eps : float, default 1e-10
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0])
    >>> optim.Adagrad([w], lr=0.5).step([np.array([4.0])]); w.round(9).tolist()
    [0.5]
    """

    _state_names = ("sum",)

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= _real(group["lr_decay"], "lr_decay"):
            raise ValueError(f"Invalid lr_decay value: {group['lr_decay']}")
        if not 0.0 <= _real(group["initial_accumulator_value"], "initial_accumulator_value"):
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{group['initial_accumulator_value']}")

    def _initial_value(self, name: str, group: dict[str, Any]) -> float:
        return group["initial_accumulator_value"]

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        step = data.step + 1
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        _core.adagrad_update(data.kernel_params, grads, data.states["sum"], clr,
                             group["weight_decay"], group["eps"], group["maximize"])


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    .. math::

        a_t = \alpha a_{t-1} + (1 - \alpha) g_t^2, \quad
        d_t = \sqrt{a_t - \bar g_t^2} + \epsilon \text{ (centered) or } \sqrt{a_t} + \epsilon,
        \quad p_t = p_{t-1} - \gamma g_t / d_t

    with :math:`\bar g_t = \mathrm{lerp}(\bar g_{t-1}, g_t, 1-\alpha)` and, for
    momentum :math:`\mu > 0`, :math:`b_t = \mu b_{t-1} + g_t/d_t`,
    :math:`p_t = p_{t-1} - \gamma b_t`.  See :func:`pygd.reference.rmsprop_step`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
    lr : float, default 1e-2
    alpha : float, default 0.99
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum : float, default 0
    centered : bool, default False
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0])
    >>> optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0).step([np.array([3.0])])
    >>> round(float(w[0]), 12)
    0.98
    """

    _state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= _real(group["momentum"], "momentum"):
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not 0.0 <= _real(group["alpha"], "alpha"):
            raise ValueError(f"Invalid alpha value: {group['alpha']}")

    def _needed_states(self, group: dict[str, Any]) -> tuple[str, ...]:
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        momentum, centered = group["momentum"], group["centered"]
        states = data.states
        if (momentum > 0 and states["momentum_buffer"] is None) or (centered and states["grad_avg"] is None):
            self._ensure_states(data, group)
        _core.rmsprop_update(data.kernel_params, grads, states["square_avg"],
                             states["momentum_buffer"] if momentum > 0 else None,
                             states["grad_avg"] if centered else None, group["lr"],
                             group["alpha"], group["eps"], group["weight_decay"], momentum,
                             centered, group["maximize"])


class Adadelta(Optimizer):
    r"""Adadelta, as ``torch.optim.Adadelta``.

    .. math::

        a_t = \rho a_{t-1} + (1-\rho) g_t^2, \quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{a_t + \epsilon}} g_t, \quad
        u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2, \quad p_t = p_{t-1} - \gamma\Delta_t

    See :func:`pygd.reference.adadelta_step`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
    lr : float, default 1.0
    rho : float, default 0.9
        In [0, 1].
    eps : float, default 1e-6
    weight_decay : float, default 0
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0])
    >>> optim.Adadelta([w], rho=0.0, eps=0.0).step([np.array([2.0])]); w.tolist()
    [1.0]
    """

    _state_names = ("square_avg", "acc_delta")

    def __init__(self, params: Iterable[Any], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= _real(group["rho"], "rho") <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        _core.adadelta_update(data.kernel_params, grads, data.states["square_avg"],
                              data.states["acc_delta"], group["lr"], group["rho"], group["eps"],
                              group["weight_decay"], group["maximize"])


class NAdam(Optimizer):
    r"""Adam with Nesterov momentum, as ``torch.optim.NAdam``.

    With :math:`\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})` (:math:`\psi` =
    ``momentum_decay``) and :math:`P_t = \prod_{i\le t}\mu_i`:

    .. math::

        p \leftarrow p - \gamma\frac{1-\mu_t}{1-P_t}\frac{g_t}{d_t}
                       - \gamma\frac{\mu_{t+1}}{1-P_t\mu_{t+1}}\frac{m_t}{d_t},
        \qquad d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon

    with :math:`m_t, v_t` as in :class:`Adam`.  :math:`P_t` is kept in
    float64 (torch keeps it in its default dtype).  See
    :func:`pygd.reference.nadam_step`.

    Parameters
    ----------
    params : iterable of ndarray or of dict
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum_decay : float, default 4e-3
    decoupled_weight_decay : bool, default False
    maximize : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.array([1.0, -1.0])
    >>> opt = optim.NAdam([w], lr=0.1)
    >>> for _ in range(30):
    ...     opt.step([2 * w])
    >>> bool(np.abs(w).max() < 0.5)
    True
    """

    _state_names = ("exp_avg", "exp_avg_sq")
    _extra_defaults = {"mu_product": 1.0}

    def __init__(self, params: Iterable[Any], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= _real(group["momentum_decay"], "momentum_decay"):
            raise ValueError(f"Invalid momentum_decay value: {group['momentum_decay']}")

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        step = data.step + 1
        # torch's scalar expressions, written once in C++ (the engine uses them too).
        bias_correction2, mu_product, grad_coef, exp_avg_coef = _core.nadam_scalars(
            lr, beta1, beta2, momentum_decay, step, data.extra["mu_product"])
        _core.nadam_update(data.kernel_params, grads, data.states["exp_avg"],
                           data.states["exp_avg_sq"], lr, beta1, beta2, group["eps"],
                           group["weight_decay"], group["decoupled_weight_decay"],
                           group["maximize"], bias_correction2, grad_coef, exp_avg_coef)
        data.extra["mu_product"] = mu_product


# -- gradient clipping -----------------------------------------------------------


def _grad_list(grads: Any) -> list[np.ndarray]:
    if isinstance(grads, np.ndarray):
        grads = [grads]
    out = list(grads)
    for i, g in enumerate(out):
        if not isinstance(g, np.ndarray) or g.dtype not in _FLOAT_DTYPES or not g.dtype.isnative:
            raise TypeError(f"grads[{i}] must be a float32/float64 NumPy array, got "
                            f"{type(g).__name__}{'' if not isinstance(g, np.ndarray) else ' of ' + str(g.dtype)}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{i}] is read-only; clipping works in place")
    return out


def clip_grad_norm_(grads: np.ndarray | Iterable[np.ndarray], max_norm: float,
                    norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> float:
    r"""Scale gradients in place so that their total norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``
    norm of the per-array norms (arrays viewed as flat vectors), and every
    array is multiplied by :math:`\min(1, \text{max\_norm} / (\text{total} + 10^{-6}))`.
    Norms are computed in float64 with a fixed summation order, so the result
    does not depend on the number of threads.

    Parameters
    ----------
    grads : ndarray or iterable of ndarray
        Writable float32/float64 arrays, modified in place.
    max_norm : float
    norm_type : float or "inf", default 2.0
        p > 0, or ``inf`` for the largest absolute value.
    error_if_nonfinite : bool, default False
        Raise ``RuntimeError`` (leaving the arrays unchanged) when the total norm
        is NaN or infinite; otherwise, as torch, the arrays are scaled by a NaN
        factor (and :meth:`Optimizer.step` will then refuse them).

    Returns
    -------
    float
        The total norm of the gradients before clipping (0.0 for no arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.optim import clip_grad_norm_
    >>> g = np.array([3.0, 4.0])
    >>> clip_grad_norm_([g], max_norm=1.0)
    5.0
    >>> g.round(6).tolist()
    [0.6, 0.8]
    """
    arrays = _grad_list(grads)
    max_norm = _real(max_norm, "max_norm")
    p = float(norm_type) if not isinstance(norm_type, str) else float(norm_type.strip())
    if not p > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type!r}")
    if not arrays:
        return 0.0
    contiguous = [g if g.flags.c_contiguous else np.ascontiguousarray(g) for g in arrays]
    sums = _core.grad_power_sums(contiguous, p)
    if p == math.inf:
        norms = sums
        total = 0.0
        for n in norms:  # max that keeps NaN
            if n != n or total != total:
                total = math.nan
            elif n > total:
                total = n
    elif p == 2.0:
        norms = [math.sqrt(s) for s in sums]
        total = math.sqrt(sum(n * n for n in norms))
    elif p == 1.0:
        total = sum(sums)
    else:
        norms = [s ** (1.0 / p) for s in sums]
        total = sum(n**p for n in norms) ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients is non-finite, so it cannot "
            "be clipped. To disable this error and scale the gradients by the non-finite "
            "norm anyway, set `error_if_nonfinite=False`")
    clip_coef = max_norm / (total + 1e-6)
    clip_coef_clamped = min(clip_coef, 1.0)  # NaN stays NaN, as torch.clamp
    if clip_coef_clamped != 1.0:  # multiplying by 1.0 changes no bit
        direct = [g for g in arrays if g.flags.c_contiguous]
        _core.grads_scale(direct, clip_coef_clamped)
        for g in arrays:
            if not g.flags.c_contiguous:
                g[...] = (g.astype(np.float64) * clip_coef_clamped).astype(g.dtype)
    return total


def clip_grad_value_(grads: np.ndarray | Iterable[np.ndarray], clip_value: float) -> None:
    """Clamp gradients in place to ``[-clip_value, clip_value]``, as ``torch.nn.utils.clip_grad_value_``.

    Parameters
    ----------
    grads : ndarray or iterable of ndarray
        Writable float32/float64 arrays, modified in place (NaN stays NaN).
    clip_value : float
        >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.optim import clip_grad_value_
    >>> g = np.array([-3.0, 0.5, 2.0])
    >>> clip_grad_value_(g, 1.0); g.tolist()
    [-1.0, 0.5, 1.0]
    """
    arrays = _grad_list(grads)
    clip_value = _real(clip_value, "clip_value")
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for g in arrays:
        np.clip(g, -clip_value, clip_value, out=g)


from . import lr_scheduler  # noqa: E402  (schedulers need Optimizer)
