// Driver of the preprocessing area: per-column shift, fixed row blocks run in
// parallel, block moments merged in block order (see pygd/kernels/preprocessing.hpp).
#include "pygd/engine/preprocessing.hpp"

#include <cmath>

#include <algorithm>
#include <limits>
#include <vector>

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

template <class T, class I>
double csr_stats(const T* values, const I* indices, const I* indptr, index_t n, index_t d,
                 const T* sw, const double* shift, double* mean_rel, double* var) {
  std::vector<double> stored_weight(static_cast<size_t>(d), 0.0), s1(static_cast<size_t>(d), 0.0);
  std::vector<index_t> stored_count(static_cast<size_t>(d), 0);
  double total = 0.0;
  for (index_t j = 0; j < d; ++j) mean_rel[j] = 0.0;
  for (index_t i = 0; i < n; ++i) {  // pass 1: weights and weighted sums of y = x - c
    const double s = sw ? double(sw[i]) : 1.0;
    total += s;
    for (index_t e = index_t(indptr[i]); e < index_t(indptr[i + 1]); ++e) {
      const index_t j = index_t(indices[e]);
      stored_weight[j] += s;
      stored_count[j] += 1;
      mean_rel[j] += s * (double(values[e]) - shift[j]);
    }
  }
  std::vector<double> implicit(static_cast<size_t>(d));
  for (index_t j = 0; j < d; ++j) {
    const double z = stored_count[j] == n ? 0.0 : total - stored_weight[j];
    implicit[j] = z > 0 ? z : 0.0;
    mean_rel[j] = (mean_rel[j] - implicit[j] * shift[j]) / total;
    var[j] = 0.0;  // M2 accumulates here
  }
  for (index_t i = 0; i < n; ++i) {  // pass 2: deviations from the mean, subtracted first
    const double s = sw ? double(sw[i]) : 1.0;
    for (index_t e = index_t(indptr[i]); e < index_t(indptr[i + 1]); ++e) {
      const index_t j = index_t(indices[e]);
      const double dev = (double(values[e]) - shift[j]) - mean_rel[j];
      var[j] += s * dev * dev;
      s1[j] += s * dev;
    }
  }
  for (index_t j = 0; j < d; ++j) {
    const double zero_dev = shift[j] + mean_rel[j];
    const double m2 = var[j] + implicit[j] * zero_dev * zero_dev;
    const double first = s1[j] - implicit[j] * zero_dev;
    const double v = (m2 - first * first / total) / total;
    var[j] = std::isinf(m2) ? m2 : (v > 0 ? v : 0.0);
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
