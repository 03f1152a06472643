// The benchmarks' memory-bandwidth probe: a vectorised read of a whole array
// with several accumulators on every thread.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

struct ProbeTable {
  double (*read_sum_f32)(const float* data, index_t size);
  double (*read_sum_f64)(const double* data, index_t size);
};

// Sum of all elements (fixed blocks, fixed order: the same bits for any threads).
template <class T>
double probe_read_sum(const T* data, index_t size);

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(ProbeTable, probe_table)
