"""Every pygd module imports alone in a fresh interpreter, and imports run one way.

Each check starts a new interpreter in a temporary directory (never the
source tree, and without touching PYTHONPATH), so that it imports the same
installed package the other tests use, with nothing imported before it.

Importing ``pygd.optim.sgd`` normally runs ``pygd/__init__`` and
``pygd/optim/__init__`` first, and those import nearly everything: a plain
``import`` hides which module needs which.  The one-way checks therefore
register the parent packages as empty modules (their real ``__path__``, their
``__init__`` not run) and then import the module: what lands in
``sys.modules`` is that module and what it imports, nothing else.  A module
that reaches back into its own package's ``__init__`` (the re-exports that
import it: a circle) fails there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import pygd

PYGD_DIR = os.path.realpath(os.path.dirname(pygd.__file__))
MODULES = sorted(info.name for info in pkgutil.walk_packages(pygd.__path__, "pygd."))

# Run by the fresh interpreter: argv[1] is the module, argv[2] "plain" or
# "parents-empty".  Prints pygd's directory and the pygd modules loaded.
_IMPORT_ALONE = r"""
import importlib, importlib.machinery, importlib.util, json, sys

name, mode = sys.argv[1], sys.argv[2]
if mode == "parents-empty":
    parts = name.split(".")
    search_path = None
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        spec = importlib.machinery.PathFinder.find_spec(parent, search_path)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{parent} is not a package")
        module = importlib.util.module_from_spec(spec)  # not executed
        sys.modules[parent] = module
        if depth > 1:
            setattr(sys.modules[".".join(parts[:depth - 1])], parts[depth - 1], module)
        search_path = list(spec.submodule_search_locations)
importlib.import_module(name)
print(json.dumps({
    "pygd": sys.modules["pygd"].__file__,
    "modules": sorted(m for m in sys.modules if m == "pygd" or m.startswith("pygd.")),
}))
"""


def _import_alone(name: str, cwd: os.PathLike[str], *, parents_empty: bool) -> set[str]:
    """Import ``name`` in a fresh interpreter; return the pygd modules it loaded."""
    mode = "parents-empty" if parents_empty else "plain"
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALONE, name, mode], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    how = " (parent packages' __init__ not run)" if parents_empty else ""
    assert out.returncode == 0, f"`import {name}`{how} fails in a fresh interpreter:\n{out.stderr}"
    result = json.loads(out.stdout.splitlines()[-1])
    found = os.path.realpath(os.path.dirname(result["pygd"]))
    assert found == PYGD_DIR, f"the subprocess imported pygd from {found}, the tests from {PYGD_DIR}"
    return set(result["modules"])


def test_modules_are_discovered():
    assert {"pygd._core", "pygd.optim", "pygd.optim.optimizer", "pygd.optim.lr_scheduler"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_alone(name, tmp_path):
    _import_alone(name, tmp_path, parents_empty=False)


# Circles known today, each with the change that removes it.  Strict xfail: the
# test fails once the circle is gone, so that the entry is removed with it.
KNOWN_CIRCLES: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_CIRCLES[name], strict=True))
    if name in KNOWN_CIRCLES else name
    for name in MODULES
])
def test_module_does_not_need_its_package_init(name, tmp_path):
    # A module may import siblings and other pygd modules, but not a name its
    # package's __init__ defines: that __init__ imports the module (a circle).
    loaded = _import_alone(name, tmp_path, parents_empty=True)
    assert name in loaded


def _name_only(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optim_layers() -> list[tuple[str, set[str]]]:
    concrete = {f"pygd.optim.{m}" for m in
                ("sgd", "adam", "adagrad", "rmsprop", "adadelta", "nadam", "clip_grad", "lr_scheduler")}
    # (The parents-empty import fails for a file that needs pygd.optim's __init__.)
    return [("pygd.optim.optimizer", concrete)] + [(m, concrete - {m}) for m in sorted(concrete)]


@pytest.mark.parametrize(("name", "forbidden"), _optim_layers(), ids=_name_only)
def test_optim_imports_run_one_way(name, forbidden, tmp_path):
    # optim/__init__ -> one file per optimizer (and clip_grad, lr_scheduler) -> optimizer.py.
    loaded = _import_alone(name, tmp_path, parents_empty=True)
    assert not loaded & forbidden, f"{name} imports {sorted(loaded & forbidden)}"


# The estimator layer: estimator -> _base -> _trainer/_stopping -> _core.
_ESTIMATOR_LAYERS = [
    ("pygd.linear_model._trainer", ("_regressor", "_classifier", "_base")),
    ("pygd.linear_model._settings", ("_regressor", "_classifier", "_base", "_trainer", "_data")),
    ("pygd.linear_model._data", ("_regressor", "_classifier", "_base", "_trainer", "_settings")),
    ("pygd.linear_model._stopping", ("_regressor", "_classifier", "_base", "_trainer")),
    ("pygd.linear_model._base", ("_regressor", "_classifier")),
]


@pytest.mark.parametrize(("name", "forbidden"), _ESTIMATOR_LAYERS, ids=_name_only)
def test_estimator_imports_run_one_way(name, forbidden, tmp_path):
    spec = importlib.util.find_spec("pygd.linear_model")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("pygd.linear_model is a single module here, not the package of estimator layers")
    loaded = _import_alone(name, tmp_path, parents_empty=True)
    imported = sorted(m for m in (f"pygd.linear_model.{f}" for f in forbidden) if m in loaded)
    assert not imported, f"{name} imports {imported}: imports must run estimator -> _base -> _trainer"
