"""The optimizer base class and the helpers every optimizer shares (no optimizer here imports another).

Slightly over 500 lines: the base class carries torch's whole Optimizer interface
(param groups, state_dict, checks before any update) for the seven optimizers.
"""

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


def _real(value: Any, name: str, label: str | None = None) -> float:
    """``value`` as a float; TypeError if it is not a real number, ValueError if NaN.

    ``label`` is the phrase of torch's message (``"Invalid <label>: <value>"``),
    ``"<name> value"`` by default.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"Invalid {label or name + ' value'}: {value}")
    return value


def _in_range(value: Any, name: str, label: str | None = None, low: float = 0.0,
              high: float = math.inf, *, high_inclusive: bool = False, hint: str = "") -> float:
    """A finite real in [low, high) (or [low, high]), else torch's ``ValueError("Invalid <label>: <value>")``.

    Infinity is refused even where torch accepts it: it turns every parameter
    into NaN or infinity on the first step.
    """
    v = _real(value, name, label)
    if not (math.isfinite(v) and low <= v and (v <= high if high_inclusive else v < high)):
        raise ValueError(f"Invalid {label or name + ' value'}: {value}{hint}")
    return v


def _memory_owner(a: np.ndarray) -> Any:
    """The object at the end of ``a``'s ``.base`` chain (``a`` itself if it owns its memory)."""
    while True:
        base = a.base
        if base is None:
            return a
        if not isinstance(base, np.ndarray):
            return base
        a = base


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    if a.size == 0:
        return 0, 0
    low = high = a.__array_interface__["data"][0]
    for extent, stride in zip(a.shape, a.strides):
        if stride < 0:
            low += (extent - 1) * stride
        else:
            high += (extent - 1) * stride
    return low, high + a.itemsize


def _first_overlap(arrays: Sequence[np.ndarray], first_new: int = 0) -> tuple[int, int] | None:
    """The first pair (j, k), j < k, k >= first_new, of arrays that share memory, or None.

    A sweep over the arrays sorted by address compares only arrays whose byte
    ranges intersect: O(n log n) for parameters in separate buffers, O(n^2)
    exact checks only for views into one buffer.  Intersecting ranges are
    then checked exactly (``np.shares_memory``), so interleaved views such as
    ``w[::2]`` and ``w[1::2]`` are accepted; where the exact check would be
    too costly the pair is taken as overlapping.
    """
    spans = sorted((*_byte_bounds(a), k) for k, a in enumerate(arrays) if a.size)
    active: list[tuple[int, int]] = []  # (high, index) of spans that may still intersect
    found: tuple[int, int] | None = None
    for low, high, k in spans:
        active = [(h, j) for h, j in active if h > low]
        for _, j in active:
            if max(j, k) < first_new:
                continue  # two parameters already accepted
            pair = (min(j, k), max(j, k))
            if found is not None and pair >= found:
                continue
            try:
                shared = np.shares_memory(arrays[j], arrays[k], max_work=10_000)
            except np.exceptions.TooHardError:
                shared = True
            if shared:
                found = pair
        active.append((high, k))
    return found


class _GroupData:
    """What step() needs of one parameter group, computed once."""

    __slots__ = ("start", "stop", "kernel_params", "views", "states", "step", "extra", "checked")

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
        # The group's hyper-parameters when last validated: step() validates
        # again only when they changed (a scheduler or the user set them).
        self.checked: tuple[Any, ...] | None = None


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
        self._param_roots: set[int] = set()  # ids of the objects owning the parameters' memory
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
        index = len(self.param_groups)
        for k, p in enumerate(params):
            _check_param(p, f"params[{offset + k}] (param_groups[{index}]['params'][{k}])")
        seen = {id(p) for p in self._params}
        for k, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"params[{offset + k}] (param_groups[{index}]['params'][{k}]) "
                                 "appears more than once in the optimizer")
            seen.add(id(p))
        # Parameters are updated one after the other, in place: two that share
        # memory would see each other's half-done updates.
        overlap = _first_overlap(self._params + params, first_new=offset)
        if overlap is not None:
            j, k = overlap
            where = [self._where(i) if i < offset else
                     f"params[{i}] (param_groups[{index}]['params'][{i - offset}])" for i in (j, k)]
            raise ValueError(f"{where[0]} and {where[1]} share memory (views of one array?); "
                             "parameters are updated in place one after the other, so they "
                             "must not overlap: pass the base array once, or copies")
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
        self._param_roots.update(id(_memory_owner(p)) for p in params)

    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError/TypeError for invalid hyper-parameters.

        torch's checks and messages, and every number must be finite (torch
        accepts infinity, which makes the parameters NaN or infinite).  Run at
        construction, by :meth:`load_state_dict` and before every
        :meth:`step`, so that a value set by hand or by a scheduler is checked too.
        """
        _in_range(group["lr"], "lr", "learning rate")
        if "eps" in group:
            _in_range(group["eps"], "eps", "epsilon value")
        if "weight_decay" in group:
            _in_range(group["weight_decay"], "weight_decay")
        if "momentum" in group:
            _in_range(group["momentum"], "momentum")
        if "betas" in group:
            betas = group["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(f"betas must be a pair of numbers, got {betas!r}")
            for k, beta in enumerate(betas):
                _in_range(beta, f"betas[{k}]", f"beta parameter at index {k}", 0.0, 1.0)
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

            With a single parameter, its gradient may also be passed alone
            (an array of the parameter's shape).  Python numbers and lists
            take their parameter's dtype.  Not a closure: pygd has no autograd.

        Raises
        ------
        ValueError
            Wrong number of gradients, a shape mismatch, a gradient with NaN or
            infinity, a parameter made read-only since construction, or a
            hyper-parameter of a group made invalid since (e.g. a learning
            rate set to NaN, infinity or a negative value).
        TypeError
            A closure or ``None`` instead of gradients, or a gradient whose
            dtype differs from its parameter's.

        Nothing (parameters, state, step counts) is modified when it raises:
        everything is checked before anything is updated.
        """
        if callable(grads) or grads is None:
            raise TypeError(
                "step() takes the gradients (an array or a list of arrays, one per parameter), "
                f"not {'a closure' if grads is not None else 'None'}: pygd has no autograd; "
                "compute the gradient and pass it")
        if isinstance(grads, np.ndarray) and len(self._params) == 1 and grads.shape == self._params[0].shape:
            grads = [grads]
        elif not isinstance(grads, (list, tuple, np.ndarray)):
            try:
                grads = list(grads)  # a generator, say
            except TypeError:
                raise TypeError("step() takes the gradients (an array or a list of arrays, one per "
                                f"parameter), got {type(grads).__name__}") from None
        keys = tuple(self.defaults)
        for i, (group, data) in enumerate(zip(self.param_groups, self._groups)):
            values = tuple(map(group.get, keys))
            if values != data.checked:  # NaN != NaN: a NaN is always validated
                try:
                    self._validate(group)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"param_groups[{i}]: {exc}; no parameter or state was changed") from None
                data.checked = tuple(map(group.get, keys))
        grads = self._copy_grads_sharing_memory(grads)
        grads = _core.optim_check_grads(self._params, grads)
        if not all(p.flags.writeable for p in self._params):
            i = next(i for i, p in enumerate(self._params) if not p.flags.writeable)
            raise ValueError(f"{self._where(i)} is read-only; the optimizer updates parameters "
                             "in place (no parameter or state was changed)")
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

    def _copy_grads_sharing_memory(self, grads: Any) -> Any:
        """``grads``, with a copy of each gradient that shares memory with some parameter.

        A gradient that is a view of another parameter (``step([b, a])`` for
        parameters ``[a, b]``) would otherwise be read after that parameter was
        updated.  Only gradients whose memory has the same owner as some
        parameter's are compared (cheap: one ``.base`` walk per gradient).
        """
        owners = [id(g if g.base is None else _memory_owner(g.base))
                  for g in grads if isinstance(g, np.ndarray)]
        if len(owners) != len(grads) and len(grads) == len(self._params):
            # Python numbers and lists have no dtype: they take their parameter's
            # (NumPy arrays and scalars must match it).
            grads = [np.asarray(g, dtype=p.dtype) if isinstance(g, (int, float, list, tuple))
                     and not isinstance(g, bool) else g for g, p in zip(grads, self._params)]
        if self._param_roots.isdisjoint(owners):  # the usual case: ~70 ns a gradient
            return grads
        return [g.copy() if isinstance(g, np.ndarray) and any(np.may_share_memory(g, p) for p in self._params)
                else g for g in grads]

    def _where(self, i: int) -> str:
        """Parameter ``i`` named by its index and by its group and position."""
        for g, data in enumerate(self._groups):
            if data.start <= i < data.stop:
                return f"params[{i}] (param_groups[{g}]['params'][{i - data.start}])"
        return f"params[{i}]"

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
