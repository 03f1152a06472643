#include "pygd/engine/linear.hpp"

#include <vector>

#include "pygd/memory.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace {

const LinearTable& active_table() { return PYGD_ACTIVE_TABLE(LinearTable, linear_table); }

template <class T>
std::vector<double> to_double(const T* values, index_t size) {
  return std::vector<double>(values, values + size);
}

}  // namespace

template <class T>
LossGradResult loss_grad(const LossGradProblem<T>& problem, T* grad_coef) {
  const index_t n = problem.X.rows, d = problem.X.cols;
  const BlockPlan plan = plan_row_blocks(n, d, d);
  const LossGradBlockFn<T> kernel = active_table().loss_grad<T>();

  large_vector<double> partial(static_cast<size_t>(plan.count * d));
  std::vector<BlockSums> sums(static_cast<size_t>(plan.count));
  parallel_for(plan.count, [&](index_t b) {
    kernel(problem, plan.begin(b), plan.end(b), partial.data() + b * d, &sums[b]);
  });

  // Fixed order: block 0, 1, 2, ... for every column, whatever the threads did.
  BlockSums total;
  for (const BlockSums& s : sums) {
    total.loss += s.loss;
    total.grad_intercept += s.grad_intercept;
    total.weight += s.weight;
  }
  const index_t col_chunk = 4096;
  const index_t n_chunks = (d + col_chunk - 1) / col_chunk;
  auto reduce_columns = [&](index_t c) {
    const index_t j0 = c * col_chunk, j1 = (j0 + col_chunk < d) ? j0 + col_chunk : d;
    double* acc = partial.data();
    for (index_t b = 1; b < plan.count; ++b) {
      const double* part = partial.data() + b * d;
      for (index_t j = j0; j < j1; ++j) acc[j] += part[j];
    }
    for (index_t j = j0; j < j1; ++j) grad_coef[j] = static_cast<T>(acc[j] / total.weight);
  };
  if (plan.count * d > (index_t(1) << 18))
    parallel_for(n_chunks, reduce_columns);
  else
    for (index_t c = 0; c < n_chunks; ++c) reduce_columns(c);

  LossGradResult result;
  result.loss = total.loss / total.weight;
  result.grad_intercept = total.grad_intercept / total.weight;
  return result;
}

template <class T>
double multinomial_loss_grad(const MultinomialProblem<T>& problem, T* grad_coef,
                             T* grad_intercept) {
  const index_t n = problem.X.rows, d = problem.X.cols, k = problem.k, kd = k * d;
  const index_t stride = kd + k + 2;  // a block's gradient, intercept gradient, loss, weight
  const BlockPlan plan = plan_row_blocks(n, stride, d * k);
  const MultinomialBlockFn<T> kernel = active_table().multinomial<T>();

  large_vector<double> partial(static_cast<size_t>(plan.count * stride));
  const index_t work_size = kMultinomialWork * k;
  std::vector<double> work(static_cast<size_t>(plan.count * work_size));
  parallel_for(plan.count, [&](index_t b) {
    double* out = partial.data() + b * stride;
    kernel(problem, plan.begin(b), plan.end(b), out, out + kd, out + kd + k,
           work.data() + b * work_size);
  });
  // Fixed order: block 0, 1, 2, ... whatever the threads did.
  double* acc = partial.data();
  for (index_t b = 1; b < plan.count; ++b) {
    const double* part = partial.data() + b * stride;
    for (index_t j = 0; j < stride; ++j) acc[j] += part[j];
  }
  const double weight = acc[kd + k + 1];
  for (index_t j = 0; j < kd; ++j) grad_coef[j] = static_cast<T>(acc[j] / weight);
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = static_cast<T>(acc[kd + t] / weight);
  return acc[kd + k] / weight;
}

template <class T>
void predict(const MatrixView<T>& X, const T* coef, double intercept, T* out) {
  const std::vector<double> w = to_double(coef, X.cols);
  const BlockPlan plan = plan_row_blocks(X.rows, 0, X.cols);
  const PredictBlockFn<T> kernel = active_table().predict<T>();
  parallel_for(plan.count, [&](index_t b) {
    kernel(X, w.data(), intercept, plan.begin(b), plan.end(b), out);
  });
}

template LossGradResult loss_grad<float>(const LossGradProblem<float>&, float*);
template LossGradResult loss_grad<double>(const LossGradProblem<double>&, double*);
template double multinomial_loss_grad<float>(const MultinomialProblem<float>&, float*, float*);
template double multinomial_loss_grad<double>(const MultinomialProblem<double>&, double*, double*);
template void predict<float>(const MatrixView<float>&, const float*, double, float*);
template void predict<double>(const MatrixView<double>&, const double*, double, double*);

}  // namespace pygd
