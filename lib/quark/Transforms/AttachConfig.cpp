//===- AttachConfig.cpp - Set the module's Quark configuration ------------===//

#include "quark/Config/QuantSchemes.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Support/ReadFile.h"
#include "quark/Transforms/Passes.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKATTACHCONFIG
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {
struct AttachConfigPass
    : mlir::quark::impl::QuarkAttachConfigBase<AttachConfigPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError(); };
    if (quantScheme.empty() == configFile.empty()) {
      emitError() << "quark-attach-config needs exactly one of quant-scheme "
                     "and config-file";
      return signalPassFailure();
    }
    FailureOr<QuantConfig> config = failure();
    if (!configFile.empty() &&
        (groupSize != 0 || !layerQuantScheme.empty() || overrideExclusions ||
         !kvCacheDtype.empty() || minKvScale != 0 || !attentionDtype.empty() ||
         !moeExpertsSecondStep.empty())) {
      // A config file is a whole quantization_config: these options edit a
      // scheme, and silently dropping them would quantize something else
      // than the user asked for.
      emitError() << "the scheme options (group size, layer schemes, "
                     "exclusions, KV cache, attention, MoE second step, "
                     "min KV scale) do not combine with a config file: "
                     "write them into "
                  << configFile.getValue();
      return signalPassFailure();
    }
    if (!configFile.empty()) {
      llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
          readFile(configFile);
      if (!buffer) {
        emitError() << llvm::toString(buffer.takeError());
        return signalPassFailure();
      }
      config = QuantConfig::fromJson(&getContext(), (*buffer)->getBuffer(),
                                     configFile, emitError);
    } else {
      auto modelType = module->getAttrOfType<StringAttr>(kModelTypeAttr);
      if (!modelType) {
        emitError() << "the module has no '" << kModelTypeAttr
                    << "': a scheme needs the model's template";
        return signalPassFailure();
      }
      SchemeRequest request;
      request.scheme = quantScheme;
      if (groupSize != 0)
        request.groupSize = groupSize;
      for (const std::string &entry : layerQuantScheme) {
        auto [pattern, scheme] = StringRef(entry).rsplit('=');
        if (pattern.empty() || scheme.empty()) {
          emitError() << "layer-quant-scheme entry '" << entry
                      << "' is not PATTERN=SCHEME";
          return signalPassFailure();
        }
        request.layerSchemes.emplace_back(pattern.str(), scheme.str());
      }
      if (overrideExclusions)
        request.excludeLayers = std::vector<std::string>(excludeLayers.begin(),
                                                         excludeLayers.end());
      request.kvCacheDtype = kvCacheDtype;
      request.minKvScale = minKvScale;
      request.attentionDtype = attentionDtype;
      request.moeExpertsSecondStep = moeExpertsSecondStep;
      config = buildQuantConfig(&getContext(), modelType.getValue(), request,
                                emitError);
    }
    if (failed(config))
      return signalPassFailure();
    module->setAttr(kQuantConfigAttr, config->toAttr(&getContext()));
  }
};
} // namespace
