// Kernel table of the optim area: one fused, single-threaded update kernel per
// optimizer over elements [begin, end) of one parameter, compiled once per
// instruction set (csrc/kernels/optim.cpp).  The driver (csrc/engine/optim.cpp) splits
// large parameters into fixed chunks and runs them in parallel.
//
// Every array of one parameter is contiguous, has the parameter's element type
// T and `size` elements, and no two of them overlap.  Arithmetic is in double
// for both element types (Adam: in T, see kernels/optim.cpp); a state value is
// rounded to T when it is stored and the stored value is what the rest of the
// step uses (as torch does with its T-typed state tensors).
#pragma once
#include "pygd/common.hpp"
#include "pygd/dispatch.hpp"

namespace pygd {

// The arrays of one parameter.  What each state slot holds is written at the
// top of each optimizer's kernel; unused slots are nullptr.
template <class T>
struct ParamArrays {
  T* param = nullptr;
  const T* grad = nullptr;
  T* state[3] = {nullptr, nullptr, nullptr};
  index_t size = 0;
};

// Hyper-parameters of one step.  Step-dependent factors (bias corrections,
// decayed learning rates, NAdam's momentum schedule) are computed by the
// caller, in the same floating-point expressions as torch.optim.
struct SgdStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
  bool first_step;  // the momentum buffer is not set yet: it becomes a copy of the gradient
};

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled_weight_decay;
  double step_size;              // lr / (1 - beta1^t)
  double bias_correction2_sqrt;  // (1 - beta2^t) ** 0.5
};

struct AdagradStep {
  double clr;  // lr / (1 + (t - 1) lr_decay)
  double weight_decay, eps;
  bool maximize;
};

struct RmspropStep {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};

struct AdadeltaStep {
  double lr, rho, eps, weight_decay;
  bool maximize;
};

struct NadamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay, maximize;
  double bias_correction2;  // 1 - beta2^t
  double grad_coef;         // -lr (1 - mu_t) / (1 - prod_{i<=t} mu_i)
  double exp_avg_coef;      // -lr mu_{t+1} / (1 - prod_{i<=t+1} mu_i)
};

template <class T, class Step>
using UpdateFn = void (*)(const ParamArrays<T>& arrays, const Step& step, index_t begin,
                          index_t end);

// True when x[begin, end) holds no NaN and no infinity.
template <class T>
using AllFiniteFn = bool (*)(const T* x, index_t begin, index_t end);

// sum_{i in [begin, end)} |x_i|^p in double (p = 1, 2 or any p > 0), or
// max |x_i| when p is infinite.  Fixed summation order for a level.
template <class T>
using PowerSumFn = double (*)(const T* x, index_t begin, index_t end, double p);

// x[begin, end) *= factor (in double, rounded to T).
template <class T>
using ScaleFn = void (*)(T* x, index_t begin, index_t end, double factor);

template <class T>
struct OptimKernels {
  UpdateFn<T, SgdStep> sgd;
  UpdateFn<T, AdamStep> adam;
  UpdateFn<T, AdagradStep> adagrad;
  UpdateFn<T, RmspropStep> rmsprop;
  UpdateFn<T, AdadeltaStep> adadelta;
  UpdateFn<T, NadamStep> nadam;
  AllFiniteFn<T> all_finite;
  PowerSumFn<T> power_sum;
  ScaleFn<T> scale;
};

struct OptimTable {
  OptimKernels<float> f32;
  OptimKernels<double> f64;

  template <class T>
  const OptimKernels<T>& kernels() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

}  // namespace pygd

PYGD_DECLARE_KERNEL_TABLE(OptimTable, optim_table)
