"""Adadelta."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData, _in_range

__all__ = ["Adadelta"]


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
        _in_range(group["rho"], "rho", high=1.0, high_inclusive=True)

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        _core.adadelta_update(data.kernel_params, grads, data.states["square_avg"],
                              data.states["acc_delta"], group["lr"], group["rho"], group["eps"],
                              group["weight_decay"], group["maximize"])
