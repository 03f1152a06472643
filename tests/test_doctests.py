"""Every example in pygd's docstrings runs and prints what it says (numpydoc "Examples")."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import pygd

# pygd.plot draws (matplotlib, optional); pygd.__main__ and _bench run the demo and benchmarks.
SKIP = {"pygd.plot", "pygd.__main__", "pygd._bench", "pygd._core"}
MODULES = sorted(m.name for m in pkgutil.walk_packages(pygd.__path__, "pygd.") if m.name not in SKIP)


@pytest.mark.parametrize("name", ["pygd", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    with np.printoptions(legacy=False), warnings.catch_warnings():
        warnings.simplefilter("error")
        for test in tests:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
