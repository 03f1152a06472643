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

}  // namespace

void register_probe(py::module_& m) {
  m.def("probe_read_sum_f32", &read_sum<float>, py::arg("data").noconvert(),
        "Sum of a C-contiguous float32 array, read at full bandwidth.");
  m.def("probe_read_sum_f64", &read_sum<double>, py::arg("data").noconvert(),
        "Sum of a C-contiguous float64 array, read at full bandwidth.");
}

}  // namespace pygd
