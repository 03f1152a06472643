"""pygd's estimators on Dask collections, trained on a ``dask.distributed`` cluster.

``GDRegressor``, ``GDClassifier`` and ``StandardScaler`` take Dask arrays and
Dask DataFrames wherever they take NumPy arrays; the data stays on the workers
and only the (small) model travels.  Install with ``pip install "pygd[dask]"``.
Importing this package does not import dask: the estimators call
:func:`is_dask_collection`, which looks at dask only once the user's program
has imported it, and the implementation (``pygd.dask._fit``) is imported only
when a Dask collection arrives.

What runs where:

- ``fit`` (full batch: ``optimizer="auto"``/``"lbfgs"``, the default for smooth
  losses and the hinge): each worker holds its row chunks in a long-lived
  actor (:class:`pygd.dask._store.ChunkStore`), computed once from the
  collection.  Each function evaluation sends the weights (and the
  standardisation statistics) to the actors, which run pygd's
  ``objective_grad`` kernel on each of their chunks and return the chunk's
  loss and gradient *sums*; the client adds them in chunk order and takes the
  L-BFGS step (the same :class:`~pygd.linear_model._trainer.Trainer` code as the
  in-memory fit; Newton steps on the squared error's second moments likewise).
  The model equals the in-memory fit on the concatenated rows to about 1e-12
  relative in float64 (the chunk sums are added in another order than the
  kernel's own row blocks); it is **bitwise** the same when the collection
  has a single row chunk.  The standardisation statistics are merged from
  per-chunk statistics (Chan's formula, chunk order), the default intercepts
  from per-chunk sums.
- ``fit`` with a first-order optimizer and ``batch_size="full"``: one engine
  step per epoch.  The actors return each chunk's raw sums at the weights
  (``_core.batch_sums_*``: the gradient, intercept, loss and weight sums);
  the client adds them in chunk order and takes the engine's own step
  (``_core.train_step_*``: gradient assembly with the standardisation and
  L2, the optimizer, the L1 step, averaging), the step an in-memory
  full-batch epoch takes from its sums.  Equal to the in-memory fit to about
  1e-12 relative in float64; **bitwise** with a single row chunk.  (A
  gradient that is rounding noise, e.g. the intercept's at its default
  start, becomes a full step under Adam-like optimizers, in memory too: the
  fits then agree only as far as that noise allows.)
- ``fit`` with mini-batches (a first-order optimizer and an integer or "auto"
  ``batch_size``): the model visits the row chunks in order, the data does
  not move.  Each epoch draws the in-memory fit's order of all rows (its
  shuffle, from ``random_state``) and takes it chunk by chunk: the worker
  holding a chunk runs the engine's epoch over that chunk's rows in that
  order (``_core.train_epoch_*`` with ``TrainOptions.epoch_rows``, the
  whole epoch's size), and the weights, optimizer state and counters go on
  to the next chunk.  Each chunk's last batch may be short, so an epoch takes
  the sum over chunks of ceil(rows / batch_size) steps.  **Bitwise** the
  in-memory fit with a single row chunk; with ``shuffle=False`` and chunks of
  whole batches, the in-memory fit's very batches (equal to about 1e-12: the
  standardisation statistics are merged from per-chunk ones).  A lost worker:
  the chunk's epoch is repeated from the model the client sent, the same bits.
- ``early_stopping``: the in-memory fit's validation split (the same rows,
  drawn from ``random_state``, stratified by class for classifiers); the
  actors compute the statistics and sums over the training rows and return
  the validation rows' predictions.  ``warm_start`` continues the last fit
  as in memory.
- ``partial_fit`` on a Dask collection: exact and sequential — the estimator
  visits the row blocks in order (it moves to the worker holding each block,
  the data does not move) and equals ``partial_fit`` called on each block in
  turn on one machine, bit for bit.
- ``predict``, ``decision_function``, ``predict_proba``,
  ``predict_log_proba``, ``transform``, ``inverse_transform``: lazy Dask
  arrays computed block by block with the in-memory method (bitwise the same
  rows); Dask DataFrame partitions keep their column names.
- ``StandardScaler.fit``: every block's statistics (weight, mean relative to
  the block's shift, variance; pygd's ``column_stats`` kernel, NaNs left out)
  computed on its worker, all blocks at once; the client merges them in chunk
  order (Chan's formula, the means re-based on one shift per column).  Equal
  to one in-memory ``fit`` on the concatenated rows to rounding (about 1e-12
  relative, also at offsets of 1e6; not bitwise), with the same attributes.

Not built: a parallel, approximate mode (local SGD with model averaging); every
Dask path above is exact.  Scipy sparse chunks are not supported on Dask.

Examples
--------
>>> import pygd.dask
>>> pygd.dask.is_dask_collection([[1.0, 2.0]])
False
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["dask_call", "is_dask_collection"]


def is_dask_collection(obj: Any) -> bool:
    """True if ``obj`` is a Dask collection (array, DataFrame, Series); never imports dask.

    A program that has not imported dask cannot hold a Dask collection, so the
    check costs one dictionary lookup there.

    Parameters
    ----------
    obj : object
        Anything an estimator was given as ``X``.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.dask import is_dask_collection
    >>> is_dask_collection(np.zeros((2, 2)))
    False
    """
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection as dask_check

    return bool(dask_check(obj))


def dask_call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Calls ``pygd.dask._fit.<name>`` (importing dask there): the estimators' one-line hooks.

    Examples
    --------
    >>> from pygd.dask import dask_call
    >>> callable(dask_call)
    True
    """
    from . import _fit

    return getattr(_fit, name)(*args, **kwargs)
