//===- GenericBody.cpp - a linalg.generic's body at one point -------------===//

#include "GenericBody.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;

Value mlir::quark::cloneGenericBody(OpBuilder &b, Location loc,
                                    const GenericBodyAt &at) {
  linalg::GenericOp op = at.op;
  IRMapping mapping;
  for (OpOperand *input : op.getDpsInputOperands()) {
    Value element = input->get();
    if (input == at.knownInput) {
      element = at.knownValue;
    } else if (isa<MemRefType>(element.getType())) {
      AffineMap map = op.getMatchingIndexingMap(input);
      SmallVector<Value> indices;
      for (unsigned r = 0; r < map.getNumResults(); ++r)
        indices.push_back(affine::makeComposedAffineApply(
            b, loc, map.getSubMap({r}), getAsOpFoldResult(at.indices)));
      element = memref::LoadOp::create(b, loc, element, indices);
    }
    mapping.map(op.getMatchingBlockArgument(input), element);
  }
  Block &body = op.getRegion().front();
  for (Operation &bodyOp : body.without_terminator()) {
    if (&bodyOp == at.skip)
      continue;
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp))
      mapping.map(index.getResult(), at.indices[index.getDim()]);
    else
      b.clone(bodyOp, mapping);
  }
  return mapping.lookup(at.result ? at.result
                                  : body.getTerminator()->getOperand(0));
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
