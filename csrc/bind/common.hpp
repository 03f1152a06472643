// The one header through which binding files include pybind11.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pygd/common.hpp"
#include "pygd/kernels/linear.hpp"
#include "pygd/parallel.hpp"

namespace pygd {
namespace bind {

namespace py = pybind11;

// A NumPy array of exactly T, any strides, read-only allowed.  Bind every such
// argument with py::arg(...).noconvert() so that pybind11 never copies it into
// another dtype.
template <class T>
using array_of = py::array_t<T, 0>;

[[noreturn]] inline void fail(const std::string& message) {
  throw std::invalid_argument(message);
}

// A loss by its Python name (the Python layer checked which ones a call takes).
// (pygd.linear.loss_grad passes a string; the training engine takes _core.Loss.)
inline Loss parse_loss(const std::string& name) {
  for (int i = 0; i < kLossCount; ++i)
    if (name == kLossNames[i]) return static_cast<Loss>(i);
  fail("unknown loss '" + name + "'");
}

// A 2-D view of X after the cheap checks (the Python layer did the rest).
template <class T>
MatrixView<T> matrix_view(const array_of<T>& X, const char* name) {
  if (X.ndim() != 2) fail(std::string(name) + " must be 2-D");
  const auto item = static_cast<py::ssize_t>(sizeof(T));
  if (X.strides(0) % item != 0 || X.strides(1) % item != 0)
    fail(std::string(name) + " has strides that are not a multiple of its item size");
  if (reinterpret_cast<std::uintptr_t>(X.data()) % alignof(T) != 0)
    fail(std::string(name) + " is not aligned");
  MatrixView<T> view;
  view.data = X.data();
  view.rows = X.shape(0);
  view.cols = X.shape(1);
  view.row_stride = X.strides(0) / item;
  view.col_stride = X.strides(1) / item;
  return view;
}

// A contiguous 1-D array of `size` values of T.
template <class T>
const T* vector_data(const array_of<T>& v, py::ssize_t size, const char* name) {
  if (v.ndim() != 1 || v.shape(0) != size)
    fail(std::string(name) + " must be 1-D with " + std::to_string(size) + " entries");
  if (size > 1 && v.strides(0) != static_cast<py::ssize_t>(sizeof(T)))
    fail(std::string(name) + " must be contiguous");
  return v.data();
}

// A CSR matrix handed to the engine's bindings (pygd._core.CsrMatrix): the three
// arrays, kept alive by this object, and the shape.  make_csr checks the structure
// once (indptr non-decreasing from 0 to nnz, every index in [0, cols)), so the
// kernels may index without checks however often the object is passed.
struct CsrInput {
  py::array data, indices, indptr;
  index_t rows = 0, cols = 0, nnz = 0;
  bool wide = false;    // 64-bit indices and indptr
  bool finite = true;   // every stored value finite (checked once, with the structure)
  bool canonical = true;  // every row's columns strictly increase (sorted, no duplicates)
};

CsrInput make_csr(py::array data, py::array indices, py::array indptr, index_t n_cols);

// Whether test(i0, i1) holds for any chunk [i0, i1) of [0, n), chunks of `chunk` items
// shared among the threads (the checks that read a whole matrix: as many bytes as a
// pass).  An any-reduction: the same answer for any thread count.
template <class Test>
bool any_in_chunks(index_t n, index_t chunk, const Test& test) {
  const index_t chunks = (n + chunk - 1) / chunk;
  std::vector<char> hit(static_cast<size_t>(chunks), 0);
  parallel_for(chunks, [&](index_t c) {
    hit[static_cast<size_t>(c)] = test(c * chunk, (c + 1) * chunk < n ? (c + 1) * chunk : n);
  });
  for (char h : hit)
    if (h) return true;
  return false;
}

// Whether every row's columns strictly increase (canonical CSR: sorted, no duplicates),
// over chunks of rows shared among the threads.
template <class I>
bool rows_canonical(const I* indices, const I* indptr, index_t n) {
  return !any_in_chunks(n, 4096, [&](index_t i0, index_t i1) {
    int bad = 0;
    for (index_t i = i0; i < i1; ++i)
      for (index_t e = index_t(indptr[i]) + 1; e < index_t(indptr[i + 1]); ++e)
        bad |= int(indices[e - 1] >= indices[e]);
    return bad != 0;
  });
}

// The kernels' view of a CsrInput whose values are T (fails otherwise).
template <class T>
CsrView<T> csr_view(const CsrInput& csr, const char* name) {
  const py::dtype want = py::dtype::of<T>();
  if (csr.data.dtype().kind() != want.kind() || csr.data.dtype().itemsize() != want.itemsize())
    throw py::type_error(std::string(name) + "'s values must be " +
                         (sizeof(T) == 4 ? "float32" : "float64"));
  CsrView<T> view;
  view.values = static_cast<const T*>(csr.data.data());
  if (csr.wide) {
    view.indices64 = static_cast<const std::int64_t*>(csr.indices.data());
    view.indptr64 = static_cast<const std::int64_t*>(csr.indptr.data());
  } else {
    view.indices32 = static_cast<const std::int32_t*>(csr.indices.data());
    view.indptr32 = static_cast<const std::int32_t*>(csr.indptr.data());
  }
  view.nnz = csr.nnz;
  view.active = true;
  return view;
}

}  // namespace bind

void register_config(pybind11::module_& m);
void register_options(pybind11::module_& m);
void register_linear(pybind11::module_& m);
void register_probe(pybind11::module_& m);
void register_optim(pybind11::module_& m);
void register_preprocessing(pybind11::module_& m);
void register_train(pybind11::module_& m);

}  // namespace pygd
