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
    if (failed(expandFakeQuant(builder, op, spec)))
      return failure();
    ++numExpanded;
    return success();
  }
};

} // namespace
