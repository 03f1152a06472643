// Preprocessing computations over whole arrays: the C++ API the bindings call.
// Inputs are assumed valid (the Python layer validates); see
// pygd/kernels/preprocessing.hpp for the maths.
#pragma once
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
