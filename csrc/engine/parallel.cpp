#include "pygd/parallel.hpp"

#ifdef PYGD_HAVE_OPENMP
#include <omp.h>
#endif

namespace pygd {
namespace {
// 0 = not set by pygd.set_num_threads on this thread: use OpenMP's default
// (OMP_NUM_THREADS or the CPUs in the process's affinity mask).  Per calling
// thread, like OpenMP's own nthreads ICV that set_num_threads also sets: two
// threads fitting with different n_jobs each see (and restore) their own value.
thread_local int t_num_threads = 0;
}  // namespace

bool have_openmp() {
#ifdef PYGD_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

int num_threads() {
#ifdef PYGD_HAVE_OPENMP
  const int omp_limit = omp_get_max_threads();
  const int own = t_num_threads;
  if (own > 0 && own < omp_limit) return own;
  return omp_limit > 0 ? omp_limit : 1;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 1) n = 1;
  t_num_threads = n;
#ifdef PYGD_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace pygd
