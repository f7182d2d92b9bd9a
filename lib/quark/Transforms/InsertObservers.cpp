//===- InsertObservers.cpp - Mark what calibration must observe -----------===//

#include "QuantizationUtils.h"

#include "quark/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKINSERTOBSERVERS
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {
ObserveOp createObserver(OpBuilder &builder, Location loc, Value value,
                         TensorSpecAttr spec, StringRef name) {
  return ObserveOp::create(builder, loc, value.getType(), value, spec,
                           builder.getStringAttr(name), DenseElementsAttr(),
                           DenseElementsAttr(), DenseIntElementsAttr(),
                           DenseElementsAttr());
}

struct InsertObserversPass
    : mlir::quark::impl::QuarkInsertObserversBase<InsertObserversPass> {
  void runOnOperation() override {
    getOperation().walk([&](LinearOp linear) {
      LayerSpecAttr layer = linear.getQuantAttr();
      if (!layer)
        return;
      OpBuilder builder(linear);
      StringRef name = linear.getName();
      // A two-stage spec whose second stage quantizes the scales (NVFP4's
      // activations) calibrates one per-tensor maximum: that stage's.
      auto calibrated = [](Attribute field) -> TensorSpecAttr {
        if (auto spec = singleStage(field))
          return needsCalibration(spec) ? spec : TensorSpecAttr();
        if (auto twoStage = dyn_cast_or_null<TwoStageSpecAttr>(field))
          if (twoStage.quantizesScales() && needsCalibration(twoStage.getSecond()))
            return twoStage.getSecond();
        return {};
      };
      if (TensorSpecAttr spec = calibrated(layer.getInputTensors())) {
        auto observe = createObserver(builder, linear.getLoc(),
                                      linear.getInput(), spec,
                                      (name + ".input").str());
        linear.getInputMutable().assign(observe);
        ++numObservers;
      }
      if (TensorSpecAttr spec = calibrated(layer.getOutputTensors())) {
        builder.setInsertionPointAfter(linear);
        auto observe = createObserver(builder, linear.getLoc(),
                                      linear.getResult(), spec,
                                      (name + ".output").str());
        linear.getResult().replaceAllUsesExcept(observe, observe);
        ++numObservers;
      }
    });
  }
};
} // namespace
