"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _core
from .optimizer import Optimizer, _GroupData, _in_range

__all__ = ["NAdam"]


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
        _in_range(group["momentum_decay"], "momentum_decay")

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
