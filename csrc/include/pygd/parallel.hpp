// Threading for the drivers (csrc/<area>.cpp).  Kernel files never include this.
#pragma once
#include <exception>
#include <mutex>

#include "pygd/common.hpp"

namespace pygd {

bool have_openmp();
// Threads a parallel region may use: min(pygd's own setting for the calling
// thread, the calling thread's OpenMP limit), so threadpoolctl's limits are
// honoured too.
int num_threads();
// n >= 1, for the calling thread only; also sets the calling thread's OpenMP limit.
void set_num_threads(int n);

// Calls body(i) for i in [0, count), in parallel when count > 1 and more than
// one thread is allowed.  Each index's work must not depend on which thread
// runs it.  The first exception thrown by a body is rethrown after the region.
template <class Body>
void parallel_for(index_t count, const Body& body) {
#ifdef PYGD_HAVE_OPENMP
  const int threads = num_threads();
  if (count > 1 && threads > 1) {
    std::exception_ptr error;
    std::mutex error_mutex;
    const int team = count < threads ? static_cast<int>(count) : threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
    for (index_t i = 0; i < count; ++i) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  for (index_t i = 0; i < count; ++i) body(i);
}

// sum_j a[j] b[j] over [0, n) with four partial sums, then (s0 + s1) + (s2 + s3): a fixed
// order, for the drivers' per-block dot products (a and b may be the same array).
inline double dot4(const double* __restrict a, const double* __restrict b, index_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  index_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += a[j] * b[j];
    s1 += a[j + 1] * b[j + 1];
    s2 += a[j + 2] * b[j + 2];
    s3 += a[j + 3] * b[j + 3];
  }
  for (; j < n; ++j) s0 += a[j] * b[j];
  return (s0 + s1) + (s2 + s3);
}

}  // namespace pygd
