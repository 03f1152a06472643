"""The optimizer base class and the helpers every optimizer shares (no optimizer here imports another)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import _core

__all__ = ["Optimizer"]


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

    Examples
    --------
    Every optimizer is one; its state is saved and loaded the same way:

    >>> import numpy as np
    >>> from pygd import optim
    >>> w = np.zeros(2)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> isinstance(opt, optim.Optimizer)
    True
    >>> opt.step([np.ones(2)]); saved = opt.state_dict()
    >>> saved["state"][0]["step"], saved["param_groups"][0]["params"]
    (1, [0])
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
