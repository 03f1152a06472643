// Mini-batch loss-and-gradient and prediction kernels of the training engine,
// compiled once per instruction set (see pygd/isa.hpp).
//
// Maths (reference: pygd/reference.py, batch_loss_grad and train_reference).
// For the batch's rows i (gathered through `rows`, or positions begin..end),
// weights s_i, k outputs p_it = x_i . v_t + c_t and targets y_it:
//
//   sums[0]             = sum_i s_i sum_t l(p_it, y_it)
//   sums[1]             = sum_i s_i
//   grad_coef[t, j]     = sum_i s_i l'(p_it, y_it) x_ij
//   grad_intercept[t]   = sum_i s_i l'(p_it, y_it)
//
// with the element-wise losses l of pygd/losses.hpp.  For the multinomial loss
// the row's k derivatives come from its k logits together:
//
//   sums[0] = sum_i s_i CE(p_i, y_i),  grad_coef[t, j] = sum_i s_i (S_i softmax_it - y_it) x_ij
//
// (S_i = sum_t y_it).  The engine divides by the batch's weight and applies the
// standardisation and the penalty.
//
// Rows are taken kRowGroup at a time: for each output the group's dot products
// share the loads of v_t and the gradient contributions share one load and
// store of grad_coef[t] per column; for k > 1 the group's rows are re-read from
// L1.  Gathered rows are prefetched kPrefetchGroups groups ahead (the hardware
// prefetcher cannot guess a permutation); rows stored back to back are
// prefetched as one stream, as in kernels_linear.cpp.
#include <math.h>
#include <stdlib.h>

#include "pygd/isa.hpp"
#include "pygd/losses.hpp"
#include "pygd/train_kernels.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

constexpr int kRowGroup = 4;
constexpr index_t kPrefetchBytes = 1024;
constexpr index_t kPrefetchGroups = 2;

template <class T>
inline index_t row_of(const BatchProblem<T>& pb, index_t pos) {
  return pb.rows ? pb.rows[pos] : pos;
}

// Asks for the rows of the group `kPrefetchGroups` groups after position i.
template <class T>
inline void prefetch_ahead(const BatchProblem<T>& pb, index_t i, index_t end, index_t row_bytes) {
  if (pb.rows) {
    const index_t ahead = i + kPrefetchGroups * kRowGroup;
    for (index_t r = ahead; r < ahead + kRowGroup && r < end; ++r)
      prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
  } else if (pb.X.row_stride == pb.X.cols) {
    prefetch_bytes(pb.X.row(i), kPrefetchBytes, kRowGroup * row_bytes);
  }
}

// The R rows at positions [i, i + R): their row numbers, pointers and weights.
template <int R, class T>
inline void gather_group(const BatchProblem<T>& pb, index_t i, const T** x, index_t* row,
                         double* s, double& weight) {
  for (int r = 0; r < R; ++r) {
    row[r] = row_of(pb, i + r);
    x[r] = pb.X.row(row[r]);
    s[r] = pb.sample_weight ? double(pb.sample_weight[row[r]]) : 1.0;
    weight += s[r];
  }
}

// Elementwise losses: each output t on its own.
template <int R, class T, class L>
inline void grad_group(const BatchProblem<T>& pb, index_t i, double* __restrict grad,
                       double* __restrict grad_intercept, double& loss, double& weight) {
  const index_t d = pb.X.cols, k = pb.k;
  const T* x[R];
  index_t row[R];
  double s[R];
  gather_group<R>(pb, i, x, row, s, weight);
  for (index_t t = 0; t < k; ++t) {
    double p[R], g[R];
    dot_rows<R>(x, pb.coef + t * d, d, p);
    const double c = pb.intercept[t];
    for (int r = 0; r < R; ++r) {
      double l, dl;
      L::eval(p[r] + c, double(pb.Y[row[r] * k + t]), pb.epsilon, l, dl);
      loss += s[r] * l;
      grad_intercept[t] += s[r] * dl;
      g[r] = s[r] * dl;
    }
    axpy_rows<R>(g, x, grad + t * d, d);
  }
}

// Multinomial: all k logits of the group's rows first, then the softmax
// derivatives, then one axpy per output.  `logits` holds R * k doubles.
template <int R, class T>
inline void grad_group_softmax(const BatchProblem<T>& pb, index_t i, double* __restrict grad,
                               double* __restrict grad_intercept, double& loss, double& weight,
                               double* __restrict logits) {
  const index_t d = pb.X.cols, k = pb.k;
  const T* x[R];
  index_t row[R];
  double s[R];
  gather_group<R>(pb, i, x, row, s, weight);
  for (index_t t = 0; t < k; ++t) {
    double p[R];
    dot_rows<R>(x, pb.coef + t * d, d, p);
    for (int r = 0; r < R; ++r) logits[r * k + t] = p[r] + pb.intercept[t];
  }
  for (int r = 0; r < R; ++r) {
    // The logits become the derivatives dl_rt.
    loss += s[r] * softmax_cross_entropy(logits + r * k, pb.Y + row[r] * k, k);
  }
  for (index_t t = 0; t < k; ++t) {
    double g[R];
    for (int r = 0; r < R; ++r) {
      g[r] = s[r] * logits[r * k + t];
      grad_intercept[t] += g[r];
    }
    axpy_rows<R>(g, x, grad + t * d, d);
  }
}

constexpr index_t kStackLogits = 256;

template <class T>
void grad_block_softmax(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                        double* grad_intercept, double* sums) {
  const index_t d = pb.X.cols, k = pb.k;
  for (index_t j = 0; j < k * d; ++j) grad[j] = 0.0;
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  double stack_logits[kStackLogits * kRowGroup];
  double* logits = k <= kStackLogits
                       ? stack_logits
                       : static_cast<double*>(::malloc(sizeof(double) * size_t(k * kRowGroup)));
  double loss = 0.0, weight = 0.0;
  const index_t row_bytes = d * index_t(sizeof(T));
  if (pb.rows) {
    for (index_t r = begin; r < end && r < begin + kPrefetchGroups * kRowGroup; ++r)
      prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
  }
  index_t i = begin;
  for (; i + kRowGroup <= end; i += kRowGroup) {
    prefetch_ahead(pb, i, end, row_bytes);
    grad_group_softmax<kRowGroup, T>(pb, i, grad, grad_intercept, loss, weight, logits);
  }
  for (; i < end; ++i) grad_group_softmax<1, T>(pb, i, grad, grad_intercept, loss, weight, logits);
  if (logits != stack_logits) ::free(logits);
  sums[0] = loss;
  sums[1] = weight;
}

template <class T, class L>
void grad_block_for(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                    double* grad_intercept, double* sums) {
  const index_t d = pb.X.cols, k = pb.k;
  for (index_t j = 0; j < k * d; ++j) grad[j] = 0.0;
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  double loss = 0.0, weight = 0.0;
  const index_t row_bytes = d * index_t(sizeof(T));
  if (pb.rows) {  // the first groups' rows, before the loop's look-ahead takes over
    for (index_t r = begin; r < end && r < begin + kPrefetchGroups * kRowGroup; ++r)
      prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
  }
  index_t i = begin;
  for (; i + kRowGroup <= end; i += kRowGroup) {
    prefetch_ahead(pb, i, end, row_bytes);
    grad_group<kRowGroup, T, L>(pb, i, grad, grad_intercept, loss, weight);
  }
  for (; i < end; ++i) grad_group<1, T, L>(pb, i, grad, grad_intercept, loss, weight);
  sums[0] = loss;
  sums[1] = weight;
}

template <class T>
void grad_block(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                double* grad_intercept, double* sums) {
  switch (pb.loss) {
    case Loss::squared_error:
      return grad_block_for<T, SquaredError>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::huber:
      return grad_block_for<T, Huber>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::epsilon_insensitive:
      return grad_block_for<T, EpsilonInsensitive>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::squared_epsilon_insensitive:
      return grad_block_for<T, SquaredEpsilonInsensitive>(pb, begin, end, grad, grad_intercept,
                                                          sums);
    case Loss::log_loss:
      return grad_block_for<T, LogLoss>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::hinge:
      return grad_block_for<T, Hinge>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::squared_hinge:
      return grad_block_for<T, SquaredHinge>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::modified_huber:
      return grad_block_for<T, ModifiedHuber>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::perceptron:
      return grad_block_for<T, Perceptron>(pb, begin, end, grad, grad_intercept, sums);
    case Loss::multinomial:
      return grad_block_softmax<T>(pb, begin, end, grad, grad_intercept, sums);
  }
}

template <class T>
void predict_block(const BatchProblem<T>& pb, index_t begin, index_t end, T* out) {
  const index_t d = pb.X.cols, k = pb.k;
  const index_t row_bytes = d * index_t(sizeof(T));
  index_t i = begin;
  for (; i + kRowGroup <= end; i += kRowGroup) {
    prefetch_ahead(pb, i, end, row_bytes);
    const T* x[kRowGroup];
    for (int r = 0; r < kRowGroup; ++r) x[r] = pb.X.row(row_of(pb, i + r));
    for (index_t t = 0; t < k; ++t) {
      double p[kRowGroup];
      dot_rows<kRowGroup>(x, pb.coef + t * d, d, p);
      for (int r = 0; r < kRowGroup; ++r) out[(i + r) * k + t] = T(p[r] + pb.intercept[t]);
    }
  }
  for (; i < end; ++i) {
    const T* x[1] = {pb.X.row(row_of(pb, i))};
    for (index_t t = 0; t < k; ++t) {
      double p[1];
      dot_rows<1>(x, pb.coef + t * d, d, p);
      out[i * k + t] = T(p[0] + pb.intercept[t]);
    }
  }
}

}  // namespace

const TrainTable& train_table() {
  static const TrainTable table{&grad_block<float>, &grad_block<double>, &predict_block<float>,
                                &predict_block<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
