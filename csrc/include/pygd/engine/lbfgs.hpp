// L-BFGS's vector work over the n values of x (pygd/_lbfgs.py drives it; the NumPy
// reference is pygd/reference.py's lbfgs_direction_reference and lbfgs_pair_reference).
// Inputs are assumed valid (the binding checks sizes, types and aliasing).
#pragma once
#include "pygd/common.hpp"

namespace pygd {

// The m pairs (s_i, y_i) of the limited memory, oldest first, rho_i = 1 / (s_i . y_i),
// and gamma = s . y / y . P y of the newest pair (1 without pairs).
struct LbfgsPairs {
  const double* const* s = nullptr;
  const double* const* y = nullptr;
  const double* rho = nullptr;
  index_t m = 0;
  double gamma = 1.0;
};

// A diagonal guess P of the inverse Hessian for x laid out as (k, c) block values then
// t trailing ones (a linear model's coefficients, then its intercepts): P_j =
// columns[j mod c] for j < n - t, trailing[j - (n - t)] after.  columns == nullptr: P = I.
struct DiagonalGuessView {
  const double* columns = nullptr;
  index_t c = 0;
  const double* trailing = nullptr;
  index_t t = 0;
};

struct DirectionDots {
  double dg = 0.0;  // d . g
  double dd = 0.0;  // d . d
};

// d = -H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4) from H0 = gamma P:
//   q = g;  for i = m-1 .. 0:  a_i = rho_i s_i . q,  q -= a_i y_i
//   q = (q * P) * gamma  (element-wise; gamma = 1 without pairs)
//   for i = 0 .. m-1:  b_i = rho_i y_i . q,  q += (a_i - b_i) s_i;   d = -q
// run on q = -g instead (the recursion is linear and rounding is symmetric in sign, so
// that is exactly d with no final negation).  Each pass over the chunks updates q and
// adds up the next dot product from the values it just wrote: 2m + 1 passes.  Dot
// products sum fixed chunks of kOptimChunk values (engine/optim.hpp) in chunk order: the
// same bits for any number of threads.  d must not overlap g or a pair.
DirectionDots lbfgs_direction(const double* g, index_t n, const LbfgsPairs& pairs,
                              const DiagonalGuessView& P, double* d);

struct PairDots {
  double sy = 0.0, ss = 0.0, yy = 0.0;
  double yPy = 0.0;  // y . P y (y . y with P = I)
};

// s = x_new - x, y = g_new - g, and their dot products, in one pass (chunk order).
PairDots lbfgs_pair(const double* x_new, const double* x, const double* g_new, const double* g,
                    index_t n, const DiagonalGuessView& P, double* s, double* y);

}  // namespace pygd
