// Column statistics and standardisation kernels, compiled once per instruction
// set (see pygd/isa.hpp).
//
// Maths (reference: pygd/reference.py, column_stats, merge_column_stats,
// standardize, unstandardize).  For column j with shift c_j (the driver passes
// a value from the column: the median of its first non-NaN values), weights s_i and y_ij = x_ij - c_j, over
// the rows i of a block with x_ij not NaN:
//
//   W_j   = sum_i s_i
//   m_j   = sum_i s_i y_ij / W_j                      (mean of y; mean of x = c_j + m_j)
//   M2_j  = sum_i s_i (y_ij - m_j)^2                  (var of x = M2_j / W_j)
//
// Accuracy.  Subtracting c_j first keeps y_ij of the size of the spread, so a
// mean of 1e9 + N(0, 1) data costs no digits (an unshifted block mean of large
// numbers is rounded, and that error is squared into M2).  A block is cut into
// cache-sized tiles; each tile is read twice while it sits in cache (one pass
// over memory): pass 1 gives the tile mean t_j, pass 2 the corrected two-pass
// sums
//   e_j = sum s_i (y_ij - t_j),   q_j = sum s_i (y_ij - t_j)^2,
//   tile mean = t_j + e_j / W_j,  tile M2 = q_j - e_j^2 / W_j        (Chan, Golub, LeVeque)
// and tiles, then blocks (driver), are combined by Chan's pairwise merge
//   W = W_a + W_b,  delta = m_b - m_a,
//   m = m_a + delta W_b / W,  M2 = M2_a + M2_b + delta^2 W_a W_b / W
// in a fixed order, so the result depends on the SIMD level but never on the
// number of threads.  Sums are in double for float and double inputs.
//
// Transform:   out_ij = (x_ij - center_j) / scale_j      (standardize)
// Inverse:     out_ij = x_ij * scale_j + center_j        (unstandardize)
// in double, rounded to T; one fused read + write per element; NaN stays NaN.
// Where x_ij - center_j overflows (finite values near +-1.7e308 on both sides
// of the center) the transform takes the difference in halves instead:
//   out_ij = ((x_ij / 2 - center_j / 2) / scale_j) * 2
// Halving and doubling are exact there (the operands are far from subnormal),
// so these elements get the bits subtract-then-divide would give with an
// unbounded exponent (difference rounded, then quotient rounded), and the
// others keep the subtract-then-divide bits.
//
// Every kernel also reports whether it met +-infinity (max |x| over the block,
// NaNs skipped), so the Python layer needs no separate finiteness pass.
#include "pygd/isa.hpp"
#include "pygd/kernels/preprocessing.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

constexpr double kInf = __builtin_inf();

template <bool B>
struct Bool {
  static constexpr bool value = B;
};

inline vdouble abs_vd(vdouble v) { return v < 0 ? -v : v; }
// max(|v|, acc) that keeps acc where v is NaN.
inline vdouble absmax_vd(vdouble v, vdouble acc) {
  const vdouble a = abs_vd(v);
  return a > acc ? a : acc;
}
inline double absmax_(double v, double acc) {
  const double a = abs_(v);
  return a > acc ? a : acc;
}
inline double hmax(vdouble v) {
  double lanes[kW];
  __builtin_memcpy(lanes, &v, sizeof v);
  double m = lanes[0];
  for (int k = 1; k < kW; ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

// The first m < kW values at p widened to double, other lanes 0.
template <class T>
inline vdouble load_partial(const T* p, index_t m) {
  double lanes[kW] = {};
  for (index_t k = 0; k < m; ++k) lanes[k] = double(p[k]);
  return load_vd(lanes);
}

inline void store_vt(double* p, vdouble v) { store_vd(p, v); }
inline void store_vt(float* p, vdouble v) {
  const vfloat_half f = __builtin_convertvector(v, vfloat_half);
  __builtin_memcpy(p, &f, sizeof f);
}

// acc <- acc (+) (w_b, m_b, M2_b) by Chan's merge; an empty part changes nothing.
inline void merge_one(double w_b, double mean_b, double m2_b, double& w_a, double& mean_a,
                      double& m2_a) {
  if (!(w_b > 0)) return;
  const double w = w_a + w_b;
  const double delta = mean_b - mean_a;
  const double frac_b = w_b / w;
  mean_a += delta * frac_b;
  m2_a += m2_b + delta * delta * w_a * frac_b;
  w_a = w;
}

// Tile statistics from the corrected two-pass sums, merged into the block's.
inline void merge_tile(double w_t, double mean_t, double dev_sum, double dev_sq, double& w_a,
                       double& mean_a, double& m2_a) {
  if (!(w_t > 0)) return;
  const double correction = dev_sum / w_t;
  double m2_t = dev_sq - dev_sum * correction;
  if (m2_t < 0) m2_t = 0;  // rounding of a (near) constant tile
  merge_one(w_t, mean_t + correction, m2_t, w_a, mean_a, m2_a);
}

// Rows per tile: about 64 KiB of X, so pass 2 reads from L1/L2.
inline index_t tile_rows(index_t d, index_t item) {
  index_t rows = (index_t(64) << 10) / ((d > 0 ? d : 1) * item);
  if (rows < 16) rows = 16;
  if (rows > 4096) rows = 4096;
  return rows;
}

// ---- statistics, rows contiguous (C order): vectors run along a row ----------

inline void tile_sum(vdouble v, vdouble shift, vdouble wv, double* w_acc, double* y_acc,
                     vdouble& amax) {
  const auto ok = v == v;
  const vdouble y = ok ? v - shift : vdouble{};
  store_vd(y_acc, load_vd(y_acc) + y * wv);
  store_vd(w_acc, load_vd(w_acc) + (ok ? wv : vdouble{}));
  amax = absmax_vd(v, amax);
}


// Column-group blocking: the sums of kGroup vectors of columns stay in
// registers while a tile's rows are walked, instead of a load and a store of
// every accumulator per row.  A column's rows are still added in row order, so
// the sums are the same numbers as one accumulator per column in memory.
constexpr int kGroup = kW == 8 ? 8 : 4;  // AVX-512 has 32 vector registers, the others 16

// G vectors of columns from j0 (the last one partial when Partial: d - j0 < kW
// columns, other lanes 0).
template <bool Partial, class T>
inline vdouble load_cols(const T* p, index_t m) {
  if (Partial) return load_partial(p, m);
  return load_vd(p);
}

// Pass 1 without NaN masking: sum[j] = sum_i s_i (x_ij - c_j) over rows
// [t0, t1) for the G vectors of columns from j0.  A NaN or an infinity in the
// tile makes the column's sum non-finite (and a finite sum proves there was
// none), which sends the tile to the masked path.
template <int G, bool Partial, bool Weighted, class T>
inline void group_sum(const ColumnStatsProblem<T>& pb, index_t t0, index_t t1, index_t j0,
                      const double* __restrict shift, double* __restrict sum) {
  const index_t m = pb.X.cols - j0;
  vdouble acc[G];
  vdouble c[G];
  for (int g = 0; g < G; ++g) {
    acc[g] = vdouble{};
    c[g] = load_vd(shift + j0 + g * kW);
  }
  for (index_t i = t0; i < t1; ++i) {
    const T* x = pb.X.row(i) + j0;
    const vdouble wv = splat_vd(Weighted ? double(pb.sample_weight[i]) : 1.0);
    for (int g = 0; g < G; ++g) {
      const vdouble y = load_cols<Partial>(x + g * kW, m) - c[g];
      acc[g] = Weighted ? acc[g] + y * wv : acc[g] + y;
    }
  }
  for (int g = 0; g < G; ++g) store_vd(sum + j0 + g * kW, acc[g]);
}

// Pass 2: e[j] = sum s_i dev_ij, q[j] = sum s_i dev_ij^2 with
// dev_ij = (x_ij - c_j) - t_j (0 where x_ij is NaN when Masked).
template <int G, bool Partial, bool Weighted, bool Masked, class T>
inline void group_dev(const ColumnStatsProblem<T>& pb, index_t t0, index_t t1, index_t j0,
                      const double* __restrict shift, const double* __restrict mean,
                      double* __restrict e_out, double* __restrict q_out) {
  const index_t m = pb.X.cols - j0;
  vdouble e[G], q[G];
  for (int g = 0; g < G; ++g) e[g] = q[g] = vdouble{};
  for (index_t i = t0; i < t1; ++i) {
    const T* x = pb.X.row(i) + j0;
    const vdouble wv = splat_vd(Weighted ? double(pb.sample_weight[i]) : 1.0);
    for (int g = 0; g < G; ++g) {
      const vdouble v = load_cols<Partial>(x + g * kW, m);
      vdouble dev = (v - load_vd(shift + j0 + g * kW)) - load_vd(mean + j0 + g * kW);
      if (Masked) dev = v == v ? dev : vdouble{};
      const vdouble wdev = Weighted ? dev * wv : dev;
      e[g] = e[g] + wdev;
      q[g] = q[g] + wdev * dev;
    }
  }
  for (int g = 0; g < G; ++g) {
    store_vd(e_out + j0 + g * kW, e[g]);
    store_vd(q_out + j0 + g * kW, q[g]);
  }
}

// Calls group<G, false>(j0) over full groups, group<1, false> over the
// remaining full vectors and group<1, true> over a partial last vector.
template <class Full, class One, class Tail>
inline void for_column_groups(index_t d, const Full& full, const One& one, const Tail& tail) {
  const index_t dv = d - d % kW;
  index_t j = 0;
  for (; j + kGroup * kW <= dv; j += kGroup * kW) full(j);
  for (; j < dv; j += kW) one(j);
  if (dv < d) tail(dv);
}

template <class T, bool Weighted>
int stats_rows(const ColumnStatsProblem<T>& pb, index_t begin, index_t end,
               const ColumnMoments& out, double* scratch) {
  const index_t d = pb.X.cols;
  const index_t dv = d - d % kW;
  const index_t dp = padded_cols(d);  // >= dv + kW when there is a tail
  double* __restrict tw = scratch;           // tile weight
  double* __restrict tm = scratch + dp;      // tile sum of s*y, then tile mean
  double* __restrict te = scratch + 2 * dp;  // sum s (y - t)
  double* __restrict tq = scratch + 3 * dp;  // sum s (y - t)^2
  const double* __restrict shift = pb.shift;  // padded with zeros to dp
  for (index_t j = 0; j < d; ++j) out.weight[j] = out.mean[j] = out.m2[j] = 0.0;
  vdouble amax{};
  const index_t tile = tile_rows(d, index_t(sizeof(T)));
  for (index_t t0 = begin; t0 < end; t0 += tile) {
    const index_t t1 = min_(end, t0 + tile);
    for (index_t j = dv; j < dp; ++j) tm[j] = te[j] = tq[j] = 0.0;
    // Pass 1, fast: unmasked sums; all finite means no NaN and no infinity.
    for_column_groups(
        d, [&](index_t j0) { group_sum<kGroup, false, Weighted>(pb, t0, t1, j0, shift, tm); },
        [&](index_t j0) { group_sum<1, false, Weighted>(pb, t0, t1, j0, shift, tm); },
        [&](index_t j0) { group_sum<1, true, Weighted>(pb, t0, t1, j0, shift, tm); });
    bool finite = true;
    for (index_t j = 0; j < d; ++j) finite &= tm[j] - tm[j] == 0.0;
    if (finite) {
      // Every column saw every row: one weight for all (same sum, same order).
      double w = 0.0;
      if (Weighted) {
        for (index_t i = t0; i < t1; ++i) w += double(pb.sample_weight[i]);
      } else {
        w = double(t1 - t0);
      }
      for (index_t j = 0; j < dp; ++j) tw[j] = w;
    } else {
      // Pass 1, masked: NaNs left out, infinities detected.
      for (index_t j = 0; j < dp; ++j) tw[j] = tm[j] = 0.0;
      for (index_t i = t0; i < t1; ++i) {
        const T* x = pb.X.row(i);
        const vdouble wv = splat_vd(Weighted ? double(pb.sample_weight[i]) : 1.0);
        for (index_t j = 0; j < dv; j += kW)
          tile_sum(load_vd(x + j), load_vd(shift + j), wv, tw + j, tm + j, amax);
        if (dv < d)
          tile_sum(load_partial(x + dv, d - dv), load_vd(shift + dv), wv, tw + dv, tm + dv, amax);
      }
    }
    for (index_t j = 0; j < dp; ++j) tm[j] = tw[j] > 0 ? tm[j] / tw[j] : 0.0;
    auto pass2 = [&](auto masked) {
      constexpr bool M = decltype(masked)::value;
      for_column_groups(
          d,
          [&](index_t j0) { group_dev<kGroup, false, Weighted, M>(pb, t0, t1, j0, shift, tm, te, tq); },
          [&](index_t j0) { group_dev<1, false, Weighted, M>(pb, t0, t1, j0, shift, tm, te, tq); },
          [&](index_t j0) { group_dev<1, true, Weighted, M>(pb, t0, t1, j0, shift, tm, te, tq); });
    };
    if (finite)
      pass2(Bool<false>{});
    else
      pass2(Bool<true>{});
    for (index_t j = 0; j < d; ++j)
      merge_tile(tw[j], tm[j], te[j], tq[j], out.weight[j], out.mean[j], out.m2[j]);
  }
  return hmax(amax) == kInf ? 1 : 0;
}

// ---- statistics, any other strides (F order, views): one column at a time ----

constexpr index_t kColumnTile = 2048;

template <class T, bool Weighted, bool UnitStride>
int stats_columns(const ColumnStatsProblem<T>& pb, index_t begin, index_t end,
                  const ColumnMoments& out) {
  const index_t d = pb.X.cols;
  const index_t rs = UnitStride ? 1 : pb.X.row_stride;
  constexpr int L = kDoubleLanes;
  double amax = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const T* __restrict col = pb.X.data + j * pb.X.col_stride;
    const T* __restrict sw = pb.sample_weight;
    const double c = pb.shift[j];
    double w_a = 0.0, mean_a = 0.0, m2_a = 0.0;
    for (index_t t0 = begin; t0 < end; t0 += kColumnTile) {
      const index_t t1 = min_(end, t0 + kColumnTile);
      // pass 1: weight and sum of y, L lanes then a fixed tree.
      double lw[L] = {}, ly[L] = {}, la[L] = {};
      index_t i = t0;
      for (; i + L <= t1; i += L) {
        for (int k = 0; k < L; ++k) {
          const double x = double(col[(i + k) * rs]);
          const double s = Weighted ? double(sw[i + k]) : 1.0;
          const bool ok = x == x;
          lw[k] += ok ? s : 0.0;
          ly[k] += ok ? s * (x - c) : 0.0;
          la[k] = absmax_(x, la[k]);
        }
      }
      for (; i < t1; ++i) {
        const double x = double(col[i * rs]);
        const double s = Weighted ? double(sw[i]) : 1.0;
        const bool ok = x == x;
        lw[0] += ok ? s : 0.0;
        ly[0] += ok ? s * (x - c) : 0.0;
        la[0] = absmax_(x, la[0]);
      }
      for (int width = L / 2; width > 0; width /= 2) {
        for (int k = 0; k < width; ++k) {
          lw[k] += lw[k + width];
          ly[k] += ly[k + width];
          la[k] = la[k] > la[k + width] ? la[k] : la[k + width];
        }
      }
      amax = la[0] > amax ? la[0] : amax;
      const double w_t = lw[0];
      const double mean_t = w_t > 0 ? ly[0] / w_t : 0.0;
      // pass 2: corrected two-pass sums about the tile mean.
      double le[L] = {}, lq[L] = {};
      i = t0;
      for (; i + L <= t1; i += L) {
        for (int k = 0; k < L; ++k) {
          const double x = double(col[(i + k) * rs]);
          const double s = Weighted ? double(sw[i + k]) : 1.0;
          const double dev = x == x ? (x - c) - mean_t : 0.0;
          le[k] += s * dev;
          lq[k] += s * dev * dev;
        }
      }
      for (; i < t1; ++i) {
        const double x = double(col[i * rs]);
        const double s = Weighted ? double(sw[i]) : 1.0;
        const double dev = x == x ? (x - c) - mean_t : 0.0;
        le[0] += s * dev;
        lq[0] += s * dev * dev;
      }
      for (int width = L / 2; width > 0; width /= 2) {
        for (int k = 0; k < width; ++k) {
          le[k] += le[k + width];
          lq[k] += lq[k + width];
        }
      }
      merge_tile(w_t, mean_t, le[0], lq[0], w_a, mean_a, m2_a);
    }
    out.weight[j] = w_a;
    out.mean[j] = mean_a;
    out.m2[j] = m2_a;
  }
  return amax == kInf ? 1 : 0;
}

template <class T>
int column_stats_block(const ColumnStatsProblem<T>& pb, index_t begin, index_t end,
                       const ColumnMoments& out, double* scratch) {
  const bool weighted = pb.sample_weight != nullptr;
  if (pb.X.rows_contiguous()) {
    return weighted ? stats_rows<T, true>(pb, begin, end, out, scratch)
                    : stats_rows<T, false>(pb, begin, end, out, scratch);
  }
  if (pb.X.row_stride == 1) {
    return weighted ? stats_columns<T, true, true>(pb, begin, end, out)
                    : stats_columns<T, false, true>(pb, begin, end, out);
  }
  return weighted ? stats_columns<T, true, false>(pb, begin, end, out)
                  : stats_columns<T, false, false>(pb, begin, end, out);
}

void merge_moments(index_t d, const ColumnMoments& part, const ColumnMoments& acc) {
  for (index_t j = 0; j < d; ++j)
    merge_one(part.weight[j], part.mean[j], part.m2[j], acc.weight[j], acc.mean[j], acc.m2[j]);
}

// ---- transform and inverse transform --------------------------------------

template <bool Inverse>
inline vdouble affine_vd(vdouble x, vdouble center, vdouble scale) {
  if (Inverse) return x * scale + center;
  const vdouble diff = x - center;
  // Lanes where the difference overflowed (an infinite x gives the same infinity
  // either way; NaN compares false).  Ordinary data takes the branch (one test
  // per vector: selects on every vector made baseline SSE2 1.9x slower).
  const auto overflow = (diff == kInf) | (diff == -kInf);
  using lane_t = __typeof__(overflow[0]);
  lane_t lanes[kW];
  __builtin_memcpy(lanes, &overflow, sizeof overflow);
  lane_t any = 0;
  for (int l = 0; l < kW; ++l) any |= lanes[l];
  if (__builtin_expect(any == 0, 1)) return diff / scale;
  // There: in halves, doubled after the division.
  const vdouble half = 0.5 * x - 0.5 * center;
  const vdouble q = (overflow ? half : diff) / scale;
  return overflow ? q * 2.0 : q;
}
template <bool Inverse>
inline double affine_(double x, double center, double scale) {
  if (Inverse) return x * scale + center;
  const double diff = x - center;
  if (abs_(diff) == kInf) return ((0.5 * x - 0.5 * center) / scale) * 2.0;
  return diff / scale;
}

template <class T, bool Inverse, bool UnitStride>
int affine_columns(const MatrixView<T>& X, const MutableMatrixView<T>& out,
                   const double* center, const double* scale, index_t begin, index_t end) {
  const index_t rs = UnitStride ? 1 : X.row_stride;
  const index_t ors = UnitStride ? 1 : out.row_stride;
  double amax = 0.0;
  for (index_t j = 0; j < X.cols; ++j) {
    const T* x = X.data + j * X.col_stride;
    T* o = out.data + j * out.col_stride;
    const double c = center[j], s = scale[j];
    for (index_t i = begin; i < end; ++i) {
      const double v = double(x[i * rs]);
      amax = absmax_(v, amax);
      o[i * ors] = T(affine_<Inverse>(v, c, s));
    }
  }
  return amax == kInf ? 1 : 0;
}

template <class T, bool Inverse>
int affine_block(const MatrixView<T>& X, const MutableMatrixView<T>& out, const double* center,
                 const double* scale, index_t begin, index_t end) {
  const index_t d = X.cols;
  if (X.rows_contiguous() && (out.col_stride == 1 || d <= 1)) {
    const index_t dv = d - d % kW;
    vdouble amax{};
    double amax_tail = 0.0;
    for (index_t i = begin; i < end; ++i) {
      const T* x = X.row(i);  // may equal o: every chunk is loaded before it is stored
      T* o = out.data + i * out.row_stride;
      for (index_t j = 0; j < dv; j += kW) {
        const vdouble v = load_vd(x + j);
        amax = absmax_vd(v, amax);
        store_vt(o + j, affine_vd<Inverse>(v, load_vd(center + j), load_vd(scale + j)));
      }
      for (index_t j = dv; j < d; ++j) {
        const double v = double(x[j]);
        amax_tail = absmax_(v, amax_tail);
        o[j] = T(affine_<Inverse>(v, center[j], scale[j]));
      }
    }
    return (hmax(amax) == kInf || amax_tail == kInf) ? 1 : 0;
  }
  if (X.row_stride == 1 && out.row_stride == 1)
    return affine_columns<T, Inverse, true>(X, out, center, scale, begin, end);
  return affine_columns<T, Inverse, false>(X, out, center, scale, begin, end);
}

}  // namespace

const PreprocessingTable& preprocessing_table() {
  static const PreprocessingTable table{
      &column_stats_block<float>,    &column_stats_block<double>,  &merge_moments,
      &affine_block<float, false>,   &affine_block<double, false>, &affine_block<float, true>,
      &affine_block<double, true>};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
