// L-BFGS's vector work (see pygd/engine/lbfgs.hpp for the maths).  Compiled once, at the
// baseline ISA: each pass streams two to four vectors of n doubles, so memory sets its
// speed, and both cores share it.
#include "pygd/engine/lbfgs.hpp"

#include <vector>

#include "pygd/engine/chunks.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace {

// sum_j a_j b_j over [begin, end) (dot4's fixed order).
inline double dot_span(const double* a, const double* b, index_t begin, index_t end) {
  return dot4(a + begin, b + begin, end - begin);
}

double chunk_order_sum(const std::vector<double>& partial) {
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

// f(j, P_j) for j in [begin, end) (P as DiagonalGuessView lays it out; P.columns set).
template <class F>
void each_guess(const DiagonalGuessView& P, index_t n, index_t begin, index_t end, const F& f) {
  const index_t block = n - P.t;
  index_t j = begin;
  for (index_t col = j < block ? j % P.c : 0; j < end && j < block; ++j) {
    f(j, P.columns[col]);
    if (++col == P.c) col = 0;
  }
  for (; j < end; ++j) f(j, P.trailing[j - block]);
}

// q[j] = (q[j] * P_j) * gamma over [begin, end).
void scale_span(double* q, index_t begin, index_t end, index_t n, const DiagonalGuessView& P,
                double gamma) {
  if (P.columns != nullptr) each_guess(P, n, begin, end, [&](index_t j, double p) { q[j] *= p; });
  if (gamma != 1.0)
    for (index_t j = begin; j < end; ++j) q[j] *= gamma;
}

}  // namespace

DirectionDots lbfgs_direction(const double* g, index_t n, const LbfgsPairs& pairs,
                              const DiagonalGuessView& P, double* d) {
  const index_t m = pairs.m;
  std::vector<double> partial(static_cast<size_t>(chunk_count(n)));
  std::vector<double> partial2(partial.size());
  std::vector<double> alpha(static_cast<size_t>(m));
  double* q = d;
  // The dot product that follows the update of [begin, end) in the pass: s_{i-1} . q in
  // the first loop, y_0 . q after the scaling, y_{i+1} . q in the second loop, and at the
  // end d . g and d . d.
  auto finish = [&](index_t c, index_t begin, index_t end, index_t next_first, index_t next_second) {
    if (next_first >= 0) {
      partial[c] = dot_span(pairs.s[next_first], q, begin, end);
    } else if (next_second >= 0) {
      partial[c] = dot_span(pairs.y[next_second], q, begin, end);
    } else {
      partial[c] = dot_span(q, g, begin, end);
      partial2[c] = dot_span(q, q, begin, end);
    }
  };
  // After the first loop's last update (or with no pairs, at once): the scaling.
  auto scaled = [&](index_t begin, index_t end) { scale_span(q, begin, end, n, P, pairs.gamma); };
  // Pass 0: q = -g (then, without pairs, the scaling).
  for_each_chunk(n, [&](index_t c, index_t begin, index_t end) {
    for (index_t j = begin; j < end; ++j) q[j] = -g[j];
    if (m == 0) scaled(begin, end);
    finish(c, begin, end, m - 1, -1);
  });
  for (index_t i = m - 1; i >= 0; --i) {  // the first loop, newest pair first
    const double a = pairs.rho[i] * chunk_order_sum(partial);
    alpha[static_cast<size_t>(i)] = a;
    const double* y = pairs.y[i];
    for_each_chunk(n, [&](index_t c, index_t begin, index_t end) {
      for (index_t j = begin; j < end; ++j) q[j] -= a * y[j];
      if (i == 0) scaled(begin, end);
      finish(c, begin, end, i - 1, i == 0 ? 0 : -1);
    });
  }
  for (index_t i = 0; i < m; ++i) {  // the second loop, oldest pair first
    const double b = pairs.rho[i] * chunk_order_sum(partial);
    const double step = alpha[static_cast<size_t>(i)] - b;
    const double* s = pairs.s[i];
    for_each_chunk(n, [&](index_t c, index_t begin, index_t end) {
      for (index_t j = begin; j < end; ++j) q[j] += step * s[j];
      finish(c, begin, end, -1, i + 1 < m ? i + 1 : -1);
    });
  }
  DirectionDots dots;
  dots.dg = chunk_order_sum(partial);
  dots.dd = chunk_order_sum(partial2);
  return dots;
}

PairDots lbfgs_pair(const double* x_new, const double* x, const double* g_new, const double* g,
                    index_t n, const DiagonalGuessView& P, double* s, double* y) {
  const size_t count = static_cast<size_t>(chunk_count(n));
  std::vector<double> sy(count), ss(count), yy(count), yPy(count);
  for_each_chunk(n, [&](index_t c, index_t begin, index_t end) {
    for (index_t j = begin; j < end; ++j) {
      s[j] = x_new[j] - x[j];
      y[j] = g_new[j] - g[j];
    }
    sy[c] = dot_span(s, y, begin, end);
    ss[c] = dot_span(s, s, begin, end);
    yy[c] = dot_span(y, y, begin, end);
    if (P.columns != nullptr) {
      double acc = 0.0;
      each_guess(P, n, begin, end, [&](index_t j, double p) { acc += y[j] * p * y[j]; });
      yPy[c] = acc;
    }
  });
  PairDots dots;
  dots.sy = chunk_order_sum(sy);
  dots.ss = chunk_order_sum(ss);
  dots.yy = chunk_order_sum(yy);
  dots.yPy = P.columns != nullptr ? chunk_order_sum(yPy) : dots.yy;
  return dots;
}

}  // namespace pygd
