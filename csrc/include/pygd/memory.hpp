// Large scratch arrays of the drivers (csrc/engine), backed by 2 MB pages where the
// system allows.  No pybind11, no OpenMP; kernel files never include this.
//
// A pass over 20 classes x 2^18 columns allocates about 170 MB of scratch (the
// coefficients and the gradient column by column, the block sums).  On 4 KB pages each
// pass took 41 000 page faults, and the first NumPy operation after it that allocated
// ran 50-100 ms instead of 8 (measured on a 2-core AMD EPYC); on transparent huge pages
// the pass takes 2 700 faults.  Linux's default "madvise" mode gives huge pages only to
// memory advised so (NumPy advises its arrays of 4 MB or more); this advises ours the
// same way.  Elsewhere, or with huge pages off, the advice does nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pygd {

// Advises the whole 2 MB pages inside [p, p + bytes) as huge-page memory, for allocations
// of 4 MB or more (NumPy's threshold), before anything touches them.
inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t(1) << 21;
  if (p == nullptr || bytes < (std::size_t(1) << 22)) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice
#else
  (void)p;
  (void)bytes;
#endif
}

// std::allocator's memory, advised (advise_huge_pages) before the vector fills it.
template <class T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() noexcept = default;
  template <class U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    T* p = std::allocator<T>().allocate(n);
    advise_huge_pages(p, n * sizeof(T));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <class U>
  bool operator==(const LargeAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const LargeAllocator<U>&) const noexcept { return false; }
};

// For arrays whose size follows the data (k d, n k, blocks x d): std::vector otherwise.
template <class T>
using large_vector = std::vector<T, LargeAllocator<T>>;

// n values, not initialised (first touched by whichever thread fills them), advised.
template <class T>
std::unique_ptr<T[]> large_array(std::size_t n) {
  std::unique_ptr<T[]> p(new T[n]);
  advise_huge_pages(p.get(), n * sizeof(T));
  return p;
}

}  // namespace pygd
