// Preprocessing computations over whole arrays: the C++ API the bindings call.
// Inputs are assumed valid (the Python layer validates); see
// pygd/kernels/preprocessing.hpp for the maths.
#pragma once
#include <vector>

#include "pygd/kernels/preprocessing.hpp"

namespace pygd {

// Weighted mean and (biased) variance of every column of X, NaNs left out, in
// one pass over X:
//   weight_sum[j] = sum_{i: x_ij not NaN} s_i
//   mean[j]       = sum s_i x_ij / weight_sum[j]
//   var[j]        = sum s_i (x_ij - mean[j])^2 / weight_sum[j]
// (mean and var are NaN where weight_sum is 0).  Each column is first shifted
// by the median of its first 64 non-NaN values (preprocessing.cpp); fixed row blocks (plan_row_blocks) are reduced
// by Chan's merge in block order, so the bits do not depend on the thread
// count.  sample_weight may be nullptr (all ones).  With a non-null `shift`
// (d values, e.g. the running mean of earlier chunks) that shift is used and
// `mean` receives the mean of x - shift, unrounded by the shift's magnitude.
// Returns true if X holds an infinity (the outputs are then meaningless).
template <class T>
bool column_stats(const MatrixView<T>& X, const T* sample_weight, const double* shift,
                  double* weight_sum, double* mean, double* var);

// Weighted mean and variance of every column of a canonical CSR matrix (columns
// strictly increasing within each row), every row counting in every column (an entry a
// row does not store is 0), relative to `shift` (d values):  with y_ij = x_ij - c_j,
// m_j = mean_rel_j, W = sum_i s_i and Z_j = W - sum_{stored} s_i (the implicit zeros'
// weight; 0 for a column stored in every row)
//   mean_rel_j = (sum_{stored} s_i y_ij - Z_j c_j) / W
//   M2_j = sum_{stored} s_i (y_ij - m_j)^2 + Z_j (c_j + m_j)^2,
//   S1_j = sum_{stored} s_i (y_ij - m_j) - Z_j (c_j + m_j)
//   var_j = max((M2_j - S1_j^2 / W) / W, 0)        (inf where M2 overflows)
// (reference: pygd.reference.sparse_column_stats_reference; the corrected two-pass
// formula).  One pass over the stored values sums y and y^2, which gives
// var_j = (Q_j - W m_j^2) / W (Q_j = sum_i s_i y_ij^2, implicit zeros included) where
// W m_j^2 <= Q_j / 2 (at most one bit lost to the subtraction: c_j near the mean, e.g. a
// sample mean); a second pass takes the formula above for the other columns only (none,
// no second pass).  Each thread takes a range of columns
// (csr_column_stats_ranges), reads every row and sums only its columns' values, so every
// column's sums run over its stored values in storage order, in one thread: the same bits
// for any thread count.  O(d) memory.  sample_weight may be nullptr (all ones).  Returns W.
template <class T>
double csr_column_stats(const CsrView<T>& X, index_t n, index_t d, const T* sample_weight,
                        const double* shift, double* mean_rel, double* var);

// The column ranges [b_k, b_{k+1}) csr_column_stats gives one thread each with the
// calling thread's num_threads(): 0 = b_0 < ... < b_m = d, balanced by stored values,
// m = 1 where splitting would not pay (few stored values, or few per row).
template <class T>
std::vector<index_t> csr_column_stats_ranges(const CsrView<T>& X, index_t n, index_t d);

// out = (X - center) / scale column-wise (standardize) or out = X * scale +
// center (unstandardize); out may be X itself.  Returns true if X holds an
// infinity.
template <class T>
bool standardize(const MatrixView<T>& X, const MutableMatrixView<T>& out, const double* center,
                 const double* scale);
template <class T>
bool unstandardize(const MatrixView<T>& X, const MutableMatrixView<T>& out,
                   const double* center, const double* scale);

}  // namespace pygd
