// Kernel table of the preprocessing area: single-threaded kernels over a block
// of rows, compiled once per instruction set (csrc/kernels/preprocessing.cpp).
// The driver (csrc/engine/preprocessing.cpp) picks the per-column shift, partitions
// rows, runs blocks in parallel and merges block moments in block order.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

// A writable 2-D view, strides in elements.  May be the very view it is
// computed from (in-place transform), never a partly overlapping one.
template <class T>
struct MutableMatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t row_stride = 0;
  index_t col_stride = 1;
};

// Per-column statistics of X with per-row weights, accumulated around a shift.
template <class T>
struct ColumnStatsProblem {
  MatrixView<T> X;                   // n x d
  const T* sample_weight = nullptr;  // n, contiguous, or nullptr for all ones
  const double* shift = nullptr;     // d: subtracted from every x_ij of column j first;
                                     // zeros after them up to padded_cols(d)
};

// Weighted moments of each column about its mean, NaNs left out:
//   weight[j] = sum_{i: x_ij not NaN} s_i
//   mean[j]   = sum s_i (x_ij - shift_j) / weight[j]      (0 when weight[j] == 0)
//   m2[j]     = sum s_i (x_ij - shift_j - mean[j])^2      (0 when weight[j] == 0)
// i.e. `mean` is relative to the shift.  Each array holds d doubles.
struct ColumnMoments {
  double* weight = nullptr;
  double* mean = nullptr;
  double* m2 = nullptr;
};

// Doubles of scratch per column a stats kernel needs (times padded_cols(d)).
constexpr index_t kStatsScratchPerColumn = 4;
// d rounded up to a multiple of 8 (the widest vector of doubles).
inline index_t padded_cols(index_t d) { return (d + 7) / 8 * 8; }

// Rows [begin, end): writes the block's moments (overwritten).  `scratch` holds
// kStatsScratchPerColumn * padded_cols(d) doubles.  Returns 1 if some x_ij in
// the block is +-infinity, else 0.
template <class T>
using ColumnStatsBlockFn = int (*)(const ColumnStatsProblem<T>& problem, index_t begin,
                                   index_t end, const ColumnMoments& out, double* scratch);

// Chan's pairwise merge of d columns' moments: acc <- acc (+) part.
using MergeMomentsFn = void (*)(index_t d, const ColumnMoments& part, const ColumnMoments& acc);

// Rows [begin, end): standardize writes out_ij = (x_ij - center_j) / scale_j,
// unstandardize writes out_ij = x_ij * scale_j + center_j, both in double and
// rounded to T.  Returns 1 if some x_ij is +-infinity, else 0.
template <class T>
using AffineBlockFn = int (*)(const MatrixView<T>& X, const MutableMatrixView<T>& out,
                              const double* center, const double* scale, index_t begin,
                              index_t end);

struct PreprocessingTable {
  ColumnStatsBlockFn<float> column_stats_f32;
  ColumnStatsBlockFn<double> column_stats_f64;
  MergeMomentsFn merge_moments;
  AffineBlockFn<float> standardize_f32;
  AffineBlockFn<double> standardize_f64;
  AffineBlockFn<float> unstandardize_f32;
  AffineBlockFn<double> unstandardize_f64;

  template <class T>
  ColumnStatsBlockFn<T> column_stats() const {
    if constexpr (sizeof(T) == 4) return column_stats_f32; else return column_stats_f64;
  }
  template <class T>
  AffineBlockFn<T> standardize() const {
    if constexpr (sizeof(T) == 4) return standardize_f32; else return standardize_f64;
  }
  template <class T>
  AffineBlockFn<T> unstandardize() const {
    if constexpr (sizeof(T) == 4) return unstandardize_f32; else return unstandardize_f64;
  }
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(PreprocessingTable, preprocessing_table)
