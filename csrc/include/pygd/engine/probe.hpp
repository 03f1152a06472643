// The benchmarks' memory-bandwidth probe (defined in csrc/engine/probe.cpp): a
// vectorised read of a whole array with several accumulators on every thread.
#pragma once
#include "pygd/kernels/probe.hpp"

namespace pygd {

// Sum of all elements (fixed blocks, fixed order: the same bits for any threads).
template <class T>
double probe_read_sum(const T* data, index_t size);

}  // namespace pygd
