"""pygd: gradient-descent optimisation with fused, deterministic C++ kernels.

The compiled kernels live in :mod:`pygd._core`; the instruction set they use is
chosen once at import (``PYGD_SIMD=baseline|avx2|avx512`` overrides it).

Examples
--------
>>> import numpy as np, pygd
>>> X = np.ones((4, 2)); y = np.zeros(4)
>>> loss, grad_coef, grad_intercept = pygd.linear.loss_grad(X, y, np.zeros(2), 1.0)
>>> loss
0.5
"""

from . import _core
from ._config import get_num_threads, set_num_threads, show_config
from . import linear, linear_model, optim, preprocessing, reference

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "get_num_threads",
    "linear",
    "linear_model",
    "optim",
    "preprocessing",
    "reference",
    "set_num_threads",
    "show_config",
]
