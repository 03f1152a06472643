"""loss_grad against the NumPy reference and the bandwidth probe, a mini-batch epoch against the
gather probe (cases in pygd._bench)."""

import pytest

from pygd import _bench

from conftest import FULL

CASES = _bench.linear_cases(full=FULL) + _bench.epoch_cases(full=FULL)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}/{c.name}" for c in CASES])
def test_linear(benchmark, case):
    benchmark.group = case.group
    data = case.make_data()
    result = benchmark(case.func, *data)
    case.check(result, data)
