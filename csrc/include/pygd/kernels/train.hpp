// Kernel table of the training engine: single-threaded kernels over one block
// of a mini-batch, compiled once per instruction set (csrc/kernels/train.cpp).
// The engine (csrc/engine/train.cpp) partitions a batch into fixed blocks, runs them
// in parallel and reduces the partial sums in block order.
//
// A model has k outputs sharing one pass over X: prediction p_it = x_i . v_t + c_t
// for a (k, d) coefficient matrix v (row-major, in double) and k intercepts c.
// The row loss maps the k predictions of a row and its k targets to one loss
// value and k derivatives dl_it = dl/dp_it.  Regression losses act on each
// output separately; a classifier's multinomial loss (softmax over the k
// outputs) or one-vs-rest hinge family plug in as further Loss values with
// their own row functor in kernels/train.cpp, without touching the engine.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"
#include "pygd/kernels/linear.hpp"

namespace pygd {

template <class T>
struct BatchProblem {
  MatrixView<T> X;                   // n x d, rows contiguous (col_stride 1); with csr.active
                                     // only its rows and cols are set (data nullptr)
  CsrView<T> csr;                    // X as a CSR matrix (csr.active), read by every kernel here
  const T* Y = nullptr;              // n x k targets, row-major with row stride k
  const T* sample_weight = nullptr;  // n, or nullptr for all ones
  const index_t* rows = nullptr;     // the batch's row numbers, or nullptr: rows are positions
  const double* coef = nullptr;      // k x d, row-major (raw units: standardisation folded in)
  const double* intercept = nullptr; // k
  index_t k = 1;
  Loss loss = Loss::squared_error;
  double epsilon = 0.1;
  // Positions [0, lookahead) of `rows` may be prefetched ahead of a block's end (the next
  // mini-batches' rows, known in advance); 0: only the block's own.  Read by the
  // single-output path (pygd.linear's kernel, engine/train.cpp batch_sums).
  index_t lookahead = 0;
  // CSR only: grad_coef arrives all zero and only the columns the block's rows store are
  // written (the engine's lazy steps keep one zeroed buffer and clear what a step touched,
  // instead of k*d values per step).
  bool grad_zeroed = false;
  // CSR only: every coefficient is 0 (a fit's start), so each row's predictions are its
  // intercepts and the gather of coef over the row's entries is skipped: the same values,
  // as products with 0 sum to a zero that adds nothing to the intercept.
  bool zero_coef = false;
  // CSR only: each row's products with coef are multiplied by coef_scale before the
  // intercept is added (the engine's lazy SGD keeps its L2 shrink as one factor for every
  // coefficient).  1: the products as they are (x * 1 == x).
  double coef_scale = 1.0;

  bool sparse() const { return csr.active; }
  // Elements a row holds on average: d for dense X, nnz / n for CSR (the block planner's width).
  index_t row_width() const {
    if (!csr.active) return X.cols;
    const index_t w = X.rows > 0 ? csr.nnz / X.rows : 0;
    return w > 0 ? w : 1;
  }
};

// Unnormalised sums of one block of batch positions [begin, end):
//   grad_coef[t*d + j] = sum_i s_i dl_it x_ij,  grad_intercept[t] = sum_i s_i dl_it,
//   sums[0] = sum_i s_i l_i,                    sums[1] = sum_i s_i.
// grad_coef (k*d) and grad_intercept (k) are overwritten.
template <class T>
using BatchGradBlockFn = void (*)(const BatchProblem<T>& problem, index_t begin, index_t end,
                                  double* grad_coef, double* grad_intercept, double* sums);

// Every kernel but the Gram's also reads CSR X (BatchProblem::csr): a row's k predictions
// sum over its stored entries only, and its gradient contribution goes to those columns
// (grad_coef is still the dense k*d block, zeroed in full).
//
// Batch positions [begin, end): out[i*k + t] = x_i . coef_t + intercept_t (in
// double, rounded to T); rows as in BatchProblem.
template <class T>
using BatchPredictBlockFn = void (*)(const BatchProblem<T>& problem, index_t begin, index_t end,
                                     T* out);

// Weighted second moments of the standardised rows of positions [begin, end)
// (the squared error's Hessian and right-hand side, for optimizer="lbfgs"'s
// Newton steps), with q = d + 1 and z_i = ((x_i - mean) * inv_scale, 1):
//   A[a * q + b] = sum_i s_i z_ia z_ib                 (b >= a: the upper triangle)
//   C[a * k + t] = sum_i s_i z_ia (y_it - shift_t)
//   sums[0] = sum_i s_i sum_t (y_it - shift_t)^2,      sums[1] = sum_i s_i
// (subtract, then scale: exact for columns with a large offset).  Overwrites A, C, sums.
template <class T>
using GramBlockFn = void (*)(const BatchProblem<T>& problem, index_t begin, index_t end,
                             const double* mean, const double* inv_scale, const double* shift,
                             double* A, double* C, double* sums);

// Several outputs over a CSR pass, column by column (the engine's BatchSums::run_columns):
// problem.coef holds v[j k + t] (column j's k coefficients side by side), so that a
// stored value reads and writes k neighbouring doubles, not k values d apart.
//   csr_rows, positions [begin, end):  Z[(i - begin) k + t] = s_i dl_it (the row loss at
//     z_it = x_i . v_t + c_t), grad_intercept[t] = sum_i s_i dl_it, sums as above
//     (all overwritten);
//   csr_columns, positions [begin, end), rows in order:  grad[j k + t] += sum_i Z[(i - begin)
//     k + t] x_ij for the stored columns of group `group` of `groups` (a power of two):
//     column j belongs to group (j / 64) mod groups.
// Each column's gradient adds its rows in position order whichever group and thread
// serves it: the same bits for any number of groups.
template <class T>
using CsrRowsFn = void (*)(const BatchProblem<T>& problem, index_t begin, index_t end, double* Z,
                           double* grad_intercept, double* sums);
template <class T>
using CsrColumnsFn = void (*)(const BatchProblem<T>& problem, index_t begin, index_t end,
                              const double* Z, index_t group, index_t groups, double* grad);

struct TrainTable {
  BatchGradBlockFn<float> grad_f32;
  BatchGradBlockFn<double> grad_f64;
  BatchPredictBlockFn<float> predict_f32;
  BatchPredictBlockFn<double> predict_f64;
  GramBlockFn<float> gram_f32;
  GramBlockFn<double> gram_f64;
  CsrRowsFn<float> csr_rows_f32;
  CsrRowsFn<double> csr_rows_f64;
  CsrColumnsFn<float> csr_columns_f32;
  CsrColumnsFn<double> csr_columns_f64;

  template <class T>
  BatchGradBlockFn<T> grad() const {
    if constexpr (sizeof(T) == 4) return grad_f32; else return grad_f64;
  }
  template <class T>
  BatchPredictBlockFn<T> predict() const {
    if constexpr (sizeof(T) == 4) return predict_f32; else return predict_f64;
  }
  template <class T>
  GramBlockFn<T> gram() const {
    if constexpr (sizeof(T) == 4) return gram_f32; else return gram_f64;
  }
  template <class T>
  CsrRowsFn<T> csr_rows() const {
    if constexpr (sizeof(T) == 4) return csr_rows_f32; else return csr_rows_f64;
  }
  template <class T>
  CsrColumnsFn<T> csr_columns() const {
    if constexpr (sizeof(T) == 4) return csr_columns_f32; else return csr_columns_f64;
  }
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(TrainTable, train_table)
