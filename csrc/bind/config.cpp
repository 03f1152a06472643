// Build facts, SIMD levels and threads.
#include "bind/common.hpp"
#include "pygd/dispatch.hpp"
#include "pygd/parallel.hpp"

#ifdef PYGD_HAVE_OPENMP
#include <omp.h>
#endif

namespace pygd {

namespace {
std::vector<std::string> level_names(const std::vector<SimdLevel>& levels) {
  std::vector<std::string> out;
  for (SimdLevel l : levels) out.emplace_back(simd_level_name(l));
  return out;
}
}  // namespace

void register_config(pybind11::module_& m) {
  namespace py = pybind11;
  // Chosen once, at import: PYGD_SIMD overrides, a level the CPU lacks is refused.
  init_simd_level_from_env();

#ifdef PYGD_VERSION
  m.attr("__version__") = PYGD_VERSION;
#else
  m.attr("__version__") = "unknown";
#endif

  m.def("build_info", [] {
    py::dict info;
#if defined(__clang__)
    info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    info["compiler"] = std::string("gcc ") + __VERSION__;
#else
    info["compiler"] = "unknown";
#endif
    info["cxx_standard"] = static_cast<long>(__cplusplus);
#ifdef PYGD_HAVE_OPENMP
    info["openmp"] = static_cast<long>(_OPENMP);
#else
    info["openmp"] = py::none();
#endif
#ifdef NDEBUG
    info["debug"] = false;
#else
    info["debug"] = true;
#endif
    return info;
  }, "Compiler, C++ standard, OpenMP version (None when built without it).");

  m.def("simd_levels_compiled", [] { return level_names(simd_levels_compiled()); },
        "SIMD levels compiled into this build, lowest first.");
  m.def("simd_levels_supported", [] { return level_names(simd_levels_supported()); },
        "Compiled SIMD levels this CPU can run, lowest first.");
  m.def("simd_level", [] { return std::string(simd_level_name(active_simd_level())); },
        "The SIMD level the kernels use now.");
  m.def("set_simd_level",
        [](const std::string& name) { set_simd_level(parse_simd_level(name)); },
        py::arg("level"), "Use another compiled, supported SIMD level (for tests).");

  m.def("get_num_threads", [] { return num_threads(); },
        "Threads a kernel may use from the calling thread.");
  m.def("set_num_threads",
        [](int n) {
          if (n < 1) throw std::invalid_argument("n must be >= 1, got " + std::to_string(n));
          set_num_threads(n);
        },
        py::arg("n"),
        "Limit the threads kernels called from the calling thread use (also that thread's "
        "OpenMP limit).");
  m.def("have_openmp", [] { return have_openmp(); });
  m.def("plan_row_blocks",
        [](index_t n, index_t scratch_per_block, index_t cols) {
          const BlockPlan plan = plan_row_blocks(n, scratch_per_block, cols);
          return py::make_tuple(plan.count, plan.rows_per_block);
        },
        py::arg("n"), py::arg("scratch_per_block"), py::arg("cols"),
        "(blocks, rows per block) of the fixed row partition the drivers use.");
}

}  // namespace pygd
