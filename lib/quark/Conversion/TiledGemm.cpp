//===- TiledGemm.cpp - prefill GEMMs as tiled GPU kernels -----------------===//
//
// A weight-only GEMM with many rows (prefill) left to the generic kernel
// gives each output element a thread that walks the whole K loop, decoding
// every packed weight it reads, so each weight is decoded once per row and
// threads share nothing. Here a workgroup computes a 64 x 64 tile: per step
// of 16 k it decodes the tile's weights and evaluates the activations' side
// of the product into workgroup memory once, and every thread accumulates
// 4 x 4 outputs from there, with the GEMM body's own multiply and add in k
// order, so the result is the generic kernel's bit for bit.
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
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SmallBitVector.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKTILEDGEMM
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

constexpr int64_t kTile = 64; // output rows and columns per workgroup
constexpr int64_t kSide = 16; // threads along each tile side
constexpr int64_t kThreads = kSide * kSide;
constexpr int64_t kPerThread = kTile / kSide; // outputs per thread and side
constexpr int64_t kStep = 16;                 // k per staged step
// Staged rows are padded by one element: the staging stores, whose k runs
// fastest across threads, then fall into different banks.
constexpr int64_t kPitch = kTile + 1;

/// The loop dimensions (of m, n, k) that `value` depends on in `op`'s body.
llvm::SmallBitVector loopDims(linalg::GenericOp op, Value value) {
  llvm::SmallBitVector dims(3);
  SmallVector<Value> work{value};
  llvm::SmallPtrSet<Value, 16> seen;
  Block &body = op.getRegion().front();
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() != &body)
        continue;
      AffineMap map =
          op.getMatchingIndexingMap(&op->getOpOperand(arg.getArgNumber()));
      for (unsigned d = 0; d < 3; ++d)
        if (map.isFunctionOfDim(d))
          dims.set(d);
      continue;
    }
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &body)
      continue; // defined outside: the same for every element
    if (auto index = dyn_cast<linalg::IndexOp>(def))
      dims.set(index.getDim());
    llvm::append_range(work, def->getOperands());
  }
  return dims;
}

/// A GEMM whose term is `rowSide * columnSide` (a product whose factors
/// depend on (m, k) and on (n, k) only).
struct TiledGemm : AccumulatingGemm {
  Operation *product = nullptr;
  Value rowSide, columnSide;
};

std::optional<TiledGemm> matchTiledGemm(linalg::GenericOp op) {
  std::optional<AccumulatingGemm> gemm = matchAccumulatingGemm(op);
  if (!gemm || ShapedType::isDynamic(gemm->k) ||
      ShapedType::isDynamic(gemm->m) || gemm->m <= 0 || gemm->n % kTile ||
      gemm->k % kStep)
    return std::nullopt;
  Operation *product = gemm->term.getDefiningOp();
  if (!product || product->getBlock() != &op.getRegion().front() ||
      !isa<arith::MulFOp, arith::MulIOp>(product))
    return std::nullopt;
  TiledGemm tiled;
  static_cast<AccumulatingGemm &>(tiled) = *gemm;
  tiled.product = product;
  for (Value factor : product->getOperands()) {
    llvm::SmallBitVector dims = loopDims(op, factor);
    if (!dims.test(1) && !tiled.rowSide)
      tiled.rowSide = factor;
    else if (!dims.test(0) && !tiled.columnSide)
      tiled.columnSide = factor;
  }
  if (!tiled.rowSide || !tiled.columnSide ||
      !tiled.rowSide.getType().isIntOrFloat() ||
      !tiled.columnSide.getType().isIntOrFloat())
    return std::nullopt;
  return tiled;
}

class TiledKernelBuilder {
public:
  TiledKernelBuilder(OpBuilder &b, Location loc, const TiledGemm &tiled,
                     bool outputZeroed, const GemmResultStore &results)
      : b(b), loc(loc), tiled(tiled), outputZeroed(outputZeroed),
        results(results),
        element(cast<MemRefType>(tiled.out.getType()).getElementType()) {}

  /// N / 64 x ceil(M / 64) workgroups of 256 threads; the accumulators are
  /// the K loop's iteration values.
  void buildGpuKernel() {
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    auto rowTileType = MemRefType::get({kStep, kPitch}, tiled.rowSide.getType(),
                                       MemRefLayoutAttrInterface(), workgroup);
    auto columnTileType =
        MemRefType::get({kStep, kPitch}, tiled.columnSide.getType(),
                        MemRefLayoutAttrInterface(), workgroup);
    auto launch = gpu::LaunchOp::create(
        b, loc, index(tiled.n / kTile), index(llvm::divideCeil(tiled.m, kTile)),
        index(1), index(kThreads), index(1), index(1),
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, TypeRange{rowTileType, columnTileType});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Tiles tiles{launch.getWorkgroupAttributions()[0],
                launch.getWorkgroupAttributions()[1]};
    Value thread = launch.getThreadIds().x;
    Workgroup group{launch.getBlockIds().x, launch.getBlockIds().y};
    auto steps = scf::ForOp::create(b, loc, index(0), index(tiled.k / kStep),
                                    index(1), initialSums(thread, group));
    {
      OpBuilder::InsertionGuard stepGuard(b);
      b.setInsertionPointToStart(steps.getBody());
      stage(thread, group, steps.getInductionVar(), tiles);
      gpu::BarrierOp::create(b, loc);
      SmallVector<Value> sums =
          accumulate(thread, steps.getRegionIterArgs(), tiles);
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, sums);
    }
    storeSums(thread, group, steps.getResults());
    gpu::TerminatorOp::create(b, loc);
  }

  /// The same kernel as host loops: per workgroup and step, every thread's
  /// staging, then every thread's accumulation (the barrier between);
  /// accumulators live in memory between the phases.
  void buildCpuEmulation() {
    Tiles tiles{
        memref::AllocOp::create(
            b, loc, MemRefType::get({kStep, kPitch}, tiled.rowSide.getType())),
        memref::AllocOp::create(
            b, loc,
            MemRefType::get({kStep, kPitch}, tiled.columnSide.getType()))};
    Value sumsBuffer = memref::AllocOp::create(
        b, loc, MemRefType::get({kThreads, kPerThread * kPerThread}, element));
    auto loadSums = [&](Value thread) {
      SmallVector<Value> sums;
      for (int64_t s = 0; s < kPerThread * kPerThread; ++s)
        sums.push_back(memref::LoadOp::create(b, loc, sumsBuffer,
                                              ValueRange{thread, index(s)}));
      return sums;
    };
    auto saveSums = [&](Value thread, ValueRange sums) {
      for (auto [s, sum] : llvm::enumerate(sums))
        memref::StoreOp::create(b, loc, sum, sumsBuffer,
                                ValueRange{thread, index(s)});
    };
    forRange(index(llvm::divideCeil(tiled.m, kTile)), [&](Value rowTile) {
      forRange(index(tiled.n / kTile), [&](Value columnTile) {
        Workgroup group{columnTile, rowTile};
        forRange(index(kThreads), [&](Value thread) {
          saveSums(thread, initialSums(thread, group));
        });
        forRange(index(tiled.k / kStep), [&](Value step) {
          forRange(index(kThreads),
                   [&](Value thread) { stage(thread, group, step, tiles); });
          forRange(index(kThreads), [&](Value thread) {
            saveSums(thread, accumulate(thread, loadSums(thread), tiles));
          });
        });
        forRange(index(kThreads), [&](Value thread) {
          storeSums(thread, group, loadSums(thread));
        });
      });
    });
    for (Value buffer : {tiles.rows, tiles.columns, sumsBuffer})
      memref::DeallocOp::create(b, loc, buffer);
  }

private:
  struct Tiles {
    Value rows, columns; // [kStep][kPitch]: the step's factors per k
  };
  struct Workgroup {
    Value columnTile, rowTile;
  };

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value apply(AffineExpr expr, ValueRange operands) {
    return affine::makeComposedAffineApply(
        b, loc, AffineMap::get(operands.size(), 0, expr),
        getAsOpFoldResult(operands));
  }
  AffineExpr dim(unsigned d) { return getAffineDimExpr(d, b.getContext()); }
  void forRange(Value hi, llvm::function_ref<void(Value)> body) {
    buildLoop(b, loc, index(0), hi, index(1), body);
  }

  /// Row `by * 64 + offset` clamped to the last row: rows past M compute
  /// with the last row's data and are not stored.
  Value clampedRow(Value rowTile, Value offset) {
    Value row = apply(dim(0) * kTile + dim(1), {rowTile, offset});
    return arith::MinUIOp::create(b, loc, row, index(tiled.m - 1));
  }
  /// Thread t's output rows by * 64 + t / 16 + 16 i and columns
  /// bx * 64 + t % 16 + 16 j.
  Value rowOffset(Value thread, int64_t i) {
    return apply(dim(0).floorDiv(kSide) + i * kSide, thread);
  }
  Value columnOf(Value thread, Value columnTile, int64_t j) {
    return apply(dim(0) * kTile + dim(1) % kSide + j * kSide,
                 {columnTile, thread});
  }

  SmallVector<Value> initialSums(Value thread, Workgroup group) {
    SmallVector<Value> sums;
    for (int64_t i = 0; i < kPerThread; ++i)
      for (int64_t j = 0; j < kPerThread; ++j)
        sums.push_back(
            outputZeroed
                ? Value(arith::ConstantOp::create(b, loc, element,
                                                  b.getZeroAttr(element)))
                : Value(memref::LoadOp::create(
                      b, loc, tiled.out,
                      ValueRange{
                          clampedRow(group.rowTile, rowOffset(thread, i)),
                          columnOf(thread, group.columnTile, j)})));
    return sums;
  }

  /// Thread t evaluates, for each of its 4 staging slots p = t + 256 r
  /// (k = step * 16 + p % 16, tile position p / 16), the row side of the
  /// product at (row, k) and the column side at (column, k), and stores
  /// them at [p % 16][p / 16]: consecutive threads take consecutive k, so
  /// they read consecutive packed codes.
  void stage(Value thread, Workgroup group, Value step, Tiles tiles) {
    Value zero = index(0);
    for (int64_t r = 0; r < kTile * kStep / kThreads; ++r) {
      Value slot = apply(dim(0) + r * kThreads, thread);
      Value kk = apply(dim(0) % kStep, slot);
      Value position = apply(dim(0).floorDiv(kStep), slot);
      Value k = apply(dim(0) * kStep + dim(1), {step, kk});
      Value row = clampedRow(group.rowTile, position);
      Value column =
          apply(dim(0) * kTile + dim(1), {group.columnTile, position});
      memref::StoreOp::create(b, loc, side(tiled.rowSide, {row, zero, k}),
                              tiles.rows, ValueRange{kk, position});
      memref::StoreOp::create(b, loc, side(tiled.columnSide, {zero, column, k}),
                              tiles.columns, ValueRange{kk, position});
    }
  }

  /// One factor of the GEMM body's product at the given loop indices.
  Value side(Value factor, SmallVector<Value, 3> indices) {
    GenericBodyAt at{tiled.op, std::move(indices)};
    at.skip = tiled.accumulate;
    at.result = factor;
    return cloneGenericBody(b, loc, at);
  }

  /// The step's 16 k, in order: each output adds the body's product of its
  /// staged row and column factors with the body's own operations.
  SmallVector<Value> accumulate(Value thread, ValueRange sums, Tiles tiles) {
    auto loop =
        scf::ForOp::create(b, loc, index(0), index(kStep), index(1), sums);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kk = loop.getInductionVar();
    SmallVector<Value> rowFactors, columnFactors;
    for (int64_t i = 0; i < kPerThread; ++i) {
      rowFactors.push_back(memref::LoadOp::create(
          b, loc, tiles.rows, ValueRange{kk, rowOffset(thread, i)}));
      columnFactors.push_back(memref::LoadOp::create(
          b, loc, tiles.columns,
          ValueRange{kk, apply(dim(0) % kSide + i * kSide, thread)}));
    }
    BlockArgument acc =
        tiled.op.getMatchingBlockArgument(tiled.op.getDpsInitOperand(0));
    SmallVector<Value> next;
    for (int64_t i = 0; i < kPerThread; ++i)
      for (int64_t j = 0; j < kPerThread; ++j) {
        IRMapping mapping;
        mapping.map(tiled.rowSide, rowFactors[i]);
        mapping.map(tiled.columnSide, columnFactors[j]);
        Value term = b.clone(*tiled.product, mapping)->getResult(0);
        mapping.map(tiled.term, term);
        mapping.map(acc, loop.getRegionIterArgs()[i * kPerThread + j]);
        next.push_back(b.clone(*tiled.accumulate, mapping)->getResult(0));
      }
    scf::YieldOp::create(b, loc, next);
    return SmallVector<Value>(loop.getResults());
  }

  void storeSums(Value thread, Workgroup group, ValueRange sums) {
    for (int64_t i = 0; i < kPerThread; ++i) {
      Value row =
          apply(dim(0) * kTile + dim(1), {group.rowTile, rowOffset(thread, i)});
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           row, index(tiled.m));
      auto ifOp = scf::IfOp::create(b, loc, inside);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      for (int64_t j = 0; j < kPerThread; ++j)
        results.store(b, loc, sums[i * kPerThread + j], row,
                      columnOf(thread, group.columnTile, j));
    }
  }

  OpBuilder &b;
  Location loc;
  TiledGemm tiled;
  bool outputZeroed;
  const GemmResultStore &results;
  Type element;
};

struct QuarkTiledGemmPass
    : mlir::quark::impl::QuarkTiledGemmBase<QuarkTiledGemmPass> {
  using QuarkTiledGemmBase::QuarkTiledGemmBase;

  void runOnOperation() override {
    replaceGemmsWithKernels(
        getOperation(), matchTiledGemm, emulate,
        [&](OpBuilder &b, const TiledGemm &tiled, bool outputZeroed,
            const GemmResultStore &results) {
          return TiledKernelBuilder(b, tiled.op->getLoc(), tiled, outputZeroed,
                                    results);
        });
  }
};

} // namespace
