"""Every example in pygd's docstrings runs and prints what it says (numpydoc "Examples")."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import warnings

import numpy as np
import pytest

import pygd

# pygd.plot draws (matplotlib, optional); pygd.__main__ and _bench run the demo and benchmarks.
SKIP = {"pygd.plot", "pygd.__main__", "pygd._bench", "pygd._core"}
MODULES = sorted(m.name for m in pkgutil.walk_packages(pygd.__path__, "pygd.") if m.name not in SKIP)


class _Checker(doctest.OutputChecker):
    """NumPy >= 2 prints scalars as np.float64(1.0), NumPy 1.x as 1.0: compare without the wrapper."""

    _SCALAR = re.compile(r"np\.(?:float|int|uint|bool|complex)\w*\(([^()]*)\)")

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(self._SCALAR.sub(r"\1", want), self._SCALAR.sub(r"\1", got),
                                    optionflags)


@pytest.mark.parametrize("name", ["pygd", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(checker=_Checker(),
                                   optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    with np.printoptions(legacy=False), warnings.catch_warnings():
        warnings.simplefilter("error")
        for test in tests:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
