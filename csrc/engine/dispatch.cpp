#include "pygd/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define PYGD_X86 1
#endif

namespace pygd {
namespace {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C + BMI1/2, with YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F/DQ/BW/VL, with ZMM state enabled by the OS
};

#ifdef PYGD_X86
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect_cpu() {
  CpuFeatures f;
#ifdef PYGD_X86
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1u;
  const bool avx = (ecx >> 28) & 1u;
  const bool fma = (ecx >> 12) & 1u;
  const bool f16c = (ecx >> 29) & 1u;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;
  const bool zmm_state = (xcr0 & 0xE6u) == 0xE6u;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  const bool avx2 = (ebx >> 5) & 1u;
  const bool bmi1 = (ebx >> 3) & 1u;
  const bool bmi2 = (ebx >> 8) & 1u;
  const bool avx512f = (ebx >> 16) & 1u;
  const bool avx512dq = (ebx >> 17) & 1u;
  const bool avx512bw = (ebx >> 30) & 1u;
  const bool avx512vl = (ebx >> 31) & 1u;
  f.avx2 = ymm_state && avx2 && fma && f16c && bmi1 && bmi2;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
#endif
  return f;
}

const CpuFeatures& cpu() {
  static const CpuFeatures features = detect_cpu();
  return features;
}

bool compiled(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline:
      return true;
    case SimdLevel::avx2:
#ifdef PYGD_HAVE_ISA_AVX2
      return true;
#else
      return false;
#endif
    case SimdLevel::avx512:
#ifdef PYGD_HAVE_ISA_AVX512
      return true;
#else
      return false;
#endif
  }
  return false;
}

bool cpu_has(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline:
      return true;
    case SimdLevel::avx2:
      return cpu().avx2;
    case SimdLevel::avx512:
      return cpu().avx512;
  }
  return false;
}

constexpr SimdLevel kAllLevels[] = {SimdLevel::baseline, SimdLevel::avx2, SimdLevel::avx512};

std::atomic<int> g_active{-1};

std::string names(const std::vector<SimdLevel>& levels) {
  std::string out;
  for (SimdLevel l : levels) {
    if (!out.empty()) out += ", ";
    out += simd_level_name(l);
  }
  return out;
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::baseline:
      return "baseline";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512:
      return "avx512";
  }
  return "unknown";
}

SimdLevel parse_simd_level(const std::string& name) {
  for (SimdLevel l : kAllLevels) {
    if (name == simd_level_name(l)) return l;
  }
  throw std::invalid_argument("unknown SIMD level '" + name +
                              "'; expected one of: baseline, avx2, avx512");
}

std::vector<SimdLevel> simd_levels_compiled() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : kAllLevels)
    if (compiled(l)) out.push_back(l);
  return out;
}

std::vector<SimdLevel> simd_levels_supported() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : kAllLevels)
    if (compiled(l) && cpu_has(l)) out.push_back(l);
  return out;
}

SimdLevel best_simd_level() { return simd_levels_supported().back(); }

SimdLevel active_simd_level() {
  const int v = g_active.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<SimdLevel>(v);
  const SimdLevel best = best_simd_level();
  g_active.store(static_cast<int>(best), std::memory_order_relaxed);
  return best;
}

void set_simd_level(SimdLevel level) {
  if (!compiled(level)) {
    throw std::invalid_argument(std::string("SIMD level '") + simd_level_name(level) +
                                "' was not compiled into this build of pygd (compiled: " +
                                names(simd_levels_compiled()) + ")");
  }
  if (!cpu_has(level)) {
    throw std::invalid_argument(std::string("SIMD level '") + simd_level_name(level) +
                                "' is not supported by this CPU (supported: " +
                                names(simd_levels_supported()) + ")");
  }
  g_active.store(static_cast<int>(level), std::memory_order_relaxed);
}

void init_simd_level_from_env() {
  const char* env = std::getenv("PYGD_SIMD");
  if (env == nullptr || *env == '\0') {
    active_simd_level();
    return;
  }
  try {
    set_simd_level(parse_simd_level(env));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("PYGD_SIMD=") + env + ": " + e.what());
  }
}

}  // namespace pygd
