"""Adagrad."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData, _in_range

__all__ = ["Adagrad"]


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
        _in_range(group["lr_decay"], "lr_decay")
        _in_range(group["initial_accumulator_value"], "initial_accumulator_value")

    def _initial_value(self, name: str, group: dict[str, Any]) -> float:
        return group["initial_accumulator_value"]

    def _update(self, group: dict[str, Any], data: _GroupData, grads: list[np.ndarray]) -> None:
        step = data.step + 1
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        _core.adagrad_update(data.kernel_params, grads, data.states["sum"], clr,
                             group["weight_decay"], group["eps"], group["maximize"])
