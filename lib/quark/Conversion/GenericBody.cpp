//===- GenericBody.cpp - a linalg.generic's body at one point -------------===//

#include "GenericBody.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
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
