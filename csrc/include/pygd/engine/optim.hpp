// Optimizer updates and gradient helpers over whole parameters: the C++ API the
// bindings call.  Inputs are assumed valid (the Python layer validates, the
// bindings re-check sizes and types); see pygd/kernels/optim.hpp for the arrays.
#pragma once
#include "pygd/kernels/optim.hpp"

namespace pygd {

// Element-wise updates: serial below kOptimParallelMin elements, otherwise
// fixed chunks of kOptimChunk elements in parallel.  Every element's result is
// the same whichever thread computes it, so the bits never depend on threads.
constexpr index_t kOptimChunk = index_t(1) << 14;
constexpr index_t kOptimParallelMin = index_t(1) << 15;

template <class T> void sgd_update(const ParamArrays<T>& arrays, const SgdStep& step);
template <class T> void adam_update(const ParamArrays<T>& arrays, const AdamStep& step);
template <class T> void adagrad_update(const ParamArrays<T>& arrays, const AdagradStep& step);
template <class T> void rmsprop_update(const ParamArrays<T>& arrays, const RmspropStep& step);
template <class T> void adadelta_update(const ParamArrays<T>& arrays, const AdadeltaStep& step);
template <class T> void nadam_update(const ParamArrays<T>& arrays, const NadamStep& step);

// True when x[0, n) holds no NaN and no infinity.
template <class T> bool all_finite(const T* x, index_t n);

// sum_i |x_i|^p (or max_i |x_i| for p = inf) in double.  Partial sums over
// fixed chunks of kOptimChunk elements are added in chunk order, so the result
// does not depend on the number of threads.
template <class T> double power_sum(const T* x, index_t n, double p);

// x[0, n) *= factor.
template <class T> void scale(T* x, index_t n, double factor);

}  // namespace pygd
