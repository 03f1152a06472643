// The benchmarks' memory-bandwidth probe, per-ISA kernel table (defined in
// csrc/kernels/probe.cpp): a vectorised read of one block with several accumulators.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

struct ProbeTable {
  double (*read_sum_f32)(const float* data, index_t size);
  double (*read_sum_f64)(const double* data, index_t size);
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(ProbeTable, probe_table)
