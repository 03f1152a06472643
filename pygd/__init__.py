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
from . import linear, linear_model, optim, preprocessing, reference, testing
from ._minimize import check_grad, minimize

__version__: str = _core.__version__


def __getattr__(name: str) -> object:
    # pygd.plot imports matplotlib only when a picture is drawn; importing it
    # on first access keeps ``import pygd`` light and matplotlib optional.
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "check_grad",
    "get_num_threads",
    "linear",
    "linear_model",
    "minimize",
    "optim",
    "preprocessing",
    "reference",
    "set_num_threads",
    "show_config",
    "testing",
]
