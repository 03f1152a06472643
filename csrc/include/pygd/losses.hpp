// The loss formulas of every kernel file, written once (reference:
// pygd/reference.py, LOSS_FUNCTIONS and ROW_LOSS_FUNCTIONS).  Included only by
// csrc/kernels/*.cpp after pygd/isa.hpp: the functors land in each ISA's
// namespace, like the rest of a kernel file.
//
// Element-wise losses l(p, y) of one prediction p and its target y, with
// derivative dl = dl/dp; r = p - y, e = epsilon, z = p y (labels y = +-1):
//
//   squared_error                l = r^2 / 2                        dl = r
//   huber                        l = r^2/2 if |r| <= e              dl = r
//                                    e|r| - e^2/2 otherwise            = e sign(r)
//   epsilon_insensitive          l = max(0, |r| - e)                dl = sign(r) [|r| > e]
//   squared_epsilon_insensitive  l = max(0, |r| - e)^2              dl = 2 (|r| - e) sign(r) [|r| > e]
//   log_loss (y in [0, 1])       l = log(1 + exp(p)) - y p          dl = sigmoid(p) - y
//   hinge                        l = max(0, 1 - z)                  dl = -y [z <= 1]
//   perceptron                   l = max(0, -z)                     dl = -y [z <= 0]
//   squared_hinge                l = max(0, 1 - z)^2                dl = -2 y (1 - z) [z < 1]
//   modified_huber               l = max(0, 1 - z)^2 if z >= -1     dl = -2 y (1 - z) [z < 1]
//                                    -4 z otherwise                    = -4 y
//   smoothed_hinge (m = 1 - z)   l = 0 if m <= 0                    dl = 0
//                                    m^2 / (2 e) if 0 < m < e          = -y m / e
//                                    m - e / 2 otherwise               = -y
//     (the hinge with its kink replaced by a parabola of width e: 0 <= hinge - l <= e / 2,
//     a gradient with Lipschitz constant 1 / e; the estimators' L-BFGS path for the hinge
//     runs it with e shrinking towards 0)
//
// (the hinge family as scikit-learn's SGDClassifier: the subgradient at the
// kink is -y).  log(1 + exp(p)) is max(p, 0) + log1p(exp(-|p|)) and the
// sigmoid comes from exp(-|p|) <= 1, so neither overflows for any finite p.
// A NaN prediction gives a NaN loss (the engine's divergence test reads it).
//
// Row loss over k outputs (multinomial, softmax cross-entropy), with
// m = max_t p_t and lse = m + log sum_t exp(p_t - m):
//
//   l = sum_t y_t (lse - p_t)          dl_t = (sum_s y_s) softmax_t - y_t
//
// softmax_t = exp(p_t - m) / sum_s exp(p_s - m); every exponent is <= 0 and
// the sum is >= 1, so logits of any finite size give finite values (one-hot y:
// l = lse - p_class, dl = softmax - y).
#pragma once
#include <math.h>

#include "pygd/isa.hpp"

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

// max(0, threshold - z) with z = p y: hinge (threshold 1) and perceptron (0).
template <int Threshold>
struct HingeAt {
  static inline void eval(double p, double y, double, double& l, double& dl) {
    const double z = p * y;
    if (z > Threshold) {
      l = 0.0;
      dl = 0.0;
    } else {  // also NaN
      l = Threshold - z;
      dl = -y;
    }
  }
};
using Hinge = HingeAt<1>;
using Perceptron = HingeAt<0>;

struct SquaredHinge {
  static inline void eval(double p, double y, double, double& l, double& dl) {
    const double margin = 1.0 - p * y;
    if (margin > 0 || margin != margin) {
      l = margin * margin;
      dl = -2.0 * y * margin;
    } else {
      l = 0.0;
      dl = 0.0;
    }
  }
};

struct ModifiedHuber {
  static inline void eval(double p, double y, double, double& l, double& dl) {
    const double z = p * y;
    if (z >= 1.0) {
      l = 0.0;
      dl = 0.0;
    } else if (z >= -1.0 || z != z) {
      const double margin = 1.0 - z;
      l = margin * margin;
      dl = -2.0 * y * margin;
    } else {
      l = -4.0 * z;
      dl = -4.0 * y;
    }
  }
};

struct SmoothedHinge {
  static inline void eval(double p, double y, double eps, double& l, double& dl) {
    const double margin = 1.0 - p * y;
    if (margin <= 0) {
      l = 0.0;
      dl = 0.0;
    } else if (margin < eps) {
      l = margin * margin / (2.0 * eps);
      dl = -y * margin / eps;
    } else {  // also NaN
      l = margin - 0.5 * eps;
      dl = -y;
    }
  }
};

// Softmax cross-entropy, in place: z holds the k logits on entry and the
// derivatives on return; y the k targets; the loss is summed as
//   l = sum_t y_t (m - p_t) + (sum_t y_t) log sum_t exp(p_t - m).
// In three steps so that a group of rows can share the exponentials
// (exp_inplace over all their shifted logits at once):
//   softmax_shift   m, z_t <- p_t - m; returns sum_t y_t (m - p_t), sets sum_y;
//   exp_inplace     z_t <- exp(z_t);
//   softmax_finish  z_t <- sum_y z_t / sum_s z_s - y_t; returns sum_y log sum_s z_s.
// A NaN or infinite logit gives NaN everywhere (no finite softmax exists).
template <class T>
inline double softmax_shift(double* __restrict z, const T* __restrict y, index_t k, double& sum_y) {
  double m = z[0];
  for (index_t t = 1; t < k; ++t) m = z[t] > m ? z[t] : m;
  double loss = 0.0;
  sum_y = 0.0;
  for (index_t t = 0; t < k; ++t) {
    const double yt = double(y[t]);
    sum_y += yt;
    loss += yt * (m - z[t]);
    z[t] -= m;
  }
  return loss;
}

template <class T>
inline double softmax_finish(double* __restrict z, const T* __restrict y, index_t k, double sum_y) {
  double sum_exp = 0.0;
  for (index_t t = 0; t < k; ++t) sum_exp += z[t];
  const double scale = sum_y / sum_exp;
  for (index_t t = 0; t < k; ++t) z[t] = z[t] * scale - double(y[t]);
  return sum_y * ::log(sum_exp);
}

template <class T>
inline double softmax_cross_entropy(double* __restrict z, const T* __restrict y, index_t k) {
  double sum_y;
  const double loss = softmax_shift(z, y, k, sum_y);
  exp_inplace(z, k);
  return loss + softmax_finish(z, y, k, sum_y);
}

}  // namespace
}  // namespace PYGD_ISA_NS
}  // namespace pygd
