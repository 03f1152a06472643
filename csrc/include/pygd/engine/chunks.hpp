// Fixed chunks of kOptimChunk values over a vector of n, for the drivers of the optim area
// and of L-BFGS (engine/optim.cpp, engine/lbfgs.cpp).  Kernel files and bindings never
// include this (it brings in the OpenMP driver).
#pragma once
#include "pygd/engine/optim.hpp"
#include "pygd/parallel.hpp"

namespace pygd {

inline index_t chunk_count(index_t n) { return n > 0 ? (n + kOptimChunk - 1) / kOptimChunk : 0; }
inline index_t chunk_end(index_t c, index_t n) {
  const index_t e = (c + 1) * kOptimChunk;
  return e < n ? e : n;
}

// body(c, begin, end) for every chunk c of [0, n): in order below kOptimParallelMin values,
// else in parallel.  Partial sums stored per chunk and added in chunk order do not depend
// on the threads.
template <class Body>
void for_each_chunk(index_t n, const Body& body) {
  const index_t count = chunk_count(n);
  auto one = [&](index_t c) { body(c, c * kOptimChunk, chunk_end(c, n)); };
  if (n < kOptimParallelMin)
    for (index_t c = 0; c < count; ++c) one(c);
  else
    parallel_for(count, one);
}

}  // namespace pygd
