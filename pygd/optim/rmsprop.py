"""RMSprop, plain, centered and with momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData, _in_range

__all__ = ["RMSprop"]


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
        In [0, 1] (torch accepts any alpha >= 0).
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
        # torch checks only alpha >= 0; alpha > 1 makes the squared average
        # negative and the parameters NaN.
        _in_range(group["alpha"], "alpha", high=1.0, high_inclusive=True,
                  hint=" (alpha must be in [0, 1])")

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
