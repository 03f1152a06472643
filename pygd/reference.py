"""Plain NumPy versions of every pygd kernel: the executable specification.

Each function here computes, slowly and obviously, what the C++ kernel of the
same name computes; the tests compare the two.  Inputs are assumed valid (the
public functions validate).  Arithmetic is in float64; results are rounded to
the input dtype where the kernel returns that dtype.

This file is long (over 800 lines) on purpose: it is the executable specification of every
kernel, one section per C++ area, so that a reader finds each formula next to its siblings.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["LOSS_FUNCTIONS", "ROW_LOSS_FUNCTIONS", "csr_entries", "loss_grad", "multinomial_loss_grad",
           "predict", "softmax_cross_entropy"]


def _squared_error(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    return 0.5 * r * r, r


def _huber(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    inside = np.abs(r) <= eps
    loss = np.where(inside, 0.5 * r * r, eps * np.abs(r) - 0.5 * eps * eps)
    return loss, np.where(inside, r, eps * np.sign(r))


def _epsilon_insensitive(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    excess = np.abs(r) - eps
    return np.maximum(excess, 0.0), np.where(excess > 0, np.sign(r), 0.0)


def _squared_epsilon_insensitive(
    p: np.ndarray, y: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    r = p - y
    excess = np.maximum(np.abs(r) - eps, 0.0)
    return excess * excess, 2.0 * excess * np.sign(r)


def _log_loss(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    # log(1 + e^p) = max(p, 0) + log1p(e^-|p|); sigmoid from e^-|p| <= 1.
    e = np.exp(-np.abs(p))
    loss = np.maximum(p, 0.0) + np.log1p(e) - y * p
    sigmoid = np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return loss, sigmoid - y


def _hinge_at(threshold: float) -> Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]:
    # Labels y = +-1, z = p y: max(0, threshold - z), derivative -y where z <= threshold.
    def hinge(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
        z = p * y
        active = ~(z > threshold)
        return np.where(active, threshold - z, 0.0), np.where(active, -y, 0.0)

    return hinge


def _squared_hinge(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    margin = 1.0 - p * y
    active = ~(margin <= 0)
    return np.where(active, margin * margin, 0.0), np.where(active, -2.0 * y * margin, 0.0)


def _modified_huber(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    # (1 - z)^2 for -1 <= z < 1, -4 z below -1, 0 from 1 on (scikit-learn's ModifiedHuber).
    z = p * y
    margin = 1.0 - z
    loss = np.where(z >= 1.0, 0.0, np.where(z < -1.0, -4.0 * z, margin * margin))
    dl = np.where(z >= 1.0, 0.0, np.where(z < -1.0, -4.0 * y, -2.0 * y * margin))
    return loss, dl


def _smoothed_hinge(p: np.ndarray, y: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    # The hinge with the kink rounded: m = 1 - z; m^2 / (2 eps) for 0 < m < eps, m - eps/2 above.
    margin = 1.0 - p * y
    loss = np.where(margin <= 0, 0.0, np.where(margin < eps, margin * margin / (2 * eps), margin - 0.5 * eps))
    dl = np.where(margin <= 0, 0.0, np.where(margin < eps, -y * margin / eps, -y))
    return loss, dl


#: loss name -> f(p, y, epsilon) returning (loss per sample, derivative in p).
LOSS_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]] = {
    "squared_error": _squared_error,
    "huber": _huber,
    "epsilon_insensitive": _epsilon_insensitive,
    "squared_epsilon_insensitive": _squared_epsilon_insensitive,
    "log_loss": _log_loss,
    "hinge": _hinge_at(1.0),
    "perceptron": _hinge_at(0.0),
    "squared_hinge": _squared_hinge,
    "modified_huber": _modified_huber,
    "smoothed_hinge": _smoothed_hinge,
}


def softmax_cross_entropy(P: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Row-wise softmax cross-entropy of logits ``P`` (m, k) and class probabilities ``Y``.

    With :math:`M_i = \max_t P_{it}`, summed in the kernel's order:
    ``l_i = sum_t Y_it (M_i - P_it) + (sum_t Y_it) log sum_t exp(P_it - M_i)`` and
    ``dl_it = (sum_t Y_it) softmax_it - Y_it``; every exponent is <= 0, so logits
    of any finite size give finite values.  Returns (l (m,), dl (m, k)).
    """
    M = P.max(axis=1, keepdims=True)
    sum_y = Y.sum(axis=1)
    with np.errstate(invalid="ignore"):
        loss = (Y * (M - P)).sum(axis=1)
    E = np.exp(P - M)
    sum_exp = E.sum(axis=1)
    loss = loss + sum_y * np.log(sum_exp)
    return loss, E * (sum_y / sum_exp)[:, None] - Y


#: row-wise loss name -> f(P (m, k), Y (m, k)) returning (loss per row, derivatives (m, k)).
ROW_LOSS_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "multinomial": softmax_cross_entropy,
}


def csr_entries(X: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored entries of CSR X's ``rows``: (position in ``rows``, column, value as float64).

    Read from ``X.data``, ``X.indices`` and ``X.indptr`` as they are: duplicate
    entries stay separate (the sums below add them up, as the dense matrix they
    stand for), the order within a row is free.  This is what the CSR kernels
    compute over.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = X.indptr[rows].astype(np.int64)
    lengths = X.indptr[rows + 1].astype(np.int64) - starts
    position = np.repeat(np.arange(len(rows)), lengths)
    first = np.cumsum(lengths) - lengths  # where each row's run starts in the output
    entries = np.arange(int(lengths.sum())) - np.repeat(first, lengths) + np.repeat(starts, lengths)
    return position, X.indices[entries].astype(np.int64), X.data[entries].astype(np.float64)


def _rows_times(X: Any, rows: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(m, k) products x_i . coef_t of X's ``rows`` (dense or CSR), in float64."""
    if not hasattr(X, "indptr"):
        return X[rows].astype(np.float64) @ coef.T
    position, cols, vals = csr_entries(X, rows)
    out = np.empty((len(rows), coef.shape[0]))
    for t in range(coef.shape[0]):
        out[:, t] = np.bincount(position, weights=vals * coef[t, cols], minlength=len(rows))
    return out


def _rows_transpose_times(X: Any, rows: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(k, d) sums sum_i g_it x_i over X's ``rows`` (dense or CSR), in float64."""
    if not hasattr(X, "indptr"):
        return g.T @ X[rows].astype(np.float64)
    position, cols, vals = csr_entries(X, rows)
    return np.stack([np.bincount(cols, weights=vals * g[position, t], minlength=X.shape[1])
                     for t in range(g.shape[1])])


def predict(X: Any, coef: Any, intercept: float = 0.0) -> np.ndarray:
    """``X @ coef + intercept`` in float64, rounded to ``X.dtype``; X dense or CSR.

    ``coef`` and ``intercept`` are first rounded to ``X.dtype``.
    """
    dtype = X.dtype
    coef64 = np.asarray(coef, dtype=dtype).astype(np.float64)
    b = float(dtype.type(intercept))
    return (_rows_times(X, np.arange(X.shape[0]), coef64[None, :])[:, 0] + b).astype(dtype)


def loss_grad(
    X: np.ndarray,
    y: Any,
    coef: Any,
    intercept: float = 0.0,
    *,
    loss: str = "squared_error",
    sample_weight: Any = None,
    epsilon: float = 0.1,
) -> tuple[float, np.ndarray, np.floating]:
    r"""Loss and gradient of a linear model (see :func:`pygd.linear.loss_grad`); X dense or CSR.

    With :math:`p = X w + b`, weights :math:`s` and :math:`S = \sum_i s_i`:
    ``loss = s @ l(p, y) / S``, ``grad_coef = X.T @ (s * l'(p, y)) / S``,
    ``grad_intercept = sum(s * l'(p, y)) / S``.  ``y``, ``coef``,
    ``intercept`` and ``sample_weight`` are first rounded to ``X.dtype``.
    """
    dtype = X.dtype
    rows = np.arange(X.shape[0])
    y64 = np.asarray(y, dtype=dtype).astype(np.float64)
    w64 = np.asarray(coef, dtype=dtype).astype(np.float64)
    b = float(dtype.type(intercept))
    s = (
        np.ones(X.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=dtype).astype(np.float64)
    )
    p = _rows_times(X, rows, w64[None, :])[:, 0] + b
    l, dl = LOSS_FUNCTIONS[loss](p, y64, float(epsilon))
    total = s.sum()
    g = s * dl
    grad = _rows_transpose_times(X, rows, g[:, None])[0]
    return float(s @ l / total), (grad / total).astype(dtype), dtype.type(g.sum() / total)


def multinomial_loss_grad(
    X: np.ndarray, Y: Any, coef: Any, intercept: Any, *, sample_weight: Any = None
) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Softmax cross-entropy of a (k, d) linear model (see :func:`pygd.linear.loss_grad`).

    With :math:`P = X W^T + b` and weights :math:`s`, :math:`S = \sum_i s_i`:
    ``loss = s @ l / S``, ``grad_coef = dl.T @ (s X) / S`` (k, d),
    ``grad_intercept = s @ dl / S`` (k,), with ``l, dl = softmax_cross_entropy(P, Y)``.
    ``Y``, ``coef`` and ``sample_weight`` are first rounded to ``X.dtype``.
    """
    dtype = X.dtype
    rows = np.arange(X.shape[0])
    Y64 = np.asarray(Y, dtype=dtype).astype(np.float64)
    W = np.asarray(coef, dtype=dtype).astype(np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=dtype).astype(np.float64)
    l, dl = softmax_cross_entropy(_rows_times(X, rows, W) + b, Y64)
    total = s.sum()
    g = s[:, None] * dl
    grad = _rows_transpose_times(X, rows, g)
    return float(s @ l / total), (grad / total).astype(dtype), (g.sum(axis=0) / total).astype(dtype)


# =============================================================================
# pygd.optim: one step of each optimizer and the gradient norm, in plain NumPy.
#
# Each *_step(param, grad, state, **hyper) updates ``param`` and the ``state``
# dict in place, exactly as torch.optim's single-tensor functions order the
# operations (an empty dict is initialised as torch initialises its state).
# Arithmetic is in float64; every state array is rounded to ``param.dtype`` when
# stored and the stored value is what the rest of the step uses; ``param`` is
# rounded once at the end of the step.  With g the gradient (negated when
# ``maximize``) and, for coupled weight decay (wd != 0), g <- g + wd p;
# lerp(a, b, w) = a + w (b - a) if |w| < 0.5 else b - (b - a)(1 - w).
# =============================================================================

__all__ += [
    "adadelta_step",
    "adagrad_step",
    "adam_step",
    "grad_norm",
    "nadam_step",
    "rmsprop_step",
    "sgd_step",
]


def _lerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1.0 - w)


def _grad64(param: np.ndarray, grad: np.ndarray, maximize: bool, weight_decay: float,
            coupled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    p = param.astype(np.float64)
    g = np.asarray(grad, dtype=np.float64)
    if maximize:
        g = -g
    if weight_decay != 0 and coupled:
        g = g + weight_decay * p
    return p, g


def _store(state: dict, key: str, value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    state[key] = np.asarray(value).astype(dtype)
    return state[key].astype(np.float64)


def sgd_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 1e-3,
             momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
             nesterov: bool = False, maximize: bool = False) -> None:
    r"""SGD with momentum, torch.optim.SGD's rule.

    .. math::

        b_1 = g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t, \quad
        g_t \leftarrow g_t + \mu b_t \text{ (nesterov) or } b_t, \quad
        p_t = p_{t-1} - \gamma g_t

    The momentum buffer is a copy of the first gradient: no dampening on step 1.
    """
    dtype = param.dtype
    p, g = _grad64(param, grad, maximize, weight_decay)
    if momentum != 0:
        if state.get("momentum_buffer") is None:
            b = _store(state, "momentum_buffer", g, dtype)
        else:
            b = _store(state, "momentum_buffer",
                       state["momentum_buffer"].astype(np.float64) * momentum + (1 - dampening) * g, dtype)
        g = g + momentum * b if nesterov else b
    param[...] = p + (-lr) * g


def adam_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 1e-3,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
              weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
              decoupled_weight_decay: bool = False) -> None:
    r"""Adam / AdamW, torch.optim.Adam's rule (AdamW: decoupled weight decay).

    .. math::

        p \leftarrow p (1 - \gamma \lambda) \text{ (decoupled)}, \quad
        m_t = \mathrm{lerp}(m_{t-1}, g_t, 1 - \beta_1), \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,

        \hat v_t = \max(\hat v_{t-1}, v_t) \text{ (amsgrad, uncorrected)}, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}
              \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    (eps outside the root; ``v`` replaced by :math:`\hat v` with amsgrad).
    """
    dtype = param.dtype
    beta1, beta2 = betas
    if not state:
        state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(param)
    state["step"] += 1
    t = state["step"]
    p, g = _grad64(param, grad, maximize, weight_decay, coupled=not decoupled_weight_decay)
    if weight_decay != 0 and decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    m = _store(state, "exp_avg", _lerp(state["exp_avg"].astype(np.float64), g, 1 - beta1), dtype)
    v = _store(state, "exp_avg_sq", state["exp_avg_sq"].astype(np.float64) * beta2 + (1 - beta2) * g * g, dtype)
    if amsgrad:
        v = _store(state, "max_exp_avg_sq", np.maximum(state["max_exp_avg_sq"].astype(np.float64), v), dtype)
    step_size = lr / (1 - beta1**t)
    denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + eps
    param[...] = p + (-step_size) * m / denom


def adagrad_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 1e-2,
                 lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 maximize: bool = False) -> None:
    r"""Adagrad, torch.optim.Adagrad's rule.

    .. math::

        s_t = s_{t-1} + g_t^2, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 + (t - 1)\eta} \frac{g_t}{\sqrt{s_t} + \epsilon}

    with :math:`s_0` = ``initial_accumulator_value`` and :math:`\eta` = ``lr_decay``.
    """
    dtype = param.dtype
    if not state:
        state.update(step=0, sum=np.full_like(param, initial_accumulator_value))
    state["step"] += 1
    t = state["step"]
    p, g = _grad64(param, grad, maximize, weight_decay)
    clr = lr / (1 + (t - 1) * lr_decay)
    s = _store(state, "sum", state["sum"].astype(np.float64) + g * g, dtype)
    param[...] = p + (-clr) * g / (np.sqrt(s) + eps)


def rmsprop_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> None:
    r"""RMSprop, torch.optim.RMSprop's rule.

    .. math::

        a_t = \alpha a_{t-1} + (1 - \alpha) g_t^2, \quad
        \bar g_t = \mathrm{lerp}(\bar g_{t-1}, g_t, 1 - \alpha) \text{ (centered)},

        d_t = \sqrt{a_t - \bar g_t^2} + \epsilon \text{ (centered) or } \sqrt{a_t} + \epsilon,

        b_t = \mu b_{t-1} + g_t / d_t, \; p_t = p_{t-1} - \gamma b_t \text{ (momentum > 0)},
        \quad \text{else } p_t = p_{t-1} - \gamma g_t / d_t
    """
    dtype = param.dtype
    if not state:
        state.update(step=0, square_avg=np.zeros_like(param))
        if momentum > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if centered:
            state["grad_avg"] = np.zeros_like(param)
    state["step"] += 1
    p, g = _grad64(param, grad, maximize, weight_decay)
    a = _store(state, "square_avg", state["square_avg"].astype(np.float64) * alpha + (1 - alpha) * g * g, dtype)
    if centered:
        ga = _store(state, "grad_avg", _lerp(state["grad_avg"].astype(np.float64), g, 1 - alpha), dtype)
        avg = np.sqrt(a + (-ga) * ga)
    else:
        avg = np.sqrt(a)
    avg = avg + eps
    if momentum > 0:
        b = _store(state, "momentum_buffer", state["momentum_buffer"].astype(np.float64) * momentum + g / avg, dtype)
        param[...] = p + (-lr) * b
    else:
        param[...] = p + (-lr) * g / avg


def adadelta_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 1.0,
                  rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
                  maximize: bool = False) -> None:
    r"""Adadelta, torch.optim.Adadelta's rule (eps inside both roots).

    .. math::

        a_t = \rho a_{t-1} + (1 - \rho) g_t^2, \quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{a_t + \epsilon}} g_t, \quad
        u_t = \rho u_{t-1} + (1 - \rho) \Delta_t^2, \quad
        p_t = p_{t-1} - \gamma \Delta_t
    """
    dtype = param.dtype
    if not state:
        state.update(step=0, square_avg=np.zeros_like(param), acc_delta=np.zeros_like(param))
    state["step"] += 1
    p, g = _grad64(param, grad, maximize, weight_decay)
    a = _store(state, "square_avg", state["square_avg"].astype(np.float64) * rho + (1 - rho) * g * g, dtype)
    u = state["acc_delta"].astype(np.float64)
    delta = np.sqrt(u + eps) / np.sqrt(a + eps) * g
    _store(state, "acc_delta", u * rho + (1 - rho) * delta * delta, dtype)
    param[...] = p + (-lr) * delta


def nadam_step(param: np.ndarray, grad: np.ndarray, state: dict, *, lr: float = 2e-3,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 0.0, momentum_decay: float = 4e-3,
               decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
    r"""NAdam, torch.optim.NAdam's rule.

    With :math:`\mu_t = \beta_1 (1 - \tfrac12 0.96^{t\psi})` and
    :math:`P_t = \prod_{i \le t} \mu_i` (kept in float64 as ``mu_product``):

    .. math::

        m_t = \mathrm{lerp}(m_{t-1}, g_t, 1 - \beta_1), \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        d_t = \sqrt{v_t / (1 - \beta_2^t)} + \epsilon,

        p \leftarrow p - \gamma \frac{1 - \mu_t}{1 - P_t} \frac{g_t}{d_t}, \quad
        p \leftarrow p - \gamma \frac{\mu_{t+1}}{1 - P_t \mu_{t+1}} \frac{m_t}{d_t}
    """
    dtype = param.dtype
    beta1, beta2 = betas
    if not state:
        state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
    state["step"] += 1
    t = state["step"]
    p, g = _grad64(param, grad, maximize, weight_decay, coupled=not decoupled_weight_decay)
    if weight_decay != 0 and decoupled_weight_decay:
        p = p * (1 - lr * weight_decay)
    bias_correction2 = 1 - beta2**t
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
    state["mu_product"] *= mu
    mu_product_next = state["mu_product"] * mu_next
    m = _store(state, "exp_avg", _lerp(state["exp_avg"].astype(np.float64), g, 1 - beta1), dtype)
    v = _store(state, "exp_avg_sq", state["exp_avg_sq"].astype(np.float64) * beta2 + (1 - beta2) * g * g, dtype)
    denom = np.sqrt(v / bias_correction2) + eps
    p = p + (-lr * (1.0 - mu) / (1.0 - state["mu_product"])) * g / denom
    p = p + ((-lr * mu_next) / (1.0 - mu_product_next)) * m / denom
    param[...] = p


def grad_norm(grads: list[np.ndarray], norm_type: float = 2.0) -> float:
    r"""torch.nn.utils.clip_grad_norm_'s total norm: the p-norm of the per-array p-norms.

    .. math::

        \|(\|g_1\|_p, \ldots, \|g_k\|_p)\|_p, \qquad \|x\|_\infty = \max_i |x_i|

    in float64 (0.0 for no arrays).
    """
    if not grads:
        return 0.0
    norms = np.array([np.linalg.norm(np.asarray(g, dtype=np.float64).ravel(), norm_type) for g in grads])
    return float(np.linalg.norm(norms, norm_type))
# ---------------------------------------------------------------------------
# preprocessing (pygd.preprocessing.StandardScaler): column statistics and
# standardisation.  Kernels: csrc/kernels/preprocessing.cpp.
# ---------------------------------------------------------------------------

__all__ += ["column_stats", "merge_column_stats", "standard_scale", "standardize", "unstandardize"]


def column_stats(
    X: np.ndarray, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Weighted per-column count, mean and biased variance, NaNs left out.

    With weights :math:`s_i` (all 1 when ``sample_weight`` is None, else
    rounded to ``X.dtype``) and :math:`O_j = \{i : x_{ij} \text{ not NaN}\}`:

    .. math::

        W_j = \sum_{i \in O_j} s_i, \qquad
        \mu_j = \frac{1}{W_j} \sum_{i \in O_j} s_i x_{ij}, \qquad
        \sigma^2_j = \frac{1}{W_j} \sum_{i \in O_j} s_i (x_{ij} - \mu_j)^2

    computed by two passes in float64; :math:`\mu_j` and :math:`\sigma^2_j`
    are NaN where :math:`W_j = 0`.  Returns ``(W, mu, sigma2)``, float64.
    """
    X64 = X.astype(np.float64)
    s = (
        np.ones(X.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=X.dtype).astype(np.float64)
    )
    present = ~np.isnan(X64)
    Xz = np.where(present, X64, 0.0)
    S = s[:, None] * present
    weight = S.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (S * Xz).sum(axis=0) / weight
        dev = np.where(present, X64 - mean, 0.0)
        var = (S * dev * dev).sum(axis=0) / weight
    return weight, mean, var


def merge_column_stats(
    weight_a: np.ndarray,
    mean_a: np.ndarray,
    var_a: np.ndarray | None,
    weight_b: np.ndarray,
    mean_b: np.ndarray,
    var_b: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""Statistics of the union of two row sets from each one's (Chan et al. 1983).

    With :math:`W = W_a + W_b` and :math:`\delta = \mu_b - \mu_a`:

    .. math::

        \mu = \mu_a + \delta \frac{W_b}{W}, \qquad
        W \sigma^2 = W_a \sigma^2_a + W_b \sigma^2_b + \delta^2 \frac{W_a W_b}{W}

    A side with zero weight contributes nothing.  ``var_a``/``var_b`` may be
    None (then the merged variance is None).
    """
    weight_a = np.broadcast_to(np.asarray(weight_a, dtype=np.float64), np.shape(mean_a))
    weight_b = np.asarray(weight_b, dtype=np.float64)
    weight = weight_a + weight_b
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_b = weight_b / weight
        delta = mean_b - mean_a
        mean = np.where(weight_a > 0, mean_a + delta * frac_b, mean_b)
        mean = np.where(weight_b > 0, mean, mean_a)
        if var_a is None or var_b is None:
            return weight, mean, None
        m2 = weight_a * var_a + weight_b * var_b + delta * delta * weight_a * frac_b
        var = np.where(weight_a > 0, m2 / weight, var_b)
        var = np.where(weight_b > 0, var, var_a)
    return weight, mean, var


def standard_scale(var: np.ndarray, mean: np.ndarray, n_samples: Any) -> np.ndarray:
    r"""Scale :math:`\sqrt{\sigma^2_j}`, or 1 for a (near) constant column.

    As scikit-learn: column :math:`j` is constant when
    :math:`\sigma^2_j \le n \epsilon \sigma^2_j + (n \mu_j \epsilon)^2`
    (the error bound of the two-pass variance; :math:`\epsilon` is float64's
    machine epsilon, :math:`n` the samples seen).
    """
    eps = np.finfo(np.float64).eps
    n = np.asarray(n_samples, dtype=np.float64)
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return scale


def standardize(X: np.ndarray, center: Any, scale: Any) -> np.ndarray:
    r"""``(X - center) / scale`` column-wise, in float64, rounded to ``X.dtype``.

    Where ``X - center`` overflows (finite values near float64's maximum on
    both sides of the center), ``((X / 2 - center / 2) / scale) * 2`` instead:
    halving and doubling are exact there, so these elements are what
    subtract-then-divide gives with an unbounded exponent; elsewhere the
    subtraction comes first as usual, with the same bits.
    """
    X64 = X.astype(np.float64)
    center = np.asarray(center, dtype=np.float64)
    with np.errstate(over="ignore"):
        diff = X64 - center
        out = diff / scale
        overflow = np.isinf(diff)
        if overflow.any():
            halves = ((0.5 * X64 - 0.5 * center) / scale) * 2.0
            out = np.where(overflow, halves, out)
    return out.astype(X.dtype)


def unstandardize(X: np.ndarray, center: Any, scale: Any) -> np.ndarray:
    r"""``X * scale + center`` column-wise, in float64, rounded to ``X.dtype``."""
    return (X.astype(np.float64) * np.asarray(scale, dtype=np.float64) + center).astype(X.dtype)


# =============================================================================
# pygd.linear_model: the training engine's loop (csrc/engine/train.cpp), in NumPy.
#
# ``train_reference`` runs the same epochs as _core.train_epoch_* given the same
# row orders: per batch, the model in raw units (standardisation folded in),
# the batch's loss and gradient sums, the normalisation, L2, the optimizer step
# (the *_step functions above), the L1 proximal step and averaging.
# =============================================================================

__all__ += ["batch_loss_grad", "l1_step_sizes", "momentum_coef", "scheduled_lr", "train_reference",
            "lazy_train_reference"]

_STEP_FUNCTIONS: dict[str, Callable[..., None]] = {
    "sgd": sgd_step,
    "adam": adam_step,
    "adagrad": adagrad_step,
    "rmsprop": rmsprop_step,
    "adadelta": adadelta_step,
    "nadam": nadam_step,
}


def batch_loss_grad(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, rows: np.ndarray,
    coef: np.ndarray, intercept: np.ndarray, *, loss: str = "squared_error", epsilon: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    r"""Unnormalised sums of one batch for a k-output linear model.

    With :math:`p_{it} = x_i \cdot v_t + c_t` for the batch's ``rows``:
    ``G[t] = sum_i s_i l'(p_it, y_it) x_i``, ``Gb[t] = sum_i s_i l'(p_it, y_it)``,
    ``L = sum_i s_i sum_t l(p_it, y_it)``, ``S = sum_i s_i`` (all float64); for a
    row-wise loss (``ROW_LOSS_FUNCTIONS``, e.g. "multinomial") the row's k
    derivatives and its loss come from its k predictions together.
    ``coef`` is (k, d) and ``intercept`` (k,), both float64.  X is dense or CSR
    (its stored entries, :func:`csr_entries`).
    """
    Yb = Y[rows].astype(np.float64)
    s = np.ones(len(rows)) if sample_weight is None else sample_weight[rows].astype(np.float64)
    P = _rows_times(X, rows, coef) + intercept
    if loss in ROW_LOSS_FUNCTIONS:
        l_row, dl = ROW_LOSS_FUNCTIONS[loss](P, Yb)
    else:
        l, dl = LOSS_FUNCTIONS[loss](P, Yb, float(epsilon))
        l_row = l.sum(axis=1)
    g = s[:, None] * dl
    return _rows_transpose_times(X, rows, g), g.sum(axis=0), float(s @ l_row), float(s.sum())


def scheduled_lr(optimizer: dict[str, Any], schedule: dict[str, Any], step: float,
                 steps_per_epoch: int, offset: float = 0.0) -> float:
    """The learning rate at optimizer step ``step`` (from 1); see csrc/include/pygd/engine/train.hpp.

    ``optimizer`` and ``schedule`` are dicts with _core.OptimizerOptions' and
    _core.ScheduleOptions' field names (torch's: ``T_max``, ``warmup`` in epochs);
    missing schedule fields take the engine's defaults.

    ``offset`` is added to the step for the epoch-based schedules (the engine
    sets it when the batch size grew, so that the epoch count stays right).
    """
    import math

    lr = optimizer["lr"]
    kind = schedule["kind"]
    ts = step + offset
    e = (ts - 1) / steps_per_epoch
    if kind == "constant":
        return lr
    if kind == "invscaling":
        return lr / step ** schedule.get("power_t", 0.25)
    if kind == "step":
        return lr * schedule.get("gamma", 0.1) ** math.floor(e / schedule.get("step_size", 10.0))
    if kind == "exponential":
        return lr * schedule.get("gamma", 0.1) ** e
    t_max = schedule.get("T_max", 1000.0)
    eta_min = schedule.get("eta_min", 0.0)
    if kind == "cosine":
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * min(e, t_max) / t_max)) / 2
    if kind == "warmup_cosine":
        warmup = schedule.get("warmup", 1.0)
        if ts <= warmup * steps_per_epoch:
            return lr * ts / (warmup * steps_per_epoch)
        span = t_max - warmup
        progress = min(max(e - warmup, 0.0), span)
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * progress / span)) / 2
    raise ValueError(f"unknown schedule {kind!r}")


def momentum_coef(kind: str, hyper: dict[str, Any], previous: float, first_step: bool) -> float:
    r"""c_t, the momentum buffer's coefficient of a constant gradient after a step
    (TrainCounters.momentum_coef): SGD 1 on the first step (b = g), then
    :math:`\mu c_{t-1} + 1 - \tau`; RMSprop :math:`\mu c_{t-1} + 1` from 0; else unchanged."""
    mu = hyper.get("momentum", 0.0)
    if kind == "sgd" and mu != 0:
        return 1.0 if first_step else mu * previous + (1.0 - hyper.get("dampening", 0.0))
    if kind == "rmsprop" and mu > 0:
        return mu * previous + 1.0
    return previous


def l1_step_sizes(kind: str, hyper: dict[str, Any], lr: float, state: dict[str, Any], kd: int, *,
                  momentum_coef: float = 1.0, acc_delta_before: np.ndarray | None = None) -> np.ndarray:
    r"""The step size :math:`\eta_j` each of the first ``kd`` coordinates took, for the L1 step
    :math:`w_j \leftarrow \mathrm{sign}(w_j)\max(|w_j| - \eta_j\,\text{l1}, 0)`
    (csrc/engine/train.cpp, ``l1_step_sizes``).

    :math:`\eta_j` is the factor the update multiplies the gradient by at a fixed point
    (moment estimates equal to the gradient), so that a fixed point of "step, then prox"
    satisfies :math:`0 \in g + \text{l1}\,\partial|w|`.  ``state`` is the step function's
    state after the step at rate ``lr``; ``momentum_coef``: c_t after it (:func:`momentum_coef`);
    ``acc_delta_before``: Adadelta's ``acc_delta`` before it.

    ======== ==============================================================================
    sgd      lr (no momentum);  lr c_t, nesterov lr (1 + mu c_t)
             (c_t -> (1 - dampening) / (1 - mu))
    adam     step_size / (sqrt(v_j) / sqrt(1 - beta2^t) + eps)   (v_max with amsgrad)
    adagrad  clr / (sqrt(s_j) + eps)
    rmsprop  lr / (sqrt(a_j) + eps)  or  lr / (sqrt(a_j - ga_j^2) + eps) (centered),
             times c_t with momentum mu > 0 (c_t -> 1 / (1 - mu))
    adadelta lr sqrt(u_j + eps) / sqrt(a_j + eps), u before the step, a after it
    nadam    -(grad_coef + exp_avg_coef) / (sqrt(v_j / (1 - beta2^t)) + eps)
    ======== ==============================================================================
    """
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(_STEP_FUNCTIONS[kind]).parameters.items()}
    hyper = {**defaults, **hyper}

    def stored(key: str) -> np.ndarray:
        return state[key][:kd].astype(np.float64)

    eps = hyper.get("eps", 0.0)
    if kind == "sgd":
        mu = hyper.get("momentum", 0.0)
        c = momentum_coef
        numerator = lr if mu == 0 else (lr * (1.0 + mu * c) if hyper.get("nesterov", False) else lr * c)
        return np.full(kd, numerator)
    if kind == "adam":
        beta1, beta2 = hyper.get("betas", (0.9, 0.999))
        t = state["step"]
        step_size = lr / (1 - beta1**t)
        inv_bc2_sqrt = 1.0 / (1 - beta2**t) ** 0.5
        v = stored("max_exp_avg_sq" if hyper.get("amsgrad", False) else "exp_avg_sq")
        return step_size / (np.sqrt(v) * inv_bc2_sqrt + eps)
    if kind == "adagrad":
        clr = lr / (1 + (state["step"] - 1) * hyper.get("lr_decay", 0.0))
        return clr / (np.sqrt(stored("sum")) + eps)
    if kind == "rmsprop":
        mu = hyper.get("momentum", 0.0)
        numerator = lr * momentum_coef if mu > 0 else lr
        a = stored("square_avg")
        if hyper.get("centered", False):
            ga = stored("grad_avg")
            root = np.sqrt(a + (-ga) * ga)
        else:
            root = np.sqrt(a)
        return numerator / (root + eps)
    if kind == "adadelta":
        assert acc_delta_before is not None
        return lr * np.sqrt(acc_delta_before[:kd].astype(np.float64) + eps) / np.sqrt(stored("square_avg") + eps)
    if kind == "nadam":
        beta1, beta2 = hyper.get("betas", (0.9, 0.999))
        psi = hyper.get("momentum_decay", 4e-3)
        t = state["step"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        product = state["mu_product"]
        grad_coef = -lr * (1.0 - mu) / (1.0 - product)
        exp_avg_coef = (-lr * mu_next) / (1.0 - product * mu_next)
        return -(grad_coef + exp_avg_coef) / (np.sqrt(stored("exp_avg_sq") / (1 - beta2**t)) + eps)
    raise ValueError(f"unknown optimizer {kind!r}")


def optimizer_dict(options: Any) -> dict[str, Any]:
    """A ``_core.OptimizerOptions`` as the dict :func:`train_reference` takes: the
    kind's name and the hyper-parameters its step function accepts."""
    import inspect

    kind = options.kind.name
    accepted = inspect.signature(_STEP_FUNCTIONS[kind]).parameters
    return {"kind": kind, **{name: getattr(options, name) for name in accepted if hasattr(options, name)}}


def train_reference(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, orders: list[np.ndarray],
    batch_size: int, params: np.ndarray, *, optimizer: dict[str, Any],
    schedule: dict[str, Any] | None = None, loss: str = "squared_error", epsilon: float = 0.1,
    fit_intercept: bool = True, l2: float = 0.0, l1: float = 0.0,
    mean: np.ndarray | None = None, scale: np.ndarray | None = None,
    weight_per_row: float = 1.0, steps_per_epoch: int | None = None, average_start: int = -1,
    schedule_offset: float = 0.0, epoch_rows: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, list[float]]:
    r"""The engine's epochs over ``orders`` (one array of row numbers per epoch).

    ``params`` (k*d + k, dtype of X: coef row-major then intercepts) is updated
    in place.  Per batch B of m rows, with ``w``/``b`` the parameters:

    .. math::

        v = w / \text{scale}, \quad c = b - v \cdot \text{mean}, \quad
        (G, G_b, L, S) = \text{batch\_loss\_grad}(v, c), \quad
        D = S \text{ (whole epoch) or } m \cdot \text{weight\_per\_row},

        \nabla_w = ((G - \text{mean}\, G_b) / \text{scale}) / D + \text{l2}\, w, \quad
        \nabla_b = G_b / D,

    then the optimizer step at the scheduled rate :math:`\gamma_t` (:func:`scheduled_lr`
    with ``schedule_offset``), the soft
    threshold :math:`w_j \leftarrow \mathrm{sign}(w_j)\max(|w_j| - \eta_j\,\text{l1}, 0)` with
    :math:`\eta_j` the step size coordinate j took (:func:`l1_step_sizes`),
    and, after ``average_start`` steps, the running average of the parameters.
    The whole epoch is ``epoch_rows`` positions when given (``TrainOptions.epoch_rows``: an
    epoch run in parts, chunk by chunk), else the order's.
    Returns (params, average or None, per-epoch sums of s_i l_i).
    """
    dtype = X.dtype
    schedule = schedule or {"kind": "constant"}
    k = Y.shape[1]
    d = X.shape[1]
    kd = k * d
    size = kd + (k if fit_intercept else 0)
    hyper = {key: value for key, value in optimizer.items() if key not in ("kind", "lr")}
    if optimizer["kind"] == "adam" and "decoupled_weight_decay" not in hyper:
        hyper["decoupled_weight_decay"] = False
    step_fn = _STEP_FUNCTIONS[optimizer["kind"]]
    if optimizer["kind"] in ("adagrad",):
        hyper.setdefault("initial_accumulator_value", 0.0)
    state: dict[str, Any] = {}
    average = params.copy() if average_start >= 0 else None
    n_averaged = 0
    step = 0
    coef_c = 0.0  # TrainCounters.momentum_coef
    losses = []
    for order in orders:
        n_order = len(order)
        spe = steps_per_epoch or -(-n_order // batch_size)
        epoch_loss = 0.0
        for pos in range(0, n_order, batch_size):
            rows = order[pos : pos + batch_size]
            m = len(rows)
            w = params[:kd].astype(np.float64).reshape(k, d)
            b = params[kd:].astype(np.float64) if fit_intercept else np.zeros(k)
            if mean is not None:
                v = w / scale
                c = b - v @ mean
            else:
                v, c = w, b
            G, Gb, L, S = batch_loss_grad(X, Y, sample_weight, rows, v, c, loss=loss, epsilon=epsilon)
            epoch_loss += L
            D = S if m == (epoch_rows or n_order) else m * weight_per_row
            raw = (G - mean[None, :] * Gb[:, None]) / scale if mean is not None else G
            g = raw / D
            if l2 != 0:
                g = g + l2 * w
            grad = np.concatenate([g.ravel(), Gb / D]).astype(dtype)[:size]
            step += 1
            lr = scheduled_lr(optimizer, schedule, step, spe, schedule_offset)
            view = params[:size]
            first_step = state.get("momentum_buffer") is None
            acc_delta_before = state["acc_delta"][:kd].copy() if "acc_delta" in state else np.zeros(kd, dtype)
            step_fn(view, grad, state, lr=lr, **hyper)
            coef_c = momentum_coef(optimizer["kind"], hyper, coef_c, first_step)
            if l1 != 0:
                threshold = l1_step_sizes(optimizer["kind"], hyper, lr, state, kd, momentum_coef=coef_c,
                                          acc_delta_before=acc_delta_before) * l1
                w_new = params[:kd].astype(np.float64)
                params[:kd] = np.sign(w_new) * np.maximum(np.abs(w_new) - threshold, 0.0)
            if average is not None and step > average_start:
                n_averaged += 1
                a = average[:size].astype(np.float64)
                average[:size] = a + (params[:size].astype(np.float64) - a) / n_averaged
        losses.append(epoch_loss)
    return params, average, losses


#: The running averages a lazy step decays in the steps a column missed (LazyColumns in
#: csrc/engine/train.cpp): state name -> the hyper-parameter that is its per-step factor.
_LAZY_DECAYS: dict[str, dict[str, Callable[[dict[str, Any]], float]]] = {
    "sgd": {"momentum_buffer": lambda h: h.get("momentum", 0.0)},
    "adam": {"exp_avg": lambda h: h["betas"][0], "exp_avg_sq": lambda h: h["betas"][1]},
    "nadam": {"exp_avg": lambda h: h["betas"][0], "exp_avg_sq": lambda h: h["betas"][1]},
    "adagrad": {},
    "rmsprop": {"square_avg": lambda h: h["alpha"], "momentum_buffer": lambda h: h["momentum"],
                "grad_avg": lambda h: h["alpha"]},
    "adadelta": {"square_avg": lambda h: h["rho"], "acc_delta": lambda h: h["rho"]},
}


def lazy_train_reference(
    X: Any, Y: np.ndarray, sample_weight: np.ndarray | None, orders: list[np.ndarray],
    batch_size: int, params: np.ndarray, *, optimizer: dict[str, Any],
    schedule: dict[str, Any] | None = None, loss: str = "squared_error", epsilon: float = 0.1,
    fit_intercept: bool = True, l2: float = 0.0, l1: float = 0.0, scale: np.ndarray | None = None,
    weight_per_row: float = 1.0, steps_per_epoch: int | None = None, schedule_offset: float = 0.0,
    epoch_rows: int = 0,
) -> tuple[np.ndarray, None, list[float]]:
    r"""The engine's lazy epochs over CSR ``X`` (``TrainOptions.lazy``; csrc/engine/train.cpp,
    ``train_epoch_lazy``), one per array of row numbers in ``orders``.

    The same arguments as :func:`train_reference` but no centring (``scale`` only: the lazy
    path never centres) and no averaging (the engine takes dense steps then).  Each
    column j of w keeps the step count at which it was last current; per batch B of m rows
    at step t (counting from the run's first step):

    1. J: the columns B's rows store, in the order first met (rows in order, entries in
       storage order; a duplicate counts once).
    2. Catch-up of every j in J (of every column before the epoch's last batch) on the
       steps s it missed, where the batch gradient of column j was 0:
       SGD without momentum, with L2 or weight decay:
       :math:`w_j \leftarrow w_j \prod_s (1 - \gamma_s(\text{l2} + \text{weight\_decay}))`;
       every running average a with per-step factor :math:`\beta`:
       :math:`a_j \leftarrow a_j \beta^{\#\text{missed}}` (SGD's momentum buffer by
       momentum; Adam's and NAdam's exp_avg by beta1, exp_avg_sq by beta2, max_exp_avg_sq
       not at all; RMSprop's square_avg and grad_avg by alpha, its momentum buffer by
       momentum; Adadelta's square_avg and acc_delta by rho; Adagrad's sum not at all).
       Each updated value is rounded to X's dtype once.  Nothing else of the missed
       steps is replayed (momentum's drift, Adam's moments, the penalty's pull for the
       other optimizers: the SparseAdam approximation).
    3. :func:`batch_loss_grad` at :math:`v = w / \text{scale}` and the intercepts b;
       :math:`D` as in :func:`train_reference`;
       :math:`\nabla_{w_{tj}} = G_{tj} / \text{scale}_j / D + \text{l2}\, w_{tj}` for j in J,
       :math:`\nabla_b = G_b / D`, rounded to X's dtype.
    4. The optimizer's step function on the gathered arrays (w_J row-major by output, then
       b with an intercept), their gathered state and the global step count (Adam's bias
       corrections, Adagrad's decay, NAdam's ``mu_product`` and SGD's first step are the
       run's, not the column's), at the scheduled rate :math:`\gamma_t`; then the L1 step
       with :func:`l1_step_sizes` of the gathered state; scattered back, J current at t.
    5. After the epoch's last batch, and at each epoch's end, every column is brought up
       to date: between epochs nothing lazy carries over.

    ``params`` (k*d + k, X's dtype) is updated in place; returns (params, None, per-epoch
    sums of s_i l_i).  Equal to :func:`train_reference` (with ``mean`` None) to rounding for
    SGD without momentum (any L2, no L1), and for Adagrad, RMSprop without momentum and
    Adadelta without any penalty.
    """
    dtype = X.dtype
    schedule = schedule or {"kind": "constant"}
    k = Y.shape[1]
    d = X.shape[1]
    kd = k * d
    n_icpt = k if fit_intercept else 0
    kind = optimizer["kind"]
    hyper = {key: value for key, value in optimizer.items() if key not in ("kind", "lr")}
    if kind == "adam" and "decoupled_weight_decay" not in hyper:
        hyper["decoupled_weight_decay"] = False
    if kind == "adagrad":
        hyper.setdefault("initial_accumulator_value", 0.0)
    step_fn = _STEP_FUNCTIONS[kind]
    import inspect

    resolved = {name: p.default for name, p in inspect.signature(step_fn).parameters.items()
                if p.default is not inspect.Parameter.empty}
    resolved.update(hyper)
    inv_scale = np.ones(d) if scale is None else 1.0 / np.asarray(scale, dtype=np.float64)
    shrink_rate = l2 + resolved.get("weight_decay", 0.0)
    shrinks = kind == "sgd" and resolved.get("momentum", 0.0) == 0 and shrink_rate != 0
    decays = {name: float(factor(resolved)) for name, factor in _LAZY_DECAYS[kind].items()}

    # The full-size state (params' layout), as the step function would create it, plus
    # the scalars (step, mu_product) that are the run's.
    full: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    sgd_buffer_started = False
    step = 0
    coef_c = 0.0
    lrs: list[float] = [0.0]  # lrs[s]: the rate of step s (from 1)
    last = np.zeros(d, dtype=np.int64)  # the step count at which column j was last current

    def bring(columns: np.ndarray, now: int) -> None:
        for j in columns:
            missed = now - int(last[j])
            if missed <= 0:
                continue
            idx = np.arange(k) * d + j
            if shrinks:
                factor = float(np.prod([1.0 - lrs[s] * shrink_rate for s in range(last[j] + 1, now + 1)]))
                params[idx] = (params[idx].astype(np.float64) * factor).astype(dtype)
            for name, beta in decays.items():
                if name in full and beta != 1.0:
                    full[name][idx] = (full[name][idx].astype(np.float64) * beta**missed).astype(dtype)
            last[j] = now

    losses = []
    for order in orders:
        order = np.arange(X.shape[0]) if order is None else np.asarray(order)
        n_order = len(order)
        spe = steps_per_epoch or -(-n_order // batch_size)
        last[:] = step  # the epoch starts with every column current
        epoch_loss = 0.0
        for pos in range(0, n_order, batch_size):
            rows = order[pos : pos + batch_size]
            m = len(rows)
            last_batch = pos + m >= n_order
            _, cols, _ = csr_entries(X, rows)
            touched = cols[np.sort(np.unique(cols, return_index=True)[1])]  # first-met order
            bring(np.arange(d) if last_batch else touched, step)
            w = params[:kd].astype(np.float64).reshape(k, d)
            b = params[kd:].astype(np.float64) if fit_intercept else np.zeros(k)
            G, Gb, L, S = batch_loss_grad(X, Y, sample_weight, rows, w * inv_scale, b, loss=loss,
                                          epsilon=epsilon)
            epoch_loss += L
            D = S if m == (epoch_rows or n_order) else m * weight_per_row
            nJ = len(touched)
            gathered = (np.arange(k)[:, None] * d + touched[None, :]).ravel()  # row-major by output
            idx = np.concatenate([gathered, kd + np.arange(n_icpt)]).astype(np.int64)
            grad_w = (G[:, touched] * inv_scale[touched] / D + l2 * w[:, touched]).ravel()
            grad = np.concatenate([grad_w, (Gb / D)[:n_icpt]]).astype(dtype)
            cparam = params[idx].copy()
            cstate: dict[str, Any] = dict(scalars)
            for name, array in full.items():
                cstate[name] = array[idx].copy()
            if kind == "sgd" and not sgd_buffer_started:
                cstate["momentum_buffer"] = None  # the run's first step: b = g
            if kind != "sgd" and not full:
                cstate = {}  # the step function creates its state as torch does
            step += 1
            lr = scheduled_lr(optimizer, schedule, step, spe, schedule_offset)
            lrs.append(lr)
            acc_delta_before = cstate["acc_delta"][: k * nJ].copy() if "acc_delta" in cstate else None
            first_step = cstate.get("momentum_buffer") is None
            step_fn(cparam, grad, cstate, lr=lr, **hyper)
            coef_c = momentum_coef(kind, hyper, coef_c, first_step)
            if kind == "sgd" and cstate.get("momentum_buffer") is not None:
                sgd_buffer_started = True
            if acc_delta_before is None and kind == "adadelta":
                acc_delta_before = np.zeros(k * nJ, dtype)
            if l1 != 0:
                threshold = l1_step_sizes(kind, hyper, lr, cstate, k * nJ, momentum_coef=coef_c,
                                          acc_delta_before=acc_delta_before) * l1
                cw = cparam[: k * nJ].astype(np.float64)
                cparam[: k * nJ] = np.sign(cw) * np.maximum(np.abs(cw) - threshold, 0.0)
            params[idx] = cparam
            for name, value in cstate.items():
                if isinstance(value, np.ndarray):
                    if name not in full:
                        init = np.zeros(kd + k, dtype)
                        if name == "sum":
                            init[:] = hyper.get("initial_accumulator_value", 0.0)
                        full[name] = init
                    full[name][idx] = value
                elif value is not None:
                    scalars[name] = value
            last[touched] = step
            if last_batch:
                bring(np.arange(d), step)
        bring(np.arange(d), step)
        losses.append(epoch_loss)
    return params, None, losses


def objective_grad(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, rows: np.ndarray | None,
    params: np.ndarray, *, loss: str = "squared_error", epsilon: float = 0.1,
    fit_intercept: bool = True, l2: float = 0.0, mean: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> tuple[float, np.ndarray, float]:
    r"""The full-batch objective of the standardised problem and its gradient (``_core.objective_grad_*``).

    With ``params`` (k*d + k float64: w row-major, then b) and the training
    ``rows`` (None: all), :math:`v = w / \text{scale}`, :math:`c = b - v \cdot
    \text{mean}` and :func:`batch_loss_grad`'s sums at (v, c):

    .. math::

        f = L / S + \tfrac{\text{l2}}{2} \lVert w \rVert^2, \quad
        \nabla_w = ((G - \text{mean}\, G_b) / \text{scale}) / S + \text{l2}\, w, \quad
        \nabla_b = G_b / S \ (0 \text{ without intercept}).

    Returns (f, gradient (k*d + k,), S).
    """
    k, d = Y.shape[1], X.shape[1]
    kd = k * d
    rows = np.arange(X.shape[0]) if rows is None else rows
    w = params[:kd].reshape(k, d)
    b = params[kd:] if fit_intercept else np.zeros(k)
    v, c = (w / scale, b - (w / scale) @ mean) if mean is not None else (w, b)
    G, Gb, L, S = batch_loss_grad(X, Y, sample_weight, rows, v, c, loss=loss, epsilon=epsilon)
    raw = (G - mean[None, :] * Gb[:, None]) / scale if mean is not None else G
    gw = raw / S + l2 * w
    gb = Gb / S if fit_intercept else np.zeros(k)
    return L / S + 0.5 * l2 * float(np.sum(w * w)), np.concatenate([gw.ravel(), gb]), S


def gram(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, rows: np.ndarray | None,
    mean: np.ndarray | None, scale: np.ndarray | None, shift: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    r"""The squared error's second moments of the standardised rows (``_core.gram_*``).

    With :math:`z_i = ((x_i - \text{mean}) / \text{scale}, 1)` (q = d + 1 entries),
    :math:`e_i = y_i - \text{shift}` and :math:`S = \sum_i s_i` over ``rows`` (None: all):
    ``A = sum_i s_i z_i z_i^T / S`` (q, q), ``C = sum_i s_i z_i e_i^T / S`` (q, k),
    ``yy = sum_i s_i |e_i|^2 / S``.  Returns (A, C, yy, S).
    """
    rows = np.arange(X.shape[0]) if rows is None else rows
    Z = X[rows].astype(np.float64)
    if mean is not None:
        Z = (Z - mean) / scale
    Z = np.hstack([Z, np.ones((len(rows), 1))])
    E = Y[rows].astype(np.float64) - shift
    s = np.ones(len(rows)) if sample_weight is None else sample_weight[rows].astype(np.float64)
    S = float(s.sum())
    return (Z * s[:, None]).T @ Z / S, (Z * s[:, None]).T @ E / S, float(s @ (E * E).sum(axis=1)) / S, S


# =============================================================================
# pygd.preprocessing.sparse_column_stats: the statistics of sparse input.
# =============================================================================

__all__ += ["sparse_column_stats_reference"]


def sparse_column_stats_reference(
    X: Any, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""``pygd.preprocessing.sparse_column_stats`` on the dense ``X.toarray()``.

    Every row is a sample of every column (an entry a sparse row does not
    store is a 0).  With weights :math:`s_i` (all 1 when ``sample_weight`` is
    None, else rounded to ``X.dtype``):

    .. math::

        W = \sum_i s_i, \qquad
        \mu_j = \frac{1}{W} \sum_i s_i x_{ij}, \qquad
        \sigma^2_j = \frac{1}{W} \sum_i s_i (x_{ij} - \mu_j)^2

    two passes in float64 over the dense array.  Returns ``(mu, sigma2, W)``:
    two float64 arrays and a float.
    """
    A = X.toarray().astype(np.float64)
    s = (
        np.ones(A.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=X.dtype).astype(np.float64)
    )
    weight = float(s.sum())
    mean = (s[:, None] * A).sum(axis=0) / weight
    var = (s[:, None] * (A - mean) ** 2).sum(axis=0) / weight
    return mean, var, weight


# ---------------------------------------------------------------------------
# L-BFGS's vector work (pygd._lbfgs; _core.lbfgs_direction and _core.lbfgs_pair)
# ---------------------------------------------------------------------------

__all__ += ["lbfgs_direction_reference", "lbfgs_pair_reference"]


def _diagonal(n: int, columns: Any, trailing: Any) -> np.ndarray:
    # P's n diagonal values: columns repeated over the block, then trailing (ones if None).
    if columns is None:
        return np.ones(n)
    columns = np.asarray(columns, dtype=np.float64)
    trailing = np.asarray(trailing, dtype=np.float64)
    return np.concatenate([np.tile(columns, (n - trailing.size) // columns.size), trailing])


def lbfgs_direction_reference(g: np.ndarray, s: list, y: list, rho: Any, gamma: float,
                              columns: Any = None, trailing: Any = None
                              ) -> tuple[np.ndarray, float, float]:
    r"""``_core.lbfgs_direction``: :math:`d = -H g` by the two-loop recursion.

    Over m pairs :math:`(s_i, y_i)`, oldest first, :math:`\rho_i = 1 / s_i \cdot y_i`
    (Nocedal & Wright, Algorithm 7.4), from :math:`H_0 = \gamma P` (P the diagonal
    of ``columns`` repeated over the block then ``trailing``, or I; :math:`\gamma = 1`
    without pairs)::

        q = g;  for i = m-1 .. 0:  a_i = rho_i s_i . q;  q -= a_i y_i
        q = (q * P) * gamma
        for i = 0 .. m-1:  b_i = rho_i y_i . q;  q += (a_i - b_i) s_i
        d = -q

    Returns ``(d, d . g, d . d)``; float64 throughout.
    """
    g = np.asarray(g, dtype=np.float64)
    q = g.copy()
    m = len(s)
    alphas = [0.0] * m
    for i in reversed(range(m)):
        alphas[i] = float(rho[i]) * float(np.sum(s[i] * q))
        q = q - alphas[i] * y[i]
    q = q * _diagonal(g.size, columns, trailing) * (gamma if m else 1.0)
    for i in range(m):
        b = float(rho[i]) * float(np.sum(y[i] * q))
        q = q + (alphas[i] - b) * s[i]
    d = -q
    return d, float(np.sum(d * g)), float(np.sum(d * d))


def lbfgs_pair_reference(x_new: np.ndarray, x: np.ndarray, g_new: np.ndarray, g: np.ndarray,
                         columns: Any = None, trailing: Any = None
                         ) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """``_core.lbfgs_pair``: ``s = x_new - x``, ``y = g_new - g`` and
    ``(s . y, s . s, y . y, y . P y)`` (P as in :func:`lbfgs_direction_reference`)."""
    s = np.asarray(x_new, dtype=np.float64) - x
    y = np.asarray(g_new, dtype=np.float64) - g
    P = _diagonal(s.size, columns, trailing)
    return s, y, (float(np.sum(s * y)), float(np.sum(s * s)), float(np.sum(y * y)),
                  float(np.sum(y * P * y)))
