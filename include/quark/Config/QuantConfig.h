//===- QuantConfig.h - Quark's three-level quantization config --*- C++ -*-===//
//
// Quark's QConfig: a global QLayerConfig, fnmatch name patterns and layer
// types that override it, KV-cache and softmax specs, and exclusions. It is
// what a Quark checkpoint's config.json holds under `quantization_config`,
// what `quark-quantize --config` reads, and what the templates behind
// `--quant_scheme` build. In IR it is the module attribute
// `quark.quantization_config`; `quark-apply-config` resolves it per layer.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_CONFIG_QUANTCONFIG_H
#define QUARK_CONFIG_QUANTCONFIG_H

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <utility>
#include <vector>

namespace mlir::quark {

/// The module attribute holding the configuration.
constexpr llvm::StringLiteral kQuantConfigAttr = "quark.quantization_config";

using NamedLayerSpec = std::pair<std::string, LayerSpecAttr>;

struct QuantConfig {
  /// Applies to every Linear no pattern or type claims; null: none.
  LayerSpecAttr global;
  /// layer_quant_config: fnmatch patterns (or exact names), in order.
  std::vector<NamedLayerSpec> layers;
  /// layer_type_quant_config: module class names ("Linear").
  std::vector<NamedLayerSpec> layerTypes;
  /// kv_cache_quant_config: patterns of the K and V projections, whose
  /// output spec quantizes the KV cache.
  std::vector<NamedLayerSpec> kvCache;
  /// Exclusions as stored (Quark's expansion: "p" is "p.*" and "p").
  std::vector<std::string> exclude;
  /// export.kv_cache_group: the projections whose output scales are merged
  /// into one KV scale per layer.
  std::vector<std::string> kvCacheGroup;
  /// softmax_quant_spec: attention probabilities.
  TensorSpecAttr softmax;
  double minKvScale = 0.0;
  bool kvCachePostRope = false;
  /// algo_config, kept as written for the algorithm passes.
  llvm::json::Array algoConfig;

  /// How Quark configures the Linear layer `name`: excluded layers, then an
  /// exact name, then the first matching pattern, then the layer type, then
  /// global; a layer matching a KV-cache pattern takes that entry instead.
  /// Null when the layer stays in float.
  LayerSpecAttr resolve(llvm::StringRef name) const;
  bool isExcluded(llvm::StringRef name) const;

  DictionaryAttr toAttr(MLIRContext *context) const;
  static FailureOr<QuantConfig>
  fromAttr(DictionaryAttr attr, function_ref<InFlightDiagnostic()> emitError);

  /// Quark's `quantization_config` dict (QConfig.to_dict()).
  FailureOr<llvm::json::Value>
  toJson(function_ref<InFlightDiagnostic()> emitError) const;
  /// Parses `quantization_config` (`text` is the whole document, whose
  /// pattern order matters; `path` names it in errors).
  static FailureOr<QuantConfig>
  fromJson(MLIRContext *context, llvm::StringRef text, llvm::StringRef path,
           function_ref<InFlightDiagnostic()> emitError);
};

/// Python's fnmatch.fnmatch on POSIX: `*`, `?`, `[seq]`, `[!seq]`,
/// case-sensitive; `*` crosses dots.
bool fnmatch(llvm::StringRef name, llvm::StringRef pattern);

/// Quark's exclude expansion: a pattern `p` not ending in ".*" also excludes
/// `p.*` (its sub-modules).
std::vector<std::string> expandExcludes(llvm::ArrayRef<std::string> patterns);

/// Quark's find_patterns_groups for one pattern list [p0, p1, ...]: every
/// name matching p0, with the names obtained by replacing p0's literal text
/// (p0 without its `*`) by each other pattern's (every occurrence, as
/// Python's str.replace) that exist. For the KV cache group
/// ["*k_proj", "*v_proj"] that is each layer's k_proj with its v_proj.
std::vector<std::vector<std::string>>
findPatternGroups(llvm::ArrayRef<std::string> patterns,
                  llvm::ArrayRef<std::string> names);

/// The scale Quark's export writes for every member of a KV-cache group
/// (ModelPostProcessor._build_kv_scale): the members' largest output
/// scale, raised to `minKvScale` (already rounded to the scales' dtype).
float sharedKvScale(llvm::ArrayRef<float> scales, float minKvScale);

} // namespace mlir::quark

#endif // QUARK_CONFIG_QUANTCONFIG_H
