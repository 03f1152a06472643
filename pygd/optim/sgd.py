"""SGD, with optional (Nesterov) momentum."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData, _in_range

__all__ = ["SGD"]


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
        momentum = group["momentum"]
        dampening = _in_range(group["dampening"], "dampening", low=-math.inf)
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
