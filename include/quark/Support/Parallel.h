//===- Parallel.h - Vectorized and threaded loops ---------------*- C++ -*-===//
//
// Two tools the hot loops share:
//  * QUARK_VECTORIZED compiles a function for AVX-512, AVX2+FMA (x86-64-v3)
//    and the baseline, and picks one at load time (target_clones): one
//    binary runs everywhere and vectorizes where the CPU allows. The
//    baseline (SSE2) has no rounding instruction, so rounding loops gain
//    the most.
//  * parallelChunks splits [0, count) into chunks for LLVM's thread pool,
//    whose size quark::kernels::setNumThreads sets (llvm::parallel::strategy).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_PARALLEL_H
#define QUARK_SUPPORT_PARALLEL_H

#include "llvm/Support/Parallel.h"

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) && defined(__clang__)
#define QUARK_VECTORIZED                                                      \
  __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define QUARK_VECTORIZED
#endif

namespace mlir::quark {

/// Runs fn(begin, end) over chunks of [0, count) of at least `grain`
/// elements, on up to four chunks per thread; inline when one thread is
/// configured or the range is small.
template <typename Fn>
void parallelChunks(int64_t count, int64_t grain, Fn &&fn) {
  int64_t threads =
      static_cast<int64_t>(llvm::parallel::strategy.compute_thread_count());
  if (threads <= 1 || count <= grain) {
    if (count > 0)
      fn(int64_t{0}, count);
    return;
  }
  int64_t chunks = std::min<int64_t>((count + grain - 1) / grain, threads * 4);
  int64_t step = (count + chunks - 1) / chunks;
  llvm::parallelFor(0, static_cast<size_t>(chunks), [&](size_t chunk) {
    int64_t begin = static_cast<int64_t>(chunk) * step;
    int64_t end = std::min(count, begin + step);
    if (begin < end)
      fn(begin, end);
  });
}

} // namespace mlir::quark

#endif // QUARK_SUPPORT_PARALLEL_H
