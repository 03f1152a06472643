// The benchmarks' memory-bandwidth probe (defined in csrc/engine/probe.cpp): a
// vectorised read of a whole array with several accumulators on every thread.
#pragma once
#include "pygd/kernels/probe.hpp"

namespace pygd {

// Sum of all elements (fixed blocks, fixed order: the same bits for any threads).
template <class T>
double probe_read_sum(const T* data, index_t size);

// Sum of rows[0..count) of the (n, d) C-contiguous X, fixed blocks of the row list
// summed in parallel and added in block order: the random-order read the training
// engine's mini-batches do, at the rate the memory system allows.
template <class T>
double probe_gather_sum(const T* X, index_t d, const index_t* rows, index_t count);

}  // namespace pygd
