// Fused loss-and-gradient and prediction kernels for linear models, compiled
// once per instruction set (see pygd/isa.hpp).
//
// Maths (reference: pygd/reference.py, loss_grad and predict).  With
// p_i = x_i . w + b, weights s_i and S = sum_i s_i:
//
//   loss           = sum_i s_i l(p_i, y_i) / S
//   grad_coef[j]   = sum_i s_i l'(p_i, y_i) x_ij / S
//   grad_intercept = sum_i s_i l'(p_i, y_i) / S
//
// and, with r = p - y,
//   squared_error                l = r^2 / 2                        l' = r
//   huber                        l = r^2/2 if |r| <= e              l' = r
//                                    e|r| - e^2/2 otherwise            = e sign(r)
//   epsilon_insensitive          l = max(0, |r| - e)                l' = sign(r) [|r| > e]
//   squared_epsilon_insensitive  l = max(0, |r| - e)^2              l' = 2 (|r| - e) sign(r) [|r| > e]
//   log_loss (y in [0, 1])       l = log(1 + exp(p)) - y p          l' = sigmoid(p) - y
//
// log(1 + exp(p)) is evaluated as max(p, 0) + log1p(exp(-|p|)) and the sigmoid
// from exp(-|p|) <= 1, so neither overflows for any finite p.
//
// Each row is read from memory once: its prediction and its gradient
// contribution are computed while it is in L1 (rows-contiguous layout), or, for
// other layouts, a chunk of kChunk rows is read column by column twice while it
// sits in cache.  Sums are in double for float and double inputs.
//
// A NaN or infinity in X always reaches the outputs (every x_ij is multiplied
// into grad_coef[j], even when l' = 0), which is how the Python layer detects
// non-finite X without a separate pass.
#include <math.h>

#include "pygd/isa.hpp"
#include "pygd/linear_kernels.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

struct SquaredError {
  static inline void eval(double p, double y, double, double& l, double& dl) {
    const double r = p - y;
    l = 0.5 * r * r;
    dl = r;
  }
};

struct Huber {
  static inline void eval(double p, double y, double eps, double& l, double& dl) {
    const double r = p - y;
    const double ar = abs_(r);
    if (ar <= eps) {
      l = 0.5 * r * r;
      dl = r;
    } else {  // also NaN
      l = eps * ar - 0.5 * eps * eps;
      dl = r > 0 ? eps : (r < 0 ? -eps : r);
    }
  }
};

struct EpsilonInsensitive {
  static inline void eval(double p, double y, double eps, double& l, double& dl) {
    const double r = p - y;
    const double excess = abs_(r) - eps;
    if (excess > 0) {
      l = excess;
      dl = r > 0 ? 1.0 : -1.0;
    } else if (excess <= 0) {
      l = 0.0;
      dl = 0.0;
    } else {  // NaN
      l = excess;
      dl = excess;
    }
  }
};

struct SquaredEpsilonInsensitive {
  static inline void eval(double p, double y, double eps, double& l, double& dl) {
    const double r = p - y;
    const double excess = abs_(r) - eps;
    if (excess > 0) {
      l = excess * excess;
      dl = r > 0 ? 2.0 * excess : -2.0 * excess;
    } else if (excess <= 0) {
      l = 0.0;
      dl = 0.0;
    } else {  // NaN
      l = excess;
      dl = excess;
    }
  }
};

struct LogLoss {
  static inline void eval(double p, double y, double, double& l, double& dl) {
    const double e = ::exp(-abs_(p));  // in (0, 1]
    const double positive_part = p > 0 ? p : (p <= 0 ? 0.0 : p);
    l = positive_part + ::log1p(e) - y * p;
    const double sigmoid = p >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    dl = sigmoid - y;
  }
};

// Rows stored with unit column stride, kRowGroup rows at a time: their dot
// products share the loads of coef, their gradient contributions one load and
// store of grad per column.  Rows are read from memory once (the second read
// hits L1).
constexpr int kRowGroup = 4;
// Rows stored back to back are one stream; asking for the lines this far ahead
// (prefetcht0) kept one core near the bandwidth probe's rate on the
// development machine, where the hardware prefetcher alone fell behind with
// four rows read in an interleaved way.
constexpr index_t kPrefetchBytes = 1024;

template <int R, class T, class L>
inline void loss_grad_row_group(const LossGradProblem<T>& pb, index_t i, double* __restrict grad,
                                BlockSums& sums) {
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = pb.X.row(i + r);
  double p[R], g[R];
  dot_rows<R>(x, pb.coef, pb.X.cols, p);
  for (int r = 0; r < R; ++r) {
    double l, dl;
    L::eval(p[r] + pb.intercept, double(pb.y[i + r]), pb.epsilon, l, dl);
    const double s = pb.sample_weight ? double(pb.sample_weight[i + r]) : 1.0;
    sums.loss += s * l;
    sums.grad_intercept += s * dl;
    sums.weight += s;
    g[r] = s * dl;
  }
  axpy_rows<R>(g, x, grad, pb.X.cols);
}

template <class T, class L>
void loss_grad_rows(const LossGradProblem<T>& pb, index_t begin, index_t end,
                    double* __restrict grad, BlockSums* sums) {
  for (index_t j = 0; j < pb.X.cols; ++j) grad[j] = 0.0;
  BlockSums local;
  index_t i = begin;
  const bool back_to_back = pb.X.row_stride == pb.X.cols;
  const index_t group_bytes = kRowGroup * pb.X.cols * index_t(sizeof(T));
  for (; i + kRowGroup <= end; i += kRowGroup) {
    if (back_to_back) prefetch_bytes(pb.X.row(i), kPrefetchBytes, group_bytes);
    loss_grad_row_group<kRowGroup, T, L>(pb, i, grad, local);
  }
  for (; i < end; ++i) loss_grad_row_group<1, T, L>(pb, i, grad, local);
  *sums = local;
}

constexpr index_t kChunk = 128;

// Any strides (F order, views): chunks of rows, read column by column.
template <class T, class L>
void loss_grad_strided(const LossGradProblem<T>& pb, index_t begin, index_t end,
                       double* __restrict grad, BlockSums* sums) {
  const index_t d = pb.X.cols;
  const index_t rs = pb.X.row_stride, cs = pb.X.col_stride;
  for (index_t j = 0; j < d; ++j) grad[j] = 0.0;
  double pred[kChunk], g[kChunk];
  double sum_loss = 0.0, sum_dl = 0.0, sum_w = 0.0;
  for (index_t c0 = begin; c0 < end; c0 += kChunk) {
    const index_t m = min_(kChunk, end - c0);
    const T* base = pb.X.data + c0 * rs;
    for (index_t r = 0; r < m; ++r) pred[r] = pb.intercept;
    for (index_t j = 0; j < d; ++j) {
      const T* __restrict col = base + j * cs;
      const double wj = pb.coef[j];
      if (rs == 1) {
        for (index_t r = 0; r < m; ++r) pred[r] += double(col[r]) * wj;
      } else {
        for (index_t r = 0; r < m; ++r) pred[r] += double(col[r * rs]) * wj;
      }
    }
    for (index_t r = 0; r < m; ++r) {
      const index_t i = c0 + r;
      double l, dl;
      L::eval(pred[r], double(pb.y[i]), pb.epsilon, l, dl);
      const double s = pb.sample_weight ? double(pb.sample_weight[i]) : 1.0;
      sum_loss += s * l;
      sum_dl += s * dl;
      sum_w += s;
      g[r] = s * dl;
    }
    for (index_t j = 0; j < d; ++j) grad[j] += dot_strided(base + j * cs, rs, g, m);
  }
  sums->loss = sum_loss;
  sums->grad_intercept = sum_dl;
  sums->weight = sum_w;
}

template <class T, class L>
void loss_grad_block_for(const LossGradProblem<T>& pb, index_t begin, index_t end,
                         double* grad, BlockSums* sums) {
  if (pb.X.rows_contiguous())
    loss_grad_rows<T, L>(pb, begin, end, grad, sums);
  else
    loss_grad_strided<T, L>(pb, begin, end, grad, sums);
}

template <class T>
void loss_grad_block(const LossGradProblem<T>& pb, index_t begin, index_t end, double* grad,
                     BlockSums* sums) {
  switch (pb.loss) {
    case Loss::squared_error:
      return loss_grad_block_for<T, SquaredError>(pb, begin, end, grad, sums);
    case Loss::huber:
      return loss_grad_block_for<T, Huber>(pb, begin, end, grad, sums);
    case Loss::epsilon_insensitive:
      return loss_grad_block_for<T, EpsilonInsensitive>(pb, begin, end, grad, sums);
    case Loss::squared_epsilon_insensitive:
      return loss_grad_block_for<T, SquaredEpsilonInsensitive>(pb, begin, end, grad, sums);
    case Loss::log_loss:
      return loss_grad_block_for<T, LogLoss>(pb, begin, end, grad, sums);
  }
}

template <class T>
void predict_block(const MatrixView<T>& X, const double* coef, double intercept, index_t begin,
                   index_t end, T* out) {
  const index_t d = X.cols;
  if (X.rows_contiguous()) {
    const bool back_to_back = X.row_stride == X.cols;
    const index_t group_bytes = kRowGroup * d * index_t(sizeof(T));
    index_t i = begin;
    for (; i + kRowGroup <= end; i += kRowGroup) {
      if (back_to_back) prefetch_bytes(X.row(i), kPrefetchBytes, group_bytes);
      const T* x[kRowGroup];
      double p[kRowGroup];
      for (int r = 0; r < kRowGroup; ++r) x[r] = X.row(i + r);
      dot_rows<kRowGroup>(x, coef, d, p);
      for (int r = 0; r < kRowGroup; ++r) out[i + r] = T(p[r] + intercept);
    }
    for (; i < end; ++i) {
      const T* x[1] = {X.row(i)};
      double p[1];
      dot_rows<1>(x, coef, d, p);
      out[i] = T(p[0] + intercept);
    }
    return;
  }
  double pred[kChunk];
  for (index_t c0 = begin; c0 < end; c0 += kChunk) {
    const index_t m = min_(kChunk, end - c0);
    const T* base = X.data + c0 * X.row_stride;
    for (index_t r = 0; r < m; ++r) pred[r] = intercept;
    for (index_t j = 0; j < d; ++j) {
      const T* __restrict col = base + j * X.col_stride;
      const double wj = coef[j];
      for (index_t r = 0; r < m; ++r) pred[r] += double(col[r * X.row_stride]) * wj;
    }
    for (index_t r = 0; r < m; ++r) out[c0 + r] = T(pred[r]);
  }
}

}  // namespace

const LinearTable& linear_table() {
  static const LinearTable table{&loss_grad_block<float>, &loss_grad_block<double>,
                                 &predict_block<float>, &predict_block<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
