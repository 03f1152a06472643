// pygd._core.loss_grad_f32/_f64 and predict_f32/_f64.
#include <vector>

#include "bind/common.hpp"
#include "pygd/engine/linear.hpp"

namespace pygd {
namespace {

namespace py = pybind11;
using bind::array_of;

// loss_grad takes the single-output losses; multinomial has its own function.
Loss single_output_loss(const std::string& name) {
  const Loss loss = bind::parse_loss(name);
  if (static_cast<int>(loss) > static_cast<int>(Loss::log_loss))
    bind::fail("loss '" + name + "' is not a single-output loss of loss_grad");
  return loss;
}

template <class T>
py::tuple loss_grad(const array_of<T>& X, const array_of<T>& y, const array_of<T>& coef,
                    double intercept, const std::string& loss,
                    const std::optional<array_of<T>>& sample_weight, double epsilon) {
  LossGradProblem<T> problem;
  problem.X = bind::matrix_view(X, "X");
  const py::ssize_t n = problem.X.rows, d = problem.X.cols;
  problem.y = bind::vector_data(y, n, "y");
  if (sample_weight) problem.sample_weight = bind::vector_data(*sample_weight, n, "sample_weight");
  const T* coef_data = bind::vector_data(coef, d, "coef");
  const std::vector<double> coef_double(coef_data, coef_data + d);
  problem.coef = coef_double.data();
  problem.intercept = intercept;
  problem.loss = single_output_loss(loss);
  if (!(epsilon >= 0)) bind::fail("epsilon must be >= 0");
  problem.epsilon = epsilon;

  array_of<T> grad_coef(d);
  T* grad_data = grad_coef.mutable_data();
  LossGradResult result;
  {
    py::gil_scoped_release release;
    result = pygd::loss_grad(problem, grad_data);
  }
  return py::make_tuple(result.loss, grad_coef, result.grad_intercept);
}

// Y (n, k) C-contiguous class probabilities, coef (k, d) C-contiguous.
template <class T>
py::tuple multinomial_loss_grad(const array_of<T>& X, const array_of<T>& Y,
                                const array_of<T>& coef, const array_of<double>& intercept,
                                const std::optional<array_of<T>>& sample_weight) {
  MultinomialProblem<T> problem;
  problem.X = bind::matrix_view(X, "X");
  const py::ssize_t n = problem.X.rows, d = problem.X.cols;
  if (coef.ndim() != 2 || coef.shape(1) != d) bind::fail("coef must be 2-D with X's number of columns");
  if (!(coef.flags() & py::array::c_style)) bind::fail("coef must be C-contiguous");
  const py::ssize_t k = coef.shape(0);
  if (k < 1) bind::fail("coef must have at least one row");
  if (Y.ndim() != 2 || Y.shape(0) != n || Y.shape(1) != k)
    bind::fail("Y must be 2-D with X's rows and coef's rows");
  if (!(Y.flags() & py::array::c_style)) bind::fail("Y must be C-contiguous");
  problem.Y = Y.data();
  problem.k = k;
  if (sample_weight) problem.sample_weight = bind::vector_data(*sample_weight, n, "sample_weight");
  const std::vector<double> coef_double(coef.data(), coef.data() + k * d);
  problem.coef = coef_double.data();
  problem.intercept = bind::vector_data(intercept, k, "intercept");

  array_of<T> grad_coef({k, d});
  array_of<T> grad_intercept(k);
  T* grad_data = grad_coef.mutable_data();
  T* grad_intercept_data = grad_intercept.mutable_data();
  double loss;
  {
    py::gil_scoped_release release;
    loss = pygd::multinomial_loss_grad(problem, grad_data, grad_intercept_data);
  }
  return py::make_tuple(loss, grad_coef, grad_intercept);
}

template <class T>
array_of<T> predict(const array_of<T>& X, const array_of<T>& coef, double intercept) {
  const MatrixView<T> view = bind::matrix_view(X, "X");
  const T* coef_data = bind::vector_data(coef, view.cols, "coef");
  array_of<T> out(view.rows);
  T* out_data = out.mutable_data();
  {
    py::gil_scoped_release release;
    pygd::predict(view, coef_data, intercept, out_data);
  }
  return out;
}

template <class T>
void def_for(py::module_& m, const char* suffix) {
  m.def((std::string("loss_grad_") + suffix).c_str(), &loss_grad<T>, py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("coef").noconvert(), py::arg("intercept"), py::arg("loss"),
        py::arg("sample_weight").noconvert(),
        py::arg("epsilon"),
        "(loss, grad_coef, grad_intercept) of a linear model; inputs validated by pygd.linear.");
  m.def((std::string("multinomial_loss_grad_") + suffix).c_str(), &multinomial_loss_grad<T>,
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(), py::arg("sample_weight").noconvert(),
        "(loss, grad_coef (k, d), grad_intercept (k,)) of the softmax cross-entropy; inputs "
        "validated by pygd.linear.");
  m.def((std::string("predict_") + suffix).c_str(), &predict<T>, py::arg("X").noconvert(),
        py::arg("coef").noconvert(),
        py::arg("intercept"), "X @ coef + intercept; inputs validated by pygd.linear.");
}

}  // namespace

void register_linear(py::module_& m) {
  def_for<float>(m, "f32");
  def_for<double>(m, "f64");
}

}  // namespace pygd
