// Kernel table of the linear-model area: one single-threaded kernel per block of
// rows, compiled once per instruction set (csrc/kernels/linear.cpp).  The driver
// (csrc/engine/linear.cpp) partitions rows, runs blocks in parallel and reduces.
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

// Every loss pygd computes (formulas: pygd/losses.hpp).  pygd.linear.loss_grad
// takes the five regression/logistic ones; the training engine takes all:
// the hinge family one-vs-rest (labels +-1 per output) and the multinomial
// softmax cross-entropy over all k outputs of a row (Y rows are class
// probabilities, one-hot for hard labels).  All but multinomial act on each
// output separately.
enum class Loss : int {
  squared_error = 0,
  huber = 1,
  epsilon_insensitive = 2,
  squared_epsilon_insensitive = 3,
  log_loss = 4,
  hinge = 5,
  squared_hinge = 6,
  modified_huber = 7,
  perceptron = 8,
  multinomial = 9,
  smoothed_hinge = 10,  // the hinge with its kink rounded over a width epsilon (L-BFGS's hinge)
};
inline constexpr int kLossCount = 11;

// Each loss's name, the one spelling used by pygd's Python layer, the bound
// enum _core.Loss and parse_loss (index = the enum's value).
inline constexpr const char* kLossNames[kLossCount] = {
    "squared_error", "huber",         "epsilon_insensitive", "squared_epsilon_insensitive",
    "log_loss",      "hinge",         "squared_hinge",       "modified_huber",
    "perceptron",    "multinomial",   "smoothed_hinge"};

template <class T>
struct LossGradProblem {
  MatrixView<T> X;                  // n x d
  const T* y = nullptr;             // n, contiguous
  const T* sample_weight = nullptr; // n, contiguous, or nullptr for all ones
  const double* coef = nullptr;     // d, contiguous (converted to double by the driver)
  double intercept = 0.0;
  Loss loss = Loss::squared_error;
  double epsilon = 0.1;
  // The training engine's mini-batches: positions i stand for rows[i] (gathered, with
  // rows up to position `lookahead` prefetched ahead); nullptr: rows in storage order.
  const index_t* rows = nullptr;
  index_t lookahead = 0;
};

// Unnormalised sums of one block: sum s_i l_i, sum s_i l'_i, sum s_i.
struct BlockSums {
  double loss = 0.0;
  double grad_intercept = 0.0;
  double weight = 0.0;
};

// Rows [begin, end): writes grad_coef[j] = sum_i s_i l'(p_i, y_i) x_ij (d doubles,
// overwritten) and the block's sums.
template <class T>
using LossGradBlockFn = void (*)(const LossGradProblem<T>& problem, index_t begin, index_t end,
                                 double* grad_coef, BlockSums* sums);

// The multinomial (softmax cross-entropy) model: k outputs p_it = x_i . w_t + b_t.
template <class T>
struct MultinomialProblem {
  MatrixView<T> X;                   // n x d
  const T* Y = nullptr;              // n x k class probabilities, row-major, contiguous
  const T* sample_weight = nullptr;  // n, or nullptr for all ones
  const double* coef = nullptr;      // k x d, row-major (converted to double by the driver)
  const double* intercept = nullptr; // k
  index_t k = 2;
};

// Rows [begin, end): grad_coef[t*d + j] = sum_i s_i dl_it x_ij (k*d doubles),
// grad_intercept[t] = sum_i s_i dl_it (k), sums[0] = sum_i s_i l_i,
// sums[1] = sum_i s_i; all overwritten.  `work` holds kMultinomialWork * k doubles.
template <class T>
using MultinomialBlockFn = void (*)(const MultinomialProblem<T>& problem, index_t begin,
                                    index_t end, double* grad_coef, double* grad_intercept,
                                    double* sums, double* work);
constexpr index_t kMultinomialWork = 128;

// Rows [begin, end): out[i] = x_i . coef + intercept (rounded to T).
template <class T>
using PredictBlockFn = void (*)(const MatrixView<T>& X, const double* coef, double intercept,
                                index_t begin, index_t end, T* out);

struct LinearTable {
  LossGradBlockFn<float> loss_grad_f32;
  LossGradBlockFn<double> loss_grad_f64;
  PredictBlockFn<float> predict_f32;
  PredictBlockFn<double> predict_f64;
  MultinomialBlockFn<float> multinomial_f32;
  MultinomialBlockFn<double> multinomial_f64;

  template <class T>
  MultinomialBlockFn<T> multinomial() const {
    if constexpr (sizeof(T) == 4) return multinomial_f32; else return multinomial_f64;
  }
  template <class T>
  LossGradBlockFn<T> loss_grad() const {
    if constexpr (sizeof(T) == 4) return loss_grad_f32; else return loss_grad_f64;
  }
  template <class T>
  PredictBlockFn<T> predict() const {
    if constexpr (sizeof(T) == 4) return predict_f32; else return predict_f64;
  }
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(LinearTable, linear_table)
