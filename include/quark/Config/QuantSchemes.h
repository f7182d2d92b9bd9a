//===- QuantSchemes.h - Quark's --quant_scheme names and templates -*- C++ -*-//
//
// Every scheme name Quark's quantize_quark.py accepts (0.11+ names and the
// older ones), each as the QLayerConfig Quark's template builds, and the
// per-model templates (KV and q projections, default exclusions) that turn a
// scheme and the driver's flags into a QuantConfig.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_CONFIG_QUANTSCHEMES_H
#define QUARK_CONFIG_QUANTSCHEMES_H

#include "quark/Config/QuantConfig.h"

#include <optional>

namespace mlir::quark {

/// Current scheme names, in Quark's order.
llvm::ArrayRef<llvm::StringRef> quantSchemeNames();
/// Names from before 0.11, accepted as Quark accepted them.
llvm::ArrayRef<llvm::StringRef> legacyQuantSchemeNames();

/// The QLayerConfig (Quark's JSON form) of `scheme`. `groupSize` overrides
/// the group size of integer per-group specs (the schemes that have one);
/// elsewhere it is an error. Unknown names list the valid ones.
llvm::Expected<llvm::json::Object>
quantSchemeLayerJson(llvm::StringRef scheme, std::optional<int64_t> groupSize);

/// What LLMTemplate knows about a model type.
struct ModelTemplate {
  std::vector<std::string> kvLayers;   // K/V projection patterns
  std::vector<std::string> qLayers;    // Q projection patterns
  std::vector<std::string> exclude;    // default exclusions
  std::string expertLayers;            // MoE expert Linear pattern, or empty
};
std::optional<ModelTemplate> modelTemplate(llvm::StringRef modelType);

/// The driver's quantization flags.
struct SchemeRequest {
  std::string scheme;
  std::optional<int64_t> groupSize;
  /// --layer_quant_scheme PATTERN SCHEME, in order.
  std::vector<std::pair<std::string, std::string>> layerSchemes;
  /// --exclude_layers; an empty list disables exclusion, none keeps the
  /// template's.
  std::optional<std::vector<std::string>> excludeLayers;
  std::string kvCacheDtype;  // "" or "fp8"
  double minKvScale = 0.0;
  std::string attentionDtype; // "" or "fp8"
  /// --moe_experts_second_step_config SCHEME: expert Linears quantize their
  /// weights progressively, the global scheme's weight spec then this
  /// scheme's (Quark's INT4-FP8 MoE recipe).
  std::string moeExpertsSecondStep;
};

/// LLMTemplate.get_config: the QuantConfig a scheme and flags give for
/// `modelType`.
FailureOr<QuantConfig>
buildQuantConfig(MLIRContext *context, llvm::StringRef modelType,
                 const SchemeRequest &request,
                 function_ref<InFlightDiagnostic()> emitError);

} // namespace mlir::quark

#endif // QUARK_CONFIG_QUANTSCHEMES_H
