// The training engine: one call runs a whole epoch, no Python per batch.
//
// Maths of one step t (reference: pygd/reference.py, train_reference), for the
// batch B of m positions, model weights w (k x d, in standardised units when
// standardising) and intercepts b, weights s_i:
//
//   v_tj = w_tj / scale_j,  c_t = b_t - sum_j v_tj mean_j     (standardisation folded
//                                                             into the model: X is read as is)
//   G, Gb, L, S = the kernel's sums over B at (v, c)          (kernels/train.cpp)
//   D = S if B is the whole epoch else m * weight_per_row      (so all-zero-weight
//                                                             batches cannot divide by 0)
//   grad_w_tj = ((G_tj - mean_j Gb_t) / scale_j) / D + l2 w_tj
//   grad_b_t  = Gb_t / D                                      (0 without intercept: not updated)
//   lr_t      = scheduled_lr(t) * lr_factor
//   (w, b)    = optimizer step (pygd.optim's kernel maths and scalar expressions)
//   w_j       = sign(w_j) max(|w_j| - eta_j l1, 0)            (L1 proximal step: exact zeros;
//                                                             eta_j: see l1_step_sizes)
//   average   = average + ((w, b) - average) / n_averaged      (after average_start steps)
//
// Determinism: the batch is split into fixed blocks (plan_row_blocks on the
// batch size, never on threads) whose partial sums are added in block order;
// the optimizer kernels are element-wise.  So the same order gives the same
// bits for any number of threads.
#include "pygd/engine/train.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "pygd/engine/optim.hpp"
#include "pygd/memory.hpp"
#include "pygd/optim_scalars.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace {

const TrainTable& active_table() { return PYGD_ACTIVE_TABLE(TrainTable, train_table); }

// The step size eta_j each coordinate took, for the L1 proximal step
//   w_j <- sign(w_j) max(|w_j| - eta_j l1, 0).
// eta_j is the factor the optimizer's update multiplies a constant gradient by,
// given its state: the moment estimates equal the gradient (m = g, v = g^2) and
// a momentum buffer holds c_t g.  At a fixed point the moments are settled, so a
// fixed point w of "step, then prox" satisfies w = prox(w - eta g, eta l1), i.e.
// 0 in g + l1 d|w|: the L1 optimum, whatever the optimizer.  A threshold of
// lr_t l1 instead (the plain rate) gives 0 in eta g + lr_t l1 d|w|: l1 weighted
// by lr_t / eta_j (momentum 0.9: 1/10; Adam: eta_j ~ lr / |g_j|, so by |g_j|).
// With the state arrays as stored after the step (T-rounded, read as double):
//   SGD        lr                                         (no momentum)
//              lr c_t              plain                  (b = c_t g for a constant g)
//              lr (1 + mu c_t)     nesterov               (g + mu b)
//              c_t = 1 on the first step (b = g) and after a restart, then
//              c_t = mu c_{t-1} + (1 - dampening)  ->  (1 - dampening) / (1 - mu)
//              (TrainCounters::momentum_coef).  The limit alone would be exact at a
//              fixed point too, but right after a (re)start it thresholds by up to
//              1/(1 - mu) times the step taken, zeroing coordinates that should move;
//              the estimator restarts momentum whenever the objective rises, and with
//              the limit the fit stalled (diabetes + 40 noise columns: 2.9% above the optimum).
//   Adam       step_size / (sqrt(v_j) / sqrt(1 - beta2^t) + eps)   v = v_max with amsgrad
//              (coupled weight decay is in g; AdamW's decoupled decay p (1 - lr wd) is
//              a different objective's term, left as it is)
//   Adagrad    clr / (sqrt(s_j) + eps)
//   RMSprop    lr / d_j,  d_j = sqrt(a_j) + eps  or  sqrt(a_j - ga_j^2) + eps (centered);
//              times c_t with momentum mu > 0 (b = mu b + g / d = c_t g / d for constant
//              g and d, c_t = mu c_{t-1} + 1 from c_0 = 0  ->  1 / (1 - mu))
//   Adadelta   lr sqrt(u_j + eps) / sqrt(a_j + eps)      u: acc_delta BEFORE the step (the
//              one the step used), a: square_avg after it
//   NAdam      -(grad_coef + exp_avg_coef) / (sqrt(v_j / (1 - beta2^t)) + eps)
//              (both coefficients are negative: eta > 0)
// Coupled weight decay and the l2 term enter the gradient and need nothing here.
// Reference: pygd.reference.l1_step_sizes.
struct L1StepScalars {
  double numerator = 0;   // eta_j = numerator (/ denom_j for the adaptive kinds)
  double bc2 = 1;         // Adam: sqrt(1 - beta2^t); NAdam: 1 - beta2^t
};

template <class T>
void l1_step_sizes(const OptimizerOptions& o, const ParamArrays<T>& arrays,
                   const L1StepScalars& k, const double* acc_delta_before, index_t kd,
                   double* __restrict eta) {
  switch (o.kind) {
    case OptimizerKind::sgd:
      for (index_t j = 0; j < kd; ++j) eta[j] = k.numerator;
      return;
    case OptimizerKind::adam: {
      const T* __restrict v = o.amsgrad ? arrays.state[2] : arrays.state[1];
      const double inv_bc2_sqrt = 1.0 / k.bc2;
      for (index_t j = 0; j < kd; ++j)
        eta[j] = k.numerator / (std::sqrt(double(v[j])) * inv_bc2_sqrt + o.eps);
      return;
    }
    case OptimizerKind::adagrad: {
      const T* __restrict sum = arrays.state[0];
      for (index_t j = 0; j < kd; ++j) eta[j] = k.numerator / (std::sqrt(double(sum[j])) + o.eps);
      return;
    }
    case OptimizerKind::rmsprop: {
      const T* __restrict sq = arrays.state[0];
      const T* __restrict ga = arrays.state[2];
      for (index_t j = 0; j < kd; ++j) {
        const double a = double(sq[j]);
        const double root = o.centered ? std::sqrt(a + (-double(ga[j])) * double(ga[j]))
                                       : std::sqrt(a);
        eta[j] = k.numerator / (root + o.eps);
      }
      return;
    }
    case OptimizerKind::adadelta: {
      const T* __restrict sq = arrays.state[0];
      for (index_t j = 0; j < kd; ++j)
        eta[j] = k.numerator * std::sqrt(acc_delta_before[j] + o.eps) /
                 std::sqrt(double(sq[j]) + o.eps);
      return;
    }
    case OptimizerKind::nadam: {
      const T* __restrict v = arrays.state[1];
      for (index_t j = 0; j < kd; ++j)
        eta[j] = k.numerator / (std::sqrt(double(v[j]) / k.bc2) + o.eps);
      return;
    }
  }
}

// One optimizer step over params[0, size), with the Python classes' scalar
// expressions (pygd/optim/__init__.py, torch's order).  Returns the scalars of
// l1_step_sizes for this step.
template <class T>
L1StepScalars optimizer_step(const OptimizerOptions& o, const ParamArrays<T>& arrays,
                             double step, double lr, TrainCounters& counters) {
  switch (o.kind) {
    case OptimizerKind::sgd: {
      const bool first = !counters.momentum_started;
      const SgdStep s{lr, o.momentum, o.dampening, o.weight_decay, o.nesterov, false, first};
      sgd_update(arrays, s);
      if (o.momentum != 0) counters.momentum_started = true;
      L1StepScalars k;
      const double mu = o.momentum;
      if (mu != 0) {
        counters.momentum_coef = first ? 1.0 : mu * counters.momentum_coef + (1.0 - o.dampening);
      }
      const double c = counters.momentum_coef;
      k.numerator = mu == 0 ? lr : (o.nesterov ? lr * (1.0 + mu * c) : lr * c);
      return k;
    }
    case OptimizerKind::adam: {
      const AdamScalars a = adam_scalars(lr, o.beta1, o.beta2, step);
      const AdamStep s{lr,        o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad,
                       false,     o.decoupled_weight_decay, a.step_size, a.bias_correction2_sqrt};
      adam_update(arrays, s);
      L1StepScalars k;
      k.numerator = a.step_size;
      k.bc2 = a.bias_correction2_sqrt;
      return k;
    }
    case OptimizerKind::adagrad: {
      const AdagradStep s{lr / (1 + (step - 1) * o.lr_decay), o.weight_decay, o.eps, false};
      adagrad_update(arrays, s);
      L1StepScalars k;
      k.numerator = s.clr;
      return k;
    }
    case OptimizerKind::rmsprop: {
      const RmspropStep s{lr, o.alpha, o.eps, o.weight_decay, o.momentum, o.centered, false};
      rmsprop_update(arrays, s);
      L1StepScalars k;
      if (o.momentum > 0) counters.momentum_coef = o.momentum * counters.momentum_coef + 1.0;
      k.numerator = o.momentum > 0 ? lr * counters.momentum_coef : lr;
      return k;
    }
    case OptimizerKind::adadelta: {
      const AdadeltaStep s{lr, o.rho, o.eps, o.weight_decay, false};
      adadelta_update(arrays, s);
      L1StepScalars k;
      k.numerator = lr;
      return k;
    }
    case OptimizerKind::nadam: {
      const NadamScalars n =
          nadam_scalars(lr, o.beta1, o.beta2, o.momentum_decay, step, counters.mu_product);
      const NadamStep s{lr,    o.beta1,          o.beta2,   o.eps,       o.weight_decay,
                        o.decoupled_weight_decay, false, n.bias_correction2, n.grad_coef,
                        n.exp_avg_coef};
      nadam_update(arrays, s);
      counters.mu_product = n.mu_product;
      L1StepScalars k;
      k.numerator = -(n.grad_coef + n.exp_avg_coef);
      k.bc2 = n.bias_correction2;
      return k;
    }
  }
  return {};
}

// Partial sums of one block: k*d gradient values, k intercept values, loss, weight.
// Each block's partial sums start on a cache line of their own (64 bytes), so two
// threads never write the same line (no false sharing between neighbouring blocks).
struct BatchScratch {
  static constexpr index_t kLine = 8;  // doubles per cache line
  index_t kd = 0, k = 0;
  // kLine - 1 doubles of slack, then count * stride; not initialised (every block's
  // kernel writes all of its block), so the pages are first touched by the threads that
  // fill the blocks, not zeroed by one thread beforehand.
  std::unique_ptr<double[]> partial;
  size_t capacity = 0;
  index_t stride() const { return (kd + k + 2 + kLine - 1) / kLine * kLine; }
  double* base() {
    const auto address = reinterpret_cast<std::uintptr_t>(partial.get());
    const auto misaligned = (address / sizeof(double)) % kLine;
    return partial.get() + (misaligned ? kLine - misaligned : 0);
  }
  double* block(index_t b) { return base() + b * stride(); }
  // Room for `count` blocks; growing drops what the blocks held (reserved before a run
  // writes them).
  void reserve_blocks(index_t count) {
    const auto size = static_cast<size_t>(count * stride() + kLine - 1);
    if (capacity >= size) return;
    partial = large_array<double>(size);
    capacity = size;
  }
};

// One output (every loss but the multinomial): pygd.linear's kernel
// (kernels/linear.cpp, with the batch's rows gathered) computes the same sums over a
// block as the engine's multi-output kernel, and 2-2.5x faster on data larger than
// the caches (measured, one thread, 64 columns: 17.9 against 38.9 ns per row in storage
// order, 33 against 84 in random order).  Full-batch passes and mini-batches of
// single-output models take this path.
template <class T>
bool linear_kernel_applies(const BatchProblem<T>& pb) {
  return pb.k == 1 && pb.loss != Loss::multinomial && !pb.sparse() && pb.X.rows_contiguous();
}

constexpr index_t kMinBlockRows = 128;

// The column groups of csr_columns (kernels/train.cpp) for a pass over Z: a power of two,
// at most the threads (and 64).  Each column sums its rows in position order in any
// group, so the count changes no bits.
inline index_t column_groups() {
  index_t groups = 1;
  while (groups * 2 <= num_threads() && groups < 64) groups *= 2;
  return groups;
}

// The batch sums of positions [begin, begin + m) into scratch.block(0): fixed blocks of
// at least kMinBlockRows rows (a mini-batch of 256 rows is 2 blocks, so both cores share
// it; the partition depends on m only), each into its own partial sums, added in block
// order — the same bits for any thread count.  start() plans, block(b) fills one block's
// partial sums (any thread), reduce() adds them up; run() does all three.
template <class T>
struct BatchSums {
  const BatchProblem<T>& pb;
  BatchScratch& scratch;
  BatchGradBlockFn<T> kernel;
  bool linear;
  LossGradProblem<T> lp;
  LossGradBlockFn<T> linear_kernel = nullptr;
  BlockPlan plan;
  index_t begin = 0;

  BatchSums(const BatchProblem<T>& problem, BatchScratch& s, BatchGradBlockFn<T> k)
      : pb(problem), scratch(s), kernel(k), linear(linear_kernel_applies(problem)) {
    if (linear) {
      lp.X = pb.X;
      lp.y = pb.Y;
      lp.sample_weight = pb.sample_weight;
      lp.coef = pb.coef;
      lp.loss = pb.loss;
      lp.epsilon = pb.epsilon;
      lp.rows = pb.rows;
      lp.lookahead = pb.lookahead;
      linear_kernel = PYGD_ACTIVE_TABLE(LinearTable, linear_table).loss_grad<T>();
    }
  }
  BlockPlan plan_for(index_t m) const {
    const index_t width = pb.row_width();
    index_t max_blocks = 512;
    if (pb.sparse()) {
      // Each block zeroes k d partial sums and the reduction adds them up: however sparse
      // the rows, keep that below an eighth of the stored values the blocks read (their
      // memory, too: 2e5 rows of 100 values at d = 2^20 get 2 blocks, 16 MB), and at most
      // kSparseBlocks blocks (enough to keep both cores of a 2-core machine busy; each
      // more block is k d doubles of memory).
      constexpr index_t kSparseBlocks = 8;
      const index_t cap = m * width / (8 * (scratch.kd > 0 ? scratch.kd : 1));
      max_blocks = cap < 1 ? 1 : (cap < kSparseBlocks ? cap : kSparseBlocks);
    }
    return plan_row_blocks(m, scratch.stride(), width, kMinBlockRows * width, max_blocks);
  }
  void start(index_t first, index_t m) {
    begin = first;
    plan = plan_for(m);
    scratch.reserve_blocks(plan.count);
    if (linear) lp.intercept = pb.intercept[0];  // the model of this batch
  }
  void block(index_t b) {
    const index_t kd = scratch.kd, k = scratch.k;
    double* out = scratch.block(b);
    if (linear) {  // the same sums in the same layout: grad, grad_intercept, loss, weight
      BlockSums sums;
      linear_kernel(lp, begin + plan.begin(b), begin + plan.end(b), out, &sums);
      out[kd] = sums.grad_intercept;
      out[kd + 1] = sums.loss;
      out[kd + 2] = sums.weight;
      return;
    }
    kernel(pb, begin + plan.begin(b), begin + plan.end(b), out, out + kd, out + kd + k);
  }
  void reduce() {  // block order for every entry, whatever the threads did
    const index_t stride = scratch.stride();
    double* acc = scratch.block(0);
    auto add = [&](index_t j0, index_t j1) {
      for (index_t b = 1; b < plan.count; ++b) {
        const double* part = scratch.block(b);
        for (index_t j = j0; j < j1; ++j) acc[j] += part[j];
      }
    };
    constexpr index_t kChunk = 1 << 14;  // entries per task of a parallel reduction
    if (stride * (plan.count - 1) < (index_t(1) << 18)) {
      add(0, stride);
      return;
    }
    parallel_for((stride + kChunk - 1) / kChunk, [&](index_t c) {
      add(c * kChunk, (c + 1) * kChunk < stride ? (c + 1) * kChunk : stride);
    });
  }
  // Several outputs over at least 4 d stored values (a full pass, not a lazy step) that
  // the row blocks could not share among threads (the memory cap leaves one block: 20
  // outputs at d = 2^18): the column-by-column path with the columns shared instead.
  // With more blocks each sums column by column on its own (csr_grad_any), which costs
  // less than every thread scanning all stored values for its columns when k is small.
  bool columns_apply(index_t m) const {
    return pb.sparse() && pb.k > 1 && !pb.grad_zeroed && m * pb.row_width() >= 4 * pb.X.cols &&
           plan_for(m).count == 1;
  }
  // At coefficients 0 (pb.zero_coef) every row predicts the intercepts, so its weighted
  // derivatives are Z_i = s_i D(y_i), D a function of the row's targets alone.  Where
  // the rows' targets are a few distinct rows of Y (a classifier's codes, one-hot or
  // +-1: class c of a row = its first largest target, every row of a class equal to the
  // class's first row), the gradient is
  //   G_tj = sum_i Z_it x_ij = sum_c D_ct T_cj,   T_cj = sum_{i in c} s_i x_ij,
  // one product per stored value instead of k, and each class's sums T_c (d values) are
  // filled by one thread from its rows alone, a vector that stays in cache where the k d
  // gradient does not.  ClassCodes holds each class's positions (in order), its first row
  // and D (the rows kernel at weight 1 on that row).
  struct ClassCodes {
    std::vector<index_t> first;      // class -> its first row
    std::vector<index_t> start;      // class c's positions: positions[start[c] .. start[c+1])
    std::vector<index_t> positions;  // the positions class by class, each class's in order
    std::vector<double> D;           // class c's derivatives D_ct at D[c k + t]
    std::vector<double> loss;        // class c's loss l_c
  };
  // False where the positions [first, first + m) are not class codes (then `codes` is
  // left unfinished): O(m k).
  bool class_codes(index_t first, index_t m, const CsrRowsFn<T> rows_kernel,
                   ClassCodes& codes) const {
    const index_t k = pb.k;
    std::vector<index_t> class_of_largest(static_cast<size_t>(k), -1);
    std::vector<index_t> of(static_cast<size_t>(m));  // position -> class
    for (index_t i = 0; i < m; ++i) {
      const index_t row = pb.rows != nullptr ? pb.rows[first + i] : first + i;
      const T* y = pb.Y + row * k;
      index_t largest = 0;
      for (index_t t = 1; t < k; ++t) largest = y[t] > y[largest] ? t : largest;
      index_t& c = class_of_largest[static_cast<size_t>(largest)];
      if (c < 0) {
        c = index_t(codes.first.size());
        codes.first.push_back(row);
      } else {
        const T* y0 = pb.Y + codes.first[static_cast<size_t>(c)] * k;
        for (index_t t = 0; t < k; ++t)
          if (!(y[t] == y0[t])) return false;
      }
      of[static_cast<size_t>(i)] = c;
    }
    const index_t classes = index_t(codes.first.size());
    codes.start.assign(static_cast<size_t>(classes + 1), 0);  // a counting sort by class
    index_t* start = codes.start.data();
    for (index_t i = 0; i < m; ++i) start[of[static_cast<size_t>(i)] + 1] += 1;
    for (index_t c = 0; c < classes; ++c) start[c + 1] += start[c];
    std::vector<index_t> next(codes.start.begin(), codes.start.end() - 1);
    codes.positions.resize(static_cast<size_t>(m));
    index_t* positions = codes.positions.data();
    index_t* cursor = next.data();
    for (index_t i = 0; i < m; ++i) positions[cursor[of[static_cast<size_t>(i)]]++] = first + i;
    codes.D.assign(static_cast<size_t>(classes * k), 0.0);
    codes.loss.assign(static_cast<size_t>(classes), 0.0);
    std::vector<double> sums(static_cast<size_t>(k + 2));
    for (index_t c = 0; c < classes; ++c) {
      BatchProblem<T> one = pb;  // the class's first row alone, at weight 1
      one.rows = codes.first.data() + c;
      one.sample_weight = nullptr;
      one.lookahead = 0;
      rows_kernel(one, 0, 1, codes.D.data() + c * k, sums.data(), sums.data() + k);
      codes.loss[static_cast<size_t>(c)] = sums[static_cast<size_t>(k)];
    }
    return true;
  }
  static constexpr index_t kClassRowsAhead = 2;
  // T_cj = out[j] for every column, from class c's rows in position order; returns
  // W_c = sum_{i in c} s_i.
  template <class I>
  double class_sums(const I* indices, const I* indptr, const ClassCodes& codes, index_t c,
                    double* out) const {
    const T* x = pb.csr.values;
    const index_t* pos = codes.positions.data();
    const index_t p0 = codes.start[static_cast<size_t>(c)];
    const index_t p1 = codes.start[static_cast<size_t>(c) + 1];
    auto row_of = [&](index_t p) { return pb.rows != nullptr ? pb.rows[pos[p]] : pos[p]; };
    double weight = 0.0;
    for (index_t p = p0; p < p1; ++p) {
      const index_t row = row_of(p);
      if (p + kClassRowsAhead < p1) {  // a row of the class ahead: anywhere in the matrix
        const index_t next = row_of(p + kClassRowsAhead);
        prefetch_lines(indices + index_t(indptr[next]), indices + index_t(indptr[next + 1]));
        prefetch_lines(x + index_t(indptr[next]), x + index_t(indptr[next + 1]));
      }
      const double s = pb.sample_weight != nullptr ? double(pb.sample_weight[row]) : 1.0;
      weight += s;
      for (index_t e = index_t(indptr[row]); e < index_t(indptr[row + 1]); ++e)
        out[index_t(indices[e])] += s * double(x[e]);
    }
    return weight;
  }
  // The batch sums column by column (TrainTable::csr_rows / csr_columns): the coefficients
  // copied to v[j k + t], then chunks of kChunkRows positions, each in two parallel
  // phases: fixed sub-blocks of rows write their derivatives Z (their intercept, loss and
  // weight sums added in sub-block order), then each column group adds its columns'
  // gradient from Z.  No partial gradients (2 k d doubles of scratch for any number of
  // threads) and every core busy in both phases; each column sums its rows in position
  // order, so the bits depend on nothing but the batch.
  // At coefficients 0 with class codes as targets: by class sums (ClassCodes, above).
  void run_columns(index_t first, index_t m) {
    constexpr index_t kSubRows = 256, kColumnTask = 4096;
    const index_t d = pb.X.cols, k = pb.k, kd = k * d;
    // Few chunks (each phase ends in a barrier, which a core shared with another process
    // can hold up for a time slice): up to 8192 rows, Z at most 2^18 doubles (2 MB).
    const index_t fit = ((index_t(1) << 18) / k) / kSubRows * kSubRows;
    const index_t kChunkRows = fit < kSubRows ? kSubRows : (fit > 8192 ? 8192 : fit);
    const TrainTable& table = active_table();
    const CsrRowsFn<T> rows_kernel = table.csr_rows<T>();
    const CsrColumnsFn<T> columns_kernel = table.csr_columns<T>();
    ClassCodes codes;
    const bool by_class = pb.zero_coef && class_codes(first, m, rows_kernel, codes);
    const index_t classes = index_t(codes.first.size());
    large_vector<double> coef(static_cast<size_t>(pb.zero_coef ? 0 : kd));
    // the gradient column by column (G[j k + t]), or the class sums (T[c d + j])
    large_vector<double> grad(static_cast<size_t>(by_class ? d * classes : kd), 0.0);
    const index_t column_tasks = (d + kColumnTask - 1) / kColumnTask;
    auto columns = [&](index_t c, auto&& f) {
      const index_t j1 = (c + 1) * kColumnTask < d ? (c + 1) * kColumnTask : d;
      for (index_t j = c * kColumnTask; j < j1; ++j) f(j);
    };
    if (!pb.zero_coef)  // (else never read)
      parallel_for(column_tasks, [&](index_t c) {
        columns(c, [&](index_t j) {
          for (index_t t = 0; t < k; ++t) coef[j * k + t] = pb.coef[t * d + j];
        });
      });
    double* out = scratch.block(0);
    double* intercept = out + kd;
    if (by_class) {  // the loss, weight and intercept sums too: sum_c W_c (l_c, 1, D_c)
      std::vector<double> W(static_cast<size_t>(classes));
      parallel_for(classes, [&](index_t c) {
        double* Tc = grad.data() + c * d;
        W[static_cast<size_t>(c)] =
            pb.csr.indices64 ? class_sums(pb.csr.indices64, pb.csr.indptr64, codes, c, Tc)
                             : class_sums(pb.csr.indices32, pb.csr.indptr32, codes, c, Tc);
      });
      for (index_t t = 0; t < k + 2; ++t) intercept[t] = 0.0;  // then loss, weight
      for (index_t c = 0; c < classes; ++c) {
        const double Wc = W[static_cast<size_t>(c)];
        const double* Dc = codes.D.data() + c * k;
        for (index_t t = 0; t < k; ++t) intercept[t] += Wc * Dc[t];
        intercept[k] += Wc * codes.loss[static_cast<size_t>(c)];
        intercept[k + 1] += Wc;
      }
      // G_tj = sum_c D_ct T_cj, c in order, in tiles of 4 outputs x 4 columns held in
      // registers (T read k / 4 times instead of k)
      const double* Dp = codes.D.data();
      const double* Tp = grad.data();
      parallel_for(column_tasks, [&](index_t task) {
        const index_t j0 = task * kColumnTask, j1 = j0 + kColumnTask < d ? j0 + kColumnTask : d;
        auto one = [&](index_t t, index_t j) {  // a single G_tj
          double acc = 0.0;
          for (index_t c = 0; c < classes; ++c) acc += Dp[c * k + t] * Tp[c * d + j];
          out[t * d + j] = acc;
        };
        index_t j = j0;
        for (; j + 4 <= j1; j += 4) {
          index_t t = 0;
          for (; t + 4 <= k; t += 4) {
            double acc[4][4] = {};
            for (index_t c = 0; c < classes; ++c) {
              const double* Tc = Tp + c * d + j;
              const double* Dc = Dp + c * k + t;
              for (int u = 0; u < 4; ++u)
                for (int v = 0; v < 4; ++v) acc[u][v] += Dc[u] * Tc[v];
            }
            for (int u = 0; u < 4; ++u)
              for (int v = 0; v < 4; ++v) out[(t + u) * d + j + v] = acc[u][v];
          }
          for (; t < k; ++t)
            for (index_t v = 0; v < 4; ++v) one(t, j + v);
        }
        for (; j < j1; ++j)
          for (index_t t = 0; t < k; ++t) one(t, j);
      });
      return;
    }
    BatchProblem<T> local = pb;
    local.coef = coef.data();
    const index_t groups = column_groups();
    std::vector<double> Z(static_cast<size_t>(kChunkRows * k));
    std::vector<double> part(static_cast<size_t>((kChunkRows / kSubRows) * (k + 2)));
    for (index_t t = 0; t < k + 2; ++t) intercept[t] = 0.0;  // then loss, weight
    for (index_t c0 = 0; c0 < m; c0 += kChunkRows) {
      const index_t rows = kChunkRows < m - c0 ? kChunkRows : m - c0;
      const index_t subs = (rows + kSubRows - 1) / kSubRows;
      parallel_for(subs, [&](index_t b) {
        const index_t r0 = b * kSubRows, r1 = r0 + kSubRows < rows ? r0 + kSubRows : rows;
        double* p = part.data() + b * (k + 2);
        rows_kernel(local, first + c0 + r0, first + c0 + r1, Z.data() + r0 * k, p, p + k);
      });
      for (index_t b = 0; b < subs; ++b)
        for (index_t t = 0; t < k + 2; ++t) intercept[t] += part[b * (k + 2) + t];
      parallel_for(groups, [&](index_t g) {
        columns_kernel(local, first + c0, first + c0 + rows, Z.data(), g, groups, grad.data());
      });
    }
    parallel_for(column_tasks, [&](index_t c) {
      columns(c, [&](index_t j) {
        for (index_t t = 0; t < k; ++t) out[t * d + j] = grad[j * k + t];
      });
    });
  }
  void run(index_t first, index_t m) {
    if (columns_apply(m)) {
      scratch.reserve_blocks(1);
      run_columns(first, m);
      return;
    }
    start(first, m);
    if (plan.count <= 1) {
      block(0);
      return;
    }
    parallel_for(plan.count, [&](index_t b) { block(b); });
    reduce();
  }
};

}  // namespace

double scheduled_lr(const OptimizerOptions& optimizer, const ScheduleOptions& s, double t,
                    index_t steps_per_epoch, double offset) {
  const double lr = optimizer.lr;
  const double ts = t + offset;  // == t (bitwise) without an offset
  const double e = (ts - 1) / double(steps_per_epoch);
  const double pi = 3.141592653589793;
  switch (s.kind) {
    case ScheduleKind::constant:
      return lr;
    case ScheduleKind::invscaling:
      return lr / std::pow(t, s.power_t);
    case ScheduleKind::step:
      return lr * std::pow(s.gamma, std::floor(e / s.step_size));
    case ScheduleKind::exponential:
      return lr * std::pow(s.gamma, e);
    case ScheduleKind::cosine: {
      const double progress = e < s.T_max ? e : s.T_max;
      return s.eta_min + (lr - s.eta_min) * (1 + std::cos(pi * progress / s.T_max)) / 2;
    }
    case ScheduleKind::warmup_cosine: {
      const double warmup_steps = s.warmup * double(steps_per_epoch);
      if (ts <= warmup_steps) return lr * ts / warmup_steps;
      const double span = s.T_max - s.warmup;
      double progress = e - s.warmup;
      if (progress > span) progress = span;
      if (progress < 0) progress = 0;
      return s.eta_min + (lr - s.eta_min) * (1 + std::cos(pi * progress / span)) / 2;
    }
  }
  return lr;
}

namespace {

// Fixed chunks of columns for the O(k d) loops around a pass (the raw model, the
// objective's gradient): the threads share them, and a sum over the columns adds the
// chunks' partial sums in chunk order, so its bits do not depend on the threads (with d
// up to kColumnChunk, one chunk: the serial loop's bits).  At d = 2^20, on one thread
// (with zero-filled and copied buffers), they took 13-23% of a pass's time.
constexpr index_t kColumnChunk = index_t(1) << 14;

inline index_t column_chunks(index_t d) { return (d + kColumnChunk - 1) / kColumnChunk; }

// body(t, j0, j1, c): output t's columns [j0, j1), its chunk c; every output's chunks.
// (Threads only where there are at least two chunks' worth of values: a mini-batch step
// of a small model does not start a parallel region.)
template <class Body>
void for_column_chunks(index_t k, index_t d, const Body& body) {
  const index_t chunks = column_chunks(d);
  auto task = [&](index_t i) {
    const index_t t = i / chunks, c = i % chunks;
    const index_t j0 = c * kColumnChunk, j1 = j0 + kColumnChunk < d ? j0 + kColumnChunk : d;
    body(t, j0, j1, c);
  };
  if (k * d < 2 * kColumnChunk) {
    for (index_t i = 0; i < k * chunks; ++i) task(i);
    return;
  }
  parallel_for(k * chunks, task);
}

// The model in raw units (standardisation folded in): v = w / scale, c = b - v . mean;
// without a mean (no standardisation) v = w (coef nullptr: not copied), c = b.
template <class P>
void raw_model(const P* params, index_t k, index_t d, bool fit_intercept,
               const double* scale, const double* mean, double* coef, double* intercept) {
  const index_t kd = k * d, chunks = column_chunks(d);
  std::vector<double> dots(static_cast<size_t>(k * chunks), 0.0);
  for_column_chunks(k, d, [&](index_t t, index_t j0, index_t j1, index_t c) {
    const P* __restrict w = params + t * d;
    double* __restrict v = coef != nullptr ? coef + t * d : nullptr;
    if (mean == nullptr) {
      if (coef != nullptr)
        for (index_t j = j0; j < j1; ++j) v[j] = double(w[j]);
      return;
    }
    for (index_t j = j0; j < j1; ++j) v[j] = double(w[j]) * (1.0 / scale[j]);
    dots[static_cast<size_t>(t * chunks + c)] = dot4(v + j0, mean + j0, j1 - j0);
  });
  for (index_t t = 0; t < k; ++t) {
    const double b = fit_intercept ? double(params[kd + t]) : 0.0;
    if (mean == nullptr) {
      intercept[t] = b;
      continue;
    }
    double dot = chunks > 0 ? dots[static_cast<size_t>(t * chunks)] : 0.0;  // (d = 0: none)
    for (index_t c = 1; c < chunks; ++c) dot += dots[static_cast<size_t>(t * chunks + c)];
    intercept[t] = b - dot;
  }
}

// The batch sums of a whole pass of the raw model (G, Gb, loss, weight: scratch's block
// 0, which it returns).  Without standardisation the coefficients are read where they
// are, else computed into `coef` (k d doubles, not initialised).
template <class T>
const double* pass_sums(const TrainSpec<T>& spec, const double* params, BatchScratch& scratch,
                        std::unique_ptr<double[]>& coef) {
  const BatchProblem<T>& data = spec.data;
  const index_t d = data.X.cols, k = data.k, kd = k * d;
  std::vector<double> intercept(static_cast<size_t>(k));
  const double* v = params;
  if (spec.mean != nullptr) {
    coef = large_array<double>(static_cast<size_t>(kd));
    v = coef.get();
  }
  raw_model(params, k, d, spec.fit_intercept, spec.scale, spec.mean,
            spec.mean != nullptr ? coef.get() : nullptr, intercept.data());
  BatchProblem<T> pb = data;
  pb.coef = v;
  pb.intercept = intercept.data();
  pb.lookahead = spec.n_order;
  // CSR at coefficients 0 (a fit's start; v = w / scale is 0 with w): the kernels skip
  // the gather of v (BatchProblem::zero_coef), about half of a pass's random reads.
  if (pb.sparse()) {
    index_t j = 0;
    while (j < kd && params[j] == 0.0) ++j;
    pb.zero_coef = j == kd;
  }
  scratch.kd = kd;
  scratch.k = k;
  scratch.reserve_blocks(1);
  if (spec.n_order > 0) {
    BatchSums<T>(pb, scratch, active_table().grad<T>()).run(0, spec.n_order);
  } else {
    for (index_t j = 0; j < kd + k + 2; ++j) scratch.block(0)[j] = 0.0;
  }
  return scratch.block(0);
}

}  // namespace

template <class T>
ObjectiveResult objective_grad(const TrainSpec<T>& spec, const double* params, double* grad) {
  const BatchProblem<T>& data = spec.data;
  const index_t d = data.X.cols, k = data.k, kd = k * d;
  const bool standardize = spec.mean != nullptr;
  BatchScratch scratch;
  std::unique_ptr<double[]> coef;
  const double* G = pass_sums(spec, params, scratch, coef);  // the raw model's sums
  const double* Gb = G + kd;
  ObjectiveResult result;
  result.loss_sum = G[kd + k];
  result.weight_sum = G[kd + k + 1];
  const double inv_S = 1.0 / result.weight_sum;
  // In column chunks (for_column_chunks): the penalty's sum adds the chunks' sums in
  // order; a chunk's `check` is 0 unless a gradient value is not finite (g * 0 is NaN).
  // (1 / scale and the mean read where they are: no d-sized copies per pass)
  const index_t chunks = column_chunks(d);
  std::vector<double> penalties(static_cast<size_t>(k * chunks), 0.0);
  std::vector<double> checks(static_cast<size_t>(k * chunks), 0.0);
  for_column_chunks(k, d, [&](index_t t, index_t j0, index_t j1, index_t c) {
    const double* __restrict w = params + t * d;
    const double* __restrict Gt = G + t * d;
    double* __restrict out = grad + t * d;
    const double gb = Gb[t];
    double penalty = 0.0, check = 0.0;
    for (index_t j = j0; j < j1; ++j) {
      const double inv_scale = standardize ? 1.0 / spec.scale[j] : 1.0;
      const double mean = standardize ? spec.mean[j] : 0.0;
      const double g = (Gt[j] - mean * gb) * inv_scale * inv_S + spec.l2 * w[j];
      out[j] = g;
      penalty += w[j] * w[j];
      check += g * 0.0;
    }
    penalties[static_cast<size_t>(t * chunks + c)] = penalty;
    checks[static_cast<size_t>(t * chunks + c)] = check;
  });
  double penalty = 0.0;
  bool finite = true;
  for (size_t c = 0; c < penalties.size(); ++c) {
    penalty += penalties[c];
    finite = finite && checks[c] == 0.0;
  }
  for (index_t t = 0; t < k; ++t) {
    grad[kd + t] = spec.fit_intercept ? Gb[t] * inv_S : 0.0;
    finite = finite && std::isfinite(grad[kd + t]);
  }
  result.objective = result.loss_sum * inv_S + 0.5 * spec.l2 * penalty;
  result.finite = finite && std::isfinite(result.objective);
  return result;
}

template <class T>
GramResult gram(const TrainSpec<T>& spec, const double* shift, double* A, double* C) {
  const BatchProblem<T>& data = spec.data;
  const index_t d = data.X.cols, k = data.k, q = d + 1;
  std::vector<double> inv_scale(static_cast<size_t>(d), 1.0), mean(static_cast<size_t>(d), 0.0);
  for (index_t j = 0; spec.mean != nullptr && j < d; ++j) {
    inv_scale[j] = 1.0 / spec.scale[j];
    mean[j] = spec.mean[j];
  }
  const GramBlockFn<T> kernel = active_table().gram<T>();
  const index_t stride = q * q + q * k + 2;
  const BlockPlan plan = plan_row_blocks(spec.n_order, stride, d);
  std::vector<double> partial(static_cast<size_t>(plan.count > 0 ? plan.count * stride : stride), 0.0);
  parallel_for(plan.count, [&](index_t b) {
    double* out = partial.data() + b * stride;
    kernel(data, plan.begin(b), plan.end(b), mean.data(), inv_scale.data(), shift, out,
           out + q * q, out + q * q + q * k);
  });
  double* acc = partial.data();  // block order, whatever the threads did
  for (index_t b = 1; b < plan.count; ++b) {
    const double* part = partial.data() + b * stride;
    for (index_t j = 0; j < stride; ++j) acc[j] += part[j];
  }
  GramResult result;
  result.weight_sum = acc[q * q + q * k + 1];
  const double inv_S = 1.0 / result.weight_sum;
  for (index_t a = 0; a < q; ++a) {
    for (index_t b = a; b < q; ++b) A[a * q + b] = A[b * q + a] = acc[a * q + b] * inv_S;
  }
  for (index_t j = 0; j < q * k; ++j) C[j] = acc[q * q + j] * inv_S;
  result.yy = acc[q * q + q * k] * inv_S;
  return result;
}

namespace {

// max_j |least-norm subgradient_j| of the penalised objective at params (EpochResult's
// optimality): gradient(t, j, w) is the smooth part's; the subgradient of l1 |w| of least
// norm is l1 sign(w), or for w = 0 whatever in [-l1, l1] cancels most of g.
template <class T, class Weight, class Gradient>
double optimality(const TrainSpec<T>& spec, const Weight& weight, const Gradient& gradient,
                  const double* Gb, double inv_D) {
  const index_t d = spec.data.X.cols, k = spec.data.k;
  double result = 0.0;
  for (index_t t = 0; t < k; ++t) {
    for (index_t j = 0; j < d; ++j) {
      const double w = weight(t, j);
      const double g = gradient(t, j, w);
      const double a = w > 0   ? std::fabs(g + spec.l1)
                       : w < 0 ? std::fabs(g - spec.l1)
                               : std::max(std::fabs(g) - spec.l1, 0.0);
      result = std::max(result, a);
    }
    if (spec.fit_intercept) result = std::max(result, std::fabs(Gb[t] * inv_D));
  }
  return result;
}

// -- Lazy steps for CSR X ------------------------------------------------------------------
// A mini-batch of CSR rows stores a few columns; a step over all k d + k parameters would
// cost O(d) however few.  A lazy step touches only the batch's columns J (and the
// intercepts):
//   1. each j in J first catches up on the steps it missed since it was last current,
//      where their effect has a closed form (the batch gradient was 0 there):
//        SGD without momentum: w_j *= prod_s (1 - lr_s (l2 + weight_decay))   (the L2 shrink:
//                                  for every column at once, see LazyColumns::omega)
//        running averages: Adam/NAdam m *= beta1^m, v *= beta2^m; RMSprop a, ga *= alpha^m,
//                          its momentum buffer *= momentum^m; Adadelta a, u *= rho^m;
//                          SGD's momentum buffer *= momentum^m            (m missed steps)
//   2. the batch sums over its rows (the CSR kernels write only J's entries of zeroed
//      buffers; two row blocks on the threads from 256 rows), the gradient of those
//      columns (plus l2 w_j) and of the intercepts;
//   3. the optimizer's own kernel on the gathered (w_J, b), state and gradient; the L1
//      step on them; scattered back; J's entries of the buffer cleared.
// The shrink multiplies every parameter by the same factor, so it is kept apart, as
// scikit-learn's SGD keeps its `wscale`: the stored parameters are w / omega, with omega
// the product of the factors since they were last multiplied in; the kernel of step 2
// scales each row's product by omega, and a step gathers omega times the stored values
// and scatters its results divided by the new omega.  The running averages catch up in
// step 3, which runs in chunks of J (the decays read from the clocks and applied as the
// state is gathered, step, scatter), each chunk's lines still in cache when it is
// scattered.
// Every column is brought up to date before an epoch's last batch (so its optimality
// measure sees current weights) and at the end of the epoch (or an interruption): between
// epochs the state is the dense one's shape, nothing lazy carries over.
// Exact (the dense step's result, to rounding) when the missed steps change nothing else:
// SGD without momentum (any L2, no L1), and Adagrad, RMSprop without momentum, Adadelta
// without any penalty.  Otherwise it is torch's SparseAdam kind of approximation: the
// drift momentum or Adam's moments would give a column in the steps it missed, and the
// penalty's pull in those steps, are left out (pygd.linear_model documents which).
// The state arrays each kind reads (engine/optim.hpp's layouts): the others are neither
// gathered nor scattered by a lazy step.
inline void used_states(const OptimizerOptions& o, bool used[3]) {
  used[0] = used[1] = used[2] = false;
  switch (o.kind) {
    case OptimizerKind::sgd:
      used[0] = o.momentum != 0;
      return;
    case OptimizerKind::adam:
      used[0] = used[1] = true;
      used[2] = o.amsgrad;
      return;
    case OptimizerKind::nadam:
    case OptimizerKind::adadelta:
      used[0] = used[1] = true;
      return;
    case OptimizerKind::adagrad:
      used[0] = true;
      return;
    case OptimizerKind::rmsprop:
      used[0] = true;
      used[1] = o.momentum > 0;
      used[2] = o.centered;
      return;
  }
}

// Columns ahead that the lazy step's clock loop hints into cache (little work a column:
// 64 ahead measured 7% faster than 16 on a 256-row epoch at 2^18).
constexpr index_t kClockAhead = 64;
// Values (columns times outputs) per chunk of a lazy step, and the fewest columns.  (With
// the chunks shared by two threads, 1024 against 2048: 256-row Adam epoch at 2^18 182-183
// against 192-195 ms, momentum 166-169 against 176, 2^20 311-318 against 322-338; 512 no
// better than 1024.)
constexpr index_t kLazyChunk = 1024;
constexpr index_t kLazyChunkMin = 32;
// A lazy step's row blocks: 2 (of m / 2 rows) for batches of at least 2 kLazyBlockRows
// rows, else 1.  (Each block of one output has a k d gradient buffer of its own.)
constexpr index_t kLazyBlocks = 2;
constexpr index_t kLazyBlockRows = 128;
static_assert(kLazyBlocks == 2, "one output's blocks write G and G1: one buffer per block");

// Where output t of column j sits in a lazy epoch's k d arrays: output by output (t d + j,
// the caller's layout), or ByColumn, column by column (j k + t: train_epoch_lazy's own
// copies for several outputs).
template <bool ByColumn>
inline index_t lazy_at(index_t t, index_t j, index_t k, index_t d) {
  return ByColumn ? j * k + t : t * d + j;
}

template <class T, bool ByColumn>
struct LazyColumns {
  index_t d = 0, k = 0;
  T* params = nullptr;
  T* state[3] = {nullptr, nullptr, nullptr};  // only the arrays the optimizer reads
  // A column's clock: the step count when it was last current (8 columns a cache line).
  std::vector<std::int64_t> last;
  // SGD's L2 shrink: every parameter is omega times its stored value (1 where no shrink).
  // Multiplied into the stored values when omega leaves [kOmegaMin, 1 / kOmegaMin] (the
  // stored values of float32 parameters stay within its range), before the epoch's last
  // batch and at its end.
  double omega = 1.0;
  static constexpr double kOmegaMin = 1e-20;
  bool shrink = false;
  bool decays[3] = {false, false, false};
  std::vector<double> power[3];    // power[s][m] = decay_s^m, m = 0 .. max_missed
  // params and state: k d values (lazy_at's layout), then the intercepts'
  index_t at(index_t t, index_t j) const { return lazy_at<ByColumn>(t, j, k, d); }

  LazyColumns(const TrainSpec<T>& spec, const TrainState<T>& st, std::int64_t now, index_t steps) {
    d = spec.data.X.cols;
    k = spec.data.k;
    params = st.params;
    const OptimizerOptions& o = spec.optimizer;
    bool used[3];
    used_states(o, used);
    for (int s = 0; s < 3; ++s) state[s] = used[s] ? st.state[s] : nullptr;
    last.assign(static_cast<size_t>(d), now);
    double factor[3] = {1, 1, 1};
    switch (o.kind) {
      case OptimizerKind::sgd:
        shrink = o.momentum == 0 && (spec.l2 + o.weight_decay) != 0;
        if (o.momentum != 0) factor[0] = o.momentum;
        break;
      case OptimizerKind::adam:
      case OptimizerKind::nadam:
        factor[0] = o.beta1;
        factor[1] = o.beta2;
        break;
      case OptimizerKind::adagrad:
        break;
      case OptimizerKind::rmsprop:
        factor[0] = o.alpha;
        if (o.momentum > 0) factor[1] = o.momentum;
        if (o.centered) factor[2] = o.alpha;
        break;
      case OptimizerKind::adadelta:
        factor[0] = o.rho;
        factor[1] = o.rho;
        break;
    }
    for (int s = 0; s < 3; ++s) {
      decays[s] = factor[s] != 1 && state[s] != nullptr;
      if (!decays[s]) continue;
      power[s].resize(static_cast<size_t>(steps + 2));
      power[s][0] = 1.0;
      for (size_t m = 1; m < power[s].size(); ++m) power[s][m] = power[s][m - 1] * factor[s];
    }
  }

  // Column j made current at `now` steps (its missed steps' closed-form effect).
  void bring(index_t j, std::int64_t now) {
    const std::int64_t missed = now - last[static_cast<size_t>(j)];
    if (missed <= 0) return;
    for (index_t t = 0; t < k; ++t) {
      const index_t i = at(t, j);
      for (int s = 0; s < 3; ++s) {
        if (!decays[s]) continue;
        const std::vector<double>& p = power[s];
        const double f = missed < std::int64_t(p.size()) ? p[size_t(missed)]
                                                        : std::pow(p[1], double(missed));
        state[s][i] = T(double(state[s][i]) * f);
      }
    }
    mark(j, now);
  }
  // The decay factors column j missed up to `now` (1 where it is current: x * 1 is x),
  // for the step's gather to apply to the state it reads: the values bring() would store,
  // without a pass over the state lines of their own.
  void missed_decay(index_t j, std::int64_t now, double f[3]) const {
    const std::int64_t missed = now - last[static_cast<size_t>(j)];
    for (int s = 0; s < 3; ++s) {
      f[s] = 1.0;
      if (!decays[s] || missed <= 0) continue;
      const std::vector<double>& p = power[s];
      f[s] = missed < std::int64_t(p.size()) ? p[size_t(missed)] : std::pow(p[1], double(missed));
    }
  }
  // Hints column j's clock and its first output's state lines (what bring reads first).
  void prefetch_clock(index_t j) const {
    prefetch_line(&last[static_cast<size_t>(j)]);
    for (int s = 0; s < 3; ++s)
      if (decays[s]) prefetch_line(state[s] + at(0, j));
  }
  void mark(index_t j, std::int64_t now) { last[static_cast<size_t>(j)] = now; }
  // Every column current, omega multiplied into the stored parameters (omega = 1).
  void bring_all(std::int64_t now) {
    for (index_t j = 0; j < d; ++j) bring(j, now);
    scale_untouched(omega, nullptr, 0);
  }
  // A step's shrink: the factor 1 - lr l2 every parameter takes, and the omega its columns'
  // results are stored divided by: omega times the factor, or 1 (`rescale`) where that
  // leaves [kOmegaMin, 1 / kOmegaMin] or the factor is <= 0 (a rate the L2 term makes
  // diverge): the step then stores its columns' own values, and finish_step multiplies
  // the others' by omega times the factor.
  struct Shrink {
    double factor = 1.0, next = 1.0;
    bool rescale = false;
  };
  Shrink shrink_step(double lr, double l2) const {
    Shrink s;
    if (!shrink) return s;
    s.factor = 1.0 - lr * l2;
    s.next = omega * s.factor;
    s.rescale = !(s.factor > 0 && s.next >= kOmegaMin && s.next <= 1.0 / kOmegaMin);
    if (s.rescale) s.next = 1.0;
    return s;
  }
  // After a step whose columns `touched` (increasing) were stored divided by s.next.
  // Returns whether the others' stored values changed (O(d), only with s.rescale: the
  // caller's coefficients of them are then stale).
  bool finish_step(const Shrink& s, const std::vector<index_t>& touched) {
    if (!shrink) return false;
    if (!s.rescale) {
      omega = s.next;
      return false;
    }
    scale_untouched(omega * s.factor, touched.data(), index_t(touched.size()));
    return true;
  }
  // Stored values of the columns not in touched[0 .. n) (increasing) times `factor`;
  // omega = 1 after.
  void scale_untouched(double factor, const index_t* touched, index_t n) {
    if (factor != 1.0) {
      index_t a = 0;
      for (index_t j = 0; j < d; ++j) {
        if (a < n && touched[a] == j) {
          ++a;
          continue;
        }
        for (index_t t = 0; t < k; ++t) params[at(t, j)] = T(double(params[at(t, j)]) * factor);
      }
    }
    omega = 1.0;
  }
};

// The positions of the epoch a batch belongs to (TrainSpec::epoch_rows): a batch of all of
// them is a full batch.
template <class T>
index_t whole_epoch(const TrainSpec<T>& spec) {
  return spec.epoch_rows > 0 ? spec.epoch_rows : spec.n_order;
}

template <class T, bool ByColumn>
EpochResult train_epoch_lazy(const TrainSpec<T>& spec, const TrainState<T>& state) {
  const BatchProblem<T>& data = spec.data;
  const index_t d = data.X.cols, k = data.k, kd = k * d;
  const index_t n_icpt = spec.fit_intercept ? k : 0;
  std::vector<double> inv_scale(static_cast<size_t>(d), 1.0);
  for (index_t j = 0; spec.scale != nullptr && j < d; ++j) inv_scale[j] = 1.0 / spec.scale[j];
  T* params = state.params;
  TrainCounters& counters = *state.counters;
  const index_t n_steps = (spec.n_order + spec.batch_size - 1) / spec.batch_size;

  // The raw coefficients v = w / scale (no mean: the Python layer never centres lazily),
  // kept current on the columns each step touches, and the batch's gradient sums G.  With
  // several outputs they, the parameters and the state the optimizer reads are the
  // epoch's own arrays, column by column (column j's k values side by side at j k, `at`;
  // the intercepts' after the k d values as in the caller's), copied from the caller's and
  // back at the end: the batch kernel (csr_rows, then csr_columns) reads and writes k
  // neighbouring doubles per stored value, and a step's columns k neighbouring values of
  // each array, where output by output each of the k values is a cache line of its own
  // (ByColumn: k > 1, train_epoch's choice.  20 outputs at 2e5 x 2^18, 256-row Adam epoch:
  // 11.9 -> 4.1 s; the memory of a second copy of the parameters and that state for the
  // epoch.  The layout is a template parameter: chosen at run time inside the loops it cost
  // a 2^20-column binary epoch 25%.)
  auto at = [k, d](index_t t, index_t j) { return lazy_at<ByColumn>(t, j, k, d); };
  const index_t n_own = kd + n_icpt;
  bool used[3];
  used_states(spec.optimizer, used);
  std::vector<T> own_params, own_state[3];
  auto copy_layout = [&](const T* from, T* to, bool to_columns) {
    for (index_t t = 0; t < k; ++t)
      for (index_t j = 0; j < d; ++j) {
        if (to_columns) to[j * k + t] = from[t * d + j];
        else to[t * d + j] = from[j * k + t];
      }
    for (index_t i = kd; i < n_own; ++i) to[i] = from[i];
  };
  TrainState<T> own = state;
  if (ByColumn) {
    own_params.resize(static_cast<size_t>(n_own));
    copy_layout(state.params, own_params.data(), true);
    own.params = own_params.data();
    for (int s = 0; s < 3; ++s) {
      if (!used[s]) continue;
      own_state[s].resize(static_cast<size_t>(n_own));
      copy_layout(state.state[s], own_state[s].data(), true);
      own.state[s] = own_state[s].data();
    }
    params = own.params;
  }
  large_vector<double> coef(static_cast<size_t>(kd));
  std::vector<double> intercept(static_cast<size_t>(k), 0.0);
  auto refresh = [&](index_t j) {  // coef of column j from its current parameters
    for (index_t t = 0; t < k; ++t) coef[at(t, j)] = double(params[at(t, j)]) * inv_scale[j];
  };
  for (index_t j = 0; j < d; ++j) refresh(j);
  large_vector<double> G(static_cast<size_t>(kd), 0.0);
  std::vector<double> Gb(static_cast<size_t>(k), 0.0);
  const index_t batch_rows = spec.batch_size < spec.n_order ? spec.batch_size : spec.n_order;
  // (one output, batches of two row blocks: block 1's gradient sums, see below)
  const bool has_G1 = !ByColumn && batch_rows >= 2 * kLazyBlockRows;
  large_vector<double> G1(has_G1 ? static_cast<size_t>(kd) : 0, 0.0);
  // Hints the lines a lazy step's gather and scatter read for column j besides its clock
  // and state: its parameters, gradient sums, coefficients and scale.
  auto hint_step_lines = [&](index_t j) {
    prefetch_line(&inv_scale[static_cast<size_t>(j)]);
    for (index_t t = 0; t < k; t += ByColumn ? 64 / index_t(sizeof(double)) : 1) {
      prefetch_line(params + at(t, j));
      prefetch_line(&G[static_cast<size_t>(at(t, j))]);
      if (has_G1) prefetch_line(&G1[static_cast<size_t>(at(t, j))]);
      prefetch_line(&coef[static_cast<size_t>(at(t, j))]);
    }
    if (ByColumn && k > 1) {  // the column's last value, on the next line
      prefetch_line(params + at(k - 1, j));
      prefetch_line(&G[static_cast<size_t>(at(k - 1, j))]);
      prefetch_line(&coef[static_cast<size_t>(at(k - 1, j))]);
    }
  };
  // A batch's sums over fixed blocks of rows (at least kLazyBlockRows each, at most
  // kLazyBlocks, set by m alone), which the threads share.  One output: csr_grad_any's
  // fused pass per block, each block's gradient into a zeroed buffer of its own (block 0's
  // into G, block 1's into G1), added in block order where read.  Several outputs (column
  // by column): each block writes its rows' weighted derivatives Z (kernels/train.cpp's
  // csr_rows), then each column group (64 neighbouring columns; as many groups as threads,
  // a power of two) adds its columns' gradient from Z (csr_columns), each column over its
  // rows in position order.  The intercept, loss and weight sums are added in block order:
  // the bits depend on the batch only, not on the threads.
  const TrainTable& table = active_table();
  const BatchGradBlockFn<T> kernel = table.grad<T>();
  const CsrRowsFn<T> rows_kernel = table.csr_rows<T>();
  const CsrColumnsFn<T> columns_kernel = table.csr_columns<T>();
  std::vector<double> Z(ByColumn ? static_cast<size_t>(batch_rows * k) : 0);
  std::vector<double> part(static_cast<size_t>(kLazyBlocks * (k + 2)));
  const index_t groups = column_groups();
  double sums[2];
  BatchProblem<T> pb = data;
  pb.coef = coef.data();
  pb.intercept = intercept.data();
  pb.lookahead = spec.n_order;
  pb.grad_zeroed = true;

  LazyColumns<T, ByColumn> columns(spec, own, counters.steps, n_steps);
  std::vector<index_t> touched;
  std::vector<std::uint64_t> seen(static_cast<size_t>((d + 63) / 64), 0);
  // A chunk's gathered values (each thread its own: the chunks of a step run in parallel).
  struct ChunkBuffers {
    std::vector<T> param, grad, state[3];
    std::vector<double> eta, acc_delta_before, decay;
  };
  std::vector<ChunkBuffers> buffers(static_cast<size_t>(num_threads() > 0 ? num_threads() : 1));
  const bool l1 = spec.l1 != 0;
  const OptimizerOptions& optimizer = spec.optimizer;

  EpochResult result;
  index_t next_interrupt_check = kInterruptCheckRows;
  for (index_t pos = 0; pos < spec.n_order; pos += spec.batch_size) {
    const index_t m = spec.batch_size < spec.n_order - pos ? spec.batch_size : spec.n_order - pos;
    if (spec.interrupted && pos >= next_interrupt_check) {
      if (spec.interrupted()) {
        result.interrupted = true;
        break;
      }
      next_interrupt_check = pos + kInterruptCheckRows;
    }
    const std::int64_t now = counters.steps;
    const bool last_batch = pos + m >= spec.n_order;
    // The columns the batch's rows store, in increasing order: `seen` has a bit per column
    // (32 KB at d = 2^18: in L1 or L2, where a per-column record would miss the caches),
    // set while reading the rows (no branch), then read word by word into `touched` and
    // cleared.  In column order the lazy loops walk every per-column array forwards (the
    // hardware prefetchers follow; neighbouring columns share lines), not in the rows'
    // random order; the results do not depend on the order (element-wise steps).
    touched.clear();
    auto collect = [&](const auto* indices, const auto* indptr) {
      for (index_t i = pos; i < pos + m; ++i) {
        const index_t row = data.rows ? data.rows[i] : i;
        if (data.rows && i + 16 < pos + m)  // the indptr entries of the rows read 8 rows on
          prefetch_line(indptr + data.rows[i + 16]);
        if (data.rows && i + 8 < pos + m) {  // shuffled rows: the indices 8 rows on
          const index_t ahead = data.rows[i + 8];
          const index_t a = index_t(indptr[ahead]), b = index_t(indptr[ahead + 1]);
          for (index_t e = a; e < b; e += 64 / index_t(sizeof(indices[0])))
            prefetch_line(indices + e);
        }
        for (index_t e = index_t(indptr[row]); e < index_t(indptr[row + 1]); ++e) {
          const index_t j = index_t(indices[e]);
          seen[static_cast<size_t>(j >> 6)] |= std::uint64_t(1) << (j & 63);
        }
      }
    };
    if (data.csr.indices64)
      collect(data.csr.indices64, data.csr.indptr64);
    else
      collect(data.csr.indices32, data.csr.indptr32);
    for (size_t w = 0; w < seen.size(); ++w) {
      std::uint64_t word = seen[w];
      if (word == 0) continue;
      seen[w] = 0;
      for (; word != 0; word &= word - 1)
        touched.push_back(index_t(w << 6) + index_t(__builtin_ctzll(word)));
    }
    if (last_batch) {
      columns.bring_all(now);
      for (index_t j = 0; j < d; ++j) refresh(j);
    }
    // (The stored parameters, and so coef, change between a column's steps only by the
    // shrink's omega, which the kernel applies: a column's state catches up in the
    // chunked step below, where its lines are read anyway.)
    pb.coef_scale = columns.omega;
    for (index_t t = 0; t < k; ++t) intercept[t] = spec.fit_intercept ? double(params[kd + t]) : 0.0;

    const index_t blocks = m >= 2 * kLazyBlockRows ? kLazyBlocks : 1;
    // block b: positions [pos + r0, pos + r1), its intercept, loss and weight sums at p
    parallel_for(blocks, [&](index_t b) {
      const index_t r0 = b * m / blocks, r1 = (b + 1) * m / blocks;
      double* p = part.data() + b * (k + 2);
      if constexpr (ByColumn)
        rows_kernel(pb, pos + r0, pos + r1, Z.data() + r0 * k, p, p + k);
      else
        kernel(pb, pos + r0, pos + r1, b == 0 ? G.data() : G1.data(), p, p + k);
    });
    if constexpr (ByColumn) {
      parallel_for(groups, [&](index_t g) {
        columns_kernel(pb, pos, pos + m, Z.data(), g, groups, G.data());
      });
    }
    for (index_t t = 0; t < k; ++t) Gb[t] = 0.0;
    sums[0] = sums[1] = 0.0;
    for (index_t b = 0; b < blocks; ++b) {
      const double* p = part.data() + b * (k + 2);
      for (index_t t = 0; t < k; ++t) Gb[t] += p[t];
      sums[0] += p[k];
      sums[1] += p[k + 1];
    }
    const double loss = sums[0], weight = sums[1];
    result.loss_sum += loss;
    result.weight_sum += weight;
    auto clear = [&] {
      for (index_t j : touched)
        for (index_t t = 0; t < k; ++t) {
          G[at(t, j)] = 0.0;
          if (has_G1) G1[at(t, j)] = 0.0;
        }
    };
    if (!std::isfinite(loss)) {
      result.finite = false;
      clear();
      break;
    }
    const double D = (m == whole_epoch(spec)) ? weight : double(m) * spec.weight_per_row;
    const double inv_D = 1.0 / D;
    const double l2 = spec.l2;
    auto gradient = [&](index_t t, index_t j, double w) {  // (block 0's sums, then block 1's)
      const index_t i = at(t, j);
      return (has_G1 ? G[i] + G1[i] : G[i]) * inv_scale[j] * inv_D + l2 * w;
    };
    if (last_batch)  // the epoch's optimality measure, all columns current
      result.optimality = optimality(
          spec, [&](index_t t, index_t j) { return double(params[at(t, j)]); }, gradient,
          Gb.data(), inv_D);

    counters.steps += 1;
    const double step = double(counters.steps);
    const double lr =
        scheduled_lr(optimizer, spec.schedule, step, spec.steps_per_epoch, spec.schedule_offset) *
        spec.lr_factor;
    // In chunks of about kLazyChunk values (columns times outputs), so that a chunk's lines
    // (parameters, state, gradient, coef, clock) stay in cache from the gather to the
    // scatter: the states' missed decay (read from the clock), gather (w_J row-major by
    // output, the state times its decay; the last chunk adds the intercepts), step, L1,
    // scatter.  The optimizer's kernels are element-wise (the dense step splits them into
    // chunks among the threads too): chunks give the bits of one call, on whichever thread
    // (below).  Each chunk's call starts from the step's counters (the momentum and NAdam
    // scalars advance once per step).
    const TrainCounters before = counters;
    // SGD's shrink: the step reads omega w, stores its results divided by step_shrink.next.
    const auto step_shrink = columns.shrink_step(lr, l2 + optimizer.weight_decay);
    const bool shrinking = columns.shrink;
    const double omega = columns.omega;
    T* const* st = columns.state;  // the arrays this optimizer reads
    const index_t nJ = index_t(touched.size());
    // (k outputs: about kLazyChunk values a chunk; each output's columns read in order.)
    const index_t chunk = k < kLazyChunk / kLazyChunkMin ? kLazyChunk / k : kLazyChunkMin;
    // One chunk [a0, a0 + chunk) of J (and the intercepts with the last), with its own
    // buffers and its own copy of the step's counters (returned: the same for every chunk).
    auto step_chunk = [&](index_t a0, ChunkBuffers& buf) {
      std::vector<T>& cparam = buf.param;
      std::vector<T>& cgrad = buf.grad;
      std::vector<T>* cstate = buf.state;
      std::vector<double>& decay = buf.decay;
      const index_t nC = nJ - a0 < chunk ? nJ - a0 : chunk;
      const bool last_chunk = a0 + chunk >= nJ;
      const index_t cw = k * nC, csize = cw + (last_chunk ? n_icpt : 0);
      cparam.resize(static_cast<size_t>(csize));
      cgrad.resize(static_cast<size_t>(csize));
      for (int s = 0; s < 3; ++s)
        if (st[s]) cstate[s].resize(static_cast<size_t>(csize));
      decay.resize(static_cast<size_t>(3 * nC));
      for (index_t a = 0; a < nC; ++a) {  // (all 1 where the shrink or the last batch caught up)
        if (a0 + a + kClockAhead < nJ) {
          const index_t ahead = touched[a0 + a + kClockAhead];
          columns.prefetch_clock(ahead);
          hint_step_lines(ahead);
        }
        columns.missed_decay(touched[a0 + a], now, &decay[static_cast<size_t>(3 * a)]);
      }
      for (index_t t = 0; t < k; ++t) {
        for (index_t a = 0; a < nC; ++a) {
          const index_t j = touched[a0 + a], i = at(t, j), c = t * nC + a;
          const double w = omega * double(params[i]);  // (omega 1 without a shrink: exact)
          cparam[c] = T(w);
          cgrad[c] = T(gradient(t, j, w));
          for (int s = 0; s < 3; ++s)
            if (st[s]) cstate[s][c] = T(double(st[s][i]) * decay[static_cast<size_t>(3 * a + s)]);
        }
      }
      for (index_t t = 0; t < csize - cw; ++t) {
        cparam[cw + t] = params[kd + t];
        cgrad[cw + t] = T(Gb[t] * inv_D);
        for (int s = 0; s < 3; ++s)
          if (st[s]) cstate[s][cw + t] = st[s][kd + t];
      }
      ParamArrays<T> arrays;
      arrays.param = cparam.data();
      arrays.grad = cgrad.data();
      for (int s = 0; s < 3; ++s) arrays.state[s] = st[s] ? cstate[s].data() : nullptr;
      arrays.size = csize;
      if (l1 && optimizer.kind == OptimizerKind::adadelta) {
        buf.acc_delta_before.resize(static_cast<size_t>(cw));
        for (index_t c = 0; c < cw; ++c) buf.acc_delta_before[c] = double(arrays.state[1][c]);
      }
      TrainCounters after = before;
      const L1StepScalars l1_scalars = optimizer_step(optimizer, arrays, step, lr, after);
      if (l1) {
        buf.eta.resize(static_cast<size_t>(cw));
        l1_step_sizes(optimizer, arrays, l1_scalars, buf.acc_delta_before.data(), cw,
                      buf.eta.data());
        for (index_t c = 0; c < cw; ++c) {
          const double threshold = buf.eta[c] * spec.l1;
          const double w = double(cparam[c]);
          cparam[c] = w > threshold ? T(w - threshold) : (w < -threshold ? T(w + threshold) : T(0));
        }
      }
      for (index_t t = 0; t < k; ++t) {
        for (index_t a = 0; a < nC; ++a) {
          const index_t j = touched[a0 + a], i = at(t, j), c = t * nC + a;
          params[i] = shrinking ? T(double(cparam[c]) / step_shrink.next) : cparam[c];
          for (int s = 0; s < 3; ++s)
            if (st[s]) st[s][i] = cstate[s][c];
          coef[i] = double(params[i]) * inv_scale[j];
          G[i] = 0.0;
          if (has_G1) G1[i] = 0.0;
        }
      }
      for (index_t a = 0; a < nC; ++a) columns.mark(touched[a0 + a], after.steps);
      for (index_t t = 0; t < csize - cw; ++t) {
        params[kd + t] = cparam[cw + t];
        for (int s = 0; s < 3; ++s)
          if (st[s]) st[s][kd + t] = cstate[s][cw + t];
      }
      return after;
    };
    // The chunks touch disjoint columns (and only the last the intercepts), and the
    // optimizers are element-wise: any thread may take any chunk, the bits are one call's.
    // Each thread takes the next chunk from a shared counter, with its own buffers.
    const index_t n_chunks = nJ > 0 ? (nJ + chunk - 1) / chunk : (n_icpt > 0 ? 1 : 0);
    if (n_chunks > 0) {
      const index_t team = std::min<index_t>(n_chunks, index_t(buffers.size()));
      std::atomic<index_t> next{0};
      TrainCounters after = before;  // chunk 0's (every chunk's) counters after the step
      parallel_for(team, [&](index_t g) {
        for (index_t c = next++; c < n_chunks; c = next++) {
          const TrainCounters mine = step_chunk(c * chunk, buffers[static_cast<size_t>(g)]);
          if (c == 0) after = mine;
        }
      });
      counters = after;
    }
    if (nJ == 0 && n_icpt == 0) {  // nothing to step: the counters still advance
      ParamArrays<T> none;  // (size 0: no pointer is read)
      none.size = 0;
      optimizer_step(optimizer, none, step, lr, counters);
    }
    if (columns.finish_step(step_shrink, touched))
      for (index_t j = 0; j < d; ++j) refresh(j);
    if (last_batch) {  // columns the last batch did not store missed its step only
      for (index_t j = 0; j < d; ++j) columns.bring(j, counters.steps);
    }
    ++result.steps;
  }
  columns.bring_all(counters.steps);
  if (ByColumn) {  // the epoch's arrays back to the caller's, output by output
    copy_layout(own.params, state.params, false);
    for (int s = 0; s < 3; ++s)
      if (used[s]) copy_layout(own.state[s], state.state[s], false);
  }
  return result;
}

}  // namespace

namespace {

// A dense step from a batch's sums: train_epoch's per-step work after the sums
// (shared with train_step, which gets the sums from elsewhere: pygd.dask's chunks).
// Holds 1 / scale (within an ulp of dividing) and the mean, or 1 and 0 without
// standardisation (exact no-ops), so the per-step loops have no branches.
template <class T>
struct DenseStep {
  const TrainSpec<T>& spec;
  const TrainState<T>& state;
  index_t d, k, kd, size;  // size: what the optimizer updates
  std::vector<double> inv_scale_v, mean_v;
  std::vector<T> grad;
  ParamArrays<T> arrays;
  // The L1 step's per-coordinate step sizes (and Adadelta's acc_delta before the step).
  std::vector<double> eta, acc_delta_before;

  DenseStep(const TrainSpec<T>& sp, const TrainState<T>& st)
      : spec(sp), state(st), d(sp.data.X.cols), k(sp.data.k), kd(k * d),
        size(kd + (sp.fit_intercept ? k : 0)),
        inv_scale_v(static_cast<size_t>(d), 1.0), mean_v(static_cast<size_t>(d), 0.0),
        grad(static_cast<size_t>(kd + k), T(0)),
        eta(sp.l1 != 0 ? static_cast<size_t>(kd) : 0),
        acc_delta_before(sp.l1 != 0 && sp.optimizer.kind == OptimizerKind::adadelta
                             ? static_cast<size_t>(kd)
                             : 0) {
    for (index_t j = 0; spec.mean != nullptr && j < d; ++j) {
      inv_scale_v[j] = 1.0 / spec.scale[j];
      mean_v[j] = spec.mean[j];
    }
    arrays.param = state.params;
    arrays.grad = grad.data();
    for (int s = 0; s < 3; ++s) arrays.state[s] = state.state[s];
    arrays.size = size;
  }

  // One step from the sums of a batch of m positions (G (k d), Gb (k), loss, weight);
  // last: the epoch's last batch (its optimality measure).  Returns false, taking no step,
  // when the batch loss is not finite.
  bool take(const double* G, index_t m, bool last, EpochResult& result) {
    const double* __restrict inv_scale = inv_scale_v.data();
    const double* __restrict mean = mean_v.data();
    T* params = state.params;
    TrainCounters& counters = *state.counters;
    const double* Gb = G + kd;
    const double loss = G[kd + k], weight = G[kd + k + 1];
    result.loss_sum += loss;
    result.weight_sum += weight;
    if (!std::isfinite(loss)) {
      result.finite = false;
      return false;
    }
    const double D = (m == whole_epoch(spec)) ? weight : double(m) * spec.weight_per_row;
    const double inv_D = 1.0 / D;
    // The gradient of the standardised problem: (G - mean Gb) / scale / D + l2 w.
    const double l2 = spec.l2;
    auto gradient = [&](index_t t, index_t j, double w) {
      return (G[t * d + j] - mean[j] * Gb[t]) * inv_scale[j] * inv_D + l2 * w;
    };
    for (index_t t = 0; t < k; ++t) {
      const T* __restrict w = params + t * d;
      T* __restrict gt = grad.data() + t * d;
      for (index_t j = 0; j < d; ++j) gt[j] = T(gradient(t, j, double(w[j])));
      grad[kd + t] = spec.fit_intercept ? T(Gb[t] * inv_D) : T(0);
    }
    if (last)  // the epoch's last batch: its optimality measure
      result.optimality = optimality(
          spec, [&](index_t t, index_t j) { return double(params[t * d + j]); }, gradient, Gb,
          inv_D);

    counters.steps += 1;
    const double step = double(counters.steps);
    const double lr =
        scheduled_lr(spec.optimizer, spec.schedule, step, spec.steps_per_epoch,
                     spec.schedule_offset) *
        spec.lr_factor;
    const OptimizerOptions& optimizer = spec.optimizer;
    const bool l1 = spec.l1 != 0;
    if (l1 && optimizer.kind == OptimizerKind::adadelta) {  // the u the step will use
      for (index_t j = 0; j < kd; ++j) acc_delta_before[j] = double(arrays.state[1][j]);
    }
    const L1StepScalars l1_scalars = optimizer_step(optimizer, arrays, step, lr, counters);

    if (l1) {
      l1_step_sizes(optimizer, arrays, l1_scalars, acc_delta_before.data(), kd, eta.data());
      for (index_t j = 0; j < kd; ++j) {
        const double threshold = eta[j] * spec.l1;
        const double w = double(params[j]);
        params[j] = w > threshold ? T(w - threshold) : (w < -threshold ? T(w + threshold) : T(0));
      }
    }
    if (state.average && spec.average_start >= 0 && step > double(spec.average_start)) {
      counters.averaged += 1;
      const double n_averaged = double(counters.averaged);
      for (index_t j = 0; j < size; ++j) {
        const double a = double(state.average[j]);
        state.average[j] = T(a + (double(params[j]) - a) / n_averaged);
      }
    }
    ++result.steps;
    return true;
  }
};

}  // namespace

template <class T>
EpochResult train_epoch(const TrainSpec<T>& spec, const TrainState<T>& state) {
  if (spec.lazy && spec.data.sparse() && !(state.average && spec.average_start >= 0)) {
    bool centred = false;  // a mean folded into the model costs O(d) per step: dense steps
    for (index_t j = 0; spec.mean != nullptr && j < spec.data.X.cols; ++j)
      centred = centred || spec.mean[j] != 0;
    if (!centred)
      return spec.data.k > 1 ? train_epoch_lazy<T, true>(spec, state)
                             : train_epoch_lazy<T, false>(spec, state);
  }
  const BatchProblem<T>& data = spec.data;
  const index_t d = data.X.cols, k = data.k, kd = k * d;
  const BatchGradBlockFn<T> kernel = active_table().grad<T>();
  DenseStep<T> dense(spec, state);

  large_vector<double> coef(static_cast<size_t>(kd));
  std::vector<double> intercept(static_cast<size_t>(k), 0.0);
  BatchScratch scratch;
  scratch.kd = kd;
  scratch.k = k;
  scratch.reserve_blocks(1);
  BatchProblem<T> pb = data;
  pb.coef = coef.data();
  pb.intercept = intercept.data();
  pb.lookahead = spec.n_order;  // the next batches' rows may be prefetched

  EpochResult result;
  T* params = state.params;
  index_t next_interrupt_check = kInterruptCheckRows;
  BatchSums<T> sums(pb, scratch, kernel);
  for (index_t pos = 0; pos < spec.n_order; pos += spec.batch_size) {
    const index_t m = spec.batch_size < spec.n_order - pos ? spec.batch_size : spec.n_order - pos;
    if (spec.interrupted && pos >= next_interrupt_check) {  // between steps: all state consistent
      if (spec.interrupted()) {
        result.interrupted = true;
        break;
      }
      next_interrupt_check = pos + kInterruptCheckRows;
    }

    raw_model(params, k, d, spec.fit_intercept, spec.scale, spec.mean,
              coef.data(), intercept.data());
    sums.run(pos, m);
    if (!dense.take(scratch.block(0), m, pos + m >= spec.n_order, result)) break;
  }
  return result;
}

template <class T>
void batch_sums(const TrainSpec<T>& spec, const double* params, double* out) {
  const index_t kd = spec.data.k * spec.data.X.cols, k = spec.data.k;
  BatchScratch scratch;
  std::unique_ptr<double[]> coef;
  const double* G = pass_sums(spec, params, scratch, coef);
  for (index_t j = 0; j < kd + k + 2; ++j) out[j] = G[j];
}

template <class T>
EpochResult train_step(const TrainSpec<T>& spec, const TrainState<T>& state, const double* sums) {
  DenseStep<T> dense(spec, state);
  EpochResult result;
  dense.take(sums, spec.n_order, true, result);
  return result;
}

template <class T>
void batch_predict(const BatchProblem<T>& problem, index_t m, T* out) {
  const BatchPredictBlockFn<T> kernel = active_table().predict<T>();
  const BlockPlan plan = plan_row_blocks(m, 0, problem.row_width());
  parallel_for(plan.count,
               [&](index_t b) { kernel(problem, plan.begin(b), plan.end(b), out); });
}

template ObjectiveResult objective_grad<float>(const TrainSpec<float>&, const double*, double*);
template ObjectiveResult objective_grad<double>(const TrainSpec<double>&, const double*, double*);
template GramResult gram<float>(const TrainSpec<float>&, const double*, double*, double*);
template GramResult gram<double>(const TrainSpec<double>&, const double*, double*, double*);
template EpochResult train_epoch<float>(const TrainSpec<float>&, const TrainState<float>&);
template EpochResult train_epoch<double>(const TrainSpec<double>&, const TrainState<double>&);
template void batch_sums<float>(const TrainSpec<float>&, const double*, double*);
template void batch_sums<double>(const TrainSpec<double>&, const double*, double*);
template EpochResult train_step<float>(const TrainSpec<float>&, const TrainState<float>&,
                                       const double*);
template EpochResult train_step<double>(const TrainSpec<double>&, const TrainState<double>&,
                                        const double*);
template void batch_predict<float>(const BatchProblem<float>&, index_t, float*);
template void batch_predict<double>(const BatchProblem<double>&, index_t, double*);

}  // namespace pygd
