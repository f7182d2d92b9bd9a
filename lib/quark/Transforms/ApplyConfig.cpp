//===- ApplyConfig.cpp - Resolve the Quark configuration per layer --------===//

#include "quark/Config/QuantConfig.h"
#include "quark/Transforms/Passes.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKAPPLYCONFIG
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

/// A QLayerConfig that quantizes nothing.
static bool isEmpty(LayerSpecAttr layer) {
  return !layer || (!layer.getInputTensors() && !layer.getOutputTensors() &&
                    !layer.getWeight() && !layer.getBias());
}

namespace {
struct ApplyConfigPass
    : mlir::quark::impl::QuarkApplyConfigBase<ApplyConfigPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto attr = module->getAttrOfType<DictionaryAttr>(kQuantConfigAttr);
    if (!attr) {
      module.emitError() << "the module has no '" << kQuantConfigAttr
                         << "' attribute (Quark's quantization_config)";
      return signalPassFailure();
    }
    FailureOr<QuantConfig> config =
        QuantConfig::fromAttr(attr, [&] { return module.emitError(); });
    if (failed(config))
      return signalPassFailure();
    module.walk([&](LinearOp linear) {
      LayerSpecAttr layer = config->resolve(linear.getName());
      if (isEmpty(layer)) {
        linear.removeQuantAttr();
        ++numFloat;
        return;
      }
      linear.setQuantAttr(layer);
      ++numQuantized;
    });
    module.walk([&](AttentionOp attention) {
      if (config->softmax)
        attention.setSoftmaxSpecAttr(config->softmax);
      else
        attention.removeSoftmaxSpecAttr();
    });
  }
};
} // namespace
