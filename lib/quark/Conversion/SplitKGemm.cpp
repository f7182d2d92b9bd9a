//===- SplitKGemm.cpp - GEMMs with few rows as split-K GPU kernels --------===//
//
// At decode time a quantized linear is a GEMV (one token) or a GEMM with a
// handful of rows, and it is bound by reading the packed weights. The
// generic kernel (one thread per output element, the whole K loop in the
// thread) has too few threads for that and makes each of them walk its own
// weight row, so neighbouring threads never read neighbouring words. This
// pass gives each output column 32 threads that read consecutive packed
// words, keeps a partial sum per row in each thread, and adds the partials
// in workgroup memory.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "GenericBody.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKSPLITKGEMM
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

constexpr int64_t kColumns = 8;         // output columns per workgroup
constexpr int64_t kLanesPerColumn = 32; // threads sharing one column's K
constexpr int64_t kThreads = kColumns * kLanesPerColumn;
constexpr int64_t kCodesPerLane = 8; // consecutive k a thread takes per step
constexpr int64_t kStepK = kLanesPerColumn * kCodesPerLane;

} // namespace

std::optional<AccumulatingGemm>
mlir::quark::matchSplitKGemm(linalg::GenericOp op, int64_t maxRows) {
  std::optional<AccumulatingGemm> gemm = matchAccumulatingGemm(op);
  if (!gemm || ShapedType::isDynamic(gemm->k) || gemm->m > maxRows ||
      gemm->n % kColumns || gemm->k % kStepK)
    return std::nullopt;
  return gemm;
}

namespace {

class SplitKKernelBuilder {
public:
  SplitKKernelBuilder(OpBuilder &b, Location loc, const AccumulatingGemm &gemm,
                      bool outputZeroed, const GemmResultStore &results)
      : b(b), loc(loc), gemm(gemm), outputZeroed(outputZeroed),
        results(results),
        element(cast<MemRefType>(gemm.out.getType()).getElementType()) {}

  /// The kernel: N / 8 workgroups of 256 threads.
  void buildGpuKernel() {
    auto partialsType =
        MemRefType::get({kColumns, kLanesPerColumn, gemm.m}, element,
                        MemRefLayoutAttrInterface(),
                        gpu::AddressSpaceAttr::get(
                            b.getContext(), gpu::AddressSpace::Workgroup));
    auto launch = gpu::LaunchOp::create(
        b, loc, index(gemm.n / kColumns), index(1), index(1), index(kThreads),
        index(1), index(1), /*dynamicSharedMemorySize=*/nullptr,
        /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
        TypeRange{partialsType});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value partials = launch.getWorkgroupAttributions()[0];
    Value thread = launch.getThreadIds().x, block = launch.getBlockIds().x;
    storePartials(thread, block, partials);
    gpu::BarrierOp::create(b, loc);
    reducePartials(thread, block, partials);
    gpu::TerminatorOp::create(b, loc);
  }

  /// The same kernel as host loops: for each workgroup, every thread's
  /// partial sums, then every thread's reduction (the barrier between).
  void buildCpuEmulation() {
    Value partials = memref::AllocOp::create(
        b, loc, MemRefType::get({kColumns, kLanesPerColumn, gemm.m}, element));
    forRange(index(gemm.n / kColumns), [&](Value block) {
      forRange(index(kThreads),
               [&](Value thread) { storePartials(thread, block, partials); });
      forRange(index(kThreads),
               [&](Value thread) { reducePartials(thread, block, partials); });
    });
    memref::DeallocOp::create(b, loc, partials);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value apply(AffineExpr expr, ValueRange operands) {
    return affine::makeComposedAffineApply(
        b, loc, AffineMap::get(operands.size(), 0, expr),
        getAsOpFoldResult(operands));
  }
  Value add(Value x, Value y) {
    if (isa<IntegerType>(element))
      return arith::AddIOp::create(b, loc, x, y);
    return arith::AddFOp::create(b, loc, x, y);
  }

  void forRange(Value hi, llvm::function_ref<void(Value)> body) {
    buildLoop(b, loc, index(0), hi, index(1), body);
  }

  /// The GEMM body's term at (m, n, k): its inputs loaded through their
  /// indexing maps, its ops cloned.
  Value term(Value m, Value n, Value k) {
    GenericBodyAt at{gemm.op, {m, n, k}};
    at.skip = gemm.accumulate;
    at.result = gemm.term;
    return cloneGenericBody(b, loc, at);
  }

  /// Thread t (column t / 32, lane t % 32) sums the terms of packed words
  /// 32 i + lane, i.e. k = 8 (32 i + lane) + e, for every row, and stores
  /// its partial sums at partials[column, lane, m].
  void storePartials(Value thread, Value block, Value partials) {
    MLIRContext *context = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, context),
               d1 = getAffineDimExpr(1, context);
    Value column = apply(d0.floorDiv(kLanesPerColumn), thread);
    Value lane = apply(d0 % kLanesPerColumn, thread);
    Value n = apply(d0 * kColumns + d1, {block, column});
    Value zero =
        arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
    auto loop = scf::ForOp::create(b, loc, index(0), index(gemm.k / kStepK),
                                   index(1), SmallVector<Value>(gemm.m, zero));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value word =
          apply(d0 * kLanesPerColumn + d1, {loop.getInductionVar(), lane});
      SmallVector<Value> sums(loop.getRegionIterArgs());
      // All eight codes of the word, for every row: the word's loads are
      // the same in every copy and CSE keeps one.
      for (int64_t e = 0; e < kCodesPerLane; ++e) {
        Value k = apply(d0 * kCodesPerLane + e, word);
        for (int64_t m = 0; m < gemm.m; ++m)
          sums[m] = add(sums[m], term(index(m), n, k));
      }
      scf::YieldOp::create(b, loc, sums);
    }
    for (int64_t m = 0; m < gemm.m; ++m)
      memref::StoreOp::create(b, loc, loop.getResult(m), partials,
                              ValueRange{column, lane, index(m)});
  }

  /// Threads t < 8 M add the 32 partials of column t / M, row t % M in
  /// lane order (onto the output's initial value unless it was zero) and
  /// store the result (through the fused epilogue, if any).
  void reducePartials(Value thread, Value block, Value partials) {
    MLIRContext *context = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, context),
               d1 = getAffineDimExpr(1, context);
    Value active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         thread, index(kColumns * gemm.m));
    auto ifOp = scf::IfOp::create(b, loc, active);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value column = apply(d0.floorDiv(gemm.m), thread);
    Value row = apply(d0 % gemm.m, thread);
    Value n = apply(d0 * kColumns + d1, {block, column});
    Value start = outputZeroed
                      ? Value(arith::ConstantOp::create(b, loc, element,
                                                        b.getZeroAttr(element)))
                      : Value(memref::LoadOp::create(b, loc, gemm.out,
                                                     ValueRange{row, n}));
    auto loop = scf::ForOp::create(b, loc, index(0), index(kLanesPerColumn),
                                   index(1), ValueRange{start});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value partial = memref::LoadOp::create(
          b, loc, partials, ValueRange{column, loop.getInductionVar(), row});
      scf::YieldOp::create(b, loc,
                           add(loop.getRegionIterArgs().front(), partial));
    }
    results.store(b, loc, loop.getResult(0), row, n);
  }

  OpBuilder &b;
  Location loc;
  AccumulatingGemm gemm;
  bool outputZeroed;
  const GemmResultStore &results;
  Type element;
};

struct QuarkSplitKGemmPass
    : mlir::quark::impl::QuarkSplitKGemmBase<QuarkSplitKGemmPass> {
  using QuarkSplitKGemmBase::QuarkSplitKGemmBase;

  void runOnOperation() override {
    replaceAccumulatingGemms(
        getOperation(),
        [&](linalg::GenericOp op) { return matchSplitKGemm(op, maxRows); },
        [&](OpBuilder &b, const AccumulatingGemm &gemm, bool outputZeroed,
            const GemmResultStore &results) {
          SplitKKernelBuilder builder(b, gemm.op->getLoc(), gemm, outputZeroed,
                                      results);
          if (emulate)
            builder.buildCpuEmulation();
          else
            builder.buildGpuKernel();
        });
  }
};

} // namespace
