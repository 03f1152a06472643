"""Write a fingerprint of what the estimators return, to prove a refactor changes nothing.

For a fixed set of configurations (every optimizer, loss, penalty, schedule and
batch mode, both estimators, float32 and float64, plus averaging, early stopping,
warm starts and partial_fit) this fits on small generated data and writes one line
per configuration: ``n_iter_`` and the SHA-256 of the raw bytes of ``coef_``,
``intercept_`` and ``loss_curve_``.  Run it on two commits at every SIMD level the
CPU has and diff the outputs::

    for level in baseline avx2 avx512; do
        PYGD_SIMD=$level python scripts/behaviour_snapshot.py > /tmp/after-$level.txt
    done

Only parameter spellings valid both before and after the vocabulary change of
issue 11 are used, so the same script runs on both sides.
"""

from __future__ import annotations

import hashlib
import sys
import warnings

import numpy as np


def _digest(values) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(values)).tobytes()).hexdigest()[:16]


def _data(dtype, kind: str, rng_seed: int = 0):
    rng = np.random.default_rng(rng_seed)
    X = rng.normal(size=(160, 5)) * [1.0, 3.0, 0.5, 10.0, 1.0] + [0.0, 5.0, 0.0, -2.0, 1.0]
    w = np.array([1.0, -0.5, 2.0, 0.1, 0.0])
    if kind == "reg":
        y = X @ w + 0.3 * rng.normal(size=160)
    elif kind == "reg2":
        y = np.column_stack([X @ w, X @ w[::-1]]) + 0.3 * rng.normal(size=(160, 2))
    elif kind == "bin":
        y = (X @ w + rng.normal(size=160) > 1.0).astype(int)
    else:
        y = np.digitize(X @ w + rng.normal(size=160), [-2.0, 1.0, 4.0])
    sw = rng.uniform(0.5, 2.0, size=160)
    return X.astype(dtype), y, sw


def configurations():
    from pygd.linear_model import GDClassifier, GDRegressor

    optimizers = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "adadelta"]
    schedules = ["constant", "invscaling", "step", "exponential", "cosine", "warmup_cosine", "plateau"]
    for dtype in (np.float64, np.float32):
        tag = np.dtype(dtype).name
        for opt in optimizers:
            for batch in (16, "full", "auto"):
                yield f"reg {tag} {opt} batch={batch}", GDRegressor, "reg", dict(
                    optimizer=opt, batch_size=batch, max_iter=25, random_state=0)
                yield f"clf {tag} {opt} batch={batch}", GDClassifier, "multi", dict(
                    optimizer=opt, batch_size=batch, max_iter=25, random_state=0)
        for loss in ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"):
            for penalty in (None, "l2", "l1", "elasticnet"):
                yield f"reg {tag} {loss} {penalty}", GDRegressor, "reg", dict(
                    loss=loss, penalty=penalty, alpha=0.01, max_iter=30, random_state=1)
        for loss in ("log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"):
            for penalty in (None, "l2", "l1", "elasticnet"):
                for kind in ("bin", "multi"):
                    yield f"clf {tag} {loss} {penalty} {kind}", GDClassifier, kind, dict(
                        loss=loss, penalty=penalty, alpha=0.01, max_iter=30, random_state=1)
        yield f"clf {tag} ovr", GDClassifier, "multi", dict(multi_class="ovr", max_iter=30, random_state=2)
        for sched in schedules:
            yield f"reg {tag} schedule={sched}", GDRegressor, "reg", dict(
                optimizer="sgd", lr_schedule=sched, batch_size=8, max_iter=20, random_state=3)
            yield f"clf {tag} schedule={sched}", GDClassifier, "bin", dict(
                lr_schedule=sched, batch_size=8, max_iter=20, random_state=3)
        yield f"reg {tag} multi-output", GDRegressor, "reg2", dict(max_iter=40, random_state=4)
        yield f"reg {tag} average", GDRegressor, "reg", dict(optimizer="sgd", average=10, max_iter=20, random_state=5)
        yield f"reg {tag} early_stopping", GDRegressor, "reg", dict(early_stopping=True, max_iter=60, random_state=6)
        yield f"clf {tag} early_stopping", GDClassifier, "multi", dict(early_stopping=True, max_iter=60, random_state=6)
        yield f"reg {tag} no-intercept no-standardize", GDRegressor, "reg", dict(
            fit_intercept=False, standardize=False, learning_rate=1e-3, max_iter=30, random_state=7)
        yield f"clf {tag} class_weight", GDClassifier, "multi", dict(class_weight="balanced", max_iter=30, random_state=8)
        yield f"reg {tag} default", GDRegressor, "reg", dict(random_state=9)
        yield f"clf {tag} default", GDClassifier, "multi", dict(random_state=9)


def _line(name, model, dtype) -> str:
    parts = [name, f"n_iter={model.n_iter_}"]
    for attr in ("coef_", "intercept_", "loss_curve_"):
        parts.append(f"{attr}={_digest(np.asarray(getattr(model, attr)))}")
    return " | ".join(parts)


def main() -> None:
    out = sys.stdout
    for name, cls, kind, params in configurations():
        dtype = np.float32 if "float32" in name else np.float64
        X, y, sw = _data(dtype, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = cls(**params).fit(X, y, sample_weight=sw)
                out.write(_line(name, model, dtype) + "\n")
                # warm start and partial_fit continue from the fitted state
                if name.endswith("default"):
                    model.set_params(warm_start=True, max_iter=5).fit(X, y)
                    out.write(_line(name + " warm_start", model, dtype) + "\n")
                    pf = cls(**params)
                    for _ in range(3):
                        if cls.__name__ == "GDClassifier":
                            pf.partial_fit(X, y, classes=np.unique(y))
                        else:
                            pf.partial_fit(X, y)
                    out.write(_line(name + " partial_fit", pf, dtype) + "\n")
            except Exception as exc:  # a configuration that raises is part of the behaviour
                out.write(f"{name} | raised {type(exc).__name__}: {exc}\n")


def minimize_and_optim_lines():
    """pygd.minimize per method and schedule, and 50 raw steps of each pygd.optim class."""
    import pygd
    from pygd import optim, testing

    for method in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "adadelta"):
        for sched in ("constant", "invscaling", "step", "exponential", "cosine", "warmup_cosine", "plateau"):
            res = pygd.minimize(testing.rosenbrock, [-1.0, 1.5], jac=testing.rosenbrock_grad,
                                method=method, lr=1e-3, lr_schedule=sched, max_iter=300, record_path=True)
            yield (f"minimize {method} {sched} | nit={res.nit} status={res.status} | "
                   f"x={_digest(res.x)} | path={_digest(res.path)}")
    rng = np.random.default_rng(11)
    for cls, kw in [(optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)), (optim.SGD, dict(lr=0.01)),
                    (optim.Adam, dict(lr=0.01)), (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                    (optim.AdamW, dict(lr=0.01)), (optim.Adagrad, dict(lr=0.1)),
                    (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)), (optim.Adadelta, dict()),
                    (optim.NAdam, dict(lr=0.01))]:
        for dtype in (np.float64, np.float32):
            p = rng.normal(size=37).astype(dtype)
            opt = cls([p], **kw)
            for _ in range(50):
                opt.step([np.sin(p * 3.0).astype(dtype)])
            yield f"optim {cls.__name__} {kw} {np.dtype(dtype).name} | p={_digest(p)}"


if __name__ == "__main__":
    main()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for line in minimize_and_optim_lines():
            sys.stdout.write(line + "\n")
