// Fused optimizer update kernels, compiled once per instruction set (see
// pygd/isa.hpp).  Each kernel reads and writes every array of a parameter once
// per step, over elements [begin, end).  References: pygd/reference.py
// (sgd_step, adam_step, adagrad_step, rmsprop_step, adadelta_step, nadam_step,
// grad_norm); tests: tests/test_optim.py and tests/test_core_optim.py.
//
// Conventions for every kernel (torch.optim's single-tensor functions, in
// their order of operations):
//   g  = -grad if maximize else grad
//   g  = g + wd p                   coupled weight decay (only when wd != 0)
//   lerp(a, b, w) = a + w (b - a)           if |w| < 0.5
//                 = b - (b - a) (1 - w)     otherwise   (torch's lerp)
// Arithmetic is in double for float and double parameters (except Adam, which
// computes float parameters in float, see its kernel); every state value
// is rounded to T when stored, and the stored value is what the step uses
// afterwards.  The loops are plain element-wise code that the compiler
// vectorises for the level (no reductions, so no order to fix).
#include <math.h>

#include "pygd/isa.hpp"
#include "pygd/kernels/optim.hpp"

namespace pygd {
namespace PYGD_ISA_NS {
namespace {

template <bool B>
struct Bool {
  static constexpr bool value = B;
};

// Calls f(Bool<b>{}) so that run-time switches become compile-time constants
// and each combination gets its own branch-free, vectorised loop.
template <class F>
inline void with_bool(bool b, const F& f) {
  if (b)
    f(Bool<true>{});
  else
    f(Bool<false>{});
}

inline double lerp(double a, double b, double w, bool small_weight) {
  return small_weight ? a + w * (b - a) : b - (b - a) * (1.0 - w);
}

// ---------------------------------------------------------------------------
// SGD.  state[0] = momentum buffer b (used when momentum != 0).
//   b = g                                  on the first step
//   b = momentum b + (1 - dampening) g     afterwards
//   g = g + momentum b  if nesterov,  else  g = b
//   p = p - lr g
// ---------------------------------------------------------------------------
template <class T, bool Decay, bool Momentum, bool First, bool Nesterov>
void sgd_loop(const ParamArrays<T>& a, const SgdStep& s, index_t begin, index_t end) {
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict buf = a.state[0];
  const double sign = s.maximize ? -1.0 : 1.0;
  const double wd = s.weight_decay, momentum = s.momentum, keep = 1.0 - s.dampening;
  const double neg_lr = -s.lr;
  for (index_t i = begin; i < end; ++i) {
    const double p = param[i];
    double g = sign * double(grad[i]);
    if (Decay) g = g + wd * p;
    if (Momentum) {
      const T b = First ? T(g) : T(double(buf[i]) * momentum + keep * g);
      buf[i] = b;
      g = Nesterov ? g + momentum * double(b) : double(b);
    }
    param[i] = T(p + neg_lr * g);
  }
}

template <class T>
void sgd(const ParamArrays<T>& a, const SgdStep& s, index_t begin, index_t end) {
  with_bool(s.weight_decay != 0, [&](auto decay) {
    with_bool(s.momentum != 0, [&](auto momentum) {
      with_bool(s.first_step, [&](auto first) {
        with_bool(s.nesterov, [&](auto nesterov) {
          sgd_loop<T, decltype(decay)::value, decltype(momentum)::value, decltype(first)::value,
                   decltype(nesterov)::value>(a, s, begin, end);
        });
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Adam / AdamW.  state[0] = m (exp_avg), state[1] = v (exp_avg_sq),
// state[2] = v_max (max_exp_avg_sq, amsgrad only).  At step t:
//   p = p (1 - lr wd)                       decoupled weight decay (AdamW)
//   m = lerp(m, g, 1 - beta1)
//   v = beta2 v + (1 - beta2) g g
//   v_max = max(v_max, v)                   amsgrad: the uncorrected v
//   denom = sqrt(v or v_max) / sqrt(1 - beta2^t) + eps     (eps outside the root)
//   p = p - step_size m / denom,            step_size = lr / (1 - beta1^t)
//
// Speed (a 1e7-element step is bound by memory for double and by the divider
// for float): the division by sqrt(1 - beta2^t) is a multiplication by its
// reciprocal, computed once per step in double (one rounding more: a relative
// change of about 1e-16 in denom); the one division left is m / denom.
// Unlike the other kernels, Adam computes float parameters in float (as torch
// does): float has twice the lanes per vector and a faster sqrt and divider,
// which makes the float step about twice as fast; the step-size factors are
// computed in double and rounded to float once per step.
// ---------------------------------------------------------------------------
inline float sqrt_(float x) { return __builtin_sqrtf(x); }
inline double sqrt_(double x) { return __builtin_sqrt(x); }

template <class A>
inline A lerp_as(A a, A b, A w, bool small_weight) {
  return small_weight ? a + w * (b - a) : b - (b - a) * (A(1) - w);
}

template <class T, bool Coupled, bool Decoupled, bool Amsgrad>
void adam_loop(const ParamArrays<T>& a, const AdamStep& s, index_t begin, index_t end) {
  typedef T A;  // arithmetic type: the parameter's (see above)
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict exp_avg = a.state[0];
  T* __restrict exp_avg_sq = a.state[1];
  T* __restrict max_exp_avg_sq = a.state[2];
  const A sign = s.maximize ? A(-1) : A(1);
  const A wd = A(s.weight_decay), decay_factor = A(1.0 - s.lr * s.weight_decay);
  const A w1 = A(1.0 - s.beta1), beta2 = A(s.beta2), w2 = A(1.0 - s.beta2);
  const bool small = abs_(1.0 - s.beta1) < 0.5;
  const A eps = A(s.eps), inv_bc2_sqrt = A(1.0 / s.bias_correction2_sqrt);
  const A neg_step = A(-s.step_size);
  for (index_t i = begin; i < end; ++i) {
    A p = param[i];
    A g = sign * A(grad[i]);
    if (Decoupled) p = p * decay_factor;
    if (Coupled) g = g + wd * p;
    const T m = T(lerp_as<A>(A(exp_avg[i]), g, w1, small));
    const T v = T(A(exp_avg_sq[i]) * beta2 + w2 * g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    A second = v;
    if (Amsgrad) {
      const T vmax = max_exp_avg_sq[i] > v ? max_exp_avg_sq[i] : v;
      max_exp_avg_sq[i] = vmax;
      second = vmax;
    }
    const A denom = sqrt_(second) * inv_bc2_sqrt + eps;
    param[i] = T(p + neg_step * A(m) / denom);
  }
}

template <class T>
void adam(const ParamArrays<T>& a, const AdamStep& s, index_t begin, index_t end) {
  const bool decay = s.weight_decay != 0;
  with_bool(decay && !s.decoupled_weight_decay, [&](auto coupled) {
    with_bool(decay && s.decoupled_weight_decay, [&](auto decoupled) {
      with_bool(s.amsgrad, [&](auto amsgrad) {
        adam_loop<T, decltype(coupled)::value, decltype(decoupled)::value,
                  decltype(amsgrad)::value>(a, s, begin, end);
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Adagrad.  state[0] = s (sum of squared gradients).  At step t:
//   s = s + g g
//   p = p - clr g / (sqrt(s) + eps),        clr = lr / (1 + (t - 1) lr_decay)
// ---------------------------------------------------------------------------
template <class T, bool Decay>
void adagrad_loop(const ParamArrays<T>& a, const AdagradStep& s, index_t begin, index_t end) {
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict sum = a.state[0];
  const double sign = s.maximize ? -1.0 : 1.0;
  const double wd = s.weight_decay, eps = s.eps, neg_clr = -s.clr;
  for (index_t i = begin; i < end; ++i) {
    const double p = param[i];
    double g = sign * double(grad[i]);
    if (Decay) g = g + wd * p;
    const T acc = T(double(sum[i]) + g * g);
    sum[i] = acc;
    const double std_ = __builtin_sqrt(double(acc)) + eps;
    param[i] = T(p + neg_clr * g / std_);
  }
}

template <class T>
void adagrad(const ParamArrays<T>& a, const AdagradStep& s, index_t begin, index_t end) {
  with_bool(s.weight_decay != 0, [&](auto decay) {
    adagrad_loop<T, decltype(decay)::value>(a, s, begin, end);
  });
}

// ---------------------------------------------------------------------------
// RMSprop.  state[0] = a (square_avg), state[1] = b (momentum buffer, when
// momentum > 0), state[2] = ga (grad_avg, when centered).
//   a  = alpha a + (1 - alpha) g g
//   ga = lerp(ga, g, 1 - alpha)                          centered
//   avg = sqrt(a - ga ga) + eps   (centered)   or   sqrt(a) + eps   (eps outside the root)
//   b = momentum b + g / avg;  p = p - lr b              momentum > 0
//   p = p - lr g / avg                                   otherwise
// ---------------------------------------------------------------------------
template <class T, bool Decay, bool Centered, bool Momentum>
void rmsprop_loop(const ParamArrays<T>& a, const RmspropStep& s, index_t begin, index_t end) {
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict square_avg = a.state[0];
  T* __restrict buf = a.state[1];
  T* __restrict grad_avg = a.state[2];
  const double sign = s.maximize ? -1.0 : 1.0;
  const double wd = s.weight_decay, alpha = s.alpha, w = 1.0 - s.alpha, eps = s.eps;
  const bool small = abs_(w) < 0.5;
  const double momentum = s.momentum, neg_lr = -s.lr;
  for (index_t i = begin; i < end; ++i) {
    const double p = param[i];
    double g = sign * double(grad[i]);
    if (Decay) g = g + wd * p;
    const T sq = T(double(square_avg[i]) * alpha + w * g * g);
    square_avg[i] = sq;
    double avg;
    if (Centered) {
      const T ga = T(lerp(double(grad_avg[i]), g, w, small));
      grad_avg[i] = ga;
      avg = __builtin_sqrt(double(sq) + (-double(ga)) * double(ga));
    } else {
      avg = __builtin_sqrt(double(sq));
    }
    avg = avg + eps;
    if (Momentum) {
      const T b = T(double(buf[i]) * momentum + g / avg);
      buf[i] = b;
      param[i] = T(p + neg_lr * double(b));
    } else {
      param[i] = T(p + neg_lr * g / avg);
    }
  }
}

template <class T>
void rmsprop(const ParamArrays<T>& a, const RmspropStep& s, index_t begin, index_t end) {
  with_bool(s.weight_decay != 0, [&](auto decay) {
    with_bool(s.centered, [&](auto centered) {
      with_bool(s.momentum > 0, [&](auto momentum) {
        rmsprop_loop<T, decltype(decay)::value, decltype(centered)::value,
                     decltype(momentum)::value>(a, s, begin, end);
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Adadelta.  state[0] = a (square_avg), state[1] = u (acc_delta).
//   a = rho a + (1 - rho) g g
//   delta = sqrt(u + eps) / sqrt(a + eps) g             (eps inside both roots)
//   u = rho u + (1 - rho) delta delta
//   p = p - lr delta
// ---------------------------------------------------------------------------
template <class T, bool Decay>
void adadelta_loop(const ParamArrays<T>& a, const AdadeltaStep& s, index_t begin, index_t end) {
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict square_avg = a.state[0];
  T* __restrict acc_delta = a.state[1];
  const double sign = s.maximize ? -1.0 : 1.0;
  const double wd = s.weight_decay, rho = s.rho, w = 1.0 - s.rho, eps = s.eps;
  const double neg_lr = -s.lr;
  for (index_t i = begin; i < end; ++i) {
    const double p = param[i];
    double g = sign * double(grad[i]);
    if (Decay) g = g + wd * p;
    const T sq = T(double(square_avg[i]) * rho + w * g * g);
    square_avg[i] = sq;
    const double std_ = __builtin_sqrt(double(sq) + eps);
    const double u = acc_delta[i];
    const double delta = __builtin_sqrt(u + eps) / std_ * g;
    acc_delta[i] = T(u * rho + w * delta * delta);
    param[i] = T(p + neg_lr * delta);
  }
}

template <class T>
void adadelta(const ParamArrays<T>& a, const AdadeltaStep& s, index_t begin, index_t end) {
  with_bool(s.weight_decay != 0, [&](auto decay) {
    adadelta_loop<T, decltype(decay)::value>(a, s, begin, end);
  });
}

// ---------------------------------------------------------------------------
// NAdam.  state[0] = m (exp_avg), state[1] = v (exp_avg_sq).  At step t, with
// mu_t = beta1 (1 - 0.5 * 0.96^(t psi)) and P_t = prod_{i<=t} mu_i:
//   p = p (1 - lr wd)                       decoupled weight decay
//   m = lerp(m, g, 1 - beta1)
//   v = beta2 v + (1 - beta2) g g
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   p = p + grad_coef g / denom,            grad_coef    = -lr (1 - mu_t) / (1 - P_t)
//   p = p + exp_avg_coef m / denom,         exp_avg_coef = -lr mu_{t+1} / (1 - P_t mu_{t+1})
// ---------------------------------------------------------------------------
template <class T, bool Coupled, bool Decoupled>
void nadam_loop(const ParamArrays<T>& a, const NadamStep& s, index_t begin, index_t end) {
  T* __restrict param = a.param;
  const T* __restrict grad = a.grad;
  T* __restrict exp_avg = a.state[0];
  T* __restrict exp_avg_sq = a.state[1];
  const double sign = s.maximize ? -1.0 : 1.0;
  const double wd = s.weight_decay, decay_factor = 1.0 - s.lr * s.weight_decay;
  const double w1 = 1.0 - s.beta1, beta2 = s.beta2, w2 = 1.0 - s.beta2;
  const bool small = abs_(w1) < 0.5;
  const double eps = s.eps, bc2 = s.bias_correction2;
  const double grad_coef = s.grad_coef, exp_avg_coef = s.exp_avg_coef;
  for (index_t i = begin; i < end; ++i) {
    double p = param[i];
    double g = sign * double(grad[i]);
    if (Decoupled) p = p * decay_factor;
    if (Coupled) g = g + wd * p;
    const T m = T(lerp(double(exp_avg[i]), g, w1, small));
    const T v = T(double(exp_avg_sq[i]) * beta2 + w2 * g * g);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const double denom = __builtin_sqrt(double(v) / bc2) + eps;
    p = p + grad_coef * g / denom;
    p = p + exp_avg_coef * double(m) / denom;
    param[i] = T(p);
  }
}

template <class T>
void nadam(const ParamArrays<T>& a, const NadamStep& s, index_t begin, index_t end) {
  const bool decay = s.weight_decay != 0;
  with_bool(decay && !s.decoupled_weight_decay, [&](auto coupled) {
    with_bool(decay && s.decoupled_weight_decay, [&](auto decoupled) {
      nadam_loop<T, decltype(coupled)::value, decltype(decoupled)::value>(a, s, begin, end);
    });
  });
}

// ---------------------------------------------------------------------------
// Helpers of step() and clip_grad_norm_.
//   all_finite: no x_i is NaN or +-inf  (x - x is 0 exactly for finite x);
//   power_sum:  sum |x_i|^p (p = 1, 2, other p > 0) or max |x_i| (p = inf),
//               NaN propagates; kDoubleLanes partial sums in a fixed order;
//   scale:      x_i = x_i * factor.
// ---------------------------------------------------------------------------
template <class T>
bool all_finite(const T* __restrict x, index_t begin, index_t end) {
  int bad = 0;
  for (index_t i = begin; i < end; ++i) bad |= (x[i] - x[i] != T(0));
  return bad == 0;
}

template <class T, int Kind>  // Kind: 1 -> |x|, 2 -> x^2, 0 -> |x|^p
double power_sum_fixed(const T* __restrict x, index_t begin, index_t end, double p) {
  double acc[kDoubleLanes] = {};
  index_t i = begin;
  auto term = [p](double v) {
    if (Kind == 1) return abs_(v);
    if (Kind == 2) return v * v;
    return ::pow(abs_(v), p);
  };
  for (; i + kDoubleLanes <= end; i += kDoubleLanes) {
    for (int k = 0; k < kDoubleLanes; ++k) acc[k] += term(double(x[i + k]));
  }
  double tail = 0.0;
  for (; i < end; ++i) tail += term(double(x[i]));
  for (int width = kDoubleLanes / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) acc[k] += acc[k + width];
  }
  return acc[0] + tail;
}

template <class T>
double max_abs(const T* __restrict x, index_t begin, index_t end) {
  double m = 0.0;
  for (index_t i = begin; i < end; ++i) {
    const double v = abs_(double(x[i]));
    m = (v > m || v != v) ? v : m;  // keeps the first NaN: later v > NaN is false
    if (m != m) break;
  }
  return m;
}

template <class T>
double power_sum(const T* x, index_t begin, index_t end, double p) {
  if (p == __builtin_inf()) return max_abs(x, begin, end);
  if (p == 2.0) return power_sum_fixed<T, 2>(x, begin, end, p);
  if (p == 1.0) return power_sum_fixed<T, 1>(x, begin, end, p);
  return power_sum_fixed<T, 0>(x, begin, end, p);
}

template <class T>
void scale(T* __restrict x, index_t begin, index_t end, double factor) {
  for (index_t i = begin; i < end; ++i) x[i] = T(double(x[i]) * factor);
}

template <class T>
OptimKernels<T> kernels_for() {
  return OptimKernels<T>{&sgd<T>,      &adam<T>,       &adagrad<T>,   &rmsprop<T>, &adadelta<T>,
                         &nadam<T>,    &all_finite<T>, &power_sum<T>, &scale<T>};
}

}  // namespace

const OptimTable& optim_table() {
  static const OptimTable table{kernels_for<float>(), kernels_for<double>()};
  return table;
}

}  // namespace PYGD_ISA_NS
}  // namespace pygd
