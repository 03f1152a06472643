// Plain types shared by kernels, drivers and bindings.  No pybind11, no OpenMP.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pygd {

using index_t = std::int64_t;

// A cache hint for the line holding *p, into every level (prefetcht0), for reading or
// for writing (the same instruction: PREFETCHW is not in baseline x86-64).  A hint never
// faults, so p may point past an array's end.  Every prefetch in csrc/ goes through
// here because GCC 12 dropped __builtin_prefetch hints that sat in helpers and loops
// doing nothing else (csr_prefetch, prefetch_columns, prefetch_bytes' loop): built at
// -O3, the CSR gradient kernel held not one prefetch instruction, and the 2^20-column
// pass waited on every coefficient and gradient line.  (A 12-line example, a
// prefetch-only helper with a loop called once per row, loses its hints at -O2.)  The
// asm statement is volatile, so it stays; always-inline, so no copy compiled with one
// ISA's flags is shared with another.
__attribute__((always_inline)) inline void prefetch_line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 0, 3);
#endif
}

// Hints every cache line of [first, last) (prefetch_line's).
__attribute__((always_inline)) inline void prefetch_lines(const void* first, const void* last) {
  const auto end = reinterpret_cast<std::uintptr_t>(last);
  for (auto line = reinterpret_cast<std::uintptr_t>(first) & ~std::uintptr_t(63); line < end;
       line += 64)
    prefetch_line(reinterpret_cast<const void*>(line));
}

// A read-only 2-D view with strides counted in elements (not bytes).  Covers
// C order (col_stride == 1), F order (row_stride == 1) and any strided view.
template <class T>
struct MatrixView {
  const T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t row_stride = 0;
  index_t col_stride = 1;

  const T* row(index_t i) const { return data + i * row_stride; }
  bool rows_contiguous() const { return col_stride == 1 || cols <= 1; }
};

// A CSR matrix in scipy.sparse's layout: row i's nonzeros are values[e] in
// columns indices[e] for e in [indptr[i], indptr[i + 1]).  indices and indptr
// are both 32-bit or both 64-bit (one pair is set, the other is nullptr);
// duplicates add up, the order within a row is free.  The binding checked the
// structure (indptr non-decreasing from 0 to nnz, every index in [0, cols)).
template <class T>
struct CsrView {
  const T* values = nullptr;
  const std::int32_t* indices32 = nullptr;
  const std::int32_t* indptr32 = nullptr;
  const std::int64_t* indices64 = nullptr;
  const std::int64_t* indptr64 = nullptr;
  index_t nnz = 0;
  bool active = false;  // false: the problem's X is dense
};

// Rows [begin, end) of block b of a fixed partition of n rows.  The partition
// depends only on the problem size, never on the number of threads, so any
// reduction over blocks in block order gives the same bits for any thread count.
struct BlockPlan {
  index_t n = 0;
  index_t count = 1;
  index_t rows_per_block = 0;
  index_t begin(index_t b) const { return b * rows_per_block; }
  index_t end(index_t b) const {
    const index_t e = (b + 1) * rows_per_block;
    return e < n ? e : n;
  }
};

// Blocks of at least `min_elements` matrix elements (so small inputs stay in
// one serial block), at most `max_blocks`, and with at most `max_scratch_bytes`
// of per-block partial sums of `scratch_per_block` doubles each.
inline BlockPlan plan_row_blocks(index_t n, index_t scratch_per_block, index_t cols,
                                 index_t min_elements = index_t(1) << 16,
                                 index_t max_blocks = 512,
                                 index_t max_scratch_bytes = index_t(32) << 20) {
  BlockPlan plan;
  plan.n = n;
  if (n <= 0) {
    plan.count = 0;
    plan.rows_per_block = 0;
    return plan;
  }
  const index_t width = cols > 0 ? cols : 1;
  index_t min_rows = (min_elements + width - 1) / width;
  if (min_rows < 64) min_rows = 64;
  index_t count = (n + min_rows - 1) / min_rows;
  if (count > max_blocks) count = max_blocks;
  if (scratch_per_block > 0) {
    const index_t by_memory =
        max_scratch_bytes / (scratch_per_block * index_t(sizeof(double)));
    if (count > by_memory) count = by_memory;
  }
  if (count < 1) count = 1;
  plan.rows_per_block = (n + count - 1) / count;
  plan.count = (n + plan.rows_per_block - 1) / plan.rows_per_block;
  return plan;
}

}  // namespace pygd
