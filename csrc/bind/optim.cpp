// pygd._core.optim_check_grads, *_update, adam_scalars, nadam_scalars,
// grad_power_sums, grads_scale, lbfgs_direction and lbfgs_pair.
// The bindings see lists of NumPy arrays and plain numbers; they know nothing
// of pygd.optim's classes.  Every Python object becomes a raw pointer first,
// then the GIL is released once for all parameters.
#include <cstdint>
#include <string>
#include <vector>

#include "bind/common.hpp"
#include "pygd/engine/lbfgs.hpp"
#include "pygd/engine/optim.hpp"
#include "pygd/optim_scalars.hpp"

namespace pygd {
namespace {

namespace py = pybind11;

enum class Dtype { other, f32, f64 };

Dtype dtype_of(py::handle h) {
  if (py::isinstance<py::array_t<double, 0>>(h)) return Dtype::f64;
  if (py::isinstance<py::array_t<float, 0>>(h)) return Dtype::f32;
  return Dtype::other;
}

const char* dtype_name(Dtype d) { return d == Dtype::f32 ? "float32" : "float64"; }

std::string at(const char* what, size_t i) { return std::string(what) + "[" + std::to_string(i) + "]"; }

bool c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t k = 0; k < a.ndim(); ++k)
    if (a.shape(k) != b.shape(k)) return false;
  return true;
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) {
    s += std::to_string(a.shape(k));
    if (a.ndim() == 1 || k + 1 < a.ndim()) s += k + 1 < a.ndim() ? ", " : ",";
  }
  return s + ")";
}

bool overlaps(const py::array& a, const py::array& b) {
  const char* a0 = static_cast<const char*>(a.data());
  const char* b0 = static_cast<const char*>(b.data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

template <class T>
bool all_finite_of(const py::array& g) {
  return pygd::all_finite(static_cast<const T*>(g.data()), static_cast<index_t>(g.size()));
}

// Gradients as C-contiguous arrays with exactly their parameter's dtype and
// shape, all finite.  A gradient that is not an array is converted (its dtype
// must then come out right); a non-contiguous one, or one sharing memory with
// its parameter, is copied.  Nothing is written to any input.
py::list check_grads(const py::list& params, const py::sequence& grads) {
  const size_t n = params.size();
  if (grads.size() != n)
    bind::fail("step() expects one gradient per parameter: got " + std::to_string(grads.size()) +
               " gradients for " + std::to_string(n) + " parameters");
  py::list out(n);
  std::vector<py::array> arrays;
  std::vector<Dtype> dtypes;
  arrays.reserve(n);
  dtypes.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    py::handle p = params[i];
    const Dtype pd = dtype_of(p);
    if (pd == Dtype::other) throw py::type_error(at("params", i) + " is not a float32/float64 array");
    const py::array param = py::reinterpret_borrow<py::array>(p);
    py::object g = grads[i];
    if (g.is_none()) bind::fail(at("grads", i) + " is None; pass a gradient for every parameter");
    if (!py::isinstance<py::array>(g)) g = py::array::ensure(g);
    if (!g) throw py::type_error(at("grads", i) + " cannot be converted to an array");
    py::array grad = py::reinterpret_borrow<py::array>(g);
    const Dtype gd = dtype_of(grad);
    if (gd != pd)
      throw py::type_error(at("grads", i) + " has dtype " + std::string(py::str(grad.dtype())) +
                           " but its parameter has dtype " + dtype_name(pd) +
                           "; gradients must have their parameter's dtype");
    if (!same_shape(grad, param))
      bind::fail(at("grads", i) + " has shape " + shape_str(grad) + " but its parameter has shape " +
                 shape_str(param));
    if (!c_contiguous(grad) || overlaps(grad, param))
      grad = grad.attr("copy")().cast<py::array>();  // ndarray.copy() is C order
    out[i] = grad;
    arrays.push_back(grad);
    dtypes.push_back(gd);
  }
  size_t first_bad = n;
  {
    py::gil_scoped_release release;
    for (size_t i = 0; i < n && first_bad == n; ++i) {
      const bool ok = dtypes[i] == Dtype::f32 ? all_finite_of<float>(arrays[i])
                                              : all_finite_of<double>(arrays[i]);
      if (!ok) first_bad = i;
    }
  }
  if (first_bad < n)
    bind::fail(at("grads", first_bad) +
               " contains NaN or infinity; no parameter or state was changed");
  return out;
}

// One parameter's arrays, checked cheaply, typed.
struct Task {
  Dtype dtype = Dtype::other;
  ParamArrays<float> f32;
  ParamArrays<double> f64;
};

template <class T>
T* writable_data(const py::array& a, const std::string& name, index_t size) {
  if (!a.writeable()) bind::fail(name + " is read-only");
  if (!c_contiguous(a)) bind::fail(name + " is not C-contiguous");
  if (static_cast<index_t>(a.size()) != size) bind::fail(name + " has the wrong size");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

template <class T>
ParamArrays<T> arrays_of(const py::array& param, const py::array& grad,
                         const std::vector<py::object>& states, size_t i) {
  ParamArrays<T> a;
  a.size = static_cast<index_t>(param.size());
  a.param = writable_data<T>(param, at("params", i), a.size);
  if (dtype_of(grad) != dtype_of(param) || !c_contiguous(grad) ||
      static_cast<index_t>(grad.size()) != a.size)
    bind::fail(at("grads", i) + " does not match its parameter (use optim_check_grads)");
  a.grad = static_cast<const T*>(grad.data());
  for (size_t k = 0; k < states.size() && k < 3; ++k) {
    if (states[k].is_none()) continue;
    py::handle s = py::reinterpret_borrow<py::list>(states[k])[i];
    if (dtype_of(s) != dtype_of(param))
      bind::fail("state " + std::to_string(k) + " of " + at("params", i) +
                 " is not an array of the parameter's dtype");
    a.state[k] = writable_data<T>(py::reinterpret_borrow<py::array>(s),
                                  "state " + std::to_string(k) + " of " + at("params", i), a.size);
  }
  return a;
}

std::vector<Task> collect(const py::list& params, const py::list& grads,
                          const std::vector<py::object>& states) {
  const size_t n = params.size();
  if (grads.size() != n) bind::fail("params and grads differ in length");
  for (const py::object& s : states)
    if (!s.is_none() && (!py::isinstance<py::list>(s) || py::len(s) != n))
      bind::fail("every state argument must be None or a list with one array per parameter");
  std::vector<Task> tasks(n);
  for (size_t i = 0; i < n; ++i) {
    py::handle p = params[i], g = grads[i];
    const Dtype d = dtype_of(p);
    if (d == Dtype::other) throw py::type_error(at("params", i) + " is not a float32/float64 array");
    if (!py::isinstance<py::array>(g)) throw py::type_error(at("grads", i) + " is not an array");
    const py::array param = py::reinterpret_borrow<py::array>(p);
    const py::array grad = py::reinterpret_borrow<py::array>(g);
    tasks[i].dtype = d;
    if (d == Dtype::f32)
      tasks[i].f32 = arrays_of<float>(param, grad, states, i);
    else
      tasks[i].f64 = arrays_of<double>(param, grad, states, i);
  }
  return tasks;
}

template <class Step>
void run(const std::vector<Task>& tasks, const Step& step,
         void (*update_f32)(const ParamArrays<float>&, const Step&),
         void (*update_f64)(const ParamArrays<double>&, const Step&)) {
  py::gil_scoped_release release;
  for (const Task& t : tasks) {
    if (t.dtype == Dtype::f32)
      update_f32(t.f32, step);
    else
      update_f64(t.f64, step);
  }
}

void sgd(const py::list& params, const py::list& grads, const py::object& momentum_buffers,
         double lr, double momentum, double dampening, double weight_decay, bool nesterov,
         bool maximize, bool first_step) {
  if (momentum != 0 && momentum_buffers.is_none()) bind::fail("momentum needs momentum_buffers");
  const SgdStep step{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step};
  run(collect(params, grads, {momentum_buffers}), step, &sgd_update<float>, &sgd_update<double>);
}

void adam(const py::list& params, const py::list& grads, const py::list& exp_avgs,
          const py::list& exp_avg_sqs, const py::object& max_exp_avg_sqs, double lr, double beta1,
          double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
          bool decoupled_weight_decay, double step_size, double bias_correction2_sqrt) {
  if (amsgrad && max_exp_avg_sqs.is_none()) bind::fail("amsgrad needs max_exp_avg_sqs");
  const AdamStep step{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                      decoupled_weight_decay, step_size, bias_correction2_sqrt};
  run(collect(params, grads, {exp_avgs, exp_avg_sqs, max_exp_avg_sqs}), step, &adam_update<float>,
      &adam_update<double>);
}

void adagrad(const py::list& params, const py::list& grads, const py::list& state_sums,
             double clr, double weight_decay, double eps, bool maximize) {
  const AdagradStep step{clr, weight_decay, eps, maximize};
  run(collect(params, grads, {state_sums}), step, &adagrad_update<float>, &adagrad_update<double>);
}

void rmsprop(const py::list& params, const py::list& grads, const py::list& square_avgs,
             const py::object& momentum_buffers, const py::object& grad_avgs, double lr,
             double alpha, double eps, double weight_decay, double momentum, bool centered,
             bool maximize) {
  if (momentum > 0 && momentum_buffers.is_none()) bind::fail("momentum needs momentum_buffers");
  if (centered && grad_avgs.is_none()) bind::fail("centered needs grad_avgs");
  const RmspropStep step{lr, alpha, eps, weight_decay, momentum, centered, maximize};
  run(collect(params, grads, {square_avgs, momentum_buffers, grad_avgs}), step,
      &rmsprop_update<float>, &rmsprop_update<double>);
}

void adadelta(const py::list& params, const py::list& grads, const py::list& square_avgs,
              const py::list& acc_deltas, double lr, double rho, double eps, double weight_decay,
              bool maximize) {
  const AdadeltaStep step{lr, rho, eps, weight_decay, maximize};
  run(collect(params, grads, {square_avgs, acc_deltas}), step, &adadelta_update<float>,
      &adadelta_update<double>);
}

void nadam(const py::list& params, const py::list& grads, const py::list& exp_avgs,
           const py::list& exp_avg_sqs, double lr, double beta1, double beta2, double eps,
           double weight_decay, bool decoupled_weight_decay, bool maximize,
           double bias_correction2, double grad_coef, double exp_avg_coef) {
  const NadamStep step{lr,       beta1,    beta2,           eps,       weight_decay,
                       decoupled_weight_decay, maximize, bias_correction2, grad_coef, exp_avg_coef};
  run(collect(params, grads, {exp_avgs, exp_avg_sqs}), step, &nadam_update<float>,
      &nadam_update<double>);
}

// sum |x|^p (or max |x| for p = inf) of each array, in double.
std::vector<double> grad_power_sums(const py::list& arrays, double p) {
  const size_t n = arrays.size();
  std::vector<py::array> items;
  std::vector<Dtype> dtypes;
  for (size_t i = 0; i < n; ++i) {
    const Dtype d = dtype_of(arrays[i]);
    if (d == Dtype::other) throw py::type_error(at("grads", i) + " is not a float32/float64 array");
    py::array a = py::reinterpret_borrow<py::array>(arrays[i]);
    if (!c_contiguous(a)) bind::fail(at("grads", i) + " is not C-contiguous");
    items.push_back(a);
    dtypes.push_back(d);
  }
  if (!(p > 0)) bind::fail("norm_type must be > 0");
  std::vector<double> out(n);
  {
    py::gil_scoped_release release;
    for (size_t i = 0; i < n; ++i) {
      const index_t size = static_cast<index_t>(items[i].size());
      out[i] = dtypes[i] == Dtype::f32
                   ? pygd::power_sum(static_cast<const float*>(items[i].data()), size, p)
                   : pygd::power_sum(static_cast<const double*>(items[i].data()), size, p);
    }
  }
  return out;
}

// Multiplies every array in place by factor.
void grads_scale(const py::list& arrays, double factor) {
  const size_t n = arrays.size();
  std::vector<py::array> items;
  std::vector<Dtype> dtypes;
  for (size_t i = 0; i < n; ++i) {
    const Dtype d = dtype_of(arrays[i]);
    if (d == Dtype::other) throw py::type_error(at("grads", i) + " is not a float32/float64 array");
    py::array a = py::reinterpret_borrow<py::array>(arrays[i]);
    if (!c_contiguous(a)) bind::fail(at("grads", i) + " is not C-contiguous");
    if (!a.writeable()) bind::fail(at("grads", i) + " is read-only");
    items.push_back(a);
    dtypes.push_back(d);
  }
  py::gil_scoped_release release;
  for (size_t i = 0; i < n; ++i) {
    const index_t size = static_cast<index_t>(items[i].size());
    void* data = const_cast<void*>(items[i].data());
    if (dtypes[i] == Dtype::f32)
      pygd::scale(static_cast<float*>(data), size, factor);
    else
      pygd::scale(static_cast<double*>(data), size, factor);
  }
}

// L-BFGS's vectors (pygd/_lbfgs.py): float64, 1-D, C-contiguous, n values each.
py::array lbfgs_vector(py::handle h, index_t n, const std::string& name, bool writable) {
  if (dtype_of(h) != Dtype::f64) throw py::type_error(name + " is not a float64 array");
  py::array a = py::reinterpret_borrow<py::array>(h);
  if (a.ndim() != 1 || a.shape(0) != n)
    bind::fail(name + " has shape " + shape_str(a) + ", expected (" + std::to_string(n) + ",)");
  if (!c_contiguous(a)) bind::fail(name + " is not C-contiguous");
  if (writable && !a.writeable()) bind::fail(name + " is read-only");
  return a;
}

bool overlap(const py::array& a, const py::array& b) {
  const auto a0 = reinterpret_cast<std::uintptr_t>(a.data()), a1 = a0 + std::uintptr_t(a.nbytes());
  const auto b0 = reinterpret_cast<std::uintptr_t>(b.data()), b1 = b0 + std::uintptr_t(b.nbytes());
  return a0 < b1 && b0 < a1;
}

// The diagonal guess: columns (c,) and trailing (t,) float64 with (n - t) a multiple of c,
// or both None (P = I).  The arrays are kept in `keep` while their pointers are used.
DiagonalGuessView guess_view(const py::object& columns, const py::object& trailing, index_t n,
                             std::vector<py::array>& keep) {
  DiagonalGuessView P;
  if (columns.is_none() && trailing.is_none()) return P;
  if (columns.is_none() || trailing.is_none())
    bind::fail("columns and trailing are both arrays or both None");
  for (const py::object* o : {&columns, &trailing}) {
    if (dtype_of(*o) != Dtype::f64) throw py::type_error("columns and trailing must be float64 arrays");
    py::array a = py::reinterpret_borrow<py::array>(*o);
    if (a.ndim() != 1 || !c_contiguous(a)) bind::fail("columns and trailing must be 1-D and C-contiguous");
    keep.push_back(a);
  }
  const py::array& c = keep[keep.size() - 2];
  const py::array& t = keep.back();
  P.c = static_cast<index_t>(c.shape(0));
  P.t = static_cast<index_t>(t.shape(0));
  if (P.c < 1 || P.t > n || (n - P.t) % P.c != 0)
    bind::fail("a diagonal guess of " + std::to_string(P.c) + " columns and " + std::to_string(P.t) +
               " trailing values does not fit vectors of " + std::to_string(n));
  P.columns = static_cast<const double*>(c.data());
  P.trailing = static_cast<const double*>(t.data());
  return P;
}

py::tuple lbfgs_direction_py(py::handle g, const py::list& s, const py::list& y,
                             const std::vector<double>& rho, double gamma, const py::object& columns,
                             const py::object& trailing, py::handle out) {
  if (dtype_of(g) != Dtype::f64) throw py::type_error("g is not a float64 array");
  const index_t n = static_cast<index_t>(py::reinterpret_borrow<py::array>(g).size());
  std::vector<py::array> keep{lbfgs_vector(g, n, "g", false)};
  py::array d = lbfgs_vector(out, n, "out", true);
  const size_t m = s.size();
  if (y.size() != m || rho.size() != m)
    bind::fail("s, y and rho hold " + std::to_string(m) + ", " + std::to_string(y.size()) + " and " +
               std::to_string(rho.size()) + " entries");
  std::vector<const double*> sp(m), yp(m);
  for (size_t i = 0; i < m; ++i) {
    for (int which = 0; which < 2; ++which) {
      py::array a = lbfgs_vector(which == 0 ? s[i] : y[i], n, at(which == 0 ? "s" : "y", i), false);
      (which == 0 ? sp : yp)[i] = static_cast<const double*>(a.data());
      keep.push_back(a);
    }
  }
  LbfgsPairs pairs;
  pairs.s = sp.data();
  pairs.y = yp.data();
  pairs.rho = rho.data();
  pairs.m = static_cast<index_t>(m);
  pairs.gamma = m > 0 ? gamma : 1.0;
  const DiagonalGuessView P = guess_view(columns, trailing, n, keep);
  for (const py::array& a : keep)  // g, the pairs, the guess: read while out is written
    if (overlap(a, d)) bind::fail("out overlaps an input (g, a pair or the guess)");
  DirectionDots dots;
  {
    py::gil_scoped_release release;
    dots = lbfgs_direction(static_cast<const double*>(keep[0].data()), n, pairs, P,
                           static_cast<double*>(d.mutable_data()));
  }
  return py::make_tuple(dots.dg, dots.dd);
}

py::tuple lbfgs_pair_py(py::handle x_new, py::handle x, py::handle g_new, py::handle g,
                        const py::object& columns, const py::object& trailing, py::handle s,
                        py::handle y) {
  if (dtype_of(x) != Dtype::f64) throw py::type_error("x is not a float64 array");
  const index_t n = static_cast<index_t>(py::reinterpret_borrow<py::array>(x).size());
  std::vector<py::array> keep{lbfgs_vector(x_new, n, "x_new", false), lbfgs_vector(x, n, "x", false),
                              lbfgs_vector(g_new, n, "g_new", false), lbfgs_vector(g, n, "g", false)};
  py::array so = lbfgs_vector(s, n, "s", true), yo = lbfgs_vector(y, n, "y", true);
  if (overlap(so, yo)) bind::fail("s overlaps y");
  const DiagonalGuessView P = guess_view(columns, trailing, n, keep);
  for (const py::array& a : keep)  // the four vectors and the guess
    if (overlap(a, so) || overlap(a, yo)) bind::fail("s or y overlaps an input");
  PairDots dots;
  {
    py::gil_scoped_release release;
    dots = lbfgs_pair(static_cast<const double*>(keep[0].data()), static_cast<const double*>(keep[1].data()),
                      static_cast<const double*>(keep[2].data()), static_cast<const double*>(keep[3].data()),
                      n, P, static_cast<double*>(so.mutable_data()), static_cast<double*>(yo.mutable_data()));
  }
  return py::make_tuple(dots.sy, dots.ss, dots.yy, dots.yPy);
}

}  // namespace

void register_optim(py::module_& m) {
  using py::arg;
  m.def("optim_check_grads", &check_grads, arg("params"), arg("grads"),
        "Gradients checked against their parameters (count, dtype, shape, finite) and made "
        "C-contiguous; raises before anything is modified.");
  m.def("sgd_update", &sgd, arg("params"), arg("grads"), arg("momentum_buffers"), arg("lr"),
        arg("momentum"), arg("dampening"), arg("weight_decay"), arg("nesterov"), arg("maximize"),
        arg("first_step"), "One SGD step in place; inputs validated by pygd.optim.");
  m.def("adam_update", &adam, arg("params"), arg("grads"), arg("exp_avgs"), arg("exp_avg_sqs"),
        arg("max_exp_avg_sqs"), arg("lr"), arg("beta1"), arg("beta2"), arg("eps"),
        arg("weight_decay"), arg("amsgrad"), arg("maximize"), arg("decoupled_weight_decay"),
        arg("step_size"), arg("bias_correction2_sqrt"),
        "One Adam/AdamW step in place; inputs validated by pygd.optim.");
  m.def("adagrad_update", &adagrad, arg("params"), arg("grads"), arg("state_sums"), arg("clr"),
        arg("weight_decay"), arg("eps"), arg("maximize"),
        "One Adagrad step in place; inputs validated by pygd.optim.");
  m.def("rmsprop_update", &rmsprop, arg("params"), arg("grads"), arg("square_avgs"),
        arg("momentum_buffers"), arg("grad_avgs"), arg("lr"), arg("alpha"), arg("eps"),
        arg("weight_decay"), arg("momentum"), arg("centered"), arg("maximize"),
        "One RMSprop step in place; inputs validated by pygd.optim.");
  m.def("adadelta_update", &adadelta, arg("params"), arg("grads"), arg("square_avgs"),
        arg("acc_deltas"), arg("lr"), arg("rho"), arg("eps"), arg("weight_decay"), arg("maximize"),
        "One Adadelta step in place; inputs validated by pygd.optim.");
  m.def("nadam_update", &nadam, arg("params"), arg("grads"), arg("exp_avgs"), arg("exp_avg_sqs"),
        arg("lr"), arg("beta1"), arg("beta2"), arg("eps"), arg("weight_decay"),
        arg("decoupled_weight_decay"), arg("maximize"), arg("bias_correction2"), arg("grad_coef"),
        arg("exp_avg_coef"), "One NAdam step in place; inputs validated by pygd.optim.");
  m.def(
      "adam_scalars",
      [](double lr, double beta1, double beta2, double step) {
        const AdamScalars a = adam_scalars(lr, beta1, beta2, step);
        return py::make_tuple(a.step_size, a.bias_correction2_sqrt);
      },
      arg("lr"), arg("beta1"), arg("beta2"), arg("step"),
      "Adam's (step_size, bias_correction2_sqrt) at step `step` (from 1): the engine's "
      "formulas (csrc/include/pygd/optim_scalars.hpp).");
  m.def(
      "nadam_scalars",
      [](double lr, double beta1, double beta2, double momentum_decay, double step,
         double mu_product) {
        const NadamScalars n = nadam_scalars(lr, beta1, beta2, momentum_decay, step, mu_product);
        return py::make_tuple(n.bias_correction2, n.mu_product, n.grad_coef, n.exp_avg_coef);
      },
      arg("lr"), arg("beta1"), arg("beta2"), arg("momentum_decay"), arg("step"),
      arg("mu_product"),
      "NAdam's (bias_correction2, mu_product, grad_coef, exp_avg_coef) at step `step` (from 1) "
      "given the running mu_product before it; the returned mu_product is the one to store.");
  m.def("grad_power_sums", &grad_power_sums, arg("arrays"), arg("norm_type"),
        "sum |x|^p of each C-contiguous array (max |x| for p = inf), fixed-order, in double.");
  m.def("grads_scale", &grads_scale, arg("arrays"), arg("factor"),
        "Multiplies each C-contiguous, writable array in place by factor.");
  m.def("lbfgs_direction", &lbfgs_direction_py, arg("g"), arg("s"), arg("y"), arg("rho"),
        arg("gamma"), arg("columns"), arg("trailing"), arg("out"),
        "out = -H g by L-BFGS's two-loop recursion over the pairs (s[i], y[i], rho[i]), oldest "
        "first, from H0 = gamma P (P: columns/trailing, or I); returns (out . g, out . out).");
  m.def("lbfgs_pair", &lbfgs_pair_py, arg("x_new"), arg("x"), arg("g_new"), arg("g"),
        arg("columns"), arg("trailing"), arg("s"), arg("y"),
        "s = x_new - x, y = g_new - g; returns (s . y, s . s, y . y, y . P y).");
}

}  // namespace pygd
