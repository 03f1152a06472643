// Driver of the optim area: splits a parameter into fixed chunks and runs the
// active level's kernel on them, in parallel for large parameters.
#include "pygd/engine/optim.hpp"

#include <vector>

#include "pygd/engine/chunks.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace {

const OptimTable& active_table() { return PYGD_ACTIVE_TABLE(OptimTable, optim_table); }

// body(begin, end) over [0, n): one call when n is small, else fixed chunks.
template <class Body>
void for_chunks(index_t n, const Body& body) {
  if (n < kOptimParallelMin) {
    if (n > 0) body(index_t(0), n);
    return;
  }
  parallel_for(chunk_count(n), [&](index_t c) { body(c * kOptimChunk, chunk_end(c, n)); });
}

template <class T, class Step>
void run_update(UpdateFn<T, Step> kernel, const ParamArrays<T>& arrays, const Step& step) {
  for_chunks(arrays.size, [&](index_t begin, index_t end) { kernel(arrays, step, begin, end); });
}

}  // namespace

template <class T>
void sgd_update(const ParamArrays<T>& arrays, const SgdStep& step) {
  run_update(active_table().kernels<T>().sgd, arrays, step);
}
template <class T>
void adam_update(const ParamArrays<T>& arrays, const AdamStep& step) {
  run_update(active_table().kernels<T>().adam, arrays, step);
}
template <class T>
void adagrad_update(const ParamArrays<T>& arrays, const AdagradStep& step) {
  run_update(active_table().kernels<T>().adagrad, arrays, step);
}
template <class T>
void rmsprop_update(const ParamArrays<T>& arrays, const RmspropStep& step) {
  run_update(active_table().kernels<T>().rmsprop, arrays, step);
}
template <class T>
void adadelta_update(const ParamArrays<T>& arrays, const AdadeltaStep& step) {
  run_update(active_table().kernels<T>().adadelta, arrays, step);
}
template <class T>
void nadam_update(const ParamArrays<T>& arrays, const NadamStep& step) {
  run_update(active_table().kernels<T>().nadam, arrays, step);
}

template <class T>
bool all_finite(const T* x, index_t n) {
  const AllFiniteFn<T> kernel = active_table().kernels<T>().all_finite;
  if (n < kOptimParallelMin) return kernel(x, 0, n);
  const index_t count = chunk_count(n);
  std::vector<char> ok(static_cast<size_t>(count));
  parallel_for(count, [&](index_t c) { ok[c] = kernel(x, c * kOptimChunk, chunk_end(c, n)); });
  for (char v : ok)
    if (!v) return false;
  return true;
}

template <class T>
double power_sum(const T* x, index_t n, double p) {
  const PowerSumFn<T> kernel = active_table().kernels<T>().power_sum;
  std::vector<double> partial(static_cast<size_t>(chunk_count(n)));
  for_each_chunk(n, [&](index_t c, index_t begin, index_t end) {
    partial[c] = kernel(x, begin, end, p);
  });
  const bool is_max = p == __builtin_inf();
  double total = 0.0;
  for (double v : partial) {  // chunk order, whatever the threads did
    if (is_max)
      total = (v > total || v != v || total != total) ? (total != total ? total : v) : total;
    else
      total += v;
  }
  return total;
}

template <class T>
void scale(T* x, index_t n, double factor) {
  const ScaleFn<T> kernel = active_table().kernels<T>().scale;
  for_chunks(n, [&](index_t begin, index_t end) { kernel(x, begin, end, factor); });
}

#define PYGD_INSTANTIATE_OPTIM(T)                                              \
  template void sgd_update<T>(const ParamArrays<T>&, const SgdStep&);          \
  template void adam_update<T>(const ParamArrays<T>&, const AdamStep&);        \
  template void adagrad_update<T>(const ParamArrays<T>&, const AdagradStep&);  \
  template void rmsprop_update<T>(const ParamArrays<T>&, const RmspropStep&);  \
  template void adadelta_update<T>(const ParamArrays<T>&, const AdadeltaStep&); \
  template void nadam_update<T>(const ParamArrays<T>&, const NadamStep&);      \
  template bool all_finite<T>(const T*, index_t);                              \
  template double power_sum<T>(const T*, index_t, double);                     \
  template void scale<T>(T*, index_t, double);
PYGD_INSTANTIATE_OPTIM(float)
PYGD_INSTANTIATE_OPTIM(double)
#undef PYGD_INSTANTIATE_OPTIM

}  // namespace pygd
