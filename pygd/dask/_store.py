"""Row chunks held by long-lived per-worker actors, and the client's view of them.

:class:`ChunkStore` runs on a worker (a Dask actor): it holds that worker's row
chunks of (X, y, sample_weight) as C-contiguous NumPy arrays and runs pygd's
kernels on each chunk, returning per-chunk *sums*.  :class:`DistributedRows`
(X), :class:`DistributedTargets` (Y) and :class:`DistributedWeights` (the
sample weights) are what the client hands the unchanged
:class:`~pygd.linear_model._trainer.Trainer`: ``DistributedRows.pygd_kernel``
gives stand-ins of ``_core.objective_grad_*`` and ``_core.gram_*`` with the
same signatures, which add the chunks' sums in chunk order (never in the order
the workers answer) and normalise once.

A chunk's kernel returns values normalised by its own weight sum S_c (the
objective, the gradient, the second moments); the store multiplies them by S_c
again (an ulp of rounding) so that chunk results add up to the whole set's sums.

Faults: every call checks that the workers holding the actors are alive; if one
was lost (its actor with it), the store is built again from the collections
(Dask recomputes the lost chunks), the set-up steps are replayed, and the call is
repeated with the same weights, so the fit goes on to the same model.  After
``MAX_REBUILDS`` rebuilds in one fit it raises :class:`WorkerLostError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _core
from .._config import threads
from .._validation import core_suffix

__all__ = ["ChunkStore", "DistributedRows", "DistributedTargets", "DistributedWeights", "WorkerLostError"]

#: Rebuilds of the actors (after lost workers) one fit may do before it gives up.
MAX_REBUILDS = 3


class WorkerLostError(RuntimeError):
    """A worker holding part of the data was lost and the data could not be rebuilt.

    Examples
    --------
    >>> from pygd.dask._store import WorkerLostError
    >>> issubclass(WorkerLostError, RuntimeError)
    True
    """


def _owned(a: Any, dtype: np.dtype) -> np.ndarray:
    # C-contiguous and aligned (a chunk that arrived over the network may sit in an
    # unaligned buffer, which the kernels refuse).
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.aligned else a.copy()


def _scaled(values: Any, weight_sum: float) -> Any:
    # A chunk's normalised result back to a sum (0 for a chunk of zero weight:
    # its kernel divided 0 by 0).
    return values * weight_sum if weight_sum > 0 else values * 0.0


class ChunkStore:
    """Worker side: this worker's row chunks and the kernels run on them.

    Built by ``client.submit(ChunkStore, ..., actor=True)`` with the chunks'
    futures as arguments, so the chunks arrive from the worker's own memory.
    ``indices`` are the chunks' positions in the collection; ``blocks`` are
    ``(X, y, sample_weight or None)`` triples in the same order.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.dask._store import ChunkStore
    >>> store = ChunkStore([0], "float64", 1, (np.ones((2, 1)), np.zeros(2), None))
    >>> store.summary()[0]["rows"]
    2
    """

    def __init__(self, indices: Sequence[int], dtype: str, n_threads: int, *blocks: Any) -> None:
        self.indices = list(indices)
        self.dtype = np.dtype(dtype)
        self.n_threads = int(n_threads)
        self.X: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.Y: list[np.ndarray] = []
        self.sw: list[np.ndarray | None] = []
        for X, y, sw in blocks:
            self.X.append(_owned(X, self.dtype))
            self.y.append(np.asarray(y))
            self.sw.append(None if sw is None else _owned(sw, self.dtype))
        self.Y = [np.empty((len(y), 0), dtype=self.dtype) for y in self.y]

    # -- set-up (replayed after a rebuild) ------------------------------------------------
    def summary(self) -> list[dict[str, Any]]:
        """Per chunk: rows, y's labels (for classifiers) and the weights' range."""
        out = []
        for X, y, sw in zip(self.X, self.y, self.sw):
            labels = np.unique(y) if y.dtype.kind in "OUSb" or y.ndim == 1 else None
            out.append({
                "rows": X.shape[0], "labels": labels,
                "sw_min": None if sw is None else float(sw.min(initial=np.inf)),
                "sw_max": None if sw is None else float(sw.max(initial=-np.inf)),
                "sw_nan": False if sw is None else bool(np.isnan(sw).any()),
            })
        return out

    def setup(self, step: str, *args: Any) -> None:
        """One set-up step on every chunk: "regressor", "classifier", "scale_weights"."""
        getattr(self, "_setup_" + step)(*args)

    def _setup_regressor(self, one_d: bool) -> None:
        for i, y in enumerate(self.y):
            if y.dtype.kind not in "fiub":
                raise ValueError(f"y must be numeric for a regressor, got dtype {y.dtype}")
            Y = _owned(y.reshape(-1, 1) if one_d else y, self.dtype)
            if not np.isfinite(Y).all():
                raise ValueError(f"Input y contains NaN or infinity (as {self.dtype}) in row chunk "
                                 f"{self.indices[i]}.")
            self.Y[i] = Y

    def _setup_classifier(self, estimator: Any, class_weights: np.ndarray | None) -> None:
        for i, y in enumerate(self.y):
            index = estimator._class_index(y)
            self.Y[i] = estimator._encode(index, self.dtype)
            if class_weights is not None:
                sw = self.sw[i] if self.sw[i] is not None else np.ones(len(y), dtype=self.dtype)
                self.sw[i] = np.ascontiguousarray(sw * class_weights[index].astype(self.dtype))

    def _setup_ones_weights(self) -> None:
        self.sw = [np.ones(X.shape[0], dtype=self.dtype) if sw is None else sw
                   for X, sw in zip(self.X, self.sw)]

    def _setup_scale_weights(self, top: float) -> None:
        # pygd.linear_model._base._tame_weights, chunk by chunk (elementwise: the same bits).
        self.sw = [None if sw is None else np.ascontiguousarray(sw / sw.dtype.type(top)) for sw in self.sw]

    # -- per-chunk sums ---------------------------------------------------------------------
    def class_counts(self, n_classes: int, estimator: Any) -> list[tuple[int, np.ndarray]]:
        """Per chunk: how many rows of each class (class_weight="balanced")."""
        return [(c, np.bincount(estimator._class_index(y), minlength=n_classes))
                for c, y in zip(self.indices, self.y)]

    def target_sums(self, picks: dict[int, np.ndarray] | None = None) -> list[tuple[int, np.ndarray, float]]:
        """Per chunk: (index, sum_i s_i Y_i in float64, sum_i s_i) (the default intercepts).

        ``picks``: {chunk: local rows}, the sums over those rows only (chunks not
        in it are left out).
        """
        out = []
        for c, Y, sw in zip(self.indices, self.Y, self.sw):
            if picks is not None and c not in picks:
                continue
            w = np.ones(Y.shape[0]) if sw is None else sw.astype(np.float64)
            if picks is not None:
                Y, w = Y[picks[c]], w[picks[c]]
            out.append((c, (Y.astype(np.float64) * w[:, None]).sum(axis=0), float(w.sum())))
        return out

    def targets(self, picks: dict[int, np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(chunk, Y rows, weight rows) of ``picks`` = {chunk: local rows} (the validation rows)."""
        out = []
        for c, local in picks.items():
            i = self.indices.index(c)
            sw = self.sw[i]
            out.append((c, self.Y[i][local], np.ones(len(local), self.dtype) if sw is None else sw[local]))
        return out

    def weights(self, picks: dict[int, np.ndarray]) -> list[tuple[int, np.ndarray]]:
        """(chunk, weight rows) of ``picks`` = {chunk: local rows}; all ones without weights."""
        out = []
        for c, local in picks.items():
            sw = self.sw[self.indices.index(c)]
            out.append((c, np.ones(len(local), self.dtype) if sw is None else sw[local]))
        return out

    def class_indices(self, estimator: Any) -> list[tuple[int, np.ndarray]]:
        """Per chunk: the rows' class indices (early_stopping's stratified split)."""
        return [(c, estimator._class_index(y)) for c, y in zip(self.indices, self.y)]

    def weight_sums(self) -> list[tuple[int, float]]:
        """Per chunk: the sum of the weights in float64."""
        return [(c, float(X.shape[0]) if sw is None else float(sw.astype(np.float64).sum()))
                for c, X, sw in zip(self.indices, self.X, self.sw)]

    def column_shifts(self, c: int) -> np.ndarray:
        """The StandardScaler kernel's own shift of chunk ``c``."""
        from ..preprocessing import _column_shifts

        return _column_shifts(self.X[self.indices.index(c)])

    def column_stats(self, shift: np.ndarray, picks: dict[int, np.ndarray] | None = None
                     ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, bool]]:
        """Per chunk: (index, weight, mean - shift, var, saw_inf) of every column.

        ``picks``: {chunk: local rows}; the other rows get weight 0, as in memory
        (``pygd.linear_model._data.standardization_stats``), and chunks not in it
        are left out.
        """
        stats = getattr(_core, "column_stats_" + core_suffix(self.dtype))
        out = []
        with threads(self.n_threads):
            for c, X, sw in zip(self.indices, self.X, self.sw):
                if picks is not None and c not in picks:
                    continue
                w = np.ones(X.shape[0], dtype=self.dtype) if sw is None else sw
                if picks is not None:
                    kept = np.zeros_like(w)
                    kept[picks[c]] = w[picks[c]]
                    w = kept
                weight, mean, var, saw_inf = stats(X, w, shift)
                out.append((c, weight, mean, var, bool(saw_inf)))
        return out

    def nonfinite(self) -> list[tuple[int, str]]:
        """Chunks of X holding a NaN or an infinity: (index, "NaN" or "infinity")."""
        return [(c, "NaN" if np.isnan(X).any() else "infinity")
                for c, X in zip(self.indices, self.X) if not np.isfinite(X).all()]

    def rows(self, picks: dict[int, np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(chunk, X rows, weight rows) for ``picks`` = {chunk: local row numbers}."""
        where = {c: i for i, c in enumerate(self.indices)}
        out = []
        for c, local in picks.items():
            i = where[c]
            sw = self.sw[i]
            out.append((c, self.X[i][local], np.ones(len(local), self.dtype) if sw is None else sw[local]))
        return out

    def objective_grad(self, params: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None,
                       options: _core.TrainOptions, normalised: bool) -> list[tuple]:
        """Per chunk: (index, loss sum, weight sum, gradient sum, finite).

        ``normalised``: return the kernel's own normalised objective and gradient
        instead (the single-chunk case, bitwise the in-memory kernel's).
        """
        engine = getattr(_core, "objective_grad_" + core_suffix(self.dtype))
        out = []
        with threads(self.n_threads):
            for c, X, Y, sw in zip(self.indices, self.X, self.Y, self.sw):
                grad = np.empty(params.size)
                value, weight_sum, finite = engine(X, Y, sw, None, params, grad, mean, scale, options)
                if normalised:
                    out.append((c, value, weight_sum, grad, finite))
                else:
                    out.append((c, _scaled(value, weight_sum), weight_sum, _scaled(grad, weight_sum),
                                finite or not weight_sum > 0))
        return out

    def batch_sums(self, params: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None,
                   options: _core.TrainOptions, picks: dict[int, np.ndarray] | None = None
                   ) -> list[tuple[int, np.ndarray]]:
        """Per chunk: (index, the raw full-batch sums of ``_core.batch_sums_*`` at params).

        ``picks``: {chunk: local rows}, the sums over those rows (chunks not in it
        are left out).
        """
        engine = getattr(_core, "batch_sums_" + core_suffix(self.dtype))
        with threads(self.n_threads):
            return [(c, engine(X, Y, sw, None if picks is None else picks[c], params, mean, scale, options))
                    for c, X, Y, sw in zip(self.indices, self.X, self.Y, self.sw)
                    if picks is None or c in picks]

    def train_epoch(self, c: int, rows: np.ndarray, batch: int, params: np.ndarray,
                    states: list[np.ndarray], average: np.ndarray | None, counters: _core.TrainCounters,
                    mean: np.ndarray | None, scale: np.ndarray | None, options: _core.TrainOptions
                    ) -> tuple[tuple[float, float, bool, float], np.ndarray, list[np.ndarray],
                               np.ndarray | None, _core.TrainCounters]:
        """Chunk ``c``'s part of a mini-batch epoch: ``_core.train_epoch_*`` over its ``rows``.

        The model arrives with the call and goes back with the answer: (loss sum,
        weight sum, finite, optimality), params, states, average, counters.
        """
        i = self.indices.index(c)
        engine = getattr(_core, "train_epoch_" + core_suffix(self.dtype))
        # Writable, aligned copies (what arrived may sit in read-only or unaligned buffers).
        params = np.array(params, dtype=self.dtype)
        states = [np.array(state, dtype=self.dtype) for state in states]
        average = None if average is None else np.array(average, dtype=self.dtype)
        rows = np.array(rows, dtype=np.int64)
        with threads(self.n_threads):
            result = engine(self.X[i], self.Y[i], self.sw[i], rows, batch, params, states, average,
                            counters, mean, scale, options)
        return ((result.loss_sum, result.weight_sum, result.finite, result.optimality),
                params, states, average, counters)

    def predict_rows(self, picks: dict[int, np.ndarray], coef: np.ndarray, intercept: np.ndarray
                     ) -> list[tuple[int, np.ndarray]]:
        """(chunk, ``_core.batch_predict_*`` of its local rows) for ``picks`` = {chunk: local rows}."""
        predict = getattr(_core, "batch_predict_" + core_suffix(self.dtype))
        with threads(self.n_threads):
            return [(c, predict(self.X[self.indices.index(c)], np.array(local, dtype=np.int64), coef,
                                intercept))
                    for c, local in picks.items()]

    def gram(self, mean: np.ndarray | None, scale: np.ndarray | None, shift: np.ndarray) -> list[tuple]:
        """Per chunk: (index, A sum, C sum, yy sum, weight sum) of ``_core.gram_*``."""
        gram = getattr(_core, "gram_" + core_suffix(self.dtype))
        out = []
        with threads(self.n_threads):
            for c, X, Y, sw in zip(self.indices, self.X, self.Y, self.sw):
                A, C, yy, S = gram(X, Y, sw, None, mean, scale, shift)
                out.append((c, _scaled(A, S), _scaled(C, S), _scaled(yy, S), S))
        return out

    def alive(self) -> bool:
        """Answers True (the client's check that this actor is still there)."""
        return True


class DistributedRows:
    """Client side: X as row chunks held by :class:`ChunkStore` actors, for the Trainer.

    ``shape``/``dtype`` like X's; ``pygd_kernel(name)`` gives the stand-ins of the
    compiled kernels; ``standardization_stats`` and ``check_finite`` answer what
    ``pygd.linear_model._data`` asks.  ``build`` creates the actors from the
    collections (chunk futures computed once, actors placed where they are).

    Examples
    --------
    >>> from pygd.dask._store import DistributedRows
    >>> hasattr(DistributedRows, "pygd_kernel")
    True
    """

    ndim = 2

    def __init__(self, client: Any, blocks: list[Any], chunk_rows: list[int], d: int,
                 dtype: np.dtype) -> None:
        self.client = client
        self.blocks = blocks  # one dask.delayed (X, y, sw) per chunk: rebuilt from these after a loss
        self.chunk_rows = chunk_rows
        self.offsets = np.concatenate([[0], np.cumsum(chunk_rows)]).astype(np.int64)
        self.shape = (int(self.offsets[-1]), d)
        self.dtype = np.dtype(dtype)
        self.setup_steps: list[tuple[str, tuple]] = []
        self.rebuilds = 0
        self.actors: list[tuple[str, Any, list[int]]] = []
        self._build()

    # -- the actors ---------------------------------------------------------------------
    def _build(self) -> None:
        client = self.client
        from distributed import wait

        futures = client.compute(self.blocks)

        wait(futures)
        for future in futures:
            if future.status == "error":
                future.result()  # raises the chunk's own error
        who_has = client.who_has(futures)
        nthreads = client.nthreads()
        by_worker: dict[str, list[int]] = {}
        for i, future in enumerate(futures):
            holders = sorted(who_has[future.key])
            by_worker.setdefault(holders[0], []).append(i)
        actors = []
        for worker, chunks in sorted(by_worker.items()):
            store = client.submit(ChunkStore, chunks, self.dtype.str, nthreads.get(worker, 1),
                                  *[futures[i] for i in chunks], actor=True, workers=[worker],
                                  allow_other_workers=False, pure=False)
            actors.append((worker, store, chunks))
        self.actors = [(worker, store.result(), chunks) for worker, store, chunks in actors]
        del futures  # the actors hold the chunks now
        for step, args in self.setup_steps:
            self._call_once("setup", step, *args)

    def setup(self, step: str, *args: Any) -> None:
        """Runs a set-up step on every actor and remembers it for rebuilds."""
        self.setup_steps.append((step, args))
        self.call("setup", step, *args)

    def _call_once(self, method: str, *args: Any, only: Sequence[int] | None = None) -> list[Any]:
        pending = [getattr(store, method)(*args) for i, (_, store, _) in enumerate(self.actors)
                   if only is None or i in only]
        return [p.result() for p in pending]

    def _workers_alive(self) -> bool:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return all(worker in workers for worker, _, _ in self.actors)

    def call(self, method: str, *args: Any, only: Sequence[int] | None = None) -> list[Any]:
        """``method(*args)`` on every actor (or those at positions ``only``), their answers in order.

        A lost worker rebuilds the store and repeats the call (see the module docstring);
        after a rebuild, ``only`` is dropped (the chunks may sit elsewhere).
        """
        positions = [only]

        def once() -> list[Any]:
            try:
                return self._call_once(method, *args, only=positions[0])
            except Exception:
                positions[0] = None
                raise

        return self._retrying(once)

    def _owner(self, c: int) -> Any:
        return next(store for _, store, chunks in self.actors if c in chunks)

    def call_chunk(self, c: int, method: str, *args: Any) -> Any:
        """``method(c, *args)`` on the actor holding chunk ``c`` (rebuilt after a loss, as :meth:`call`)."""
        return self._retrying(lambda: getattr(self._owner(c), method)(c, *args).result())

    def call_chunks(self, method: str, picks: dict[int, np.ndarray], *args: Any) -> list[Any]:
        """``method(picks of its chunks, *args)`` on each actor holding chunks of ``picks``
        ({chunk: local rows}); the answers' items (one per chunk) in chunk order."""
        def once() -> list[Any]:
            pending = []
            for _, store, chunks in self.actors:
                mine = {c: picks[c] for c in chunks if c in picks}
                if mine:
                    pending.append(getattr(store, method)(mine, *args))
            return [item for p in pending for item in p.result()]

        return sorted(self._retrying(once), key=lambda item: item[0])

    def local_rows(self, rows: np.ndarray) -> dict[int, np.ndarray]:
        """Global row numbers -> {chunk: its local row numbers, in the order they come in ``rows``}."""
        rows = np.asarray(rows, dtype=np.int64)
        chunk_of = np.searchsorted(self.offsets, rows, side="right") - 1
        order = np.argsort(chunk_of, kind="stable")
        counts = np.bincount(chunk_of, minlength=len(self.chunk_rows))
        out = {}
        start = 0
        for c, m in enumerate(counts):
            if m:
                out[c] = rows[order[start:start + m]] - self.offsets[c]
                start += m
        return out

    def _retrying(self, once: Callable[[], Any]) -> Any:
        while True:
            try:
                return once()
            except Exception as exc:
                if self._workers_alive() and not _is_lost_actor(exc):
                    raise  # the kernel's or the data's own error
                if self.rebuilds >= MAX_REBUILDS:
                    raise WorkerLostError(
                        f"a worker holding part of the data was lost {self.rebuilds + 1} times during "
                        f"one call; gave up (last error: {exc!r})") from exc
                self.rebuilds += 1
                self._wait_for_workers()
                self._build()

    def _wait_for_workers(self) -> None:
        # The nanny restarts a killed worker; the scheduler first has to notice the loss.
        import time

        deadline = time.monotonic() + 30.0
        while self._workers_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        while not self.client.scheduler_info(n_workers=-1)["workers"] and time.monotonic() < deadline:
            time.sleep(0.05)

    def per_chunk(self, method: str, *args: Any) -> list[Any]:
        """Every chunk's answer to ``method`` (a list per actor), sorted by chunk index."""
        items = [item for answer in self.call(method, *args) for item in answer]
        return sorted(items, key=lambda item: item[0])

    def per_chunk_summary(self) -> list[dict[str, Any]]:
        """:meth:`ChunkStore.summary` of every chunk, in chunk order."""
        return [part for answer in self.call("summary") for part in answer]

    def close(self) -> None:
        """Releases the actors (and with them the chunks)."""
        self.actors = []

    # -- what the Trainer asks ------------------------------------------------------------
    def pygd_kernel(self, name: str) -> Callable[..., Any]:
        if name == "objective_grad":
            return self._objective_grad
        if name == "gram":
            return self._gram
        if name == "train_epoch":
            return self._train_epoch
        if name == "batch_predict":
            return self._batch_predict
        raise NotImplementedError(f"pygd.dask has no distributed {name!r}")

    def _train_epoch(self, X: Any, Y: Any, sample_weight: Any, rows: Any, batch_size: int,
                     params: np.ndarray, states: list[Any], average: np.ndarray | None,
                     counters: _core.TrainCounters, mean: np.ndarray | None,
                     scale: np.ndarray | None, options: _core.TrainOptions) -> _core.EpochResult:
        # A full-batch epoch is one step: the chunks' raw sums at the model (added in chunk
        # order), then the engine's own step on the client (_core.train_step_*).
        # Mini-batches: the model visits the chunks in order; each runs the engine's epoch
        # over its rows of ``rows`` (in their order there), its last batch possibly short.
        picks = None if rows is None else self.local_rows(rows)
        if batch_size >= (self.shape[0] if rows is None else len(rows)):
            raw = np.ascontiguousarray(params, dtype=np.float64)
            parts = self.per_chunk("batch_sums", raw, mean, scale, options, picks)
            sums = parts[0][1]
            for _, sums_c in parts[1:]:
                sums = sums + sums_c
            step = getattr(_core, "train_step_" + core_suffix(self.dtype))
            return step(sums, Y.shape[1], params, states, average, counters, mean, scale, options)
        assert picks is not None  # the trainer passes the epoch's order with mini-batches
        options = _copy_options(options)
        options.steps_per_epoch = sum(-(-len(local) // batch_size) for local in picks.values())
        options.epoch_rows = len(rows)  # a chunk of one batch is a partial batch of the epoch
        epoch = EpochSums()
        for c in sorted(picks):
            (loss, weight, finite, optimality), params_c, states_c, average_c, counters_c = \
                self.call_chunk(c, "train_epoch", picks[c], batch_size, params, states, average,
                                counters, mean, scale, options)
            params[:] = params_c
            for state, state_c in zip(states, states_c):
                state[:] = state_c
            if average is not None:
                average[:] = average_c
            for field in ("steps", "mu_product", "momentum_started", "averaged", "momentum_coef"):
                setattr(counters, field, getattr(counters_c, field))
            epoch.loss_sum += loss
            epoch.weight_sum += weight
            epoch.optimality = optimality  # the epoch's last batch's, as in memory
            if not finite:  # the engine stopped at a non-finite batch: so does the epoch
                epoch.finite = False
                break
        return epoch

    def _batch_predict(self, X: Any, rows: np.ndarray, coef: np.ndarray, intercept: np.ndarray
                       ) -> np.ndarray:
        # The rows' predictions from the chunks holding them, back in the order of ``rows``.
        rows = np.asarray(rows, dtype=np.int64)
        picks = self.local_rows(rows)
        parts = self.call_chunks("predict_rows", picks, np.asarray(coef), np.asarray(intercept))
        return self._in_order(rows, [P for _, P in parts])

    def _objective_grad(self, X: Any, Y: Any, sample_weight: Any, rows: Any, params: np.ndarray,
                        grad: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None,
                        options: _core.TrainOptions) -> tuple[float, float, bool]:
        if rows is not None:
            raise NotImplementedError("pygd.dask: a subset of rows (early_stopping) is not supported")
        params = np.ascontiguousarray(params, dtype=np.float64)
        if len(self.chunk_rows) == 1:  # the kernel's own result: bitwise the in-memory fit
            (_, value, weight_sum, chunk_grad, finite), = self.per_chunk(
                "objective_grad", params, mean, scale, options, True)
            grad[:] = chunk_grad
            return value, weight_sum, finite
        l2 = options.l2
        options = _copy_options(options)
        options.l2 = 0.0  # added once below, not once per chunk
        loss_sum = 0.0
        weight_sum = 0.0
        grad_sum = np.zeros(params.size)
        finite = True
        for _, loss_c, weight_c, grad_c, finite_c in self.per_chunk(
                "objective_grad", params, mean, scale, options, False):
            loss_sum += loss_c
            weight_sum += weight_c
            grad_sum += grad_c
            finite = finite and finite_c
        k = Y.shape[1]
        kd = params.size - k
        inv_S = 1.0 / weight_sum
        w = params[:kd]
        grad[:] = grad_sum * inv_S
        grad[:kd] += l2 * w
        value = loss_sum * inv_S + 0.5 * l2 * float(np.einsum("i,i->", w, w))  # no BLAS
        finite = finite and math.isfinite(value) and bool(np.isfinite(grad).all())
        return value, weight_sum, finite

    def _gram(self, X: Any, Y: Any, sample_weight: Any, rows: Any, mean: np.ndarray | None,
              scale: np.ndarray | None, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        if rows is not None:
            raise NotImplementedError("pygd.dask: a subset of rows (early_stopping) is not supported")
        parts = self.per_chunk("gram", mean, scale, np.ascontiguousarray(shift, dtype=np.float64))
        if len(parts) == 1:
            _, A, C, yy, S = parts[0]
            return A / S, C / S, yy / S, S  # the kernel's own division, undone and redone
        A = np.zeros_like(parts[0][1])
        C = np.zeros_like(parts[0][2])
        yy = 0.0
        S = 0.0
        for _, A_c, C_c, yy_c, S_c in parts:
            A += A_c
            C += C_c
            yy += yy_c
            S += S_c
        inv_S = 1.0 / S
        return A * inv_S, C * inv_S, yy * inv_S, S

    def standardization_stats(self, sample_weight: Any, rows: Any,
                              center: bool) -> tuple[np.ndarray, np.ndarray]:
        """``pygd.linear_model._data.standardization_stats`` from per-chunk statistics.

        Each chunk's (weight, mean - shift, var) relative to one shift (the
        kernel's own choice for the first chunk), merged by Chan's formula in
        chunk order (``pygd.preprocessing._merge_stats``).
        """
        from ..preprocessing import _merge_stats, _scale_from_var

        picks = None if rows is None else self.local_rows(rows)
        shift = self.call_chunk(0, "column_shifts")
        weight = mean_rel = var = None
        for _, weight_c, mean_c, var_c, _ in self.per_chunk("column_stats", shift, picks):
            if weight is None:
                weight, mean_rel, var = weight_c, mean_c, var_c
            else:
                weight, mean_rel, var = _merge_stats(weight, mean_rel, var, weight_c, mean_c, var_c)
        mean = shift + mean_rel
        count = self.shape[0] if rows is None else len(rows)
        with np.errstate(over="ignore", invalid="ignore"):
            if not center:
                return np.zeros_like(mean), _scale_from_var(var + mean * mean, np.zeros_like(mean), count)
            return mean, _scale_from_var(var, mean, count)

    def check_finite(self) -> None:
        """Raises scikit-learn's ValueError, naming the chunk, if X holds a NaN or an infinity."""
        bad = self.per_chunk("nonfinite")
        if bad:
            c, kind = bad[0]
            what = "NaN" if kind == "NaN" else f"infinity or a value too large for {self.dtype!r}"
            raise ValueError(
                f"Input X contains {what} (in row chunk {c}, rows {self.offsets[c]} to "
                f"{self.offsets[c + 1] - 1}). Remove or impute such values before fitting.")

    def gather_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X[rows], sample weights[rows]) fetched from the actors (rows sorted)."""
        rows = np.asarray(rows, dtype=np.int64)
        parts = self.call_chunks("rows", self.local_rows(rows))
        return self._in_order(rows, [X for _, X, _ in parts]), self._in_order(rows, [w for _, _, w in parts])

    def _in_order(self, rows: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
        # Per-chunk answers for local_rows(rows), in chunk order -> one array in the order of rows.
        chunk_of = np.searchsorted(self.offsets, rows, side="right") - 1
        out = np.concatenate(parts)
        result = np.empty_like(out)
        result[np.argsort(chunk_of, kind="stable")] = out
        return result


class EpochSums:
    """What a distributed epoch gives the Trainer (the fields of ``_core.EpochResult`` it reads).

    Examples
    --------
    >>> from pygd.dask._store import EpochSums
    >>> EpochSums().finite
    True
    """

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.weight_sum = 0.0
        self.finite = True
        self.optimality = math.nan


class DistributedTargets:
    """Client side: Y (n, k) as the Trainer sees it (the rows stay in the actors).

    Its shape and dtype; ``weighted_mean(rows)`` (the default intercepts) and
    ``Y[rows]`` (the validation rows, fetched) are computed where the rows live.

    Examples
    --------
    >>> import numpy as np
    >>> from pygd.dask._store import DistributedTargets
    >>> DistributedTargets(None, 10, 2, np.float64).shape
    (10, 2)
    """

    ndim = 2

    def __init__(self, rows: DistributedRows | None, n: int, k: int, dtype: np.dtype) -> None:
        self.rows = rows
        self.shape = (n, k)
        self.dtype = np.dtype(dtype)

    def weighted_mean(self, rows: np.ndarray | None) -> np.ndarray:
        """The sample-weighted mean of Y over ``rows`` (None: all), from per-chunk sums in chunk order."""
        assert self.rows is not None
        picks = None if rows is None else self.rows.local_rows(rows)
        Y_sum = np.zeros(self.shape[1])
        w_sum = 0.0
        for _, Y_c, w_c in self.rows.per_chunk("target_sums", picks):
            Y_sum += Y_c
            w_sum += w_c
        return Y_sum / w_sum

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        assert self.rows is not None
        rows = np.asarray(rows, dtype=np.int64)
        parts = self.rows.call_chunks("targets", self.rows.local_rows(rows))
        return self.rows._in_order(rows, [Y for _, Y, _ in parts])


class DistributedWeights:
    """Client side: the sample weights (n,) as the fit template sees them (max, mean, size).

    Examples
    --------
    >>> from pygd.dask._store import DistributedWeights
    >>> DistributedWeights(None, 5, "float64", 1.0).size
    5
    """

    ndim = 1

    def __init__(self, rows: DistributedRows | None, n: int, dtype: Any, top: float) -> None:
        self.rows = rows
        self.shape = (n,)
        self.size = n
        self.dtype = np.dtype(dtype)
        self.top = top

    def max(self, *args: Any, **kwargs: Any) -> float:
        return self.top

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> DistributedWeights:
        return self

    def mean(self) -> float:
        assert self.rows is not None
        return sum(s for _, s in self.rows.per_chunk("weight_sums")) / self.size

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The weights of ``rows`` (fetched; scaled as the kernels see them), in their order."""
        assert self.rows is not None
        rows = np.asarray(rows, dtype=np.int64)
        parts = self.rows.call_chunks("weights", self.rows.local_rows(rows))
        return self.rows._in_order(rows, [w for _, w in parts])


def _copy_options(options: _core.TrainOptions) -> _core.TrainOptions:
    import pickle

    return pickle.loads(pickle.dumps(options))


def _is_lost_actor(exc: BaseException) -> bool:
    # distributed's ways of saying that the actor's worker went away.
    text = f"{type(exc).__name__}: {exc}"
    return any(word in text for word in ("CommClosed", "lost", "Worker", "closed", "StreamClosed"))
