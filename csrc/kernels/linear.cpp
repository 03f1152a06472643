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
// with the losses l of pygd/losses.hpp (squared_error, huber,
// epsilon_insensitive, squared_epsilon_insensitive, log_loss; and for the
// training engine's single-output passes, which may gather their rows through
// `rows`, the hinge family and the smoothed hinge).
//
// Multinomial (k outputs p_it = x_i . w_t + b_t, class probabilities y_it):
//   loss = sum_i s_i CE(p_i, y_i) / S,   grad_coef[t, j] = sum_i s_i dl_it x_ij / S,
//   grad_intercept[t] = sum_i s_i dl_it / S,   dl_it = (sum_t y_it) softmax_it - y_it,
// with the softmax cross-entropy CE of pygd/losses.hpp (log-sum-exp: finite for
// any finite logits).  One pass over the rows: a row's k logits are computed
// while it is in L1 (kRowGroup rows share each load of w_t), or, for other
// layouts, a chunk of rows is read column by column (twice per output) while it
// sits in cache.
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
#include "pygd/losses.hpp"
#include "pygd/kernels/linear.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

constexpr int kRowGroup = 4;
// Rows stored back to back are one stream; asking for the lines this far ahead
// (prefetcht0) kept one core near the bandwidth probe's rate on the
// development machine, where the hardware prefetcher alone fell behind with
// four rows read in an interleaved way.
constexpr index_t kPrefetchBytes = 1024;
// Gathered rows (the training engine's mini-batches) are asked for this many positions ahead.
constexpr index_t kGatherAhead = 32;

template <int R, class T, class L>
inline void loss_grad_row_group(const LossGradProblem<T>& pb, index_t i, double* __restrict grad,
                                BlockSums& sums) {
  const T* x[R];
  index_t row[R];
  for (int r = 0; r < R; ++r) {
    row[r] = pb.rows ? pb.rows[i + r] : i + r;
    x[r] = pb.X.row(row[r]);
  }
  double p[R], g[R];
  dot_rows<R>(x, pb.coef, pb.X.cols, p);
  for (int r = 0; r < R; ++r) {
    double l, dl;
    L::eval(p[r] + pb.intercept, double(pb.y[row[r]]), pb.epsilon, l, dl);
    const double s = pb.sample_weight ? double(pb.sample_weight[row[r]]) : 1.0;
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
  const index_t row_bytes = pb.X.cols * index_t(sizeof(T));
  const index_t limit = pb.lookahead > end ? pb.lookahead : end;
  if (pb.rows) {  // this block's first rows, before the loop's look-ahead takes over
    for (index_t r = begin; r < end && r < begin + kGatherAhead; ++r)
      prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
  }
  for (; i + kRowGroup <= end; i += kRowGroup) {
    if (pb.rows) {  // gathered rows: ask for those kGatherAhead positions on
      for (index_t r = i + kGatherAhead; r < i + kGatherAhead + kRowGroup && r < limit; ++r) {
        prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
        prefetch_line(pb.y + pb.rows[r]);
        if (pb.sample_weight) prefetch_line(pb.sample_weight + pb.rows[r]);
      }
    } else if (back_to_back) {
      prefetch_bytes(pb.X.row(i), kPrefetchBytes, group_bytes);
    }
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
    // The classification losses, for the training engine's single-output passes
    // (pygd.linear's binding admits only the five above).
    case Loss::hinge:
      return loss_grad_block_for<T, Hinge>(pb, begin, end, grad, sums);
    case Loss::squared_hinge:
      return loss_grad_block_for<T, SquaredHinge>(pb, begin, end, grad, sums);
    case Loss::modified_huber:
      return loss_grad_block_for<T, ModifiedHuber>(pb, begin, end, grad, sums);
    case Loss::perceptron:
      return loss_grad_block_for<T, Perceptron>(pb, begin, end, grad, sums);
    case Loss::smoothed_hinge:
      return loss_grad_block_for<T, SmoothedHinge>(pb, begin, end, grad, sums);
    case Loss::multinomial:  // a row loss: its own kernels
      return;
  }
}

// Rows stored with unit column stride: all k logits of R rows, their softmax
// derivatives, then one axpy per output.  `logits` holds R * k doubles.
template <int R, class T>
inline void multinomial_row_group(const MultinomialProblem<T>& pb, index_t i,
                                  double* __restrict grad, double* __restrict grad_intercept,
                                  double& loss, double& weight, double* __restrict logits) {
  const index_t d = pb.X.cols, k = pb.k;
  const T* x[R];
  double s[R];
  for (int r = 0; r < R; ++r) {
    x[r] = pb.X.row(i + r);
    s[r] = pb.sample_weight ? double(pb.sample_weight[i + r]) : 1.0;
    weight += s[r];
  }
  for (index_t t = 0; t < k; ++t) {
    double p[R];
    dot_rows<R>(x, pb.coef + t * d, d, p);
    for (int r = 0; r < R; ++r) logits[r * k + t] = p[r] + pb.intercept[t];
  }
  for (int r = 0; r < R; ++r)  // the logits become the derivatives
    loss += s[r] * softmax_cross_entropy(logits + r * k, pb.Y + (i + r) * k, k);
  for (index_t t = 0; t < k; ++t) {
    double g[R];
    for (int r = 0; r < R; ++r) {
      g[r] = s[r] * logits[r * k + t];
      grad_intercept[t] += g[r];
    }
    axpy_rows<R>(g, x, grad + t * d, d);
  }
}

template <class T>
void multinomial_block(const MultinomialProblem<T>& pb, index_t begin, index_t end,
                       double* __restrict grad, double* __restrict grad_intercept, double* sums,
                       double* __restrict work) {
  const index_t d = pb.X.cols, k = pb.k;
  for (index_t j = 0; j < k * d; ++j) grad[j] = 0.0;
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  double loss = 0.0, weight = 0.0;
  if (pb.X.rows_contiguous()) {
    const bool back_to_back = pb.X.row_stride == pb.X.cols;
    const index_t group_bytes = kRowGroup * d * index_t(sizeof(T));
    index_t i = begin;
    for (; i + kRowGroup <= end; i += kRowGroup) {
      if (back_to_back) prefetch_bytes(pb.X.row(i), kPrefetchBytes, group_bytes);
      multinomial_row_group<kRowGroup, T>(pb, i, grad, grad_intercept, loss, weight, work);
    }
    for (; i < end; ++i)
      multinomial_row_group<1, T>(pb, i, grad, grad_intercept, loss, weight, work);
  } else {
    // Chunks of m <= kMultinomialWork rows: work[r * k + t] holds row r's logits,
    // then its derivatives; g one output's weighted derivatives.
    const index_t rs = pb.X.row_stride, cs = pb.X.col_stride;
    double g[kChunk];
    const index_t chunk = kMultinomialWork < kChunk ? kMultinomialWork : kChunk;
    for (index_t c0 = begin; c0 < end; c0 += chunk) {
      const index_t m = min_(chunk, end - c0);
      const T* base = pb.X.data + c0 * rs;
      for (index_t t = 0; t < k; ++t) {
        double pred[kChunk];
        for (index_t r = 0; r < m; ++r) pred[r] = pb.intercept[t];
        const double* w = pb.coef + t * d;
        for (index_t j = 0; j < d; ++j) {
          const T* __restrict col = base + j * cs;
          const double wj = w[j];
          for (index_t r = 0; r < m; ++r) pred[r] += double(col[r * rs]) * wj;
        }
        for (index_t r = 0; r < m; ++r) work[r * k + t] = pred[r];
      }
      for (index_t r = 0; r < m; ++r) {
        const double s = pb.sample_weight ? double(pb.sample_weight[c0 + r]) : 1.0;
        loss += s * softmax_cross_entropy(work + r * k, pb.Y + (c0 + r) * k, k);
        weight += s;
      }
      for (index_t t = 0; t < k; ++t) {
        double sum_g = 0.0;
        for (index_t r = 0; r < m; ++r) {
          const double s = pb.sample_weight ? double(pb.sample_weight[c0 + r]) : 1.0;
          g[r] = s * work[r * k + t];
          sum_g += g[r];
        }
        grad_intercept[t] += sum_g;
        double* gt = grad + t * d;
        for (index_t j = 0; j < d; ++j) gt[j] += dot_strided(base + j * cs, rs, g, m);
      }
    }
  }
  sums[0] = loss;
  sums[1] = weight;
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
  static const LinearTable table{&loss_grad_block<float>,   &loss_grad_block<double>,
                                 &predict_block<float>,     &predict_block<double>,
                                 &multinomial_block<float>, &multinomial_block<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
