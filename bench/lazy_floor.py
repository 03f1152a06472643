"""The floor of a lazy 256-row Adam epoch on text-like CSR data (README, sparse input).

By hand, on a machine with a C++ compiler: ``python bench/lazy_floor.py [log2 columns]``.
It shuffles the rows of :func:`pygd._sparse_bench.text_like` (2e5 rows) into 256-row
batches, finds each batch's distinct columns, and times a plain C++ loop that takes one Adam
step on exactly those columns per batch: four arrays w, m, v, g (g read and cleared), or
one 32-byte record per column; no gradient computation, no catch-up, no clock, one thread.
It checks that both layouts end with the same weights.  What it prints is less than any
lazy Adam epoch has to do on those batches besides its gradient passes, which at the full-batch pass's speed take ``objective_grad``'s time (the
README's table).  Not a test (it compiles C++ at run time): a measurement to rerun.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SOURCE = r"""
#include <cstdint>
#include <cmath>
extern "C" {
double adam_arrays(const int64_t* touched, const int64_t* starts, int64_t steps, double* w,
                   double* m, double* v, double* g) {
  const double b1 = 0.9, b2 = 0.999, lr = 1e-3, eps = 1e-8;
  for (int64_t s = 0; s < steps; ++s) {
    const double c1 = 1 - std::pow(b1, s + 1), c2 = 1 - std::pow(b2, s + 1);
    for (int64_t a = starts[s]; a < starts[s + 1]; ++a) {
      const int64_t j = touched[a];
      const double gj = g[j];
      g[j] = 0.0;
      const double mj = b1 * m[j] + (1 - b1) * gj, vj = b2 * v[j] + (1 - b2) * gj * gj;
      m[j] = mj;
      v[j] = vj;
      w[j] -= lr * (mj / c1) / (std::sqrt(vj / c2) + eps);
    }
  }
  return w[0];
}
double adam_records(const int64_t* touched, const int64_t* starts, int64_t steps, double* r) {
  const double b1 = 0.9, b2 = 0.999, lr = 1e-3, eps = 1e-8;
  for (int64_t s = 0; s < steps; ++s) {
    const double c1 = 1 - std::pow(b1, s + 1), c2 = 1 - std::pow(b2, s + 1);
    for (int64_t a = starts[s]; a < starts[s + 1]; ++a) {
      double* c = r + 4 * touched[a];
      const double gj = c[3];
      c[3] = 0.0;
      const double mj = b1 * c[1] + (1 - b1) * gj, vj = b2 * c[2] + (1 - b2) * gj * gj;
      c[1] = mj;
      c[2] = vj;
      c[0] -= lr * (mj / c1) / (std::sqrt(vj / c2) + eps);
    }
  }
  return r[0];
}
}
"""


def _library(directory: str) -> ctypes.CDLL:
    source = os.path.join(directory, "floor.cpp")
    library = os.path.join(directory, "floor.so")
    with open(source, "w") as f:
        f.write(SOURCE)
    compiler = os.environ.get("CXX", "c++")
    subprocess.run([compiler, "-O3", "-shared", "-fPIC", source, "-o", library], check=True)
    lib = ctypes.CDLL(library)
    lib.adam_arrays.restype = lib.adam_records.restype = ctypes.c_double
    return lib


def _best(func, repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main(log2_columns: int = 18, batch: int = 256) -> None:
    from pygd._sparse_bench import text_like

    X, _ = text_like(200_000, 2**log2_columns, 2)
    n, d = X.shape
    Xs = X[np.random.default_rng(0).permutation(n)]
    touched, starts = [], [0]
    for p in range(0, n, batch):
        columns = np.unique(Xs.indices[Xs.indptr[p]:Xs.indptr[min(p + batch, n)]])
        touched.append(columns)
        starts.append(starts[-1] + len(columns))
    touched_a = np.concatenate(touched).astype(np.int64)
    starts_a = np.array(starts, dtype=np.int64)
    steps = len(starts_a) - 1
    arrays = [np.zeros(d) for _ in range(4)]
    records = np.zeros(4 * d)
    arrays[3][:] = 1.0  # a gradient of 1 at each column's first step (then cleared, as g is)
    records[3::4] = 1.0

    def ptr(a: np.ndarray) -> ctypes.c_void_p:
        return a.ctypes.data_as(ctypes.c_void_p)

    with tempfile.TemporaryDirectory() as directory:
        lib = _library(directory)
        t_arrays = _best(lambda: lib.adam_arrays(ptr(touched_a), ptr(starts_a), ctypes.c_int64(steps),
                                                 *(ptr(a) for a in arrays)))
        t_records = _best(lambda: lib.adam_records(ptr(touched_a), ptr(starts_a), ctypes.c_int64(steps),
                                                   ptr(records)))
    # The two layouts took the same steps on the same columns: the same weights, bit for bit.
    if not np.array_equal(arrays[0], records[0::4]) or not arrays[0][touched_a].any():
        raise RuntimeError("the two Adam loops disagree (or took no step)")
    print(f"2e5 x 2^{log2_columns}, {batch}-row batches: {steps} steps, {touched_a.size / steps:.0f} columns "
          f"a step ({touched_a.size / 1e6:.1f} M column updates)")
    print(f"Adam on the touched columns alone, one thread: four arrays {t_arrays * 1e3:.1f} ms, "
          f"one record a column {t_records * 1e3:.1f} ms")


if __name__ == "__main__":  # pragma: no cover - by hand
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 18)
