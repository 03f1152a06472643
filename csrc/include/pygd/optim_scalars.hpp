// The optimizers' per-step scalars, written once: the training engine
// (csrc/engine/train.cpp) and pygd.optim (through _core.adam_scalars /
// _core.nadam_scalars) both call these, so the two give the same bits.
// torch.optim's expressions, in torch's order (step counts from 1):
//   Adam   bias_correction1 = 1 - beta1^t,  bias_correction2 = 1 - beta2^t,
//          step_size = lr / bias_correction1,  bias_correction2_sqrt = bias_correction2^0.5
//   NAdam  mu_t = beta1 (1 - 0.5 * 0.96^(t psi)),  mu_{t+1} likewise,
//          mu_product_t = mu_product_{t-1} mu_t,
//          grad_coef = -lr (1 - mu_t) / (1 - mu_product_t),
//          exp_avg_coef = -lr mu_{t+1} / (1 - mu_product_t mu_{t+1})
// (psi = momentum_decay).  Compiled without FMA contraction (the drivers' and
// bindings' default), like CPython's float arithmetic.
#pragma once
#include <cmath>

namespace pygd {

struct AdamScalars {
  double step_size;              // lr / bias_correction1
  double bias_correction2_sqrt;  // sqrt(1 - beta2^t), as pow(., 0.5)
};

inline AdamScalars adam_scalars(double lr, double beta1, double beta2, double step) {
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  return {lr / bias_correction1, std::pow(bias_correction2, 0.5)};
}

struct NadamScalars {
  double bias_correction2;  // 1 - beta2^t
  double mu_product;        // prod_{s <= t} mu_s: the new running product to store
  double grad_coef;         // the gradient's coefficient in the parameter update
  double exp_avg_coef;      // the first moment's coefficient
};

// mu_product: the running product before this step (1 at the first step).
inline NadamScalars nadam_scalars(double lr, double beta1, double beta2, double momentum_decay,
                                  double step, double mu_product) {
  const double bias_correction2 = 1 - std::pow(beta2, step);
  const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, step * momentum_decay));
  const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1) * momentum_decay));
  const double product = mu_product * mu;
  const double product_next = product * mu_next;
  return {bias_correction2, product, -lr * (1.0 - mu) / (1.0 - product),
          (-lr * mu_next) / (1.0 - product_next)};
}

}  // namespace pygd
