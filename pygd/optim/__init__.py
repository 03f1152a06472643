"""torch.optim's optimizers, learning-rate schedules and gradient clipping on NumPy arrays.

Parameters are writable float32/float64 NumPy arrays of any shape (0-d too),
updated in place; gradients are passed to :meth:`Optimizer.step` in the same
order, shapes and dtypes.  Class names, argument names, defaults and update
rules are torch.optim's (its single-tensor functions, in their order of
operations); each step runs one fused C++ kernel per parameter (every state
array read and written once), with OpenMP over fixed chunks for large arrays,
with the GIL released.  The maths of each rule is in :mod:`pygd.reference`.

Differences from torch.optim, all deliberate:

- ``step(grads)`` takes the gradients (there is no ``.grad`` attribute); every
  parameter needs one.
- A gradient containing NaN or infinity makes ``step`` raise ``ValueError``
  before anything is changed (parameters, state and step counts keep their
  values), so a bad gradient cannot silently poison the state.
- float32 parameters keep float32 state.  Adam and AdamW compute a float32
  parameter's update in float32, as torch does (twice the SIMD lanes and a
  faster divider and square root: about twice as fast on large parameters);
  the other optimizers compute each element's update in float64 and round
  once when stored.  Either way float32 results agree with the float64
  reference to about 1e-5 relative.
- The step count is kept per parameter group (all parameters of a group always
  step together).
- Hyper-parameters must be finite (torch accepts infinity, which makes the
  parameters NaN or infinite) and RMSprop's ``alpha`` at most 1; they are
  checked at construction, by ``load_state_dict`` and, when changed since
  (by hand or by a scheduler), before each ``step``, which then raises
  naming the group.  Schedulers check their own arguments (``gamma``,
  ``max_lr``, ``eta_min``...) when constructed.
- Parameters must not share memory (views of one array are refused when
  they overlap); a gradient that shares memory with a parameter is copied
  before the update.  ``step`` does not take a closure.

Examples
--------
>>> import numpy as np
>>> from pygd import optim
>>> w = np.zeros(3); b = np.zeros(())
>>> opt = optim.Adam([w, b], lr=0.1)
>>> opt.step([np.array([1.0, -2.0, 0.0]), np.array(0.5)])
>>> w.round(6).tolist(), round(float(b), 6)
([-0.1, 0.1, 0.0], -0.1)
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]

# The public path of these names is pygd.optim (as before the split into files):
# pickles, reprs and the docs name pygd.optim.Adam, not pygd.optim.adam.Adam.
for _obj in (SGD, Adadelta, Adagrad, Adam, AdamW, NAdam, Optimizer, RMSprop,
             clip_grad_norm_, clip_grad_value_):
    _obj.__module__ = __name__
del _obj
