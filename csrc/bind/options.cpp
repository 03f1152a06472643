// The typed Python-C++ training contract: the enums Loss, OptimizerKind and
// ScheduleKind (names from the C++ name tables, the one list), the option
// structs (keyword-only constructors in which every field is required: no
// silent defaults), TrainCounters (the state carried between epochs) and
// EpochResult.  Every struct has read-write attributes, a repr and pickle
// support (fitted estimators hold them).
#include <utility>

#include "bind/common.hpp"
#include "pygd/engine/train.hpp"

namespace pygd {
namespace {

namespace py = pybind11;

// "Name(field=value, ...)", enum members by their short name.
std::string fields_repr(const py::handle& self, std::initializer_list<const char*> fields) {
  std::string out = py::str(py::type::of(self).attr("__name__"));
  out += "(";
  bool first = true;
  for (const char* field : fields) {
    const py::object value = self.attr(field);
    if (!first) out += ", ";
    first = false;
    out += field;
    out += "=";
    if (py::hasattr(value, "__members__"))
      out += std::string(py::str(py::type::of(value).attr("__name__"))) + "." +
             std::string(py::str(value.attr("name")));
    else
      out += std::string(py::repr(value));
  }
  return out + ")";
}

template <class Enum>
void bind_enum(py::module_& m, const char* name, const char* const* names, int count,
               const char* doc) {
  py::enum_<Enum> e(m, name, doc);
  for (int i = 0; i < count; ++i) e.value(names[i], static_cast<Enum>(i));
}

using Betas = std::pair<double, double>;

void bind_optimizer_options(py::module_& m) {
  using O = OptimizerOptions;
  py::class_<O>(m, "OptimizerOptions",
                "pygd.optim's hyper-parameters for the engine (torch.optim's names); every "
                "field is required. `lr` is the base rate the schedule scales.")
      .def(py::init([](OptimizerKind kind, double lr, double momentum, double dampening,
                       bool nesterov, Betas betas, double eps, double weight_decay, bool amsgrad,
                       bool decoupled_weight_decay, double lr_decay, double alpha, bool centered,
                       double rho, double momentum_decay) {
             O o;
             o.kind = kind;
             o.lr = lr;
             o.momentum = momentum;
             o.dampening = dampening;
             o.nesterov = nesterov;
             o.beta1 = betas.first;
             o.beta2 = betas.second;
             o.eps = eps;
             o.weight_decay = weight_decay;
             o.amsgrad = amsgrad;
             o.decoupled_weight_decay = decoupled_weight_decay;
             o.lr_decay = lr_decay;
             o.alpha = alpha;
             o.centered = centered;
             o.rho = rho;
             o.momentum_decay = momentum_decay;
             return o;
           }),
           py::kw_only(), py::arg("kind"), py::arg("lr"), py::arg("momentum"),
           py::arg("dampening"), py::arg("nesterov"), py::arg("betas"), py::arg("eps"),
           py::arg("weight_decay"), py::arg("amsgrad"), py::arg("decoupled_weight_decay"),
           py::arg("lr_decay"), py::arg("alpha"), py::arg("centered"), py::arg("rho"),
           py::arg("momentum_decay"))
      .def_readwrite("kind", &O::kind)
      .def_readwrite("lr", &O::lr)
      .def_readwrite("momentum", &O::momentum)
      .def_readwrite("dampening", &O::dampening)
      .def_readwrite("nesterov", &O::nesterov)
      .def_property(
          "betas", [](const O& o) { return Betas(o.beta1, o.beta2); },
          [](O& o, Betas betas) {
            o.beta1 = betas.first;
            o.beta2 = betas.second;
          })
      .def_readwrite("eps", &O::eps)
      .def_readwrite("weight_decay", &O::weight_decay)
      .def_readwrite("amsgrad", &O::amsgrad)
      .def_readwrite("decoupled_weight_decay", &O::decoupled_weight_decay)
      .def_readwrite("lr_decay", &O::lr_decay)
      .def_readwrite("alpha", &O::alpha)
      .def_readwrite("centered", &O::centered)
      .def_readwrite("rho", &O::rho)
      .def_readwrite("momentum_decay", &O::momentum_decay)
      .def("__repr__",
           [](const py::object& self) {
             return fields_repr(self, {"kind", "lr", "momentum", "dampening", "nesterov",
                                       "betas", "eps", "weight_decay", "amsgrad",
                                       "decoupled_weight_decay", "lr_decay", "alpha",
                                       "centered", "rho", "momentum_decay"});
           })
      .def(py::pickle(
          [](const O& o) {
            return py::make_tuple(o.kind, o.lr, o.momentum, o.dampening, o.nesterov, o.beta1,
                                  o.beta2, o.eps, o.weight_decay, o.amsgrad,
                                  o.decoupled_weight_decay, o.lr_decay, o.alpha, o.centered,
                                  o.rho, o.momentum_decay);
          },
          [](const py::tuple& t) {
            if (t.size() != 16) throw std::runtime_error("OptimizerOptions: bad pickle state");
            O o;
            o.kind = t[0].cast<OptimizerKind>();
            o.lr = t[1].cast<double>();
            o.momentum = t[2].cast<double>();
            o.dampening = t[3].cast<double>();
            o.nesterov = t[4].cast<bool>();
            o.beta1 = t[5].cast<double>();
            o.beta2 = t[6].cast<double>();
            o.eps = t[7].cast<double>();
            o.weight_decay = t[8].cast<double>();
            o.amsgrad = t[9].cast<bool>();
            o.decoupled_weight_decay = t[10].cast<bool>();
            o.lr_decay = t[11].cast<double>();
            o.alpha = t[12].cast<double>();
            o.centered = t[13].cast<bool>();
            o.rho = t[14].cast<double>();
            o.momentum_decay = t[15].cast<double>();
            return o;
          }));
}

void bind_schedule_options(py::module_& m) {
  using S = ScheduleOptions;
  py::class_<S>(m, "ScheduleOptions",
                "The engine's per-step learning-rate schedule (torch's names: T_max and warmup "
                "in epochs); every field is required.")
      .def(py::init([](ScheduleKind kind, double power_t, double gamma, double step_size,
                       double T_max, double eta_min, double warmup) {
             S s;
             s.kind = kind;
             s.power_t = power_t;
             s.gamma = gamma;
             s.step_size = step_size;
             s.T_max = T_max;
             s.eta_min = eta_min;
             s.warmup = warmup;
             return s;
           }),
           py::kw_only(), py::arg("kind"), py::arg("power_t"), py::arg("gamma"),
           py::arg("step_size"), py::arg("T_max"), py::arg("eta_min"), py::arg("warmup"))
      .def_readwrite("kind", &S::kind)
      .def_readwrite("power_t", &S::power_t)
      .def_readwrite("gamma", &S::gamma)
      .def_readwrite("step_size", &S::step_size)
      .def_readwrite("T_max", &S::T_max)
      .def_readwrite("eta_min", &S::eta_min)
      .def_readwrite("warmup", &S::warmup)
      .def("__repr__",
           [](const py::object& self) {
             return fields_repr(self,
                                {"kind", "power_t", "gamma", "step_size", "T_max", "eta_min", "warmup"});
           })
      .def(py::pickle(
          [](const S& s) {
            return py::make_tuple(s.kind, s.power_t, s.gamma, s.step_size, s.T_max, s.eta_min,
                                  s.warmup);
          },
          [](const py::tuple& t) {
            if (t.size() != 7) throw std::runtime_error("ScheduleOptions: bad pickle state");
            S s;
            s.kind = t[0].cast<ScheduleKind>();
            s.power_t = t[1].cast<double>();
            s.gamma = t[2].cast<double>();
            s.step_size = t[3].cast<double>();
            s.T_max = t[4].cast<double>();
            s.eta_min = t[5].cast<double>();
            s.warmup = t[6].cast<double>();
            return s;
          }));
}

void bind_train_options(py::module_& m) {
  using T = TrainOptions;
  py::class_<T>(m, "TrainOptions",
                "Everything train_epoch_* needs besides the arrays; every field is required. "
                "steps_per_epoch, schedule_offset and lr_factor may change between epochs.")
      .def(py::init([](Loss loss, double epsilon, bool fit_intercept, double l2, double l1,
                       double weight_per_row, index_t average_start, index_t steps_per_epoch,
                       double schedule_offset, double lr_factor, const OptimizerOptions& optimizer,
                       const ScheduleOptions& schedule) {
             T t;
             t.loss = loss;
             t.epsilon = epsilon;
             t.fit_intercept = fit_intercept;
             t.l2 = l2;
             t.l1 = l1;
             t.weight_per_row = weight_per_row;
             t.average_start = average_start;
             t.steps_per_epoch = steps_per_epoch;
             t.schedule_offset = schedule_offset;
             t.lr_factor = lr_factor;
             t.optimizer = optimizer;
             t.schedule = schedule;
             return t;
           }),
           py::kw_only(), py::arg("loss"), py::arg("epsilon"), py::arg("fit_intercept"),
           py::arg("l2"), py::arg("l1"), py::arg("weight_per_row"), py::arg("average_start"),
           py::arg("steps_per_epoch"), py::arg("schedule_offset"), py::arg("lr_factor"),
           py::arg("optimizer"), py::arg("schedule"))
      .def_static(
          "for_objective",
          [](Loss loss, double epsilon, bool fit_intercept, double l2) {
            T t;
            t.loss = loss;
            t.epsilon = epsilon;
            t.fit_intercept = fit_intercept;
            t.l2 = l2;
            return t;
          },
          py::arg("loss"), py::arg("epsilon") = 0.1, py::arg("fit_intercept") = true,
          py::arg("l2") = 0.0,
          "Options for objective_grad_*, which reads only these four fields (the others keep "
          "the C++ defaults: no step is taken).")
      .def_readwrite("loss", &T::loss)
      .def_readwrite("epsilon", &T::epsilon)
      .def_readwrite("fit_intercept", &T::fit_intercept)
      .def_readwrite("l2", &T::l2)
      .def_readwrite("l1", &T::l1)
      .def_readwrite("weight_per_row", &T::weight_per_row)
      .def_readwrite("average_start", &T::average_start)
      .def_readwrite("steps_per_epoch", &T::steps_per_epoch)
      .def_readwrite("schedule_offset", &T::schedule_offset)
      .def_readwrite("lr_factor", &T::lr_factor)
      .def_readwrite("optimizer", &T::optimizer)
      .def_readwrite("schedule", &T::schedule)
      .def_readwrite("epoch_rows", &T::epoch_rows,
                     "The rows of the whole epoch a train_epoch_* call is part of (0, the "
                     "default: the call's own).  A batch of them all is a full batch, "
                     "normalised by its weight sum; pygd.dask runs an epoch chunk by chunk.")
      .def_readwrite("lazy", &T::lazy,
                     "Lazy steps for CSR X (False unless set): each step updates the columns "
                     "its rows store, the others catch up later (engine/train.cpp).")
      .def("__repr__",
           [](const py::object& self) {
             return fields_repr(self, {"loss", "epsilon", "fit_intercept", "l2", "l1",
                                       "weight_per_row", "average_start", "steps_per_epoch",
                                       "schedule_offset", "lr_factor", "optimizer", "schedule",
                                       "lazy", "epoch_rows"});
           })
      .def(py::pickle(
          [](const T& t) {
            return py::make_tuple(t.loss, t.epsilon, t.fit_intercept, t.l2, t.l1,
                                  t.weight_per_row, t.average_start, t.steps_per_epoch,
                                  t.schedule_offset, t.lr_factor, t.optimizer, t.schedule,
                                  t.lazy, t.epoch_rows);
          },
          [](const py::tuple& s) {
            // 12 entries: pickled before `lazy` existed (read as False); 13: before
            // `epoch_rows` (read as 0).
            if (s.size() < 12 || s.size() > 14)
              throw std::runtime_error("TrainOptions: bad pickle state");
            T t;
            t.loss = s[0].cast<Loss>();
            t.epsilon = s[1].cast<double>();
            t.fit_intercept = s[2].cast<bool>();
            t.l2 = s[3].cast<double>();
            t.l1 = s[4].cast<double>();
            t.weight_per_row = s[5].cast<double>();
            t.average_start = s[6].cast<index_t>();
            t.steps_per_epoch = s[7].cast<index_t>();
            t.schedule_offset = s[8].cast<double>();
            t.lr_factor = s[9].cast<double>();
            t.optimizer = s[10].cast<OptimizerOptions>();
            t.schedule = s[11].cast<ScheduleOptions>();
            t.lazy = s.size() >= 13 && s[12].cast<bool>();
            t.epoch_rows = s.size() == 14 ? s[13].cast<index_t>() : 0;
            return t;
          }));
}

void bind_counters(py::module_& m) {
  using C = TrainCounters;
  py::class_<C>(m, "TrainCounters",
                "The scalar training state train_epoch_* carries between epochs (a fresh "
                "state by default): steps taken, NAdam's mu_product, whether SGD's momentum "
                "buffer has started, iterates averaged, momentum_coef (the momentum buffer's "
                "coefficient of a constant gradient, for the L1 step).")
      .def(py::init<>())
      .def_readwrite("steps", &C::steps)
      .def_readwrite("mu_product", &C::mu_product)
      .def_readwrite("momentum_started", &C::momentum_started)
      .def_readwrite("averaged", &C::averaged)
      .def_readwrite("momentum_coef", &C::momentum_coef)
      .def("copy", [](const C& c) { return C(c); }, "A copy (the estimator saves one per epoch).")
      .def("__copy__", [](const C& c) { return C(c); })
      .def("__deepcopy__", [](const C& c, const py::dict&) { return C(c); }, py::arg("memo"))
      .def("__eq__",
           [](const C& a, const C& b) {
             return a.steps == b.steps && a.mu_product == b.mu_product &&
                    a.momentum_started == b.momentum_started && a.averaged == b.averaged &&
                    a.momentum_coef == b.momentum_coef;
           })
      .def("__repr__",
           [](const py::object& self) {
             return fields_repr(self, {"steps", "mu_product", "momentum_started", "averaged",
                                      "momentum_coef"});
           })
      .def(py::pickle(
          [](const C& c) {
            return py::make_tuple(c.steps, c.mu_product, c.momentum_started, c.averaged,
                                  c.momentum_coef);
          },
          [](const py::tuple& t) {
            // 4 fields: pickled before momentum_coef existed (then c = 1 / (1 - mu) is
            // approached again from 0 on the next steps: only L1 thresholds differ).
            if (t.size() != 4 && t.size() != 5)
              throw std::runtime_error("TrainCounters: bad pickle state");
            C c;
            c.steps = t[0].cast<std::int64_t>();
            c.mu_product = t[1].cast<double>();
            c.momentum_started = t[2].cast<bool>();
            c.averaged = t[3].cast<std::int64_t>();
            if (t.size() == 5) c.momentum_coef = t[4].cast<double>();
            return c;
          }));
}

void bind_epoch_result(py::module_& m) {
  using R = EpochResult;
  py::class_<R>(m, "EpochResult",
                "What train_epoch_* returns: loss_sum and weight_sum over the rows visited, "
                "steps taken, finite (False: a batch loss was not finite and the epoch "
                "stopped before its update), optimality (max |least-norm subgradient| before "
                "the last step).")
      .def_readonly("loss_sum", &R::loss_sum)
      .def_readonly("weight_sum", &R::weight_sum)
      .def_readonly("steps", &R::steps)
      .def_readonly("finite", &R::finite)
      .def_readonly("optimality", &R::optimality)
      .def("__repr__", [](const py::object& self) {
        return fields_repr(self, {"loss_sum", "weight_sum", "steps", "finite", "optimality"});
      });
}

}  // namespace

void register_options(py::module_& m) {
  bind_enum<Loss>(m, "Loss", kLossNames, kLossCount, "The engine's losses (pygd's loss names).");
  bind_enum<OptimizerKind>(m, "OptimizerKind", kOptimizerKindNames, kOptimizerKindCount,
                           "The engine's optimizer kernels (AdamW is adam with "
                           "decoupled_weight_decay).");
  bind_enum<ScheduleKind>(m, "ScheduleKind", kScheduleKindNames, kScheduleKindCount,
                          "The engine's learning-rate schedules.");
  bind_optimizer_options(m);
  bind_schedule_options(m);
  bind_train_options(m);
  bind_counters(m);
  bind_epoch_result(m);
}

}  // namespace pygd
