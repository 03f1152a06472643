// Read-bandwidth probe: sum of a contiguous block, kDoubleLanes accumulators
// (reference: numpy's sum; the value only proves the data were read).
#include "pygd/isa.hpp"
#include "pygd/kernels/probe.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

template <class T>
double read_sum(const T* __restrict data, index_t size) {
  double acc[kDoubleLanes] = {};
  index_t i = 0;
  for (; i + kDoubleLanes <= size; i += kDoubleLanes) {
    for (int k = 0; k < kDoubleLanes; ++k) acc[k] += double(data[i + k]);
  }
  double tail = 0.0;
  for (; i < size; ++i) tail += double(data[i]);
  for (int width = kDoubleLanes / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) acc[k] += acc[k + width];
  }
  return acc[0] + tail;
}

}  // namespace

const ProbeTable& probe_table() {
  static const ProbeTable table{&read_sum<float>, &read_sum<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
