// The benchmarks' memory-bandwidth probe, per-ISA kernel table (defined in
// csrc/kernels/probe.cpp): a vectorised read of one block with several accumulators.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

struct ProbeTable {
  double (*read_sum_f32)(const float* data, index_t size);
  double (*read_sum_f64)(const double* data, index_t size);
  // Sum of the rows rows[0..count) of an (n, d) C-contiguous matrix, in that order, each
  // row's lines prefetched a few rows ahead (a random order defeats the hardware's).
  double (*gather_sum_f32)(const float* X, index_t d, const index_t* rows, index_t count);
  double (*gather_sum_f64)(const double* X, index_t d, const index_t* rows, index_t count);
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(ProbeTable, probe_table)
