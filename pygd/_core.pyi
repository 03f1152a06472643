"""Stubs for pygd's compiled module (private; use the pygd package)."""

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
def predict_f32(
    X: npt.NDArray[np.float32], coef: npt.NDArray[np.float32], intercept: float
) -> npt.NDArray[np.float32]: ...
def predict_f64(
    X: npt.NDArray[np.float64], coef: npt.NDArray[np.float64], intercept: float
) -> npt.NDArray[np.float64]: ...

# benchmarks' bandwidth probe
def probe_read_sum_f32(data: npt.NDArray[np.float32]) -> float: ...
def probe_read_sum_f64(data: npt.NDArray[np.float64]) -> float: ...

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
