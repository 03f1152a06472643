// Run-time choice of the instruction set.  The CPU is read once; the active
// level starts as the best supported one (or PYGD_SIMD) and can be changed
// (tests run every level the host supports).
#pragma once
#include <string>
#include <vector>

namespace pygd {

enum class SimdLevel : int { baseline = 0, avx2 = 1, avx512 = 2 };

const char* simd_level_name(SimdLevel level);
// Throws std::invalid_argument for an unknown name.
SimdLevel parse_simd_level(const std::string& name);

std::vector<SimdLevel> simd_levels_compiled();
std::vector<SimdLevel> simd_levels_supported();  // compiled and runnable on this CPU
SimdLevel best_simd_level();
SimdLevel active_simd_level();
// Throws std::invalid_argument if the level was not compiled or the CPU lacks it.
void set_simd_level(SimdLevel level);
// Applies PYGD_SIMD if set (throws std::runtime_error naming the problem).
void init_simd_level_from_env();

// One table of kernel pointers per area and level.  `select_table` returns the
// active level's table; a level that was not compiled passes nullptr.
template <class Table>
const Table& select_table(const Table& (*baseline)(), const Table& (*avx2)(),
                          const Table& (*avx512)()) {
  switch (active_simd_level()) {
    case SimdLevel::avx512:
      if (avx512) return avx512();
      [[fallthrough]];
    case SimdLevel::avx2:
      if (avx2) return avx2();
      [[fallthrough]];
    default:
      return baseline();
  }
}

}  // namespace pygd

// Declares `const Table& getter()` in every level's namespace.
#define PYGD_DECLARE_KERNEL_TABLE(Table, getter) \
  namespace pygd {                               \
  namespace isa_baseline {                       \
  const Table& getter();                         \
  }                                              \
  namespace isa_avx2 {                           \
  const Table& getter();                         \
  }                                              \
  namespace isa_avx512 {                         \
  const Table& getter();                         \
  }                                              \
  }

#ifdef PYGD_HAVE_ISA_AVX2
#define PYGD_IF_AVX2(x) (x)
#else
#define PYGD_IF_AVX2(x) nullptr
#endif
#ifdef PYGD_HAVE_ISA_AVX512
#define PYGD_IF_AVX512(x) (x)
#else
#define PYGD_IF_AVX512(x) nullptr
#endif

// The active table of an area, e.g. PYGD_ACTIVE_TABLE(LinearTable, linear_table).
#define PYGD_ACTIVE_TABLE(Table, getter)                                     \
  ::pygd::select_table<Table>(&::pygd::isa_baseline::getter,                 \
                              PYGD_IF_AVX2(&::pygd::isa_avx2::getter),       \
                              PYGD_IF_AVX512(&::pygd::isa_avx512::getter))
