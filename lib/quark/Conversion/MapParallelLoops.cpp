//===- MapParallelLoops.cpp - shape-aware GPU tiles for parallel loops ----===//
//
// Tiles each outermost scf.parallel (the loops of an elementwise op or the
// (m, n) loops of a GEMM) into workgroups of `threads` threads whose shape
// follows the loop's extents, and maps the loops to GPU ids with the
// innermost (contiguous) dimension on x. A fixed 16x16 tile over (m, n)
// leaves 15 of every 16 threads idle when a GEMV has one row, and puts the
// row index on thread x, so neighbouring threads touch different rows.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/Matchers.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKMAPPARALLELLOOPS
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// Trip count of dimension `d`, when its bounds and step are constants.
std::optional<int64_t> tripCount(scf::ParallelOp loop, unsigned d) {
  APInt lo, hi, step;
  if (!matchPattern(loop.getLowerBound()[d], m_ConstantInt(&lo)) ||
      !matchPattern(loop.getUpperBound()[d], m_ConstantInt(&hi)) ||
      !matchPattern(loop.getStep()[d], m_ConstantInt(&step)) ||
      step.getSExtValue() <= 0)
    return std::nullopt;
  return llvm::divideCeil(
      std::max<int64_t>(0, hi.getSExtValue() - lo.getSExtValue()),
      step.getSExtValue());
}

/// Threads per dimension: the innermost dimension takes as many as it can
/// use (a power of two up to `threads`), the next one the rest; other
/// dimensions get one.
SmallVector<int64_t> tileSizes(scf::ParallelOp loop, int64_t threads) {
  unsigned rank = loop.getNumLoops();
  SmallVector<int64_t> sizes(rank, 1);
  int64_t left = threads;
  for (unsigned i = 0; i < std::min(rank, 2u); ++i) {
    unsigned d = rank - 1 - i;
    int64_t want = tripCount(loop, d).value_or(left);
    sizes[d] =
        std::min<int64_t>(left, llvm::PowerOf2Ceil(std::max<int64_t>(1, want)));
    left /= sizes[d];
  }
  return sizes;
}

enum class MappingLevel { Blocks, Threads, Sequential };

/// Maps the last three dimensions to x, y, z (innermost on x) of `level`;
/// the others, and every dimension at the sequential level, run in order.
void mapToIds(scf::ParallelOp loop, MappingLevel level) {
  using gpu::Processor;
  const Processor blocks[] = {Processor::BlockX, Processor::BlockY,
                              Processor::BlockZ};
  const Processor threads[] = {Processor::ThreadX, Processor::ThreadY,
                               Processor::ThreadZ};
  MLIRContext *context = loop.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
  unsigned rank = loop.getNumLoops();
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  for (unsigned d = 0; d < rank; ++d) {
    unsigned fromInner = rank - 1 - d;
    Processor processor = Processor::Sequential;
    if (fromInner < 3 && level != MappingLevel::Sequential)
      processor =
          (level == MappingLevel::Threads ? threads : blocks)[fromInner];
    mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(context, processor,
                                                           identity, identity));
  }
  (void)gpu::setMappingAttr(loop, mapping);
}

struct QuarkMapParallelLoopsPass
    : mlir::quark::impl::QuarkMapParallelLoopsBase<QuarkMapParallelLoopsPass> {
  using QuarkMapParallelLoopsBase::QuarkMapParallelLoopsBase;

  void runOnOperation() override {
    if (threads <= 0 || !llvm::isPowerOf2_64(threads)) {
      getOperation().emitError("quark-map-parallel-loops: threads must be a "
                               "positive power of two, got ")
          << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      auto [outer, inner] = scf::tileParallelLoop(
          loop, tileSizes(loop, threads), /*noMinMaxBounds=*/true);
      mapToIds(outer, MappingLevel::Blocks);
      mapToIds(inner, MappingLevel::Threads);
      // Parallel loops nested in a tile (none from linalg today) run in the
      // thread.
      inner.getBody()->walk([&](scf::ParallelOp nested) {
        mapToIds(nested, MappingLevel::Sequential);
      });
    }
  }
};

} // namespace
