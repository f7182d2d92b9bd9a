//===- ExpandFakeQuant.cpp - fake_quant as quantize + dequantize ----------===//

#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"

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
    SmallVector<Operation *> quantizers;
    getOperation()->walk([&](Operation *op) {
      if (isa<FakeQuantOp, TwoStageFakeQuantOp>(op))
        quantizers.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : quantizers) {
      LogicalResult expanded = success();
      if (auto fakeQuant = dyn_cast<FakeQuantOp>(op)) {
        if (fakeQuant.getSpec().isBlockFloat()) {
          ++numBlockFormat;
          continue;
        }
        expanded = expandFakeQuant(rewriter, fakeQuant, fakeQuant.getSpec());
      } else {
        auto twoStage = cast<TwoStageFakeQuantOp>(op);
        if (!twoStage.getSpec().quantizesScales()) {
          ++numProgressive;
          continue;
        }
        expanded = expandTwoStageFakeQuant(rewriter, twoStage,
                                           twoStage.getSpec().getFirst());
      }
      if (failed(expanded))
        return signalPassFailure();
      ++numExpanded;
    }
  }
};

} // namespace
