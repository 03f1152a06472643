// Linear-model computations over whole arrays: the C++ API the bindings call.
// Inputs are assumed valid (the Python layer validates); see pygd/kernels/linear.hpp.
#pragma once
#include "pygd/kernels/linear.hpp"

namespace pygd {

struct LossGradResult {
  double loss = 0.0;
  double grad_intercept = 0.0;
};

// Fused loss and gradient over all rows; grad_coef receives d values.
// Deterministic: the row partition (plan_row_blocks) does not depend on the
// thread count and block partials are summed in block order.
template <class T>
LossGradResult loss_grad(const LossGradProblem<T>& problem, T* grad_coef);

// Multinomial loss and gradient over all rows: grad_coef receives k*d values
// (row-major), grad_intercept k.  Same fixed row blocks and block-order
// reduction as loss_grad.  Returns the weighted mean loss.
template <class T>
double multinomial_loss_grad(const MultinomialProblem<T>& problem, T* grad_coef,
                             T* grad_intercept);

// out[i] = x_i . coef + intercept, computed in double and rounded to T.
template <class T>
void predict(const MatrixView<T>& X, const T* coef, double intercept, T* out);

}  // namespace pygd
