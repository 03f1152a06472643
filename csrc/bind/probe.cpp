// pygd._core.probe_read_sum_f32/_f64: the benchmarks' bandwidth probe.
#include "bind/common.hpp"
#include "pygd/engine/probe.hpp"

namespace pygd {
namespace {

namespace py = pybind11;

template <class T>
double read_sum(const bind::array_of<T>& data) {
  if (!(data.flags() & py::array::c_style)) bind::fail("data must be C-contiguous");
  const T* ptr = data.data();
  const index_t size = data.size();
  py::gil_scoped_release release;
  return probe_read_sum(ptr, size);
}

template <class T>
double gather_sum(const bind::array_of<T>& X, const bind::array_of<std::int64_t>& rows) {
  if (X.ndim() != 2 || !(X.flags() & py::array::c_style)) bind::fail("X must be 2-D and C-contiguous");
  const index_t n = X.shape(0), d = X.shape(1);
  if (rows.ndim() != 1) bind::fail("rows must be 1-D");
  const index_t count = rows.shape(0);
  const std::int64_t* r = bind::vector_data(rows, count, "rows");
  for (index_t i = 0; i < count; ++i)
    if (r[i] < 0 || r[i] >= n) bind::fail("rows holds a row number outside [0, n)");
  const T* ptr = X.data();
  py::gil_scoped_release release;
  return probe_gather_sum(ptr, d, reinterpret_cast<const index_t*>(r), count);
}

}  // namespace

void register_probe(py::module_& m) {
  m.def("probe_read_sum_f32", &read_sum<float>, py::arg("data").noconvert(),
        "Sum of a C-contiguous float32 array, read at full bandwidth.");
  m.def("probe_read_sum_f64", &read_sum<double>, py::arg("data").noconvert(),
        "Sum of a C-contiguous float64 array, read at full bandwidth.");
  m.def("probe_gather_sum_f32", &gather_sum<float>, py::arg("X").noconvert(),
        py::arg("rows").noconvert(),
        "Sum of the rows X[rows] (in that order) of a C-contiguous float32 matrix, prefetched "
        "ahead: the mini-batch engine's random-order read at full speed.");
  m.def("probe_gather_sum_f64", &gather_sum<double>, py::arg("X").noconvert(),
        py::arg("rows").noconvert(),
        "Sum of the rows X[rows] (in that order) of a C-contiguous float64 matrix, prefetched "
        "ahead: the mini-batch engine's random-order read at full speed.");
}

}  // namespace pygd
