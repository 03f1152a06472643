// pygd._core.train_epoch_f32/_f64, train_step_f32/_f64, batch_sums_f32/_f64,
// batch_predict_f32/_f64 and scheduled_lr:
// the training engine, and its typed contract (bind/options.cpp binds the
// option structs and enums).  pygd.linear_model validates everything; this
// file only re-checks shapes and types, turns every Python object into a plain
// C++ value, then releases the GIL for the whole epoch.  A long epoch run from
// the main thread takes the GIL back between steps, once per
// kInterruptCheckRows rows, only to run Python's signal handlers: Ctrl-C stops
// it there (KeyboardInterrupt, with params, states and counters those of the
// steps taken) instead of at the end of the epoch.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "bind/common.hpp"
#include "pygd/engine/train.hpp"

namespace pygd {
namespace {

namespace py = pybind11;
using bind::array_of;
using bind::fail;

template <class T>
T* writable(array_of<T>& a, py::ssize_t size, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != size)
    fail(std::string(name) + " must be 1-D with " + std::to_string(size) + " entries");
  if (size > 1 && a.strides(0) != static_cast<py::ssize_t>(sizeof(T)))
    fail(std::string(name) + " must be contiguous");
  if (!a.writeable()) fail(std::string(name) + " must be writable");
  return a.mutable_data();
}

}  // namespace

namespace bind {

CsrInput make_csr(py::array data, py::array indices, py::array indptr, index_t n_cols) {
  auto contiguous_1d = [](const py::array& a, const char* name) {
    if (a.ndim() != 1) fail(std::string(name) + " must be 1-D");
    if (a.shape(0) > 1 && a.strides(0) != a.dtype().itemsize())
      fail(std::string(name) + " must be contiguous");
    if (reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(a.dtype().itemsize()) != 0)
      fail(std::string(name) + " is not aligned");
  };
  contiguous_1d(data, "data");
  contiguous_1d(indices, "indices");
  contiguous_1d(indptr, "indptr");
  const py::dtype dt = data.dtype();
  if (dt.kind() != 'f' || (dt.itemsize() != 4 && dt.itemsize() != 8))
    fail("data must be float32 or float64");
  const py::dtype it = indices.dtype();
  if (it.kind() != 'i' || (it.itemsize() != 4 && it.itemsize() != 8))
    fail("indices must be int32 or int64");
  if (indptr.dtype().kind() != 'i' || indptr.dtype().itemsize() != it.itemsize())
    fail("indptr must have indices' dtype (int32 or int64)");
  if (n_cols < 0) fail("n_cols must be >= 0");
  if (indptr.shape(0) < 1) fail("indptr must have n_rows + 1 >= 1 entries");
  CsrInput csr;
  csr.data = data;
  csr.indices = indices;
  csr.indptr = indptr;
  csr.rows = indptr.shape(0) - 1;
  csr.cols = n_cols;
  csr.nnz = data.shape(0);
  csr.wide = it.itemsize() == 8;
  if (indices.shape(0) != csr.nnz) fail("indices and data must have the same length");
  std::string problem;
  auto check = [&](const auto* idx, const auto* ptr) {
    py::gil_scoped_release release;
    if (ptr[0] != 0) {
      problem = "indptr[0] must be 0";
      return;
    }
    for (index_t i = 0; i < csr.rows; ++i) {
      if (ptr[i + 1] < ptr[i]) {
        problem = "indptr must be non-decreasing";
        return;
      }
    }
    if (index_t(ptr[csr.rows]) != csr.nnz) {
      problem = "indptr[-1] must equal the number of stored values";
      return;
    }
    // One branch-free pass (it vectorises): an index is outside [0, n_cols) exactly when,
    // read as unsigned, it is at least n_cols (negative ones wrap beyond every valid one).
    // (Valid indices stop at the signed maximum however wide the matrix.)
    using S = std::remove_cv_t<std::remove_pointer_t<decltype(idx)>>;
    using U = std::make_unsigned_t<S>;
    const std::uint64_t cap = std::uint64_t(std::numeric_limits<S>::max()) + 1;
    const U limit = U(std::uint64_t(n_cols) < cap ? std::uint64_t(n_cols) : cap);
    const bool outside = any_in_chunks(csr.nnz, index_t(1) << 20, [&](index_t e0, index_t e1) {
      U flag = 0;
      for (index_t e = e0; e < e1; ++e) flag |= U(U(idx[e]) >= limit);
      return flag != 0;
    });
    if (outside) problem = "indices holds a column number outside [0, n_cols)";
  };
  if (csr.wide)
    check(static_cast<const std::int64_t*>(indices.data()), static_cast<const std::int64_t*>(indptr.data()));
  else
    check(static_cast<const std::int32_t*>(indices.data()), static_cast<const std::int32_t*>(indptr.data()));
  if (!problem.empty()) fail(problem);
  // Whether every stored value is finite (x - x is 0 exactly for finite x; NaN otherwise),
  // in the same branch-free style: callers that refuse NaN and infinity read it instead
  // of two more passes over the values.
  auto finite = [&](const auto* v) {
    py::gil_scoped_release release;
    return !any_in_chunks(csr.nnz, index_t(1) << 20, [&](index_t e0, index_t e1) {
      int bad = 0;
      for (index_t e = e0; e < e1; ++e) bad |= int(!(v[e] - v[e] == 0));
      return bad != 0;
    });
  };
  csr.finite = dt.itemsize() == 4 ? finite(static_cast<const float*>(data.data()))
                                  : finite(static_cast<const double*>(data.data()));
  // Whether the rows are canonical (the kernels need not; scikit-learn's form, and the
  // column statistics', is): callers read it instead of checking again.
  {
    py::gil_scoped_release release;
    csr.canonical = csr.wide ? rows_canonical(static_cast<const std::int64_t*>(indices.data()),
                                              static_cast<const std::int64_t*>(indptr.data()), csr.rows)
                             : rows_canonical(static_cast<const std::int32_t*>(indices.data()),
                                              static_cast<const std::int32_t*>(indptr.data()), csr.rows);
  }
  return csr;
}

}  // namespace bind

namespace {

// X: (n, d) with contiguous rows, or a _core.CsrMatrix; Y (n, k) C-contiguous,
// sample_weight (n,) or None.
template <class T>
BatchProblem<T> problem_of(const py::object& X) {
  BatchProblem<T> pb;
  if (py::isinstance<bind::CsrInput>(X)) {
    const bind::CsrInput& csr = X.cast<const bind::CsrInput&>();
    pb.X.rows = csr.rows;
    pb.X.cols = csr.cols;
    pb.csr = bind::csr_view<T>(csr, "X");
  } else {
    if (!py::isinstance<array_of<T>>(X))  // a TypeError, as pybind11's own for a wrong dtype
      throw py::type_error(std::string("X must be a NumPy array of ") +
                           (sizeof(T) == 4 ? "float32" : "float64") + " or a pygd._core.CsrMatrix");
    pb.X = bind::matrix_view(py::reinterpret_borrow<array_of<T>>(X), "X");
    if (!pb.X.rows_contiguous()) fail("X must have contiguous rows (C order)");
  }
  return pb;
}

template <class T>
BatchProblem<T> problem_of(const py::object& X, const array_of<T>& Y,
                           const std::optional<array_of<T>>& sample_weight) {
  BatchProblem<T> pb = problem_of<T>(X);
  if (Y.ndim() != 2 || Y.shape(0) != pb.X.rows) fail("Y must be 2-D with X's number of rows");
  pb.k = Y.shape(1);
  if (pb.k < 1) fail("Y must have at least one column");
  if (pb.k > 1 && Y.strides(1) != static_cast<py::ssize_t>(sizeof(T)))
    fail("Y must be C-contiguous");
  if (pb.X.rows > 1 && Y.strides(0) != static_cast<py::ssize_t>(sizeof(T)) * pb.k)
    fail("Y must be C-contiguous");
  pb.Y = Y.data();
  if (sample_weight) pb.sample_weight = bind::vector_data(*sample_weight, pb.X.rows, "sample_weight");
  return pb;
}

const index_t* rows_of(const std::optional<array_of<std::int64_t>>& rows, index_t n,
                       index_t& count) {
  if (!rows) {
    count = n;
    return nullptr;
  }
  if (rows->ndim() != 1) fail("rows must be 1-D");
  count = rows->shape(0);
  const std::int64_t* data = bind::vector_data(*rows, count, "rows");
  // Cheap compared with an epoch, and an out-of-range row would read outside X.
  for (index_t i = 0; i < count; ++i)
    if (data[i] < 0 || data[i] >= n) fail("rows holds a row number outside [0, n)");
  return reinterpret_cast<const index_t*>(data);
}

// The engine's standardisation x' = (x - mean) / scale, or none (both None).
template <class T>
void set_standardisation(TrainSpec<T>& spec, const std::optional<array_of<double>>& mean,
                         const std::optional<array_of<double>>& scale) {
  if (mean.has_value() != scale.has_value()) fail("mean and scale go together");
  if (mean) {
    spec.mean = bind::vector_data(*mean, spec.data.X.cols, "mean");
    spec.scale = bind::vector_data(*scale, spec.data.X.cols, "scale");
  }
}

// The state arrays, average and counters of one call, checked (train_epoch, train_step).
template <class T>
struct BoundState {
  TrainState<T> state;
  std::vector<array_of<T>> arrays;  // keeps the state arrays alive
  TrainCounters local;
  BoundState(array_of<T>& params, const py::list& states, std::optional<array_of<T>>& average,
             const TrainCounters& counters, index_t size) : local(counters) {
    state.params = writable(params, size, "params");
    if (states.size() > 3) fail("at most three optimizer state arrays");
    arrays.reserve(3);
    for (size_t s = 0; s < states.size(); ++s) {
      if (states[s].is_none()) continue;
      if (!py::isinstance<array_of<T>>(states[s])) fail("optimizer state arrays must have params' dtype");
      arrays.push_back(states[s].cast<array_of<T>>());
      state.state[s] = writable(arrays.back(), size, "optimizer state");
    }
    if (average) state.average = writable(*average, size, "average");
    // The engine updates a copy, stored back after the call: `counters` is a
    // Python object and must not be touched without the GIL.
    state.counters = &local;
  }
};

// The options a step reads (train_epoch and train_step).
template <class T>
void set_step_options(TrainSpec<T>& spec, const TrainOptions& options) {
  spec.data.loss = options.loss;
  spec.data.epsilon = options.epsilon;
  spec.steps_per_epoch = options.steps_per_epoch;
  if (spec.steps_per_epoch < 1) fail("steps_per_epoch must be >= 1");
  spec.schedule_offset = options.schedule_offset;
  if (!std::isfinite(spec.schedule_offset)) fail("schedule_offset must be finite");
  spec.fit_intercept = options.fit_intercept;
  spec.l2 = options.l2;
  spec.l1 = options.l1;
  spec.weight_per_row = options.weight_per_row;
  spec.epoch_rows = options.epoch_rows;
  if (spec.epoch_rows < 0) fail("epoch_rows must be >= 0");
  spec.lr_factor = options.lr_factor;
  spec.average_start = options.average_start;
  spec.lazy = options.lazy;
  spec.optimizer = options.optimizer;
  spec.schedule = options.schedule;
}

// Python runs signal handlers in the main thread only: epochs run from other
// threads never take the GIL back.  (Not cached: a fork changes the main thread.)
bool in_main_thread() {
  const py::module_ threading = py::module_::import("threading");
  return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

template <class T>
EpochResult train_epoch(const py::object& X, const array_of<T>& Y,
                        const std::optional<array_of<T>>& sample_weight,
                        const std::optional<array_of<std::int64_t>>& rows, index_t batch_size,
                        array_of<T> params, const py::list& states,
                        std::optional<array_of<T>> average, TrainCounters& counters,
                        const std::optional<array_of<double>>& mean,
                        const std::optional<array_of<double>>& scale,
                        const TrainOptions& options) {
  TrainSpec<T> spec;
  spec.data = problem_of(X, Y, sample_weight);
  const index_t d = spec.data.X.cols, k = spec.data.k, size = k * d + k;
  spec.data.rows = rows_of(rows, spec.data.X.rows, spec.n_order);
  if (batch_size < 1) fail("batch_size must be >= 1");
  spec.batch_size = batch_size;
  set_step_options(spec, options);
  if (spec.epoch_rows != 0 && spec.epoch_rows < spec.n_order)
    fail("epoch_rows (" + std::to_string(spec.epoch_rows) + ") is below the " +
         std::to_string(spec.n_order) + " rows of this epoch");
  set_standardisation(spec, mean, scale);
  BoundState<T> bound(params, states, average, counters, size);
  const TrainState<T>& state = bound.state;

  if (spec.n_order > kInterruptCheckRows && in_main_thread()) {
    // Called by the engine on this thread, between steps, without the GIL.
    // True when a handler raised (KeyboardInterrupt for Ctrl-C): its exception
    // stays set in this thread's state and is raised below.
    spec.interrupted = [] {
      py::gil_scoped_acquire acquire;
      return PyErr_CheckSignals() != 0;
    };
  }

  EpochResult result;
  {
    py::gil_scoped_release release;
    result = pygd::train_epoch(spec, state);
  }
  counters = bound.local;  // also when interrupted: the steps taken are in params and states
  if (result.interrupted) throw py::error_already_set();
  return result;
}

// One full-batch step from raw sums (k d + k + 2: G row-major, Gb, loss sum, weight sum,
// batch_sums' layout) for k = n_outputs outputs of d = (params.size - k) / k columns.
template <class T>
EpochResult train_step(const array_of<double>& sums, index_t n_outputs, array_of<T> params,
                       const py::list& states, std::optional<array_of<T>> average,
                       TrainCounters& counters, const std::optional<array_of<double>>& mean,
                       const std::optional<array_of<double>>& scale,
                       const TrainOptions& options) {
  if (n_outputs < 1) fail("n_outputs must be >= 1");
  if (params.ndim() != 1 || params.shape(0) % n_outputs != 0 || params.shape(0) < n_outputs)
    fail("params must be 1-D with n_outputs * (d + 1) entries");
  const index_t k = n_outputs, size = params.shape(0), d = size / k - 1;
  TrainSpec<T> spec;
  spec.data.X.cols = d;
  spec.data.k = k;
  spec.n_order = 1;  // one full batch: normalised by its weight sum
  spec.batch_size = 1;
  set_step_options(spec, options);
  set_standardisation(spec, mean, scale);
  const double* s = bind::vector_data(sums, size + 2, "sums");
  BoundState<T> bound(params, states, average, counters, size);
  EpochResult result;
  {
    py::gil_scoped_release release;
    result = pygd::train_step(spec, bound.state, s);
  }
  counters = bound.local;
  return result;
}

// The raw full-batch sums at params (float64, k d + k): a new float64 array of k d + k + 2
// (G row-major, Gb, loss sum, weight sum).  Reads options' loss, epsilon, fit_intercept.
template <class T>
array_of<double> batch_sums(const py::object& X, const array_of<T>& Y,
                            const std::optional<array_of<T>>& sample_weight,
                            const std::optional<array_of<std::int64_t>>& rows,
                            const array_of<double>& params,
                            const std::optional<array_of<double>>& mean,
                            const std::optional<array_of<double>>& scale,
                            const TrainOptions& options) {
  TrainSpec<T> spec;
  spec.data = problem_of(X, Y, sample_weight);
  const index_t d = spec.data.X.cols, k = spec.data.k, size = k * d + k;
  spec.data.rows = rows_of(rows, spec.data.X.rows, spec.n_order);
  spec.data.loss = options.loss;
  spec.data.epsilon = options.epsilon;
  spec.fit_intercept = options.fit_intercept;
  set_standardisation(spec, mean, scale);
  const double* p = bind::vector_data(params, size, "params");
  array_of<double> out(static_cast<py::ssize_t>(size + 2));
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    pygd::batch_sums(spec, p, o);
  }
  return out;
}

// The full-batch objective and gradient at params (float64, k d + k); only options'
// loss, epsilon, fit_intercept and l2 are read.  Returns (objective, weight_sum, finite)
// and writes the gradient into grad.
template <class T>
py::tuple objective_grad(const py::object& X, const array_of<T>& Y,
                         const std::optional<array_of<T>>& sample_weight,
                         const std::optional<array_of<std::int64_t>>& rows,
                         const array_of<double>& params, array_of<double> grad,
                         const std::optional<array_of<double>>& mean,
                         const std::optional<array_of<double>>& scale,
                         const TrainOptions& options) {
  TrainSpec<T> spec;
  spec.data = problem_of(X, Y, sample_weight);
  const index_t d = spec.data.X.cols, k = spec.data.k, size = k * d + k;
  spec.data.rows = rows_of(rows, spec.data.X.rows, spec.n_order);
  if (spec.n_order < 1) fail("objective_grad needs at least one row");
  spec.data.loss = options.loss;
  spec.data.epsilon = options.epsilon;
  spec.fit_intercept = options.fit_intercept;
  spec.l2 = options.l2;
  set_standardisation(spec, mean, scale);
  const double* p = bind::vector_data(params, size, "params");
  double* g = writable(grad, size, "grad");
  if (g < p + size && p < g + size) fail("grad must not overlap params");
  ObjectiveResult result;
  {
    py::gil_scoped_release release;
    result = pygd::objective_grad(spec, p, g);
  }
  return py::make_tuple(result.objective, result.weight_sum, result.finite);
}

// The squared error's normalised second moments of the standardised rows: returns
// (A (q, q), C (q, k), yy, weight_sum) with q = d + 1 (engine/train.hpp, gram).
template <class T>
py::tuple gram(const array_of<T>& X, const array_of<T>& Y,
               const std::optional<array_of<T>>& sample_weight,
               const std::optional<array_of<std::int64_t>>& rows,
               const std::optional<array_of<double>>& mean,
               const std::optional<array_of<double>>& scale, const array_of<double>& shift) {
  TrainSpec<T> spec;
  spec.data = problem_of(X, Y, sample_weight);
  const index_t d = spec.data.X.cols, k = spec.data.k, q = d + 1;
  spec.data.rows = rows_of(rows, spec.data.X.rows, spec.n_order);
  if (spec.n_order < 1) fail("gram needs at least one row");
  set_standardisation(spec, mean, scale);
  const double* shift_data = bind::vector_data(shift, k, "shift");
  array_of<double> A({static_cast<py::ssize_t>(q), static_cast<py::ssize_t>(q)});
  array_of<double> C({static_cast<py::ssize_t>(q), static_cast<py::ssize_t>(k)});
  double* A_data = A.mutable_data();
  double* C_data = C.mutable_data();
  GramResult result;
  {
    py::gil_scoped_release release;
    result = pygd::gram(spec, shift_data, A_data, C_data);
  }
  return py::make_tuple(A, C, result.yy, result.weight_sum);
}

template <class T>
array_of<T> batch_predict(const py::object& X, const std::optional<array_of<std::int64_t>>& rows,
                          const array_of<double>& coef, const array_of<double>& intercept) {
  BatchProblem<T> pb = problem_of<T>(X);
  const index_t d = pb.X.cols;
  if (coef.ndim() != 2 || coef.shape(1) != d) fail("coef must be 2-D with X's number of columns");
  if (!(coef.flags() & py::array::c_style)) fail("coef must be C-contiguous");
  pb.k = coef.shape(0);
  pb.coef = coef.data();
  pb.intercept = bind::vector_data(intercept, pb.k, "intercept");
  index_t m = 0;
  pb.rows = rows_of(rows, pb.X.rows, m);
  array_of<T> out({static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(pb.k)});
  T* out_data = out.mutable_data();
  {
    py::gil_scoped_release release;
    pygd::batch_predict(pb, m, out_data);
  }
  return out;
}

template <class T>
void def_for(py::module_& m, const char* suffix) {
  m.def((std::string("train_epoch_") + suffix).c_str(), &train_epoch<T>, py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("rows").noconvert(), py::arg("batch_size"), py::arg("params").noconvert(),
        py::arg("states"), py::arg("average").noconvert(), py::arg("counters"),
        py::arg("mean").noconvert(), py::arg("scale").noconvert(), py::arg("options"),
        "One epoch of the training engine: updates params, states, average and counters "
        "in place and returns an EpochResult (optimality: max |least-norm subgradient| at "
        "the last step). Inputs validated by pygd.linear_model. Run from the main thread, "
        "a signal handler that raises (Ctrl-C) stops it between two steps: the exception is "
        "raised with params, states, average and counters those of the steps taken.");
  m.def((std::string("train_step_") + suffix).c_str(), &train_step<T>,
        py::arg("sums").noconvert(), py::arg("n_outputs"), py::arg("params").noconvert(),
        py::arg("states"), py::arg("average").noconvert(), py::arg("counters"),
        py::arg("mean").noconvert(), py::arg("scale").noconvert(), py::arg("options"),
        "One full-batch step of the training engine from the batch's raw sums (float64, "
        "k d + k + 2: G row-major, Gb, loss sum, weight sum; batch_sums' layout): updates "
        "params, states, average and counters in place as train_epoch's step would and returns "
        "an EpochResult (steps 0 and finite False when the loss sum is not finite). "
        "train_epoch with batch_size = n is batch_sums then train_step, bit for bit.");
  m.def((std::string("batch_sums_") + suffix).c_str(), &batch_sums<T>,
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("rows").noconvert(), py::arg("params").noconvert(), py::arg("mean").noconvert(),
        py::arg("scale").noconvert(), py::arg("options"),
        "The raw full-batch sums at params (float64, k d + k, standardised units): a float64 "
        "array of k d + k + 2, G = sum_i s_i dl_i/dp_i x_i (row-major), Gb, the loss sum and the "
        "weight sum, at the raw model train_epoch forms, over its fixed blocks in block order. "
        "Reads options.loss, epsilon and fit_intercept. Sums over row chunks add up to the "
        "whole set's (to rounding).");
  m.def((std::string("objective_grad_") + suffix).c_str(), &objective_grad<T>,
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("rows").noconvert(), py::arg("params").noconvert(), py::arg("grad").noconvert(),
        py::arg("mean").noconvert(), py::arg("scale").noconvert(), py::arg("options"),
        "The full-batch objective of the standardised problem at params (float64, k d + k: "
        "coef row-major, then intercepts): writes its gradient into grad and returns "
        "(objective, weight_sum, finite). Reads options.loss, epsilon, fit_intercept and l2 "
        "(the L1 term is the caller's). One pass, the GIL released, the same bits for any "
        "thread count.");
  m.def((std::string("gram_") + suffix).c_str(), &gram<T>, py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("rows").noconvert(), py::arg("mean").noconvert(), py::arg("scale").noconvert(),
        py::arg("shift").noconvert(),
        "(A, C, yy, weight_sum): with q = d + 1, z_i = ((x_i - mean) / scale, 1) and S = "
        "sum_i s_i, A = sum_i s_i z_i z_i^T / S (q, q), C = sum_i s_i z_i (y_i - shift)^T / S "
        "(q, k), yy = sum_i s_i |y_i - shift|^2 / S. One pass, the GIL released, fixed "
        "blocks reduced in order (the same bits for any thread count).");
  m.def((std::string("batch_predict_") + suffix).c_str(), &batch_predict<T>,
        py::arg("X").noconvert(), py::arg("rows").noconvert(), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(),
        "(m, k) predictions X[rows] @ coef.T + intercept, computed in double.");
}

}  // namespace

void register_train(py::module_& m) {
  py::class_<bind::CsrInput>(
      m, "CsrMatrix",
      "A CSR matrix for the training engine (scipy.sparse's layout, nothing copied): "
      "CsrMatrix(data, indices, indptr, n_cols) with data float32/float64 and indices, indptr "
      "both int32 or both int64, all 1-D contiguous. The structure is checked once here "
      "(indptr non-decreasing from 0 to nnz, indices in [0, n_cols)); `finite` and `canonical` "
      "say whether every value is finite and every row's columns strictly increase.")
      .def(py::init(&bind::make_csr), py::arg("data"), py::arg("indices"), py::arg("indptr"),
           py::arg("n_cols"))
      .def_property_readonly("shape", [](const bind::CsrInput& c) { return py::make_tuple(c.rows, c.cols); })
      .def_property_readonly("dtype", [](const bind::CsrInput& c) { return c.data.dtype(); })
      .def_property_readonly("nnz", [](const bind::CsrInput& c) { return c.nnz; })
      .def_readonly("finite", &bind::CsrInput::finite, "Whether every stored value is finite.")
      .def_readonly("canonical", &bind::CsrInput::canonical,
                    "Whether every row's columns strictly increase (sorted, no duplicates).")
      .def_readonly("data", &bind::CsrInput::data)
      .def_readonly("indices", &bind::CsrInput::indices)
      .def_readonly("indptr", &bind::CsrInput::indptr);
  def_for<float>(m, "f32");
  def_for<double>(m, "f64");
  m.def(
      "scheduled_lr",
      [](const OptimizerOptions& optimizer, const ScheduleOptions& schedule, double step,
         index_t steps_per_epoch, double offset) {
        if (steps_per_epoch < 1) fail("steps_per_epoch must be >= 1");
        if (!std::isfinite(offset)) fail("offset must be finite");
        return pygd::scheduled_lr(optimizer, schedule, step, steps_per_epoch, offset);
      },
      py::arg("optimizer"), py::arg("schedule"), py::arg("step"), py::arg("steps_per_epoch"),
      py::arg("offset") = 0.0,
      "The engine's learning rate at optimizer step `step` (from 1); `offset` is added to the "
      "step for the epoch-based schedules.");
}

}  // namespace pygd
