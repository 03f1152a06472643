"""Linear models trained by gradient descent, with the whole epoch loop in C++.

:class:`GDRegressor` and :class:`GDClassifier` are scikit-learn estimators:
``__init__`` only stores their parameters, ``fit`` validates with
scikit-learn's helpers and then, by default (``optimizer="auto"``), runs
L-BFGS on the whole training set: one engine call per function evaluation
(``pygd._core.objective_grad_*``, the fused loss and gradient of every row
over fixed row blocks: the same bits for any number of threads).  With a
first-order optimizer it runs one engine call per epoch
(``pygd._core.train_epoch_*``): the batches are gathered by a shuffled
permutation, their fused loss and gradient computed over fixed row blocks, and
the update made by pygd.optim's kernels, all with the GIL released.  The maths
is :func:`pygd.reference.objective_grad` and
:func:`pygd.reference.train_reference`.

The package's layout, imports running one way (top to bottom):

- ``_regressor.py`` / ``_classifier.py``: the estimators (data, targets, predictions);
- ``_base.py``: :class:`BaseGD`, the shared parameters and the fit / partial_fit template;
- ``_trainer.py``: the training state as one object and its epoch loop;
- ``_settings.py`` (what the parameters mean, the engine's typed options),
  ``_data.py`` (standardisation statistics, epoch orders, validation splits),
  ``_stopping.py`` (the stopping rules): leaves that import no estimator layer.

Examples
--------
>>> import numpy as np
>>> from pygd.linear_model import GDRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> y = X @ [1.0, -2.0, 0.5] + 3.0
>>> model = GDRegressor(alpha=0.0, random_state=0).fit(X, y)
>>> model.coef_.round(2).tolist(), model.intercept_.round(2).tolist()
([1.0, -2.0, 0.5], [3.0])
"""

from ._classifier import GDClassifier
from ._regressor import GDRegressor
from ._trainer import DivergenceWarning

__all__ = ["DivergenceWarning", "GDClassifier", "GDRegressor"]
