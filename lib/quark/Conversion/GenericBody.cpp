//===- GenericBody.cpp - a linalg.generic's body at one point -------------===//

#include "GenericBody.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

/// The element of `input` at `indices` (the op's loop indices): loaded
/// through its indexing map, or the value itself for a scalar.
static Value loadInput(OpBuilder &b, Location loc, linalg::LinalgOp op,
                       OpOperand *input, ValueRange indices) {
  Value element = input->get();
  if (!isa<MemRefType>(element.getType()))
    return element;
  AffineMap map = op.getMatchingIndexingMap(input);
  SmallVector<Value> at;
  for (unsigned r = 0; r < map.getNumResults(); ++r)
    at.push_back(affine::makeComposedAffineApply(b, loc, map.getSubMap({r}),
                                                 getAsOpFoldResult(indices)));
  return memref::LoadOp::create(b, loc, element, at);
}

/// Clones the body's ops except `skip` (linalg.index becomes its index).
static void cloneBodyOps(OpBuilder &b, Block &body, ValueRange indices,
                         Operation *skip, IRMapping &mapping) {
  for (Operation &bodyOp : body.without_terminator()) {
    if (&bodyOp == skip)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp))
      mapping.map(index.getResult(), indices[index.getDim()]);
    else
      b.clone(bodyOp, mapping);
  }
}

Value mlir::quark::cloneGenericBody(OpBuilder &b, Location loc,
                                    const GenericBodyAt &at) {
  linalg::GenericOp op = at.op;
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(op.getMatchingBlockArgument(input),
                input == at.knownInput
                    ? at.knownValue
                    : loadInput(b, loc, op, input, at.indices));
  Block &body = op.getRegion().front();
  cloneBodyOps(b, body, at.indices, at.skip, mapping);
  return mapping.lookup(at.result ? at.result
                                  : body.getTerminator()->getOperand(0));
}

SmallVector<Value> mlir::quark::cloneLinalgBody(OpBuilder &b, Location loc,
                                                linalg::LinalgOp op,
                                                ValueRange indices,
                                                ValueRange outputs) {
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands())
    mapping.map(op.getMatchingBlockArgument(input),
                loadInput(b, loc, op, input, indices));
  for (auto [init, output] : llvm::zip_equal(op.getDpsInitsMutable(), outputs))
    if (output)
      mapping.map(op.getMatchingBlockArgument(&init), output);
  Block *body = op.getBlock();
  cloneBodyOps(b, *body, indices, /*skip=*/nullptr, mapping);
  SmallVector<Value> yielded;
  for (Value value : body->getTerminator()->getOperands())
    yielded.push_back(mapping.lookupOrDefault(value));
  return yielded;
}

void mlir::quark::buildLoop(OpBuilder &b, Location loc, Value lo, Value hi,
                            Value step, llvm::function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, loc, lo, hi, step);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

std::optional<mlir::quark::AccumulatingGemm>
mlir::quark::matchAccumulatingGemm(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1)
    return std::nullopt;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators.size() != 3 || iterators[0] != utils::IteratorType::parallel ||
      iterators[1] != utils::IteratorType::parallel ||
      iterators[2] != utils::IteratorType::reduction)
    return std::nullopt;
  OpOperand *init = op.getDpsInitOperand(0);
  MLIRContext *context = op.getContext();
  if (op.getMatchingIndexingMap(init) !=
      AffineMap::get(
          3, 0, {getAffineDimExpr(0, context), getAffineDimExpr(1, context)},
          context))
    return std::nullopt;
  AccumulatingGemm gemm;
  gemm.op = op;
  gemm.out = init->get();
  auto outType = cast<MemRefType>(gemm.out.getType());
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (!outType.hasStaticShape() || !outType.getLayout().isIdentity())
    return std::nullopt;
  gemm.m = ranges[0];
  gemm.n = ranges[1];
  gemm.k = ranges[2];
  Block &body = op.getRegion().front();
  BlockArgument acc = op.getMatchingBlockArgument(init);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *add = yield.getOperand(0).getDefiningOp();
  if (!add || add->getBlock() != &body || !acc.hasOneUse() ||
      !isa<arith::AddFOp, arith::AddIOp>(add))
    return std::nullopt;
  if (add->getOperand(0) == acc)
    gemm.term = add->getOperand(1);
  else if (add->getOperand(1) == acc)
    gemm.term = add->getOperand(0);
  else
    return std::nullopt;
  gemm.accumulate = add;
  return gemm;
}
