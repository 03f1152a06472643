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

constexpr index_t kGatherAhead = 8;  // rows prefetched ahead

template <class T>
double gather_sum(const T* __restrict X, index_t d, const index_t* rows, index_t count) {
  double acc[kDoubleLanes] = {};
  double tail = 0.0;
  const index_t row_bytes = d * index_t(sizeof(T));
  for (index_t i = 0; i < count && i < kGatherAhead; ++i)
    prefetch_bytes(X + rows[i] * d, 0, row_bytes);
  for (index_t i = 0; i < count; ++i) {
    if (i + kGatherAhead < count) prefetch_bytes(X + rows[i + kGatherAhead] * d, 0, row_bytes);
    const T* __restrict x = X + rows[i] * d;
    index_t j = 0;
    for (; j + kDoubleLanes <= d; j += kDoubleLanes)
      for (int k = 0; k < kDoubleLanes; ++k) acc[k] += double(x[j + k]);
    for (; j < d; ++j) tail += double(x[j]);
  }
  for (int width = kDoubleLanes / 2; width > 0; width /= 2)
    for (int k = 0; k < width; ++k) acc[k] += acc[k + width];
  return acc[0] + tail;
}

}  // namespace

const ProbeTable& probe_table() {
  static const ProbeTable table{&read_sum<float>, &read_sum<double>, &gather_sum<float>,
                                &gather_sum<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
