// Included only by csrc/kernels/*.cpp, which CMake compiles once per
// instruction set with PYGD_ISA_NS=isa_<level> and the matching -m flags.
//
// Rules for kernel files (the copies are linked into one module):
//  * everything lives in namespace pygd::PYGD_ISA_NS, helpers in an anonymous
//    namespace inside it, so no inline function or template instantiation
//    compiled with AVX flags can be picked by the linker for another level;
//  * no std:: templates or inline library functions (no <vector>, <algorithm>,
//    std::abs); use the builtins below and extern "C" libm functions;
//  * no OpenMP: threading lives in the drivers (csrc/<area>.cpp).
#pragma once
#include "pygd/common.hpp"

#if defined(__x86_64__) || defined(_M_X64)
// Intrinsics are always-inline (gnu_inline): they emit no symbols, so they are
// safe in per-ISA objects.  Used only where the vector extensions compile badly.
#include <immintrin.h>
#define PYGD_X86_INTRINSICS 1
#endif

#ifndef PYGD_ISA_NS
#error "kernel files are compiled once per ISA by CMake with PYGD_ISA_NS defined"
#endif

namespace pygd {
namespace PYGD_ISA_NS {

#if defined(PYGD_ISA_LEVEL_avx512)
constexpr int kVectorBytes = 64;
#elif defined(PYGD_ISA_LEVEL_avx2)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

// Doubles per native vector, and the vector types (GCC/Clang vector extensions:
// written once, compiled to SSE2, AVX2 or AVX-512 by the level's flags).
constexpr int kW = kVectorBytes / int(sizeof(double));
// Independent double accumulators per scalar-loop reduction: two vectors' worth,
// so the FMA latency is hidden and the summation order is fixed for the level.
constexpr int kDoubleLanes = 2 * kW;

typedef double vdouble __attribute__((vector_size(kVectorBytes)));
typedef long long vint64 __attribute__((vector_size(kVectorBytes)));
typedef float vfloat_half __attribute__((vector_size(kVectorBytes / 2)));

namespace {

inline double abs_(double x) { return __builtin_fabs(x); }
inline double max_(double a, double b) { return a > b ? a : b; }
inline index_t min_(index_t a, index_t b) { return a < b ? a : b; }

// kW consecutive values (any alignment) widened to double.
inline vdouble load_vd(const double* p) {
  vdouble v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
// (GCC 12 splits __builtin_convertvector of 8 floats into halves plus an insert,
// three instructions where AVX-512 has one: hence the intrinsics.)
inline vdouble load_vd(const float* p) {
#if defined(PYGD_X86_INTRINSICS) && defined(PYGD_ISA_LEVEL_avx512)
  return (vdouble)_mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif defined(PYGD_X86_INTRINSICS) && defined(PYGD_ISA_LEVEL_avx2)
  return (vdouble)_mm256_cvtps_pd(_mm_loadu_ps(p));
#elif defined(PYGD_X86_INTRINSICS)
  return (vdouble)_mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#else
  vfloat_half v;
  __builtin_memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, vdouble);
#endif
}
inline void store_vd(double* p, vdouble v) { __builtin_memcpy(p, &v, sizeof v); }
inline vdouble splat_vd(double x) { return vdouble{} + x; }

// Hints the cache lines of [p + ahead, p + ahead + bytes) into L1; a hint never
// faults, so it may run past the end of an array.
inline void prefetch_bytes(const void* p, index_t ahead, index_t bytes) {
  const char* c = static_cast<const char*>(p) + ahead;
  for (index_t off = 0; off < bytes; off += 64) prefetch_line(c + off);
}

// Sum of a vector's lanes by a fixed tree (lane k with lane k + width), in
// registers (the generic version goes through memory and stalls on
// store-to-load forwarding); every version adds in the same order.
inline double hsum(vdouble v) {
#if defined(PYGD_X86_INTRINSICS) && defined(PYGD_ISA_LEVEL_avx512)
  const __m512d z = (__m512d)v;
  const __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(z), _mm512_extractf64x4_pd(z, 1));
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
#elif defined(PYGD_X86_INTRINSICS) && defined(PYGD_ISA_LEVEL_avx2)
  const __m256d y = (__m256d)v;
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(y), _mm256_extractf128_pd(y, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
#elif defined(PYGD_X86_INTRINSICS)
  const __m128d x = (__m128d)v;
  return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
#endif
  double lanes[kW];
  __builtin_memcpy(lanes, &v, sizeof v);
  for (int width = kW / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) lanes[k] += lanes[k + width];
  }
  return lanes[0];
}

// R dot products of rows x[0..R) with w: out[r] = sum_j x[r][j] * w[j].  The
// rows share each load of w; each row has one vector accumulator.
template <int R, class T>
inline void dot_rows(const T* const* __restrict x, const double* __restrict w, index_t d,
                     double* __restrict out) {
  vdouble acc[R];
  for (int r = 0; r < R; ++r) acc[r] = vdouble{};
  const index_t dv = d - d % kW;
  for (index_t j = 0; j < dv; j += kW) {
    const vdouble wv = load_vd(w + j);
    for (int r = 0; r < R; ++r) acc[r] += load_vd(x[r] + j) * wv;
  }
  for (int r = 0; r < R; ++r) {
    double tail = 0.0;
    for (index_t j = dv; j < d; ++j) tail += double(x[r][j]) * w[j];
    out[r] = hsum(acc[r]) + tail;
  }
}

// acc[j] += sum_r a[r] * x[r][j], adding rows in order r = 0, 1, ...: one load
// and one store of acc per R rows.
template <int R, class T>
inline void axpy_rows(const double* __restrict a, const T* const* __restrict x,
                      double* __restrict acc, index_t d) {
  vdouble av[R];
  for (int r = 0; r < R; ++r) av[r] = splat_vd(a[r]);
  const index_t dv = d - d % kW;
  for (index_t j = 0; j < dv; j += kW) {
    vdouble v = load_vd(acc + j);
    for (int r = 0; r < R; ++r) v += av[r] * load_vd(x[r] + j);
    store_vd(acc + j, v);
  }
  for (index_t j = dv; j < d; ++j) {
    double v = acc[j];
    for (int r = 0; r < R; ++r) v += a[r] * double(x[r][j]);
    acc[j] = v;
  }
}

// Outputs per tile of dot_rows_tile / axpy_rows_tile: R x kOutTile vector
// accumulators plus R row vectors must fit the register file (32 zmm, 16 ymm/xmm).
#if defined(PYGD_ISA_LEVEL_avx512)
constexpr int kOutTile = 4;
#else
constexpr int kOutTile = 2;
#endif

// The R x KB dot products of rows x[0..R) with the KB rows w + u d:
// out[r * KB + u] = sum_j x[r][j] * w[u * d + j].  Each row chunk is loaded once
// for the KB outputs; every (r, u) has its own accumulator, summed over j in the
// order of dot_rows, so the bits equal dot_rows' for each output.
template <int R, int KB, class T>
inline void dot_rows_tile(const T* const* __restrict x, const double* __restrict w, index_t d,
                          double* __restrict out) {
  vdouble acc[R][KB];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < KB; ++u) acc[r][u] = vdouble{};
  const index_t dv = d - d % kW;
  for (index_t j = 0; j < dv; j += kW) {
    vdouble xv[R];
    for (int r = 0; r < R; ++r) xv[r] = load_vd(x[r] + j);
    for (int u = 0; u < KB; ++u) {
      const vdouble wv = load_vd(w + u * d + j);
      for (int r = 0; r < R; ++r) acc[r][u] += xv[r] * wv;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int u = 0; u < KB; ++u) {
      double tail = 0.0;
      for (index_t j = dv; j < d; ++j) tail += double(x[r][j]) * w[u * d + j];
      out[r * KB + u] = hsum(acc[r][u]) + tail;
    }
  }
}

// acc[u * d + j] += sum_r a[r * lda + u] * x[r][j] for u < KB, rows added in
// order r = 0, 1, ... as in axpy_rows (same bits per output), each row chunk
// loaded once for the KB outputs.
template <int R, int KB, class T>
inline void axpy_rows_tile(const double* __restrict a, index_t lda, const T* const* __restrict x,
                           double* __restrict acc, index_t d) {
  vdouble av[R][KB];
  for (int r = 0; r < R; ++r)
    for (int u = 0; u < KB; ++u) av[r][u] = splat_vd(a[r * lda + u]);
  const index_t dv = d - d % kW;
  for (index_t j = 0; j < dv; j += kW) {
    vdouble xv[R];
    for (int r = 0; r < R; ++r) xv[r] = load_vd(x[r] + j);
    for (int u = 0; u < KB; ++u) {
      vdouble v = load_vd(acc + u * d + j);
      for (int r = 0; r < R; ++r) v += av[r][u] * xv[r];
      store_vd(acc + u * d + j, v);
    }
  }
  for (int u = 0; u < KB; ++u) {
    for (index_t j = dv; j < d; ++j) {
      double v = acc[u * d + j];
      for (int r = 0; r < R; ++r) v += a[r * lda + u] * double(x[r][j]);
      acc[u * d + j] = v;
    }
  }
}

// e^x lane by lane: 2^n e^f with n = round(x / ln 2) and f = x - n ln 2 (ln 2 in
// two parts, so f is exact to ~1e-20), e^f by its degree-13 Taylor polynomial
// (|f| <= ln2 / 2: truncation below 1e-17 relative), 2^n built in the exponent
// field.  Within 2 ulp of libm's exp for -708.39 <= x <= 709.7; below that
// (where e^x is subnormal or 0) the result is 0, and NaN stays NaN.
inline vdouble exp_vd(vdouble x) {
  const vdouble lo = splat_vd(-708.39);
  const vdouble shifter = splat_vd(6755399441055744.0);  // 1.5 * 2^52: rounds to an integer
  const vdouble xc = x < lo ? lo : x;
  const vdouble t = xc * 1.4426950408889634 + shifter;
  const vdouble n = t - shifter;
  vdouble f = xc - n * 0.693147180369123816490;  // ln 2, high 32 bits
  f = f - n * 1.90821492927058770002e-10;        // and the rest
  vdouble p = splat_vd(1.0 / 6227020800.0);      // 1/13!
  p = p * f + 1.0 / 479001600.0;
  p = p * f + 1.0 / 39916800.0;
  p = p * f + 1.0 / 3628800.0;
  p = p * f + 1.0 / 362880.0;
  p = p * f + 1.0 / 40320.0;
  p = p * f + 1.0 / 5040.0;
  p = p * f + 1.0 / 720.0;
  p = p * f + 1.0 / 120.0;
  p = p * f + 1.0 / 24.0;
  p = p * f + 1.0 / 6.0;
  p = p * f + 0.5;
  p = p * f + 1.0;
  p = p * f + 1.0;
  const vint64 n_int = (vint64)t - (vint64)shifter;  // n, from t's low mantissa bits
  const vdouble two_n = (vdouble)((n_int + 1023) << 52);
  const vdouble e = p * two_n;
  const vdouble zero = vdouble{};
  return x == x ? (x < lo ? zero : e) : x;
}

// z[i] = e^z[i] for i < n by exp_vd (the last partial vector through a padded copy,
// so every element gets the same formula wherever it sits).
inline void exp_inplace(double* __restrict z, index_t n) {
  index_t i = 0;
  for (; i + kW <= n; i += kW) store_vd(z + i, exp_vd(load_vd(z + i)));
  if (i < n) {
    double buf[kW] = {};
    for (index_t j = i; j < n; ++j) buf[j - i] = z[j];
    store_vd(buf, exp_vd(load_vd(buf)));
    for (index_t j = i; j < n; ++j) z[j] = buf[j - i];
  }
}

// sum_j x[j] * w[j] in double, kDoubleLanes partial sums combined by a fixed tree.
template <class T>
inline double dot(const T* __restrict x, const double* __restrict w, index_t d) {
  double acc[kDoubleLanes] = {};
  index_t j = 0;
  for (; j + kDoubleLanes <= d; j += kDoubleLanes) {
    for (int k = 0; k < kDoubleLanes; ++k) acc[k] += double(x[j + k]) * w[j + k];
  }
  double tail = 0.0;
  for (; j < d; ++j) tail += double(x[j]) * w[j];
  for (int width = kDoubleLanes / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) acc[k] += acc[k + width];
  }
  return acc[0] + tail;
}

// sum_r x[r * stride] * w[r] for a strided x, same fixed lane order.
template <class T>
inline double dot_strided(const T* __restrict x, index_t stride, const double* __restrict w,
                          index_t m) {
  if (stride == 1) return dot(x, w, m);
  double acc[kDoubleLanes] = {};
  index_t r = 0;
  for (; r + kDoubleLanes <= m; r += kDoubleLanes) {
    for (int k = 0; k < kDoubleLanes; ++k) acc[k] += double(x[(r + k) * stride]) * w[r + k];
  }
  double tail = 0.0;
  for (; r < m; ++r) tail += double(x[r * stride]) * w[r];
  for (int width = kDoubleLanes / 2; width > 0; width /= 2) {
    for (int k = 0; k < width; ++k) acc[k] += acc[k + width];
  }
  return acc[0] + tail;
}

}  // namespace
}  // namespace PYGD_ISA_NS
}  // namespace pygd
