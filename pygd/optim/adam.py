"""Adam and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData

__all__ = ["Adam", "AdamW"]


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
