// pygd._core.column_stats_f32/_f64, csr_column_stats(_ranges)_f32/_f64, standardize_f32/_f64,
// unstandardize_f32/_f64.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "bind/common.hpp"
#include "pygd/engine/preprocessing.hpp"

namespace pygd {
namespace {

namespace py = pybind11;
using bind::array_of;

template <class T>
py::tuple column_stats(const array_of<T>& X, const std::optional<array_of<T>>& sample_weight,
                       const std::optional<array_of<double>>& shift) {
  const MatrixView<T> view = bind::matrix_view(X, "X");
  const T* weights = nullptr;
  if (sample_weight) weights = bind::vector_data(*sample_weight, view.rows, "sample_weight");
  const double* shift_data = shift ? bind::vector_data(*shift, view.cols, "shift") : nullptr;
  py::array_t<double> weight_sum(view.cols), mean(view.cols), var(view.cols);
  double* w_data = weight_sum.mutable_data();
  double* mean_data = mean.mutable_data();
  double* var_data = var.mutable_data();
  bool saw_inf;
  {
    py::gil_scoped_release release;
    saw_inf = pygd::column_stats(view, weights, shift_data, w_data, mean_data, var_data);
  }
  return py::make_tuple(weight_sum, mean, var, saw_inf);
}

// (mean_rel, var, weight_sum) of a canonical CSR matrix's columns relative to shift
// (engine/preprocessing.hpp, csr_column_stats).
template <class T>
py::tuple csr_column_stats(const bind::CsrInput& X, const std::optional<array_of<T>>& sample_weight,
                           const array_of<double>& shift) {
  const CsrView<T> view = bind::csr_view<T>(X, "X");
  const T* weights = sample_weight ? bind::vector_data(*sample_weight, X.rows, "sample_weight") : nullptr;
  const double* c = bind::vector_data(shift, X.cols, "shift");
  py::array_t<double> mean(X.cols), var(X.cols);
  double* mean_data = mean.mutable_data();
  double* var_data = var.mutable_data();
  double total = 0.0;
  // The engine's csr_column_stats counts a column once per row and finds a thread's
  // columns in a row by binary search: other rows would give wrong sums (CsrMatrix
  // checked the rows when it was built).
  if (!X.canonical) bind::fail("X must be canonical CSR: columns strictly increasing within each row");
  {
    py::gil_scoped_release release;
    total = pygd::csr_column_stats(view, X.rows, X.cols, weights, c, mean_data, var_data);
  }
  return py::make_tuple(mean, var, total);
}

// The column ranges csr_column_stats splits X into with the calling thread's thread
// count (engine/preprocessing.hpp, csr_column_stats_ranges).
template <class T>
py::array_t<std::int64_t> csr_column_stats_ranges(const bind::CsrInput& X) {
  const CsrView<T> view = bind::csr_view<T>(X, "X");
  std::vector<index_t> bounds;
  {
    py::gil_scoped_release release;
    bounds = pygd::csr_column_stats_ranges(view, X.rows, X.cols);
  }
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(bounds.size()));
  std::copy(bounds.begin(), bounds.end(), out.mutable_data());
  return out;
}

// Bytes [lo, hi) an array's elements span.
template <class T>
std::pair<std::uintptr_t, std::uintptr_t> extent(const array_of<T>& a) {
  auto lo = reinterpret_cast<std::uintptr_t>(a.data()), hi = lo;
  for (py::ssize_t k = 0; k < a.ndim(); ++k) {
    const auto step = static_cast<std::intptr_t>(a.strides(k)) * (a.shape(k) - 1);
    if (step < 0) lo += step; else hi += step;
  }
  return {lo, hi + sizeof(T)};
}

template <class T, bool Inverse>
bool affine(const array_of<T>& X, array_of<T>& out, const array_of<double>& center,
            const array_of<double>& scale) {
  const MatrixView<T> view = bind::matrix_view(X, "X");
  const MatrixView<T> out_view = bind::matrix_view(out, "out");
  if (out_view.rows != view.rows || out_view.cols != view.cols)
    bind::fail("out must have the shape of X");
  if (!out.writeable()) bind::fail("out must be writeable");
  const bool same = out_view.data == view.data && out_view.row_stride == view.row_stride &&
                    out_view.col_stride == view.col_stride;
  if (!same && X.size() > 0) {
    const auto a = extent(X), b = extent(out);
    if (a.first < b.second && b.first < a.second)
      bind::fail("out must be X itself or not overlap it");
  }
  MutableMatrixView<T> target;
  target.data = out.mutable_data();
  target.rows = out_view.rows;
  target.cols = out_view.cols;
  target.row_stride = out_view.row_stride;
  target.col_stride = out_view.col_stride;
  const double* c = bind::vector_data(center, view.cols, "center");
  const double* s = bind::vector_data(scale, view.cols, "scale");
  py::gil_scoped_release release;
  return Inverse ? pygd::unstandardize(view, target, c, s) : pygd::standardize(view, target, c, s);
}

template <class T>
void def_for(py::module_& m, const char* suffix) {
  const std::string s(suffix);
  m.def(("column_stats_" + s).c_str(), &column_stats<T>, py::arg("X"), py::arg("sample_weight"),
        py::arg("shift") = py::none(),
        "(weight_sum, mean, var, saw_inf) of every column, NaNs left out (mean relative to "
        "shift when one is given); inputs validated by pygd.preprocessing.");
  m.def(("csr_column_stats_" + s).c_str(), &csr_column_stats<T>, py::arg("X"),
        py::arg("sample_weight").noconvert(), py::arg("shift").noconvert(),
        "(mean - shift, var, weight_sum) of a canonical CSR matrix's columns (a _core.CsrMatrix; "
        "rows not storing a column count as 0 there), in one pass over the stored values (two "
        "for a column whose shift is far from its mean); "
        "inputs validated by pygd.preprocessing.");
  m.def(("csr_column_stats_ranges_" + s).c_str(), &csr_column_stats_ranges<T>, py::arg("X"),
        "Column bounds [0, ..., n_cols] of the ranges csr_column_stats_* gives one thread each "
        "with this thread's thread count (one range where splitting would not pay).");
  m.def(("standardize_" + s).c_str(), &affine<T, false>, py::arg("X"), py::arg("out").noconvert(),
        py::arg("center"), py::arg("scale"),
        "out = (X - center) / scale (out may be X); returns whether X holds an infinity.");
  m.def(("unstandardize_" + s).c_str(), &affine<T, true>, py::arg("X"),
        py::arg("out").noconvert(), py::arg("center"), py::arg("scale"),
        "out = X * scale + center (out may be X); returns whether X holds an infinity.");
}

}  // namespace

void register_preprocessing(py::module_& m) {
  def_for<float>(m, "f32");
  def_for<double>(m, "f64");
}

}  // namespace pygd
