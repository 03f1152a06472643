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
// Rows are taken kRowGroup at a time: the group's dot products share the loads
// of v_t and the gradient contributions share one load and store of
// grad_coef[t] per column; outputs go kOutTile at a time, so for k > 1 each
// chunk of the group's rows is read from L1 once per tile (pygd/isa.hpp).  For
// the multinomial loss the group's R k exponentials are one vectorised pass
// (exp_vd).  Gathered rows, their targets and weights are prefetched
// kPrefetchGroups groups ahead (the hardware prefetcher cannot guess a
// permutation); rows stored back to back are prefetched as one stream, as in
// kernels/linear.cpp.
//
// CSR X (BatchProblem::csr): row i's predictions p_it = sum_e v_t[col_e] x_e + c_t over its
// stored entries e, then the same row loss, then grad_coef[t, col_e] += s_i dl_it x_e for
// each entry; duplicate columns add up, as the dense matrix they stand for.  Each output's
// sums run over the row's entries in storage order (one row at a time: a fixed order).
#include <math.h>
#include <stdlib.h>

#include "pygd/isa.hpp"
#include "pygd/losses.hpp"
#include "pygd/kernels/train.hpp"

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
    for (index_t r = ahead; r < ahead + kRowGroup && r < end; ++r) {
      const index_t row = pb.rows[r];
      prefetch_bytes(pb.X.row(row), 0, row_bytes);
      prefetch_bytes(pb.Y + row * pb.k, 0, pb.k * index_t(sizeof(T)));  // its targets
      if (pb.sample_weight) prefetch_line(pb.sample_weight + row);
    }
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

// z[r * k + t] = x_r . v_t + c_t for the group's R rows and all k outputs, in
// tiles of kOutTile outputs (each row chunk loaded once per tile).
template <int R, class T>
inline void logits_group(const BatchProblem<T>& pb, const T* const* x, double* __restrict z) {
  const index_t d = pb.X.cols, k = pb.k;
  index_t t = 0;
  for (; t + kOutTile <= k; t += kOutTile) {
    double p[R * kOutTile];
    dot_rows_tile<R, kOutTile>(x, pb.coef + t * d, d, p);
    for (int r = 0; r < R; ++r)
      for (int u = 0; u < kOutTile; ++u) z[r * k + t + u] = p[r * kOutTile + u] + pb.intercept[t + u];
  }
  for (; t < k; ++t) {
    double p[R];
    dot_rows<R>(x, pb.coef + t * d, d, p);
    for (int r = 0; r < R; ++r) z[r * k + t] = p[r] + pb.intercept[t];
  }
}

// grad[t * d + j] += sum_r g[r * k + t] x_rj and grad_intercept[t] += sum_r g[r * k + t].
template <int R, class T>
inline void gradient_group(const BatchProblem<T>& pb, const T* const* x, const double* __restrict g,
                           double* __restrict grad, double* __restrict grad_intercept) {
  const index_t d = pb.X.cols, k = pb.k;
  for (index_t t = 0; t < k; ++t)
    for (int r = 0; r < R; ++r) grad_intercept[t] += g[r * k + t];
  index_t t = 0;
  for (; t + kOutTile <= k; t += kOutTile)
    axpy_rows_tile<R, kOutTile>(g + t, k, x, grad + t * d, d);
  for (; t < k; ++t) {
    double a[R];
    for (int r = 0; r < R; ++r) a[r] = g[r * k + t];
    axpy_rows<R>(a, x, grad + t * d, d);
  }
}

// Elementwise losses: each output on its own.  `z` holds R * k doubles: the
// logits, then the weighted derivatives s_r dl_rt.
template <int R, class T, class L>
inline void grad_group(const BatchProblem<T>& pb, index_t i, double* __restrict grad,
                       double* __restrict grad_intercept, double& loss, double& weight,
                       double* __restrict z) {
  const index_t k = pb.k;
  const T* x[R];
  index_t row[R];
  double s[R];
  gather_group<R>(pb, i, x, row, s, weight);
  logits_group<R>(pb, x, z);
  for (int r = 0; r < R; ++r) {
    for (index_t t = 0; t < k; ++t) {
      double l, dl;
      L::eval(z[r * k + t], double(pb.Y[row[r] * k + t]), pb.epsilon, l, dl);
      loss += s[r] * l;
      z[r * k + t] = s[r] * dl;
    }
  }
  gradient_group<R>(pb, x, z, grad, grad_intercept);
}

// Multinomial: the softmax of each row's k logits, the group's exponentials in
// one vectorised pass.
template <int R, class T>
inline void grad_group_softmax(const BatchProblem<T>& pb, index_t i, double* __restrict grad,
                               double* __restrict grad_intercept, double& loss, double& weight,
                               double* __restrict z) {
  const index_t k = pb.k;
  const T* x[R];
  index_t row[R];
  double s[R], sum_y[R], part[R];
  gather_group<R>(pb, i, x, row, s, weight);
  logits_group<R>(pb, x, z);
  for (int r = 0; r < R; ++r) part[r] = softmax_shift(z + r * k, pb.Y + row[r] * k, k, sum_y[r]);
  exp_inplace(z, R * k);
  for (int r = 0; r < R; ++r) {
    const double l = part[r] + softmax_finish(z + r * k, pb.Y + row[r] * k, k, sum_y[r]);
    loss += s[r] * l;
    for (index_t t = 0; t < k; ++t) z[r * k + t] *= s[r];
  }
  gradient_group<R>(pb, x, z, grad, grad_intercept);
}

// A row's loss on its own (the CSR kernels): z holds the row's k logits and becomes the
// weighted derivatives s dl_t; returns s l.
template <class L>
struct ElementwiseRow {
  template <class T>
  static inline double apply(const BatchProblem<T>& pb, index_t row, double s, double* __restrict z) {
    const index_t k = pb.k;
    double loss = 0.0;
    for (index_t t = 0; t < k; ++t) {
      double l, dl;
      L::eval(z[t], double(pb.Y[row * k + t]), pb.epsilon, l, dl);
      loss += s * l;
      z[t] = s * dl;
    }
    return loss;
  }
};
struct SoftmaxRow {
  template <class T>
  static inline double apply(const BatchProblem<T>& pb, index_t row, double s, double* __restrict z) {
    const index_t k = pb.k;
    double sum_y;
    const double part = softmax_shift(z, pb.Y + row * k, k, sum_y);
    exp_inplace(z, k);
    const double l = part + softmax_finish(z, pb.Y + row * k, k, sum_y);
    for (index_t t = 0; t < k; ++t) z[t] *= s;
    return s * l;
  }
};

// CSR rows ahead of position i: their indptr entries kCsrAhead positions on, their first
// stored values and indices half as far (by then the indptr entry is in cache).
constexpr index_t kCsrAhead = 16;
constexpr index_t kCsrPrefetchBytes = 256;

template <class T, class I>
inline void csr_prefetch(const BatchProblem<T>& pb, const I* __restrict indices,
                         const I* __restrict indptr, index_t i, index_t end) {
  if (!pb.rows) return;  // storage order: one stream the hardware follows
  const index_t limit = pb.lookahead > end ? pb.lookahead : end;
  if (i + kCsrAhead < limit) prefetch_line(indptr + pb.rows[i + kCsrAhead]);
  const index_t half = i + kCsrAhead / 2;
  if (half < limit) {
    const index_t row = pb.rows[half];
    const index_t e = index_t(indptr[row]);
    prefetch_bytes(pb.csr.values + e, 0, kCsrPrefetchBytes);
    prefetch_bytes(indices + e, 0, kCsrPrefetchBytes / 2);
    prefetch_bytes(pb.Y + row * pb.k, 0, pb.k * index_t(sizeof(T)));
    if (pb.sample_weight) prefetch_line(pb.sample_weight + row);
  }
}

// z[t0 + u] = s (x_row . v_{t0 + u}) + c_{t0 + u}, u < N, in the column-by-column layout (see
// csr_logits): N sums in registers over one sweep of the entries, each in entry order.
template <int N, class T, class I>
inline void column_sums(const BatchProblem<T>& pb, const I* __restrict indices, index_t a,
                        index_t b, index_t t0, double* __restrict z) {
  const index_t k = pb.k;
  const T* __restrict x = pb.csr.values;
  double acc[N];
  for (int u = 0; u < N; ++u) acc[u] = 0.0;
  for (index_t e = a; e < b; ++e) {
    const double* __restrict v = pb.coef + index_t(indices[e]) * k + t0;
    const double xv = double(x[e]);
    for (int u = 0; u < N; ++u) acc[u] += v[u] * xv;
  }
  for (int u = 0; u < N; ++u) z[t0 + u] = acc[u] * pb.coef_scale + pb.intercept[t0 + u];
}

// z[t] = s (x_row . v_t) + c_t over the row's stored entries [a, b), s = pb.coef_scale.
// ByColumn: v is stored column by column (v[j k + t], the k values of column j side by
// side; csr_grad_any's layout for several outputs), else output by output (v[t d + j],
// BatchProblem::coef).
template <bool ByColumn = false, class T, class I>
inline void csr_logits(const BatchProblem<T>& pb, const I* __restrict indices, index_t a,
                       index_t b, double* __restrict z) {
  const index_t d = pb.X.cols, k = pb.k;
  const T* __restrict x = pb.csr.values;
  if constexpr (ByColumn) {
    // kW outputs at a time in a register, the entries in storage order for each (so the
    // bits equal the scalar loop's at every level), then the rest.
    index_t t = 0;
    for (; t + kW <= k; t += kW) {
      vdouble acc = vdouble{};
      for (index_t e = a; e < b; ++e)
        acc += load_vd(pb.coef + index_t(indices[e]) * k + t) * splat_vd(double(x[e]));
      store_vd(z + t, acc * splat_vd(pb.coef_scale) + load_vd(pb.intercept + t));
    }
    // The rest (fewer than kW) in sweeps of up to 4 outputs, summed in registers.
    for (; t + 4 <= k; t += 4) column_sums<4>(pb, indices, a, b, t, z);
    switch (k - t) {
      case 3:
        return column_sums<3>(pb, indices, a, b, t, z);
      case 2:
        return column_sums<2>(pb, indices, a, b, t, z);
      case 1:
        return column_sums<1>(pb, indices, a, b, t, z);
      default:
        return;
    }
  }
  for (index_t t = 0; t < k; ++t) {
    const double* __restrict v = pb.coef + t * d;
    double p0 = 0.0, p1 = 0.0;
    index_t e = a;
    for (; e + 2 <= b; e += 2) {
      p0 += v[indices[e]] * double(x[e]);
      p1 += v[indices[e + 1]] * double(x[e + 1]);
    }
    if (e < b) p0 += v[indices[e]] * double(x[e]);
    z[t] = (p0 + p1) * pb.coef_scale + pb.intercept[t];
  }
}

// csr_logits, or with every coefficient 0 (BatchProblem::zero_coef, a compile-time
// branch of the kernels below, so that their other path is left as it was) the
// intercepts: z_t = c_t.
template <bool Zero, bool ByColumn = false, class T, class I>
inline void row_logits(const BatchProblem<T>& pb, const I* __restrict indices, index_t a,
                       index_t b, double* __restrict z) {
  if constexpr (Zero) {
    for (index_t t = 0; t < pb.k; ++t) z[t] = pb.intercept[t];
  } else {
    csr_logits<ByColumn>(pb, indices, a, b, z);
  }
}

// f(ZeroCoef<pb.zero_coef>{}): the flag as a compile-time constant (no library
// templates in ISA-compiled files, isa.hpp).
template <bool Zero>
struct ZeroCoef {
  static constexpr bool value = Zero;
};
template <class T, class F>
inline void with_zero_coef(const BatchProblem<T>& pb, const F& f) {
  if (pb.zero_coef)
    f(ZeroCoef<true>{});
  else
    f(ZeroCoef<false>{});
}

// The rows kColumnsAhead positions on have their columns' coefficients and gradients
// (k values each; beyond the caches for large d, and a miss on each is what a pass waits
// for) brought into cache while this row computes: 1.28 -> 0.50 s for a pass over 2e5
// rows x 105 values at d = 2^18, 20 outputs (column by column), one thread.  One row
// ahead rather than 2 (binary, two threads, best of 5, alternated): d = 2^20 31-33
// against 35-42 ms, 3 x 2^18 39-40 against 42-43; 20 outputs at 2^18 0.35-0.37 against
// 0.38 s; 0 rows (just before the row's own sweep) 37-39 ms at 2^20.
constexpr index_t kColumnsAhead = 1;
// Only for k d >= kColumnsAheadFrom values: below, the lines mostly arrive from L2/L3 in
// time and the look-ahead (a second sweep over the row's indices, a hint per value) costs
// more than it saves.  Binary, 2e5 rows x 100 values, two threads, best of 5 passes, with
// against without (two rows ahead): d = 2^18 36-37 against 25 ms, 2^19 44-46 against
// 30-34, 5 x 2^17 35-37 against 30-36, 3 x 2^18 47-48 against 56-58, 2^20 39-43 against
// 58-70; one row ahead: 2^18 33 against 24, 3 x 2^17 33 against 25-26, 2^19 40 against
// 34-40 (a 2-core AMD EPYC, 1 MB L2 per core, 32 MB L3).
constexpr index_t kColumnsAheadFrom = index_t(5) << 17;
// csr_columns' column groups: 64 neighbouring columns each (TrainTable::csr_columns).
constexpr index_t kColumnGroupShift = 6;

// The cache lines of p[0 .. k) (a column's k values in the column-by-column layout).
inline void prefetch_column(const double* p, index_t k) {
  const char* c = reinterpret_cast<const char*>(p);
  const index_t last = (k - 1) * index_t(sizeof(double));
  for (index_t off = 0; off < last; off += 64) prefetch_line(c + off);
  prefetch_line(c + last);
}

// The lines a row's columns read (coef, if Coef) and write (grad; nullptr: none).
template <bool ByColumn, bool Coef = true, class T, class I>
inline void prefetch_columns(const BatchProblem<T>& pb, const I* __restrict indices,
                             const I* __restrict indptr, index_t row, const double* grad) {
  const index_t d = pb.X.cols, k = pb.k;
  const index_t a = index_t(indptr[row]), b = index_t(indptr[row + 1]);
  for (index_t e = a; e < b; ++e) {
    const index_t j = index_t(indices[e]);
    if constexpr (ByColumn) {  // v[j k .. j k + k)
      if constexpr (Coef) prefetch_column(pb.coef + j * k, k);
      if (grad != nullptr) prefetch_column(grad + j * k, k);
    } else {  // v[t d + j] for each output
      for (index_t t = 0; t < k; ++t) {
        if constexpr (Coef) prefetch_line(pb.coef + t * d + j);
        if (grad != nullptr) prefetch_line(grad + t * d + j);
      }
    }
  }
}

// The output-by-output layout (BatchProblem::coef, grad t d + j): every CSR pass with one
// output, and the lazy steps' few columns.
template <class Row, bool Zero, class T, class I>
void csr_grad_block(const BatchProblem<T>& pb, const I* __restrict indices,
                    const I* __restrict indptr, index_t begin, index_t end, double* __restrict grad,
                    double* __restrict grad_intercept, double* sums, double* __restrict z) {
  const index_t d = pb.X.cols, k = pb.k;
  const T* __restrict x = pb.csr.values;
  const bool ahead = k * d >= kColumnsAheadFrom;
  double loss = 0.0, weight = 0.0;
  for (index_t i = begin; i < end; ++i) {
    csr_prefetch(pb, indices, indptr, i, end);
    const index_t row = row_of(pb, i);
    const index_t a = index_t(indptr[row]), b = index_t(indptr[row + 1]);
    const double s = pb.sample_weight ? double(pb.sample_weight[row]) : 1.0;
    weight += s;
    if (ahead && i + kColumnsAhead < end)
      prefetch_columns<false, !Zero>(pb, indices, indptr, row_of(pb, i + kColumnsAhead), grad);
    row_logits<Zero>(pb, indices, a, b, z);
    loss += Row::apply(pb, row, s, z);
    for (index_t t = 0; t < k; ++t) {
      const double g = z[t];
      grad_intercept[t] += g;
      double* __restrict gt = grad + t * d;
      for (index_t e = a; e < b; ++e) gt[indices[e]] += g * double(x[e]);
    }
  }
  sums[0] = loss;
  sums[1] = weight;
}

// Several outputs, column by column (the engine's BatchSums::run_columns): first the rows'
// weighted derivatives, then each column group's gradient from them.
template <class Row, bool Zero, class T, class I>
void csr_rows_block(const BatchProblem<T>& pb, const I* __restrict indices,
                    const I* __restrict indptr, index_t begin, index_t end, double* __restrict Z,
                    double* __restrict grad_intercept, double* sums) {
  const index_t k = pb.k;
  const bool ahead = k * pb.X.cols >= kColumnsAheadFrom && !Zero;  // (coef lines only)
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  double loss = 0.0, weight = 0.0;
  for (index_t i = begin; i < end; ++i) {
    csr_prefetch(pb, indices, indptr, i, end);
    const index_t row = row_of(pb, i);
    const double s = pb.sample_weight ? double(pb.sample_weight[row]) : 1.0;
    weight += s;
    if (ahead && i + kColumnsAhead < end)
      prefetch_columns<true>(pb, indices, indptr, row_of(pb, i + kColumnsAhead), nullptr);
    double* __restrict z = Z + (i - begin) * k;
    row_logits<Zero, true>(pb, indices, index_t(indptr[row]), index_t(indptr[row + 1]), z);
    loss += Row::apply(pb, row, s, z);
    for (index_t t = 0; t < k; ++t) grad_intercept[t] += z[t];
  }
  sums[0] = loss;
  sums[1] = weight;
}

template <class T, class I>
void csr_columns_block(const BatchProblem<T>& pb, const I* __restrict indices,
                       const I* __restrict indptr, index_t begin, index_t end,
                       const double* __restrict Z, index_t group, index_t groups,
                       double* __restrict grad) {
  const index_t k = pb.k, kv = k - k % kW, mask = groups - 1;
  const T* __restrict x = pb.csr.values;
  auto mine = [&](index_t j) { return ((j >> kColumnGroupShift) & mask) == group; };
  for (index_t i = begin; i < end; ++i) {
    if (i + kColumnsAhead < end) {  // the gradient lines of the rows ahead, this group's only
      const index_t next = row_of(pb, i + kColumnsAhead);
      for (index_t e = index_t(indptr[next]); e < index_t(indptr[next + 1]); ++e) {
        const index_t j = index_t(indices[e]);
        if (mine(j)) prefetch_column(grad + j * k, k);
      }
    }
    const index_t row = row_of(pb, i);
    const double* __restrict z = Z + (i - begin) * k;
    for (index_t e = index_t(indptr[row]); e < index_t(indptr[row + 1]); ++e) {
      const index_t j = index_t(indices[e]);
      if (!mine(j)) continue;
      double* __restrict gj = grad + j * k;
      const double xv = double(x[e]);
      const vdouble xs = splat_vd(xv);
      for (index_t t = 0; t < kv; t += kW) store_vd(gj + t, load_vd(gj + t) + load_vd(z + t) * xs);
      for (index_t t = kv; t < k; ++t) gj[t] += z[t] * xv;
    }
  }
}

template <class T, class I>
void csr_predict_block(const BatchProblem<T>& pb, const I* __restrict indices,
                       const I* __restrict indptr, index_t begin, index_t end, T* out,
                       double* __restrict z) {
  const index_t k = pb.k;
  for (index_t i = begin; i < end; ++i) {
    csr_prefetch(pb, indices, indptr, i, end);
    const index_t row = row_of(pb, i);
    csr_logits(pb, indices, index_t(indptr[row]), index_t(indptr[row + 1]), z);
    for (index_t t = 0; t < k; ++t) out[i * k + t] = T(z[t]);
  }
}

constexpr index_t kStackOutputs = 256;

// f(indices, indptr) with the index width of X: 32 or 64 bits.
template <class T, class F>
inline void with_indices(const BatchProblem<T>& pb, const F& f) {
  if (pb.csr.indices64)
    f(pb.csr.indices64, pb.csr.indptr64);
  else
    f(pb.csr.indices32, pb.csr.indptr32);
}

// The CSR kernel of BatchGradBlockFn.
//
// Several outputs (k > 1) over a block storing at least 4 d values (a full pass split
// into row blocks; not the lazy steps, which touch only their columns): the block's
// coefficients are copied column by column (v[j k + t]) and its gradient summed likewise
// by csr_rows_block and csr_columns_block (one group) over chunks of kBlockChunkRows
// rows, then copied back output by output.  A stored value then reads and writes k
// neighbouring doubles instead of k values d apart (k cache lines each), for 2 k d
// doubles of scratch and O(k d) copying per block.  The path depends on the block only
// (its rows and d), never on the thread count.  (A pass of one block takes the engine's
// BatchSums::run_columns instead, which shares the columns among the threads.)
constexpr index_t kBlockChunkRows = 256;

template <class Row, class T>
void csr_grad_any(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                  double* grad_intercept, double* sums) {
  const index_t d = pb.X.cols, k = pb.k, kd = k * d;
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  // (the stored values per row as BatchProblem::row_width() counts them, computed here: a
  // shared header's member function called from an ISA-compiled file may be emitted as a
  // weak symbol with this file's instructions, isa.hpp)
  const index_t per_row = pb.X.rows > 0 ? pb.csr.nnz / pb.X.rows : 0;
  const bool by_column = k > 1 && !pb.grad_zeroed && (end - begin) * per_row >= 4 * d;
  // (malloc, not std::vector: no library templates in ISA-compiled files, isa.hpp; without
  // the memory, the output-by-output path)
  double* buffer = by_column ? static_cast<double*>(::malloc(
                                   sizeof(double) * size_t(2 * kd + (kBlockChunkRows + 1) * k + 2)))
                             : nullptr;
  if (buffer) {
    double* coef = buffer;
    double* grad_t = buffer + kd;
    double* Z = grad_t + kd;
    double* part = Z + kBlockChunkRows * k;  // a chunk's intercept sums, loss, weight
    if (!pb.zero_coef)  // (else never read)
      for (index_t t = 0; t < k; ++t)
        for (index_t j = 0; j < d; ++j) coef[j * k + t] = pb.coef[t * d + j];
    for (index_t j = 0; j < kd; ++j) grad_t[j] = 0.0;
    BatchProblem<T> local = pb;
    local.coef = coef;
    double loss = 0.0, weight = 0.0;
    with_indices(pb, [&](const auto* indices, const auto* indptr) {
      for (index_t c0 = begin; c0 < end; c0 += kBlockChunkRows) {
        const index_t c1 = c0 + kBlockChunkRows < end ? c0 + kBlockChunkRows : end;
        with_zero_coef(pb, [&](auto zero) {
          csr_rows_block<Row, decltype(zero)::value>(local, indices, indptr, c0, c1, Z, part,
                                                     part + k);
        });
        for (index_t t = 0; t < k; ++t) grad_intercept[t] += part[t];
        loss += part[k];
        weight += part[k + 1];
        csr_columns_block(local, indices, indptr, c0, c1, Z, 0, 1, grad_t);
      }
    });
    sums[0] = loss;
    sums[1] = weight;
    for (index_t t = 0; t < k; ++t)
      for (index_t j = 0; j < d; ++j) grad[t * d + j] = grad_t[j * k + t];
    ::free(buffer);
    return;
  }
  double stack_z[kStackOutputs];
  double* z = k <= kStackOutputs ? stack_z
                                 : static_cast<double*>(::malloc(sizeof(double) * size_t(k)));
  if (!pb.grad_zeroed)
    for (index_t j = 0; j < kd; ++j) grad[j] = 0.0;
  with_indices(pb, [&](const auto* indices, const auto* indptr) {
    with_zero_coef(pb, [&](auto zero) {
      csr_grad_block<Row, decltype(zero)::value>(pb, indices, indptr, begin, end, grad,
                                                 grad_intercept, sums, z);
    });
  });
  if (z != stack_z) ::free(z);
}

// The group functions as types, so that grad_block_with inlines them.
template <class L>
struct Elementwise {
  using Row = ElementwiseRow<L>;
  template <int R, class T>
  static inline void group(const BatchProblem<T>& pb, index_t i, double* grad, double* gi,
                           double& loss, double& weight, double* z) {
    grad_group<R, T, L>(pb, i, grad, gi, loss, weight, z);
  }
};
struct Softmax {
  using Row = SoftmaxRow;
  template <int R, class T>
  static inline void group(const BatchProblem<T>& pb, index_t i, double* grad, double* gi,
                           double& loss, double& weight, double* z) {
    grad_group_softmax<R, T>(pb, i, grad, gi, loss, weight, z);
  }
};

// One block of rows for the row loss G (Elementwise<L> or Softmax): R-row
// groups with the gathered rows prefetched ahead.
template <class G, class T>
void grad_block_with(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                     double* grad_intercept, double* sums) {
  const index_t d = pb.X.cols, k = pb.k;
  for (index_t j = 0; j < k * d; ++j) grad[j] = 0.0;
  for (index_t t = 0; t < k; ++t) grad_intercept[t] = 0.0;
  double stack_z[kStackOutputs * kRowGroup];
  double* z = k <= kStackOutputs ? stack_z
                                 : static_cast<double*>(::malloc(sizeof(double) * size_t(k * kRowGroup)));
  double loss = 0.0, weight = 0.0;
  const index_t row_bytes = d * index_t(sizeof(T));
  if (pb.rows) {  // the first groups' rows, before the loop's look-ahead takes over
    for (index_t r = begin; r < end && r < begin + kPrefetchGroups * kRowGroup; ++r)
      prefetch_bytes(pb.X.row(pb.rows[r]), 0, row_bytes);
  }
  index_t i = begin;
  for (; i + kRowGroup <= end; i += kRowGroup) {
    prefetch_ahead(pb, i, end, row_bytes);
    G::template group<kRowGroup>(pb, i, grad, grad_intercept, loss, weight, z);
  }
  for (; i < end; ++i) G::template group<1>(pb, i, grad, grad_intercept, loss, weight, z);
  if (z != stack_z) ::free(z);
  sums[0] = loss;
  sums[1] = weight;
}

// f(G{}) for the loss's row functor as a type tag: Elementwise<L> or Softmax.
template <class F>
inline void with_row_loss(Loss loss, const F& f) {
  switch (loss) {
    case Loss::squared_error:
      return f(Elementwise<SquaredError>{});
    case Loss::huber:
      return f(Elementwise<Huber>{});
    case Loss::epsilon_insensitive:
      return f(Elementwise<EpsilonInsensitive>{});
    case Loss::squared_epsilon_insensitive:
      return f(Elementwise<SquaredEpsilonInsensitive>{});
    case Loss::log_loss:
      return f(Elementwise<LogLoss>{});
    case Loss::hinge:
      return f(Elementwise<Hinge>{});
    case Loss::squared_hinge:
      return f(Elementwise<SquaredHinge>{});
    case Loss::modified_huber:
      return f(Elementwise<ModifiedHuber>{});
    case Loss::perceptron:
      return f(Elementwise<Perceptron>{});
    case Loss::multinomial:
      return f(Softmax{});
    case Loss::smoothed_hinge:
      return f(Elementwise<SmoothedHinge>{});
  }
}

template <class T>
void grad_block(const BatchProblem<T>& pb, index_t begin, index_t end, double* grad,
                double* grad_intercept, double* sums) {
  with_row_loss(pb.loss, [&](auto row_loss) {
    using G = decltype(row_loss);
    if (pb.sparse())
      csr_grad_any<typename G::Row>(pb, begin, end, grad, grad_intercept, sums);
    else
      grad_block_with<G>(pb, begin, end, grad, grad_intercept, sums);
  });
}

template <class T>
void csr_rows(const BatchProblem<T>& pb, index_t begin, index_t end, double* Z,
              double* grad_intercept, double* sums) {
  with_row_loss(pb.loss, [&](auto row_loss) {
    using Row = typename decltype(row_loss)::Row;
    with_indices(pb, [&](const auto* indices, const auto* indptr) {
      with_zero_coef(pb, [&](auto zero) {
        csr_rows_block<Row, decltype(zero)::value>(pb, indices, indptr, begin, end, Z,
                                                   grad_intercept, sums);
      });
    });
  });
}

template <class T>
void csr_columns(const BatchProblem<T>& pb, index_t begin, index_t end, const double* Z,
                 index_t group, index_t groups, double* grad) {
  with_indices(pb, [&](const auto* indices, const auto* indptr) {
    csr_columns_block(pb, indices, indptr, begin, end, Z, group, groups, grad);
  });
}

template <class T>
void predict_block(const BatchProblem<T>& pb, index_t begin, index_t end, T* out) {
  const index_t d = pb.X.cols, k = pb.k;
  if (pb.sparse()) {
    double stack_z[kStackOutputs];
    double* z = k <= kStackOutputs ? stack_z
                                   : static_cast<double*>(::malloc(sizeof(double) * size_t(k)));
    if (pb.csr.indices64)
      csr_predict_block(pb, pb.csr.indices64, pb.csr.indptr64, begin, end, out, z);
    else
      csr_predict_block(pb, pb.csr.indices32, pb.csr.indptr32, begin, end, out, z);
    if (z != stack_z) ::free(z);
    return;
  }
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

// -- Gram (second moments) ------------------------------------------------------------------
// kGramRows standardised rows at a time: each entry of A's upper triangle is loaded and
// stored once per group and takes R fused multiply-adds (its sum over r in a fixed order);
// the loop over b runs along contiguous memory and vectorises.
constexpr int kGramRows = 8;

template <int R>
inline void gram_update(const double* __restrict w, const double* __restrict z, index_t q,
                        double* __restrict A) {
  for (index_t a = 0; a < q; ++a) {
    double wa[R];
    for (int r = 0; r < R; ++r) wa[r] = w[r * q + a];
    double* __restrict row = A + a * q;
    for (index_t b = a; b < q; ++b) {
      double acc = row[b];
      for (int r = 0; r < R; ++r) acc += wa[r] * z[r * q + b];
      row[b] = acc;
    }
  }
}

template <int R, class T>
inline void gram_group(const BatchProblem<T>& pb, index_t i, const double* __restrict mean,
                       const double* __restrict inv_scale, const double* __restrict shift,
                       double* __restrict w, double* __restrict z, double* __restrict A,
                       double* __restrict C, double& yy, double& weight) {
  const index_t d = pb.X.cols, k = pb.k, q = d + 1;
  for (int r = 0; r < R; ++r) {
    const index_t row = row_of(pb, i + r);
    const T* __restrict x = pb.X.row(row);
    const double s = pb.sample_weight ? double(pb.sample_weight[row]) : 1.0;
    double* __restrict zr = z + r * q;
    double* __restrict wr = w + r * q;
    for (index_t j = 0; j < d; ++j) zr[j] = (double(x[j]) - mean[j]) * inv_scale[j];
    zr[d] = 1.0;
    for (index_t j = 0; j < q; ++j) wr[j] = s * zr[j];
    weight += s;
    for (index_t t = 0; t < k; ++t) {
      const double e = double(pb.Y[row * k + t]) - shift[t];
      yy += s * e * e;
      for (index_t a = 0; a < q; ++a) C[a * k + t] += wr[a] * e;
    }
  }
  gram_update<R>(w, z, q, A);
}

template <class T>
void gram_block(const BatchProblem<T>& pb, index_t begin, index_t end, const double* mean,
                const double* inv_scale, const double* shift, double* A, double* C, double* sums) {
  const index_t q = pb.X.cols + 1, k = pb.k;
  for (index_t j = 0; j < q * q; ++j) A[j] = 0.0;
  for (index_t j = 0; j < q * k; ++j) C[j] = 0.0;
  double* buffer = static_cast<double*>(::malloc(sizeof(double) * size_t(2 * kGramRows * q)));
  double* w = buffer;
  double* z = buffer + kGramRows * q;
  double yy = 0.0, weight = 0.0;
  index_t i = begin;
  for (; i + kGramRows <= end; i += kGramRows)
    gram_group<kGramRows>(pb, i, mean, inv_scale, shift, w, z, A, C, yy, weight);
  for (; i < end; ++i) gram_group<1>(pb, i, mean, inv_scale, shift, w, z, A, C, yy, weight);
  ::free(buffer);
  sums[0] = yy;
  sums[1] = weight;
}

}  // namespace

const TrainTable& train_table() {
  static const TrainTable table{&grad_block<float>, &grad_block<double>, &predict_block<float>,
                                &predict_block<double>, &gram_block<float>, &gram_block<double>,
                                &csr_rows<float>,   &csr_rows<double>,    &csr_columns<float>,
                                &csr_columns<double>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
