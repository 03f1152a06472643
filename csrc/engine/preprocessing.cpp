// Driver of the preprocessing area: per-column shift, fixed row blocks run in
// parallel, block moments merged in block order (see pygd/kernels/preprocessing.hpp);
// CSR column statistics in parallel over column ranges, no merge.
#include "pygd/engine/preprocessing.hpp"

#include <cassert>
#include <cmath>
#include <cstdint>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "pygd/memory.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace {

const PreprocessingTable& active_table() {
  return PYGD_ACTIVE_TABLE(PreprocessingTable, preprocessing_table);
}

// The shift of every column: the median of its non-NaN values among the first
// kShiftRows rows, else its first non-NaN value (0 for an all-NaN column).  A
// median is close to the data even when row 0 is an outlier, so x - shift
// loses no low bits of ordinary values.
constexpr index_t kShiftRows = 64;

template <class T>
std::vector<double> column_shifts(const MatrixView<T>& X) {
  const index_t n = X.rows, d = X.cols;
  std::vector<double> shift(static_cast<size_t>(d), 0.0);
  const index_t head = n < kShiftRows ? n : kShiftRows;
  std::vector<double> values;
  values.reserve(static_cast<size_t>(head));
  for (index_t j = 0; j < d; ++j) {
    values.clear();
    for (index_t i = 0; i < head; ++i) {
      const double x = double(X.row(i)[j * X.col_stride]);
      if (x == x) values.push_back(x);
    }
    if (!values.empty()) {
      const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
      std::nth_element(values.begin(), mid, values.end());
      shift[j] = *mid;
      continue;
    }
    for (index_t i = head; i < n; ++i) {
      const double x = double(X.row(i)[j * X.col_stride]);
      if (x == x) {
        shift[j] = x;
        break;
      }
    }
  }
  return shift;
}

template <class T>
bool affine(AffineBlockFn<T> kernel, const MatrixView<T>& X, const MutableMatrixView<T>& out,
            const double* center, const double* scale) {
  const BlockPlan plan = plan_row_blocks(X.rows, 0, X.cols);
  std::vector<int> saw_inf(static_cast<size_t>(plan.count), 0);
  parallel_for(plan.count, [&](index_t b) {
    saw_inf[b] = kernel(X, out, center, scale, plan.begin(b), plan.end(b));
  });
  for (int flag : saw_inf)
    if (flag) return true;
  return false;
}

}  // namespace

template <class T>
bool column_stats(const MatrixView<T>& X, const T* sample_weight, const double* given_shift,
                  double* weight_sum, double* mean, double* var) {
  const index_t d = X.cols;
  const PreprocessingTable& table = active_table();
  std::vector<double> shift =
      given_shift ? std::vector<double>(given_shift, given_shift + d) : column_shifts(X);
  shift.resize(static_cast<size_t>(padded_cols(d)), 0.0);  // whole vectors for the kernel
  ColumnStatsProblem<T> problem;
  problem.X = X;
  problem.sample_weight = sample_weight;
  problem.shift = shift.data();

  const index_t scratch_size = kStatsScratchPerColumn * padded_cols(d);
  const BlockPlan plan = plan_row_blocks(X.rows, 3 * d + scratch_size, d);
  const ColumnStatsBlockFn<T> kernel = table.column_stats<T>();
  std::vector<double> partial(static_cast<size_t>(plan.count * 3 * d));
  std::vector<int> saw_inf(static_cast<size_t>(plan.count), 0);
  auto block_moments = [&](index_t b) {
    double* base = partial.data() + b * 3 * d;
    return ColumnMoments{base, base + d, base + 2 * d};
  };
  parallel_for(plan.count, [&](index_t b) {
    std::vector<double> scratch(static_cast<size_t>(scratch_size));
    saw_inf[b] = kernel(problem, plan.begin(b), plan.end(b), block_moments(b), scratch.data());
  });

  // Fixed order: block 0, 1, 2, ... whatever the threads did.
  std::vector<double> acc(static_cast<size_t>(3 * d), 0.0);
  const ColumnMoments total{acc.data(), acc.data() + d, acc.data() + 2 * d};
  for (index_t b = 0; b < plan.count; ++b) table.merge_moments(d, block_moments(b), total);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (index_t j = 0; j < d; ++j) {
    const double w = total.weight[j];
    weight_sum[j] = w;
    mean[j] = w > 0 ? (given_shift ? 0.0 : shift[j]) + total.mean[j] : nan;
    var[j] = w > 0 ? total.m2[j] / w : nan;
  }
  bool any_inf = false;
  for (int flag : saw_inf) any_inf = any_inf || flag;
  return any_inf;
}

template <class T>
bool standardize(const MatrixView<T>& X, const MutableMatrixView<T>& out, const double* center,
                 const double* scale) {
  return affine(active_table().standardize<T>(), X, out, center, scale);
}

template <class T>
bool unstandardize(const MatrixView<T>& X, const MutableMatrixView<T>& out,
                   const double* center, const double* scale) {
  return affine(active_table().unstandardize<T>(), X, out, center, scale);
}

namespace {

// The sums of one column in csr_column_stats, all in one record (one cache line
// per stored value and pass, instead of four or five arrays' lines): 32 bytes
// without sample weights, 64 with.
//   pass 1:  sum = sum_{stored} s_i y_ij,  sq = sum_{stored} s_i y_ij^2  (y = x - c)
//   pass 2 (only the columns pass 1 cannot finish):
//            sum = sum_{stored} s_i (y_ij - m_j),  sq = sum_{stored} s_i (y_ij - m_j)^2
template <bool Weighted>
struct ColumnSums;
template <>
struct alignas(32) ColumnSums<false> {
  double shift;  // c_j, copied in
  double sum;    // see above
  double sq;     // see above
  union {
    index_t count;  // pass 1: stored values (== n: no implicit zero), the stored weight
    double mean;    // pass 2: m_j
  };
};
template <>
struct alignas(64) ColumnSums<true> {
  double shift, sum, sq;
  double weight;  // pass 1: sum_{stored} s_i
  union {
    index_t count;
    double mean;
  };
};

// Pass 1's one-pass variance (Q - S m_j) / W, with Q = sum_i s_i y_ij^2 and
// S = W m_j over every row, is kept where S m_j <= Q / 2 (Q finite): the subtraction
// loses at most one bit, so its error stays a small multiple of the sums'
// rounding (as the two-pass formula's).  A column whose mean is far from its
// shift compared with its spread (S^2 / W close to Q), or whose Q overflowed,
// takes the exact second pass.  With the shift a sample mean of the column
// (pygd.preprocessing), that is rare: rows sorted so that the sample misses a
// column that most rows store.
constexpr double kOnePassCancellation = 0.5;

// A column range per thread pays when its share of the stored values outweighs
// what it costs to find its part of every row: at least kMinStoredPerRange
// values, and a row costs a range about as much as kRowCostInValues visits
// (measured 5-14 on text-like matrices of 12-108 values per row, one thread).
constexpr index_t kMinStoredPerRange = index_t(1) << 15;
constexpr index_t kRowCostInValues = 16;

// First position in [first, last) (indices sorted) whose column is >= column;
// branch-free, as the outcome of each step is a coin toss.
template <class I>
index_t lower_bound_column(const I* indices, index_t first, index_t last, index_t column) {
  index_t len = last - first;
  if (len <= 0) return first;
  const I* base = indices + first;
  while (len > 1) {
    const index_t half = len / 2;
    base = index_t(base[half]) < column ? base + half : base;
    len -= half;
  }
  return (base - indices) + (index_t(*base) < column ? 1 : 0);
}

// Column boundaries 0 = b_0 < b_1 < ... = d splitting the stored values into
// at most `parts` ranges of about equal counts, estimated from a histogram of
// column buckets over a sample of rows.  Only the speed depends on them.
template <class I>
std::vector<index_t> column_ranges(const I* indices, const I* indptr, index_t n, index_t d,
                                   index_t parts) {
  if (parts <= 1) return {0, d};
  constexpr index_t kBuckets = 4096, kSampledValues = index_t(1) << 18;
  const index_t width = (d + kBuckets - 1) / kBuckets;
  const index_t buckets = (d + width - 1) / width;
  std::vector<index_t> histogram(static_cast<size_t>(buckets), 0);
  const index_t nnz = index_t(indptr[n]) - index_t(indptr[0]);
  const index_t step = std::max<index_t>(1, nnz / kSampledValues);
  index_t sampled = 0;
  for (index_t i = 0; i < n; i += step) {
    for (index_t e = index_t(indptr[i]); e < index_t(indptr[i + 1]); ++e)
      histogram[static_cast<size_t>(index_t(indices[e]) / width)] += 1;
    sampled += index_t(indptr[i + 1]) - index_t(indptr[i]);
  }
  std::vector<index_t> bounds{0};
  index_t below = 0;  // sampled values in buckets [0, b]
  for (index_t b = 0, part = 1; b < buckets && part < parts; ++b) {
    below += histogram[static_cast<size_t>(b)];
    if (below * parts >= part * sampled) {  // the part-th share is reached at the end of b
      const index_t bound = std::min((b + 1) * width, d);
      if (bound > bounds.back() && bound < d) bounds.push_back(bound);
      while (part < parts && below * parts >= part * sampled) ++part;
    }
  }
  bounds.push_back(d);
  return bounds;
}

// The column ranges of csr_column_stats: one per thread (the calling thread's
// num_threads()) where splitting is estimated faster than one range, else one.
template <class I>
std::vector<index_t> stats_column_ranges(const I* indices, const I* indptr, index_t n, index_t d) {
  const index_t nnz = index_t(indptr[n]) - index_t(indptr[0]);
  index_t parts = std::min<index_t>(index_t(num_threads()), nnz / kMinStoredPerRange);
  // Each range costs about n kRowCostInValues + nnz / parts visits, one range nnz.
  if (parts > 1 && n * kRowCostInValues * parts >= nnz * (parts - 1)) parts = 1;
  return column_ranges(indices, indptr, n, d, parts);
}

// Visits, row by row in storage order, the stored values whose column lies in
// [lo, hi): in each row one run, contiguous as the columns are sorted.  The
// column records those values update lie anywhere in 32 d (64 d) bytes: a cursor
// running kPrefetchAhead values ahead of the visits prefetches them, and the
// runs it finds wait in a small queue for the visits (each row is searched once).
// `wanted(j)` says which columns' records the cursor prefetches (the second
// pass visits every value but updates only the columns pass 1 left).
template <class T, class I, class Sums, class Wanted>
class RunWalk {
 public:
  RunWalk(const T* values, const I* indices, const I* indptr, index_t n, index_t d, index_t lo,
          index_t hi, const Sums* sums, const Wanted& wanted)
      : values_(values), indices_(indices), indptr_(indptr), n_(n), d_(d), lo_(lo), hi_(hi),
        sums_(sums), wanted_(wanted), partial_(lo > 0 || hi < d) {}

  // visit(i, e, j) for each stored value e (column j) of row i in the range.
  template <class Visit>
  void run(const Visit& visit) {
    for (index_t k = 0; k < kPrefetchAhead; ++k) prefetch_one();
    for (;;) {
      if (head_ == tail_) {
        if (!push_run()) return;
        start_prefetching(tail_ - 1);
      }
      const Run r = queue_[head_ % kQueue];
      for (index_t e = r.begin; e < r.end; ++e) {
        prefetch_one();
        visit(r.row, e, index_t(indices_[e]));
      }
      ++head_;
    }
  }

 private:
  static constexpr index_t kPrefetchAhead = 128;  // stored values
  static constexpr index_t kQueue = 64;           // runs; a power of 2
  // A partial range reads a part of each row, which the hardware's stream
  // prefetcher does not follow: the cursor prefetches the indices it will search
  // kIndexRowsAhead rows ahead, and the values of each run it queues.
  static constexpr index_t kIndexRowsAhead = 4;
  static constexpr std::uintptr_t kPrefetchBytes = 2048;

  struct Run {
    index_t row, begin, end;
  };

  // Queues the next row's non-empty run; false when no row is left or the queue is full.
  bool push_run() {
    while (next_row_ < n_ && tail_ - head_ < kQueue) {
      const index_t i = next_row_++;
      index_t begin = index_t(indptr_[i]), end = index_t(indptr_[i + 1]);
      assert(std::adjacent_find(indices_ + begin, indices_ + end, std::greater_equal<I>()) ==
             indices_ + end);  // canonical rows: columns strictly increasing
      if (partial_) {
        if (i + kIndexRowsAhead < n_)
          prefetch_bytes(indices_ + index_t(indptr_[i + kIndexRowsAhead]),
                         indices_ + index_t(indptr_[i + kIndexRowsAhead + 1]));
        if (lo_ > 0) begin = lower_bound_column(indices_, begin, end, lo_);
        if (hi_ < d_) end = lower_bound_column(indices_, begin, end, hi_);
      }
      if (begin < end) {
        if (partial_) prefetch_bytes(values_ + begin, values_ + end);
        queue_[tail_++ % kQueue] = Run{i, begin, end};
        return true;
      }
    }
    return false;
  }

  void start_prefetching(index_t run) {
    ahead_ = queue_[run % kQueue].begin;
    ahead_end_ = queue_[run % kQueue].end;
  }

  // Prefetches the record of the next value the cursor reaches (nothing at the
  // end, or while the queue is full).
  void prefetch_one() {
    if (ahead_ == ahead_end_) {
      if (!push_run()) return;
      start_prefetching(tail_ - 1);
    }
    const index_t j = index_t(indices_[ahead_++]);
    if (wanted_(j)) prefetch_line(sums_ + j);
  }

  // The cache lines of [first, last) unless they are many (a long run engages the
  // hardware's stream prefetcher).
  template <class V>
  static void prefetch_bytes(const V* first, const V* last) {
    if (std::uintptr_t(last) - std::uintptr_t(first) <= kPrefetchBytes) prefetch_lines(first, last);
  }

  const T* values_;
  const I* indices_;
  const I* indptr_;
  index_t n_, d_, lo_, hi_;
  const Sums* sums_;
  const Wanted& wanted_;
  bool partial_;  // [lo, hi) is not every column: rows are searched, their data prefetched
  Run queue_[kQueue];
  index_t head_ = 0, tail_ = 0;        // runs [head_, tail_) queued (modulo kQueue)
  index_t next_row_ = 0;               // the first row not searched yet
  index_t ahead_ = 0, ahead_end_ = 0;  // the cursor, in the last queued run
};

// Pass 1 over the columns [lo, hi), and pass 2 for those it cannot finish;
// `total` is W.  Each column sees its stored values in storage order whatever
// the range, and whether it takes pass 2 depends on its own sums alone, hence
// the same bits for any split.  Without sample weights s_i = 1 is left out of
// the products (1 * x == x exactly) and the stored weight is the count (exact
// below 2^53).
template <bool Weighted, class T, class I>
void csr_stats_columns(const T* values, const I* indices, const I* indptr, index_t n, index_t d,
                       const T* sw, const double* shift, double total, index_t lo, index_t hi,
                       ColumnSums<Weighted>* sums, double* mean_rel, double* var) {
  const auto every = [](index_t) { return true; };
  for (index_t j = lo; j < hi; ++j) {
    sums[j] = ColumnSums<Weighted>{};
    sums[j].shift = shift[j];
  }
  RunWalk walk(values, indices, indptr, n, d, lo, hi, sums, every);
  walk.run([&](index_t i, index_t e, index_t j) {
    ColumnSums<Weighted>& c = sums[j];  // pass 1: weights, sums of y = x - c and of y^2
    const double y = double(values[e]) - c.shift;
    if constexpr (Weighted) {
      const double s = double(sw[i]);
      const double sy = s * y;
      c.weight += s;
      c.sum += sy;
      c.sq += sy * y;
    } else {
      c.sum += y;
      c.sq += y * y;
    }
    c.count += 1;
  });
  // The columns pass 2 revisits, as bits over [lo, hi).
  std::vector<std::uint64_t> second((static_cast<size_t>(hi - lo) + 63) / 64, 0);
  bool any_second = false;
  for (index_t j = lo; j < hi; ++j) {
    ColumnSums<Weighted>& c = sums[j];
    double stored_weight;
    if constexpr (Weighted)
      stored_weight = c.weight;
    else
      stored_weight = double(c.count);
    const double z = c.count == n ? 0.0 : total - stored_weight;
    const double implicit = z > 0 ? z : 0.0;  // each implicit zero: y = -c
    const double S = c.sum - implicit * c.shift;
    const double Q = c.sq + implicit * c.shift * c.shift;
    const double m = S / total;
    mean_rel[j] = m;
    // (S m overflowing, or S NaN, fails the test; an infinite Q is left to pass 2, whose
    // sum of squared deviations decides whether the variance overflows.)
    if (std::isfinite(Q) && S * m <= kOnePassCancellation * Q) {
      const double v = (Q - S * m) / total;
      var[j] = v > 0 ? v : 0.0;
      continue;
    }
    const index_t o = j - lo;
    second[static_cast<size_t>(o >> 6)] |= std::uint64_t(1) << (o & 63);
    any_second = true;
    c.sum = 0.0;  // pass 2's sums from here
    c.sq = 0.0;
    c.mean = m;
    var[j] = implicit;  // held here until the end
  }
  if (!any_second) return;
  const auto revisited = [&](index_t j) {
    const index_t o = j - lo;
    return ((second[static_cast<size_t>(o >> 6)] >> (o & 63)) & 1) != 0;
  };
  RunWalk(values, indices, indptr, n, d, lo, hi, sums, revisited)
      .run([&](index_t i, index_t e, index_t j) {
        if (!revisited(j)) return;
        ColumnSums<Weighted>& c = sums[j];  // pass 2: deviations from the mean, subtracted first
        const double dev = (double(values[e]) - c.shift) - c.mean;
        if constexpr (Weighted) {
          const double s = double(sw[i]);
          c.sq += s * dev * dev;
          c.sum += s * dev;
        } else {
          c.sq += dev * dev;
          c.sum += dev;
        }
      });
  for (index_t j = lo; j < hi; ++j) {
    if (!revisited(j)) continue;
    const ColumnSums<Weighted>& c = sums[j];
    const double implicit = var[j];
    const double zero_dev = c.shift + c.mean;
    const double m2 = c.sq + implicit * zero_dev * zero_dev;
    const double first = c.sum - implicit * zero_dev;
    const double v = (m2 - first * first / total) / total;
    var[j] = std::isinf(m2) ? m2 : (v > 0 ? v : 0.0);
  }
}

template <bool Weighted, class T, class I>
void csr_stats_in_ranges(const T* values, const I* indices, const I* indptr, index_t n, index_t d,
                         const T* sw, const double* shift, double total, double* mean_rel,
                         double* var) {
  // Filled by the thread that owns each column range.
  const auto sums = large_array<ColumnSums<Weighted>>(static_cast<size_t>(d));
  const std::vector<index_t> bounds = stats_column_ranges(indices, indptr, n, d);
  parallel_for(index_t(bounds.size()) - 1, [&](index_t r) {
    const index_t lo = bounds[static_cast<size_t>(r)], hi = bounds[static_cast<size_t>(r) + 1];
    csr_stats_columns<Weighted>(values, indices, indptr, n, d, sw, shift, total, lo, hi, sums.get(),
                                mean_rel, var);
  });
}

template <class T, class I>
double csr_stats(const T* values, const I* indices, const I* indptr, index_t n, index_t d,
                 const T* sw, const double* shift, double* mean_rel, double* var) {
  double total = 0.0;
  if (sw) {
    for (index_t i = 0; i < n; ++i) total += double(sw[i]);
    csr_stats_in_ranges<true>(values, indices, indptr, n, d, sw, shift, total, mean_rel, var);
  } else {
    total = double(n);  // n additions of 1, exact
    csr_stats_in_ranges<false>(values, indices, indptr, n, d, sw, shift, total, mean_rel, var);
  }
  return total;
}

}  // namespace

template <class T>
double csr_column_stats(const CsrView<T>& X, index_t n, index_t d, const T* sample_weight,
                        const double* shift, double* mean_rel, double* var) {
  if (X.indices64)
    return csr_stats(X.values, X.indices64, X.indptr64, n, d, sample_weight, shift, mean_rel, var);
  return csr_stats(X.values, X.indices32, X.indptr32, n, d, sample_weight, shift, mean_rel, var);
}

template <class T>
std::vector<index_t> csr_column_stats_ranges(const CsrView<T>& X, index_t n, index_t d) {
  if (X.indices64) return stats_column_ranges(X.indices64, X.indptr64, n, d);
  return stats_column_ranges(X.indices32, X.indptr32, n, d);
}

template std::vector<index_t> csr_column_stats_ranges<float>(const CsrView<float>&, index_t,
                                                             index_t);
template std::vector<index_t> csr_column_stats_ranges<double>(const CsrView<double>&, index_t,
                                                              index_t);
template double csr_column_stats<float>(const CsrView<float>&, index_t, index_t, const float*,
                                        const double*, double*, double*);
template double csr_column_stats<double>(const CsrView<double>&, index_t, index_t, const double*,
                                         const double*, double*, double*);

template bool column_stats<float>(const MatrixView<float>&, const float*, const double*,
                                   double*, double*, double*);
template bool column_stats<double>(const MatrixView<double>&, const double*, const double*,
                                   double*, double*, double*);
template bool standardize<float>(const MatrixView<float>&, const MutableMatrixView<float>&,
                                 const double*, const double*);
template bool standardize<double>(const MatrixView<double>&, const MutableMatrixView<double>&,
                                  const double*, const double*);
template bool unstandardize<float>(const MatrixView<float>&, const MutableMatrixView<float>&,
                                   const double*, const double*);
template bool unstandardize<double>(const MatrixView<double>&, const MutableMatrixView<double>&,
                                    const double*, const double*);

}  // namespace pygd
