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
// Consecutive k a thread takes per step: at least 8 (K must be a multiple
// of 32 x 8), and up to 16 bytes of the weights' codes.
constexpr int64_t kMinCodesPerLane = 8;
constexpr int64_t kMaxLaneBytes = 16;
constexpr int64_t kMaxTermsPerStep = 128; // codes x rows per thread and step
constexpr int64_t kStepK = kLanesPerColumn * kMinCodesPerLane;

/// The widest codes of the GEMM's column operands (the weights and their
/// scales: inputs indexed by n and k), in bits: an input whose innermost
/// index is `k floordiv c` holds c codes per element (an i32 word of int4
/// codes: 4 bits each).
int64_t bitsPerWeightCode(linalg::GenericOp op) {
  MLIRContext *context = op.getContext();
  AffineExpr n = getAffineDimExpr(1, context), k = getAffineDimExpr(2, context);
  int64_t widest = 0;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!type || map.getNumResults() < 2 ||
        !type.getElementType().isIntOrFloat() ||
        !llvm::any_of(map.getResults().drop_back(),
                      [&](AffineExpr e) { return e == n; }))
      continue;
    AffineExpr inner = map.getResults().back();
    int64_t codesPerElement = 0;
    if (inner == k)
      codesPerElement = 1;
    else if (auto div = dyn_cast<AffineBinaryOpExpr>(inner);
             div && div.getKind() == AffineExprKind::FloorDiv &&
             div.getLHS() == k)
      if (auto c = dyn_cast<AffineConstantExpr>(div.getRHS()))
        codesPerElement = c.getValue();
    if (codesPerElement > 0)
      widest = std::max<int64_t>(
          widest,
          llvm::divideCeil(type.getElementTypeBitWidth(), codesPerElement));
  }
  return widest;
}

/// Codes per lane and step: 16 bytes of weight codes (32 int4 or fp4
/// codes, 16 int8), as long as K splits evenly into steps of 32 lanes and
/// the step's terms (codes x rows) stay within kMaxTermsPerStep; 8
/// otherwise. Wider steps put more weight bytes in flight per thread,
/// which a GEMV bound by streaming the weights needs; with many rows the
/// terms' registers would cost occupancy instead (on gfx942, 32 codes at
/// 16 rows take 272 VGPRs: one wave per SIMD).
int64_t codesPerLane(const AccumulatingGemm &gemm) {
  int64_t bits = std::max<int64_t>(bitsPerWeightCode(gemm.op), 1);
  int64_t codes = std::max<int64_t>(kMaxLaneBytes * 8 / bits, kMinCodesPerLane);
  codes = std::min<int64_t>(
      static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(codes))), 32);
  while (codes > kMinCodesPerLane && (gemm.k % (kLanesPerColumn * codes) ||
                                      codes * gemm.m > kMaxTermsPerStep))
    codes /= 2;
  return codes;
}

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
        results(results), codesPerLane(::codesPerLane(gemm)),
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

  /// Thread t (column t / 32, lane t % 32) sums the terms of its run
  /// 32 i + lane of c = codesPerLane codes, i.e. k = c (32 i + lane) + e,
  /// for every row, and stores its partial sums at partials[column, lane,
  /// m]. The 32 lanes of a column read 32 consecutive runs.
  void storePartials(Value thread, Value block, Value partials) {
    MLIRContext *context = b.getContext();
    AffineExpr d0 = getAffineDimExpr(0, context),
               d1 = getAffineDimExpr(1, context);
    Value column = apply(d0.floorDiv(kLanesPerColumn), thread);
    Value lane = apply(d0 % kLanesPerColumn, thread);
    Value n = apply(d0 * kColumns + d1, {block, column});
    Value zero =
        arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(gemm.k / (kLanesPerColumn * codesPerLane)),
        index(1), SmallVector<Value>(gemm.m, zero));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value run =
          apply(d0 * kLanesPerColumn + d1, {loop.getInductionVar(), lane});
      SmallVector<Value> sums(loop.getRegionIterArgs());
      // All codes of the run, for every row: the loads of its words are
      // the same in every copy and CSE keeps one.
      for (int64_t e = 0; e < codesPerLane; ++e) {
        Value k = apply(d0 * codesPerLane + e, run);
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
  int64_t codesPerLane;
  Type element;
};

struct QuarkSplitKGemmPass
    : mlir::quark::impl::QuarkSplitKGemmBase<QuarkSplitKGemmPass> {
  using QuarkSplitKGemmBase::QuarkSplitKGemmBase;

  void runOnOperation() override {
    replaceGemmsWithKernels(
        getOperation(),
        [&](linalg::GenericOp op) { return matchSplitKGemm(op, maxRows); },
        emulate,
        [&](OpBuilder &b, const AccumulatingGemm &gemm, bool outputZeroed,
            const GemmResultStore &results) {
          return SplitKKernelBuilder(b, gemm.op->getLoc(), gemm, outputZeroed,
                                     results);
        });
  }
};

} // namespace
