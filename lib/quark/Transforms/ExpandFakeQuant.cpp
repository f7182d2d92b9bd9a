//===- ExpandFakeQuant.cpp - fake_quant as quantize + dequantize ----------===//

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKEXPANDFAKEQUANT
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// Materializes the parameters a dynamic or MX fake_quant derives from its
/// input. Returns false (after a diagnostic) if the spec cannot apply.
LogicalResult materializeParams(OpBuilder &builder, FakeQuantOp op,
                                Value &scale, Value &zeroPoint) {
  RankedTensorType inputType = op.getInput().getType();
  auto emitError = [&]() { return op.emitOpError(); };
  FailureOr<SmallVector<int64_t>> paramShape =
      getParamShape(op.getSpec(), inputType.getShape(), emitError);
  if (failed(paramShape))
    return failure();
  auto scaleType = RankedTensorType::get(*paramShape, builder.getF32Type());
  Type zeroType;
  if (op.getSpec().hasZeroPoint())
    zeroType = RankedTensorType::get(*paramShape, builder.getI32Type());
  auto params = ComputeQParamsOp::create(builder, op.getLoc(), scaleType,
                                         zeroType, op.getInput(), op.getSpec());
  scale = params.getScale();
  zeroPoint = params.getZeroPoint();
  return success();
}

struct ExpandFakeQuantPass
    : mlir::quark::impl::QuarkExpandFakeQuantBase<ExpandFakeQuantPass> {
  void runOnOperation() override {
    SmallVector<FakeQuantOp> fakeQuants;
    getOperation()->walk([&](FakeQuantOp op) { fakeQuants.push_back(op); });
    for (FakeQuantOp op : fakeQuants) {
      if (failed(expand(op)))
        return signalPassFailure();
    }
  }

  LogicalResult expand(FakeQuantOp op) {
    TensorSpecAttr spec = op.getSpec();
    if (spec.isBlockFloat()) {
      ++numBlockFormat;
      return success();
    }
    OpBuilder builder(op);
    RankedTensorType floatType = op.getInput().getType();
    auto codeType = RankedTensorType::get(
        floatType.getShape(),
        getCodeElementType(spec, floatType.getElementType()));
    Value scale = op.getScale();
    Value zeroPoint = op.getZeroPoint();
    if (!spec.isCast() && !scale &&
        failed(materializeParams(builder, op, scale, zeroPoint)))
      return failure();
    Value codes = QuantizeOp::create(builder, op.getLoc(), codeType,
                                     op.getInput(), spec, scale, zeroPoint);
    Value values = DequantizeOp::create(builder, op.getLoc(), floatType,
                                        codes, spec, scale, zeroPoint);
    op.replaceAllUsesWith(values);
    op.erase();
    ++numExpanded;
    return success();
  }
};

} // namespace
