#include "pygd/engine/probe.hpp"

#include <vector>

#include "pygd/parallel.hpp"

namespace pygd {

template <class T>
double probe_read_sum(const T* data, index_t size) {
  const ProbeTable& table = PYGD_ACTIVE_TABLE(ProbeTable, probe_table);
  double (*kernel)(const T*, index_t);
  if constexpr (sizeof(T) == 4) kernel = table.read_sum_f32; else kernel = table.read_sum_f64;
  const BlockPlan plan = plan_row_blocks(size, 1, 1, index_t(1) << 16, 4096);
  std::vector<double> partial(static_cast<size_t>(plan.count));
  parallel_for(plan.count, [&](index_t b) {
    partial[b] = kernel(data + plan.begin(b), plan.end(b) - plan.begin(b));
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template <class T>
double probe_gather_sum(const T* X, index_t d, const index_t* rows, index_t count) {
  const ProbeTable& table = PYGD_ACTIVE_TABLE(ProbeTable, probe_table);
  double (*kernel)(const T*, index_t, const index_t*, index_t);
  if constexpr (sizeof(T) == 4) kernel = table.gather_sum_f32; else kernel = table.gather_sum_f64;
  const BlockPlan plan = plan_row_blocks(count, 1, d);
  std::vector<double> partial(static_cast<size_t>(plan.count));
  parallel_for(plan.count, [&](index_t b) {
    partial[b] = kernel(X, d, rows + plan.begin(b), plan.end(b) - plan.begin(b));
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template double probe_gather_sum<float>(const float*, index_t, const index_t*, index_t);
template double probe_gather_sum<double>(const double*, index_t, const index_t*, index_t);
template double probe_read_sum<float>(const float*, index_t);
template double probe_read_sum<double>(const double*, index_t);

}  // namespace pygd
