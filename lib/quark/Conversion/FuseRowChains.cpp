//===- FuseRowChains.cpp - row-local linalg chains as one GPU kernel ------===//
//
// A dynamic quantizer lowers to several small linalg ops: fills of the
// statistics, the chunked reduction and its merge, the scale formula, the
// quantization itself (eight launches for ptpc_fp8's per-token scales).
// Every one of them works on a token at a time: what one op writes for row
// r, the next reads only for row r. Such a chain runs here as one kernel
// with a workgroup per row, the ops in turn between barriers, each op's
// body cloned unchanged and each of its output elements computed by one
// thread in the op's own loop order, so the result is the chain's bit for
// bit.
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
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/Support/MathExtras.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKFUSEROWCHAINS
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

constexpr int64_t kMaxThreads = 256;
constexpr int64_t kMinThreads = 64; // one AMD wave
// A phase gives each thread at most this many of its op's output elements
// per row; an op with more per row (a whole weight matrix behind a unit
// row dimension) keeps its own launch and its full parallelism.
constexpr int64_t kMaxPointsPerThread = 128;

/// The buffer a memref value views, and whether every view between keeps
/// the buffer's dimension 0 as its own dimension 0 (expand / collapse
/// shapes whose first group is that dimension alone).
struct BufferRoot {
  Value root;
  bool keepsRows = true;
};

BufferRoot rootOf(Value value) {
  BufferRoot result{value};
  while (Operation *def = result.root.getDefiningOp()) {
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      result.keepsRows &= expand.getReassociationIndices()[0].size() == 1;
      result.root = expand.getSrc();
    } else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def)) {
      result.keepsRows &= collapse.getReassociationIndices()[0].size() == 1;
      result.root = collapse.getSrc();
    } else if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      result.keepsRows = false;
      result.root = view.getViewSource();
    } else {
      break;
    }
  }
  return result;
}

/// One memory access of an op: the buffer, whether the op writes it, and
/// whether the element it touches lies in the row of loop index 0.
struct Access {
  Value root;
  bool writes = false;
  bool inRow = false;

  /// What no access yet says about `root` (the start of a merge).
  static Access none(Value root) { return {root, false, true}; }
  void merge(const Access &other) {
    writes |= other.writes;
    inRow &= other.inRow;
  }
};

/// A linalg op a chain can take: its row extent (loop 0), the number of
/// output elements per row, its accesses, or nullopt.
struct RowOp {
  linalg::LinalgOp op;
  int64_t rows = 0;
  int64_t pointsPerRow = 1;
  SmallVector<Access> accesses;
};

std::optional<RowOp> matchRowOp(Operation *operation) {
  if (!isa<linalg::GenericOp, linalg::FillOp, linalg::CopyOp>(operation) ||
      operation->hasAttr("quark.gemm"))
    return std::nullopt;
  auto op = cast<linalg::LinalgOp>(operation);
  if (!op.hasPureBufferSemantics() || op.getNumLoops() == 0 ||
      op.hasDynamicShape())
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (iterators[0] != utils::IteratorType::parallel)
    return std::nullopt;
  RowOp row;
  row.op = op;
  row.rows = ranges[0];
  for (auto [iterator, range] : llvm::zip_equal(iterators, ranges))
    if (iterator == utils::IteratorType::parallel)
      row.pointsPerRow *= range;
  row.pointsPerRow /= std::max<int64_t>(row.rows, 1);
  if (row.pointsPerRow > kMaxThreads * kMaxPointsPerThread)
    return std::nullopt;

  auto inRow = [&](OpOperand &operand, const BufferRoot &root) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    auto type = cast<MemRefType>(operand.get().getType());
    return root.keepsRows && map.getNumResults() > 0 &&
           map.getResult(0) == getAffineDimExpr(0, op.getContext()) &&
           type.getDimSize(0) == row.rows;
  };
  // Each thread owns whole output elements: every init is indexed by
  // distinct parallel loops, all those with more than one iteration among
  // them (a unit loop may be dropped: a rank-0 scale), and no two inits
  // share a buffer.
  llvm::SmallDenseSet<Value> initRoots;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    if (!map.isProjectedPermutation())
      return std::nullopt;
    for (auto [d, iterator] : llvm::enumerate(iterators)) {
      bool indexes = map.isFunctionOfDim(d);
      if (iterator == utils::IteratorType::parallel ? !indexes && ranges[d] > 1
                                                    : indexes)
        return std::nullopt;
    }
    BufferRoot root = rootOf(init.get());
    if (!initRoots.insert(root.root).second)
      return std::nullopt;
    row.accesses.push_back({root.root, /*writes=*/true, inRow(init, root)});
  }
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    BufferRoot root = rootOf(input->get());
    // An input that is also an output must be read at the element the
    // thread writes (an in-place elementwise op), or threads would race.
    if (initRoots.contains(root.root) &&
        llvm::none_of(op.getDpsInitsMutable(), [&](OpOperand &init) {
          return init.get() == input->get() &&
                 op.getMatchingIndexingMap(&init) ==
                     op.getMatchingIndexingMap(input);
        }))
      return std::nullopt;
    row.accesses.push_back(
        {root.root, /*writes=*/false, /*inRow=*/inRow(*input, root)});
  }
  return row;
}

/// Consecutive row ops of one block with the same row extent whose data
/// flows only within rows: every buffer the chain writes is accessed in the
/// row of the op's loop 0 by all of its ops (any access will do when there
/// is one row).
struct Chain {
  int64_t rows = 0;
  SmallVector<RowOp> ops;
  llvm::DenseMap<Value, Access> buffers; // merged accesses per buffer

  bool accepts(const RowOp &op) const {
    if (!ops.empty() && op.rows != rows)
      return false;
    // One row is one workgroup: its barriers order every access.
    if (op.rows == 1)
      return true;
    llvm::DenseMap<Value, Access> merged;
    for (const Access &access : op.accesses) {
      auto known = buffers.find(access.root);
      Access &seen =
          merged
              .try_emplace(access.root, known == buffers.end()
                                            ? Access::none(access.root)
                                            : known->second)
              .first->second;
      seen.merge(access);
      if (seen.writes && !seen.inRow)
        return false;
    }
    return true;
  }

  void add(const RowOp &op) {
    rows = op.rows;
    ops.push_back(op);
    for (const Access &access : op.accesses)
      buffers.try_emplace(access.root, Access::none(access.root))
          .first->second.merge(access);
  }

  int64_t widestRow() const {
    int64_t widest = 1;
    for (const RowOp &op : ops)
      widest = std::max(widest, op.pointsPerRow);
    return widest;
  }

  /// Worth one kernel: it saves launches, and either its widest op keeps a
  /// wave of threads busy per row or the whole chain fits one workgroup
  /// (one row or few elements), so no parallelism is lost.
  bool worthFusing() const {
    int64_t widest = widestRow();
    return ops.size() >= 2 &&
           (widest >= kMinThreads || rows * widest <= kMaxThreads);
  }

  int64_t threads() const {
    return std::clamp<int64_t>(llvm::PowerOf2Ceil(widestRow()), kMinThreads,
                               kMaxThreads);
  }
};

class ChainKernelBuilder {
public:
  ChainKernelBuilder(OpBuilder &b, Location loc, const Chain &chain)
      : b(b), loc(loc), chain(chain), threads(chain.threads()) {}

  /// One workgroup per row; the ops in chain order, a barrier between.
  void buildGpuKernel() {
    auto launch =
        gpu::LaunchOp::create(b, loc, index(chain.rows), index(1), index(1),
                              index(threads), index(1), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value row = launch.getBlockIds().x, thread = launch.getThreadIds().x;
    // A barrier goes before an op that reads a buffer written since the
    // last one, or writes a buffer read or written since then (the threads
    // of consecutive ops own different elements).
    llvm::SmallDenseSet<Value> written, read;
    for (const RowOp &op : chain.ops) {
      bool conflict = llvm::any_of(op.accesses, [&](const Access &access) {
        return written.contains(access.root) ||
               (access.writes && read.contains(access.root));
      });
      if (conflict) {
        gpu::BarrierOp::create(b, loc);
        written.clear();
        read.clear();
      }
      for (const Access &access : op.accesses)
        (access.writes ? written : read).insert(access.root);
      buildPhase(op, row, thread);
    }
    gpu::TerminatorOp::create(b, loc);
  }

  /// The same kernel as host loops: per row, each op's threads in turn (the
  /// barriers' order).
  void buildCpuEmulation() {
    forRange(index(0), index(chain.rows), index(1), [&](Value row) {
      for (const RowOp &op : chain.ops)
        forRange(index(0), index(threads), index(1),
                 [&](Value thread) { buildPhase(op, row, thread); });
    });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  void forRange(Value lo, Value hi, Value step,
                llvm::function_ref<void(Value)> body) {
    buildLoop(b, loc, lo, hi, step, body);
  }

  /// Thread t computes the op's output elements t, t + threads, ... of the
  /// row (the row's parallel loops linearized, the innermost fastest, so
  /// neighbouring threads touch neighbouring elements), each with the op's
  /// reduction loops in order inside.
  void buildPhase(const RowOp &rowOp, Value row, Value thread) {
    linalg::LinalgOp op = rowOp.op;
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    forRange(
        thread, index(rowOp.pointsPerRow), index(threads), [&](Value point) {
          SmallVector<Value> indices(ranges.size());
          indices[0] = row;
          // Delinearize: the last parallel loop varies fastest; the
          // outermost needs no modulo (point < pointsPerRow).
          int64_t stride = 1;
          AffineExpr p = getAffineDimExpr(0, b.getContext());
          for (int64_t d = ranges.size() - 1; d > 0; --d) {
            if (iterators[d] != utils::IteratorType::parallel)
              continue;
            AffineExpr at = p.floorDiv(stride);
            stride *= ranges[d];
            if (stride < rowOp.pointsPerRow)
              at = at % ranges[d];
            indices[d] = affine::makeComposedAffineApply(
                b, loc, AffineMap::get(1, 0, at), getAsOpFoldResult(point));
          }
          computeElement(op, iterators, ranges, indices);
        });
  }

  /// The op's output elements at the parallel `indices`: its reduction
  /// loops in order, the outputs carried through them, then stored.
  void computeElement(linalg::LinalgOp op,
                      ArrayRef<utils::IteratorType> iterators,
                      ArrayRef<int64_t> ranges, SmallVector<Value> indices) {
    SmallVector<unsigned> reductions;
    for (auto [d, iterator] : llvm::enumerate(iterators))
      if (iterator == utils::IteratorType::reduction)
        reductions.push_back(d);
    auto initIndices = [&](OpOperand &init) {
      SmallVector<Value> at;
      for (AffineExpr result : op.getMatchingIndexingMap(&init).getResults())
        at.push_back(indices[cast<AffineDimExpr>(result).getPosition()]);
      return at;
    };
    // Outputs the body reads start from memory; the others are never read.
    SmallVector<Value> outputs;
    for (OpOperand &init : op.getDpsInitsMutable())
      outputs.push_back(!reductions.empty() ||
                                !op.getMatchingBlockArgument(&init).use_empty()
                            ? Value(memref::LoadOp::create(b, loc, init.get(),
                                                           initIndices(init)))
                            : Value());
    SmallVector<Value> results =
        reduce(op, ranges, reductions, 0, indices, outputs);
    for (auto [init, result] :
         llvm::zip_equal(op.getDpsInitsMutable(), results))
      memref::StoreOp::create(b, loc, result, init.get(), initIndices(init));
  }

  SmallVector<Value> reduce(linalg::LinalgOp op, ArrayRef<int64_t> ranges,
                            ArrayRef<unsigned> reductions, unsigned level,
                            SmallVector<Value> &indices, ValueRange outputs) {
    if (level == reductions.size())
      return cloneLinalgBody(b, loc, op, indices, outputs);
    unsigned d = reductions[level];
    auto loop = scf::ForOp::create(b, loc, index(0), index(ranges[d]), index(1),
                                   outputs);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    indices[d] = loop.getInductionVar();
    scf::YieldOp::create(b, loc,
                         reduce(op, ranges, reductions, level + 1, indices,
                                loop.getRegionIterArgs()));
    return loop.getResults();
  }

  OpBuilder &b;
  Location loc;
  const Chain &chain;
  int64_t threads;
};

/// Ops a chain may step over: they neither launch nor touch memory that a
/// chain op could see (allocations, views, constants, index arithmetic).
bool isTransparent(Operation *op) {
  return isa<memref::AllocOp>(op) ||
         (op->getNumRegions() == 0 && isMemoryEffectFree(op));
}

struct QuarkFuseRowChainsPass
    : mlir::quark::impl::QuarkFuseRowChainsBase<QuarkFuseRowChainsPass> {
  using QuarkFuseRowChainsBase::QuarkFuseRowChainsBase;

  void runOnOperation() override {
    SmallVector<Block *> blocks;
    getOperation()->walk([&](Block *block) { blocks.push_back(block); });
    for (Block *block : blocks)
      fuseChainsIn(*block);
  }

  void fuseChainsIn(Block &block) {
    Chain chain;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      std::optional<RowOp> rowOp = matchRowOp(&op);
      if (rowOp && chain.accepts(*rowOp)) {
        chain.add(*rowOp);
        continue;
      }
      if (!rowOp && isTransparent(&op))
        continue;
      flush(chain);
      chain = Chain();
      if (rowOp)
        chain.add(*rowOp);
    }
    flush(chain);
  }

  /// Replaces the chain by its kernel, placed at its last op: everything
  /// the ops use is defined by then, and the ops stepped over between them
  /// touch no memory the chain reads or writes.
  void flush(const Chain &chain) {
    if (!chain.worthFusing())
      return;
    Operation *last = chain.ops.back().op;
    OpBuilder b(last);
    ChainKernelBuilder builder(b, last->getLoc(), chain);
    if (emulate)
      builder.buildCpuEmulation();
    else
      builder.buildGpuKernel();
    for (const RowOp &op : chain.ops)
      op.op->erase();
  }
};

} // namespace
