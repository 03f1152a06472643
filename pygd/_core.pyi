"""Stubs for pygd's compiled module (private; use the pygd package)."""

import enum
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def build_info() -> dict[str, Any]: ...
def simd_levels_compiled() -> list[str]: ...
def simd_levels_supported() -> list[str]: ...
def simd_level() -> str: ...
def set_simd_level(level: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def have_openmp() -> bool: ...
def plan_row_blocks(n: int, scratch_per_block: int, cols: int) -> tuple[int, int]: ...

# pygd.linear (inputs validated by pygd.linear)
def loss_grad_f32(
    X: npt.NDArray[np.float32],
    y: npt.NDArray[np.float32],
    coef: npt.NDArray[np.float32],
    intercept: float,
    loss: str,
    sample_weight: npt.NDArray[np.float32] | None,
    epsilon: float,
) -> tuple[float, npt.NDArray[np.float32], float]: ...
def loss_grad_f64(
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    intercept: float,
    loss: str,
    sample_weight: npt.NDArray[np.float64] | None,
    epsilon: float,
) -> tuple[float, npt.NDArray[np.float64], float]: ...
def multinomial_loss_grad_f32(
    X: npt.NDArray[np.float32],
    Y: npt.NDArray[np.float32],
    coef: npt.NDArray[np.float32],
    intercept: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float32] | None,
) -> tuple[float, npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
def multinomial_loss_grad_f64(
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    intercept: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def predict_f32(
    X: npt.NDArray[np.float32], coef: npt.NDArray[np.float32], intercept: float
) -> npt.NDArray[np.float32]: ...
def predict_f64(
    X: npt.NDArray[np.float64], coef: npt.NDArray[np.float64], intercept: float
) -> npt.NDArray[np.float64]: ...

# benchmarks' bandwidth probe
def probe_read_sum_f32(data: npt.NDArray[np.float32]) -> float: ...
def probe_read_sum_f64(data: npt.NDArray[np.float64]) -> float: ...
def probe_gather_sum_f32(X: npt.NDArray[np.float32], rows: npt.NDArray[np.int64]) -> float: ...
def probe_gather_sum_f64(X: npt.NDArray[np.float64], rows: npt.NDArray[np.int64]) -> float: ...

# ---------------------------------------------------------------------------
# pygd.optim (inputs validated by pygd.optim; every update is in place)
# ---------------------------------------------------------------------------
_Arrays = list[npt.NDArray[np.floating[Any]]]

def optim_check_grads(params: _Arrays, grads: Any) -> _Arrays: ...
def sgd_update(
    params: _Arrays, grads: _Arrays, momentum_buffers: _Arrays | None, lr: float,
    momentum: float, dampening: float, weight_decay: float, nesterov: bool, maximize: bool,
    first_step: bool,
) -> None: ...
def adam_update(
    params: _Arrays, grads: _Arrays, exp_avgs: _Arrays, exp_avg_sqs: _Arrays,
    max_exp_avg_sqs: _Arrays | None, lr: float, beta1: float, beta2: float, eps: float,
    weight_decay: float, amsgrad: bool, maximize: bool, decoupled_weight_decay: bool,
    step_size: float, bias_correction2_sqrt: float,
) -> None: ...
def adagrad_update(
    params: _Arrays, grads: _Arrays, state_sums: _Arrays, clr: float, weight_decay: float,
    eps: float, maximize: bool,
) -> None: ...
def rmsprop_update(
    params: _Arrays, grads: _Arrays, square_avgs: _Arrays, momentum_buffers: _Arrays | None,
    grad_avgs: _Arrays | None, lr: float, alpha: float, eps: float, weight_decay: float,
    momentum: float, centered: bool, maximize: bool,
) -> None: ...
def adadelta_update(
    params: _Arrays, grads: _Arrays, square_avgs: _Arrays, acc_deltas: _Arrays, lr: float,
    rho: float, eps: float, weight_decay: float, maximize: bool,
) -> None: ...
def nadam_update(
    params: _Arrays, grads: _Arrays, exp_avgs: _Arrays, exp_avg_sqs: _Arrays, lr: float,
    beta1: float, beta2: float, eps: float, weight_decay: float, decoupled_weight_decay: bool,
    maximize: bool, bias_correction2: float, grad_coef: float, exp_avg_coef: float,
) -> None: ...
def adam_scalars(lr: float, beta1: float, beta2: float, step: float) -> tuple[float, float]: ...
def nadam_scalars(
    lr: float, beta1: float, beta2: float, momentum_decay: float, step: float, mu_product: float,
) -> tuple[float, float, float, float]: ...
def grad_power_sums(arrays: _Arrays, norm_type: float) -> list[float]: ...
def grads_scale(arrays: _Arrays, factor: float) -> None: ...
# pygd._lbfgs: L-BFGS's vector work (float64, 1-D, C-contiguous, n values each)
def lbfgs_direction(
    g: npt.NDArray[np.float64], s: list[npt.NDArray[np.float64]], y: list[npt.NDArray[np.float64]],
    rho: list[float], gamma: float, columns: npt.NDArray[np.float64] | None,
    trailing: npt.NDArray[np.float64] | None, out: npt.NDArray[np.float64],
) -> tuple[float, float]: ...
def lbfgs_pair(
    x_new: npt.NDArray[np.float64], x: npt.NDArray[np.float64], g_new: npt.NDArray[np.float64],
    g: npt.NDArray[np.float64], columns: npt.NDArray[np.float64] | None,
    trailing: npt.NDArray[np.float64] | None, s: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
) -> tuple[float, float, float, float]: ...
# pygd.preprocessing (inputs validated by pygd.preprocessing)
def column_stats_f32(
    X: npt.NDArray[np.float32],
    sample_weight: npt.NDArray[np.float32] | None,
    shift: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], bool]: ...
def column_stats_f64(
    X: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
    shift: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], bool]: ...
def standardize_f32(
    X: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    center: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
) -> bool: ...
def standardize_f64(
    X: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
    center: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
) -> bool: ...
def unstandardize_f32(
    X: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    center: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
) -> bool: ...
def unstandardize_f64(
    X: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64],
    center: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
) -> bool: ...

# ---- pygd.linear_model's training engine (inputs validated by pygd.linear_model) ----
# The typed contract (csrc/bind/options.cpp): every constructor argument is keyword-only
# and required.  (pybind11 enums: members are also class attributes; `.name`, `.value`.)
class Loss(enum.Enum):
    squared_error = 0
    huber = 1
    epsilon_insensitive = 2
    squared_epsilon_insensitive = 3
    log_loss = 4
    hinge = 5
    squared_hinge = 6
    modified_huber = 7
    perceptron = 8
    multinomial = 9
    smoothed_hinge = 10

class OptimizerKind(enum.Enum):
    sgd = 0
    adam = 1
    adagrad = 2
    rmsprop = 3
    adadelta = 4
    nadam = 5

class ScheduleKind(enum.Enum):
    constant = 0
    invscaling = 1
    step = 2
    exponential = 3
    cosine = 4
    warmup_cosine = 5

class OptimizerOptions:
    kind: OptimizerKind
    lr: float
    momentum: float
    dampening: float
    nesterov: bool
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    amsgrad: bool
    decoupled_weight_decay: bool
    lr_decay: float
    alpha: float
    centered: bool
    rho: float
    momentum_decay: float
    def __init__(
        self, *, kind: OptimizerKind, lr: float, momentum: float, dampening: float,
        nesterov: bool, betas: tuple[float, float], eps: float, weight_decay: float,
        amsgrad: bool, decoupled_weight_decay: bool, lr_decay: float, alpha: float,
        centered: bool, rho: float, momentum_decay: float,
    ) -> None: ...

class ScheduleOptions:
    kind: ScheduleKind
    power_t: float
    gamma: float
    step_size: float
    T_max: float
    eta_min: float
    warmup: float
    def __init__(
        self, *, kind: ScheduleKind, power_t: float, gamma: float, step_size: float,
        T_max: float, eta_min: float, warmup: float,
    ) -> None: ...

class CsrMatrix:
    """A CSR matrix for the engine (scipy.sparse's arrays, shared, structure checked once)."""

    def __init__(
        self,
        data: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        indices: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        indptr: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        n_cols: int,
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def finite(self) -> bool: ...
    @property
    def canonical(self) -> bool: ...
    @property
    def nnz(self) -> int: ...
    @property
    def data(self) -> npt.NDArray[np.floating[Any]]: ...
    @property
    def indices(self) -> npt.NDArray[np.signedinteger[Any]]: ...
    @property
    def indptr(self) -> npt.NDArray[np.signedinteger[Any]]: ...

class TrainOptions:
    loss: Loss
    epsilon: float
    fit_intercept: bool
    l2: float
    l1: float
    weight_per_row: float
    average_start: int
    steps_per_epoch: int
    schedule_offset: float
    lr_factor: float
    optimizer: OptimizerOptions
    schedule: ScheduleOptions
    lazy: bool
    epoch_rows: int
    def __init__(
        self, *, loss: Loss, epsilon: float, fit_intercept: bool, l2: float, l1: float,
        weight_per_row: float, average_start: int, steps_per_epoch: int, schedule_offset: float,
        lr_factor: float, optimizer: OptimizerOptions, schedule: ScheduleOptions,
    ) -> None: ...
    @staticmethod
    def for_objective(
        loss: Loss, epsilon: float = 0.1, fit_intercept: bool = True, l2: float = 0.0
    ) -> TrainOptions: ...

class TrainCounters:
    steps: int
    mu_product: float
    momentum_started: bool
    averaged: int
    momentum_coef: float
    def __init__(self) -> None: ...
    def copy(self) -> TrainCounters: ...
    def __copy__(self) -> TrainCounters: ...
    def __deepcopy__(self, memo: dict[int, Any]) -> TrainCounters: ...

class EpochResult:
    @property
    def loss_sum(self) -> float: ...
    @property
    def weight_sum(self) -> float: ...
    @property
    def steps(self) -> int: ...
    @property
    def finite(self) -> bool: ...
    @property
    def optimality(self) -> float: ...

def train_epoch_f32(
    X: npt.NDArray[np.float32] | CsrMatrix,
    Y: npt.NDArray[np.float32],
    sample_weight: npt.NDArray[np.float32] | None,
    rows: npt.NDArray[np.int64] | None,
    batch_size: int,
    params: npt.NDArray[np.float32],
    states: list[npt.NDArray[np.float32] | None],
    average: npt.NDArray[np.float32] | None,
    counters: TrainCounters,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> EpochResult: ...
def train_epoch_f64(
    X: npt.NDArray[np.float64] | CsrMatrix,
    Y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
    rows: npt.NDArray[np.int64] | None,
    batch_size: int,
    params: npt.NDArray[np.float64],
    states: list[npt.NDArray[np.float64] | None],
    average: npt.NDArray[np.float64] | None,
    counters: TrainCounters,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> EpochResult: ...
def train_step_f32(
    sums: npt.NDArray[np.float64],
    n_outputs: int,
    params: npt.NDArray[np.float32],
    states: list[npt.NDArray[np.float32] | None],
    average: npt.NDArray[np.float32] | None,
    counters: TrainCounters,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> EpochResult: ...
def batch_sums_f32(
    X: npt.NDArray[np.float32] | CsrMatrix,
    Y: npt.NDArray[np.float32],
    sample_weight: npt.NDArray[np.float32] | None,
    rows: npt.NDArray[np.int64] | None,
    params: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> npt.NDArray[np.float64]: ...
def train_step_f64(
    sums: npt.NDArray[np.float64],
    n_outputs: int,
    params: npt.NDArray[np.float64],
    states: list[npt.NDArray[np.float64] | None],
    average: npt.NDArray[np.float64] | None,
    counters: TrainCounters,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> EpochResult: ...
def batch_sums_f64(
    X: npt.NDArray[np.float64] | CsrMatrix,
    Y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
    rows: npt.NDArray[np.int64] | None,
    params: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> npt.NDArray[np.float64]: ...
def batch_predict_f32(
    X: npt.NDArray[np.float32] | CsrMatrix,
    rows: npt.NDArray[np.int64] | None,
    coef: npt.NDArray[np.float64],
    intercept: npt.NDArray[np.float64],
) -> npt.NDArray[np.float32]: ...
def batch_predict_f64(
    X: npt.NDArray[np.float64] | CsrMatrix,
    rows: npt.NDArray[np.int64] | None,
    coef: npt.NDArray[np.float64],
    intercept: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def scheduled_lr(
    optimizer: OptimizerOptions,
    schedule: ScheduleOptions,
    step: float,
    steps_per_epoch: int,
    offset: float = 0.0,
) -> float: ...
def objective_grad_f32(
    X: npt.NDArray[np.float32] | CsrMatrix,
    Y: npt.NDArray[np.float32],
    sample_weight: npt.NDArray[np.float32] | None,
    rows: npt.NDArray[np.int64] | None,
    params: npt.NDArray[np.float64],
    grad: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> tuple[float, float, bool]: ...
def objective_grad_f64(
    X: npt.NDArray[np.float64] | CsrMatrix,
    Y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
    rows: npt.NDArray[np.int64] | None,
    params: npt.NDArray[np.float64],
    grad: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    options: TrainOptions,
) -> tuple[float, float, bool]: ...
def gram_f32(
    X: npt.NDArray[np.float32],
    Y: npt.NDArray[np.float32],
    sample_weight: npt.NDArray[np.float32] | None,
    rows: npt.NDArray[np.int64] | None,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    shift: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]: ...
def gram_f64(
    X: npt.NDArray[np.float64],
    Y: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
    rows: npt.NDArray[np.int64] | None,
    mean: npt.NDArray[np.float64] | None,
    scale: npt.NDArray[np.float64] | None,
    shift: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]: ...

def csr_column_stats_f32(
    X: CsrMatrix, sample_weight: npt.NDArray[np.float32] | None, shift: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
def csr_column_stats_f64(
    X: CsrMatrix, sample_weight: npt.NDArray[np.float64] | None, shift: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
def csr_column_stats_ranges_f32(X: CsrMatrix) -> npt.NDArray[np.int64]: ...
def csr_column_stats_ranges_f64(X: CsrMatrix) -> npt.NDArray[np.int64]: ...
