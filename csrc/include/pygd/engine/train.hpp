// The training engine: whole epochs of mini-batch gradient descent in C++ (the
// C++ API bind/train.cpp calls).  Inputs are assumed valid: pygd.linear_model
// validates, the binding re-checks shapes.  Maths: csrc/engine/train.cpp's header
// comment and pygd.reference.train_reference, which the tests compare with.
#pragma once
#include <cstdint>
#include <functional>

#include "pygd/kernels/train.hpp"

namespace pygd {

enum class OptimizerKind : int { sgd = 0, adam = 1, adagrad = 2, rmsprop = 3, adadelta = 4, nadam = 5 };
inline constexpr int kOptimizerKindCount = 6;
// The kernels' names (pygd.linear_model maps pygd.optim classes onto them; AdamW is adam
// with decoupled_weight_decay); index = the enum's value.
inline constexpr const char* kOptimizerKindNames[kOptimizerKindCount] = {
    "sgd", "adam", "adagrad", "rmsprop", "adadelta", "nadam"};

// pygd.optim's hyper-parameters (torch.optim's names and defaults); `lr` is the
// base rate the schedule scales.
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adam;
  double lr = 1e-3;
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false, decoupled_weight_decay = false;
  double lr_decay = 0.0;             // Adagrad
  double alpha = 0.99;               // RMSprop
  bool centered = false;             // RMSprop
  double rho = 0.9;                  // Adadelta
  double momentum_decay = 4e-3;      // NAdam
};

enum class ScheduleKind : int {
  constant = 0,
  invscaling = 1,
  step = 2,
  exponential = 3,
  cosine = 4,
  warmup_cosine = 5,
};
inline constexpr int kScheduleKindCount = 6;
inline constexpr const char* kScheduleKindNames[kScheduleKindCount] = {
    "constant", "invscaling", "step", "exponential", "cosine", "warmup_cosine"};

// Per-step learning-rate schedule; t counts optimizer steps from 1 and
// e = (t + offset - 1) / steps_per_epoch is the (fractional) epoch.  The offset
// is 0 unless the batch size changed during training: then t + offset counts
// the steps the epochs so far would have taken at the current batch size, so
// e still equals the number of passes over the data:
//   constant       lr
//   invscaling     lr / t^power_t                       (sklearn's eta0 / t^power_t)
//   step           lr gamma^floor(e / step_size)
//   exponential    lr gamma^e
//   cosine         eta_min + (lr - eta_min) (1 + cos(pi min(e, T_max) / T_max)) / 2
//   warmup_cosine  lr ((t + offset) / (warmup steps)) during `warmup` epochs, then cosine over the rest of T_max
// (torch's names: T_max as in CosineAnnealingLR, in epochs; warmup in epochs.)
struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  double power_t = 0.25, gamma = 0.1, step_size = 10.0, T_max = 1000.0, eta_min = 0.0,
         warmup = 1.0;
};

template <class T>
struct TrainSpec {
  BatchProblem<T> data;  // X, Y, sample_weight, k, loss, epsilon; rows = the epoch's order or nullptr
  index_t n_order = 0;   // batch positions [0, n_order): rows[pos] (or pos itself)
  index_t batch_size = 1;
  index_t steps_per_epoch = 1;  // for the schedule
  double schedule_offset = 0.0;  // the schedule's step offset (see scheduled_lr)
  bool fit_intercept = true;
  double l2 = 0.0;  // gradient += l2 w                      (coef only)
  double l1 = 0.0;  // after each step, w_j <- soft-threshold(w_j, eta_j l1), eta_j the step size
                    // coordinate j took (engine/train.cpp, l1_step_sizes)
  const double* mean = nullptr;   // d: standardisation x' = (x - mean) / scale, or nullptr
  const double* scale = nullptr;  // d
  double weight_per_row = 1.0;    // a partial batch of m rows is normalised by m * weight_per_row
  // The positions of the whole epoch this call is a part of (0: n_order, this call's).  A
  // batch of all epoch_rows positions is a full batch, normalised by its weight sum S; any
  // other by m * weight_per_row.  pygd.dask runs an epoch chunk by chunk: a chunk of one
  // batch is then a partial batch, as it is in memory.
  index_t epoch_rows = 0;
  double lr_factor = 1.0;         // plateau factor set between epochs
  index_t average_start = -1;     // average the iterates after this step (-1: no averaging)
  // CSR X, no averaging, no mean: lazy steps (engine/train.cpp, train_epoch_lazy) that cost
  // what the batch's rows store, not k d; false: every step updates all k d + k values.
  bool lazy = false;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  // Asked between two steps, at least once per kInterruptCheckRows rows (and
  // at most once per batch): true stops the epoch there, before the next
  // batch, with params, states, average and counters those of the steps taken
  // (EpochResult::interrupted).  Empty: never asked.  The binding's asks
  // Python whether a signal handler raised (Ctrl-C).
  std::function<bool()> interrupted;
};

inline constexpr index_t kInterruptCheckRows = index_t(1) << 16;

// Everything an epoch needs besides the arrays: pygd._core.TrainOptions, built
// once per fit by pygd.linear_model (which updates steps_per_epoch,
// schedule_offset and lr_factor between epochs).  See TrainSpec for the fields.
struct TrainOptions {
  Loss loss = Loss::squared_error;
  double epsilon = 0.1;
  bool fit_intercept = true;
  double l2 = 0.0, l1 = 0.0;
  double weight_per_row = 1.0;
  index_t epoch_rows = 0;  // TrainSpec::epoch_rows
  index_t average_start = -1;
  bool lazy = false;  // TrainSpec::lazy
  index_t steps_per_epoch = 1;
  double schedule_offset = 0.0;
  double lr_factor = 1.0;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
};

// The scalar training state carried from epoch to epoch (pygd._core.TrainCounters).
struct TrainCounters {
  std::int64_t steps = 0;         // optimizer steps taken
  double mu_product = 1.0;        // NAdam's running product of mu_t
  bool momentum_started = false;  // SGD: the momentum buffer holds a value
  // SGD and RMSprop with momentum: c_t, the buffer's coefficient of a constant gradient
  // (SGD: 1 at a (re)start, then mu c + 1 - dampening; RMSprop: mu c + 1 from 0); the L1
  // step's eta (engine/train.cpp, l1_step_sizes).
  double momentum_coef = 0.0;
  std::int64_t averaged = 0;      // iterates averaged so far
};

// Parameters and optimizer state, all of P = k d + k elements of T (coef
// row-major, then the intercepts), plus the counters.
template <class T>
struct TrainState {
  T* params = nullptr;
  T* state[3] = {nullptr, nullptr, nullptr};
  T* average = nullptr;
  TrainCounters* counters = nullptr;
};

struct EpochResult {
  double loss_sum = 0.0;    // sum_i s_i l_i over the rows visited, each at its step's weights
  double weight_sum = 0.0;  // sum_i s_i over the rows visited
  index_t steps = 0;
  bool finite = true;       // false: a batch loss was NaN/inf; the epoch stopped after it (no update)
  // max_j |least-norm subgradient_j| of the penalised objective over the last batch, at the
  // weights before its step (standardised units; for w_j = 0 the l1 term absorbs up to l1).
  // With one batch per epoch it is the optimality measure of the whole objective: 0 at the optimum.
  double optimality = 0.0;
  bool interrupted = false;  // spec.interrupted() said stop: `steps` steps were taken
};

// The whole objective of the standardised problem and its gradient, in one pass
// over positions [0, n_order) at fixed parameters (L-BFGS's function; no step):
//   f      = sum_i s_i l_i / S + (l2 / 2) |w|^2,                S = sum_i s_i
//   grad_w = ((G_tj - mean_j Gb_t) / scale_j) / S + l2 w_tj,    grad_b = Gb_t / S (0 without
//   intercept), with G, Gb, the loss and S the kernel's sums at the raw model of train_epoch.
// params and grad hold P = k d + k doubles (coef row-major, then the intercepts); the L1
// term is the caller's (OWL-QN).  Same blocks and order as a full-batch epoch: the same
// bits for any thread count.
struct ObjectiveResult {
  double objective = 0.0;
  double loss_sum = 0.0;
  double weight_sum = 0.0;
  bool finite = true;  // objective and every gradient entry finite
};

template <class T>
ObjectiveResult objective_grad(const TrainSpec<T>& spec, const double* params, double* grad);

// The squared error's second moments over positions [0, n_order) of the standardised
// rows (kernels/train.hpp, GramBlockFn), reduced over fixed blocks in block order (the
// same bits for any thread count): A (q x q, q = d + 1, both triangles) and C (q x k)
// are divided by S = sum_i s_i, and so is the returned yy.  mean / scale may be nullptr
// (0 and 1).  Scratch: the blocks' partial sums, at most 32 MB (fewer blocks for large d).
struct GramResult {
  double yy = 0.0;
  double weight_sum = 0.0;
};

template <class T>
GramResult gram(const TrainSpec<T>& spec, const double* shift, double* A, double* C);

double scheduled_lr(const OptimizerOptions& optimizer, const ScheduleOptions& schedule, double t,
                    index_t steps_per_epoch, double offset = 0.0);

// One epoch: for each batch of positions, gather, fused loss-and-gradient
// (fixed blocks reduced in block order: the same bits for any thread count),
// standardisation, L2, optimizer update (pygd.optim's kernels), L1 proximal
// step, averaging.
template <class T>
EpochResult train_epoch(const TrainSpec<T>& spec, const TrainState<T>& state);

// The raw sums of a full batch over positions [0, n_order) at params (float64, k d + k,
// standardised units; the raw model of train_epoch): out = G (k d, row-major), Gb (k),
// loss sum, weight sum, with train_epoch's fixed blocks added in block order (a
// full-batch epoch's sums, bit for bit).  Sums of row chunks add up to the whole set's.
template <class T>
void batch_sums(const TrainSpec<T>& spec, const double* params, double* out);

// One full-batch step of train_epoch from a batch's raw sums (k d + k + 2, batch_sums'
// layout, over the spec's whole epoch: D = the weight sum): the gradient of the
// standardised problem, the optimality measure, the optimizer step, the L1 step,
// averaging, counters.  Only spec.data's X.cols and k are read of the data.
// train_epoch with batch_size = n_order is batch_sums then this, bit for bit.
template <class T>
EpochResult train_step(const TrainSpec<T>& spec, const TrainState<T>& state, const double* sums);

// out[pos * k + t] for positions [0, m) of problem.rows (or rows 0..m-1).
template <class T>
void batch_predict(const BatchProblem<T>& problem, index_t m, T* out);

}  // namespace pygd
