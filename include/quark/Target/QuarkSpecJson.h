//===- QuarkSpecJson.h - Quark's JSON form of quantization specs -*- C++ -*-===//
//
// #quark.spec <-> QTensorConfig.to_dict(), #quark.two_stage <-> a list of two
// dicts, #quark.layer_spec <-> QLayerConfig.to_dict(), with Quark's keys and
// value spellings. Parsing accepts what Quark's from_dict accepts (including
// the legacy "dynamic" / "axis" keys) and validates through the attribute
// verifiers, so a bad config gets the same diagnostics as bad IR.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_QUARKSPECJSON_H
#define QUARK_TARGET_QUARKSPECJSON_H

#include "quark/Dialect/Quark/IR/QuarkDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/JSON.h"

namespace mlir::quark {

/// Quark's QTensorConfig dict. Fails for the fnuz fp8 dtypes, which Quark's
/// file format does not have (they are a load-time conversion in vLLM).
FailureOr<llvm::json::Value>
specToJson(TensorSpecAttr spec, function_ref<InFlightDiagnostic()> emitError);
/// A spec field of a QLayerConfig: a dict, a list of two dicts, or null.
FailureOr<llvm::json::Value>
specFieldToJson(Attribute field, function_ref<InFlightDiagnostic()> emitError);
/// Quark's QLayerConfig dict.
FailureOr<llvm::json::Value>
layerSpecToJson(LayerSpecAttr layer,
                function_ref<InFlightDiagnostic()> emitError);

/// Parse a QTensorConfig dict. `path` names the dict in diagnostics
/// (e.g. "global_quant_config.weight").
FailureOr<TensorSpecAttr>
specFromJson(MLIRContext *context, const llvm::json::Value &value,
             StringRef path, function_ref<InFlightDiagnostic()> emitError);
/// Parse a spec field: null, a dict or a list of two dicts.
FailureOr<Attribute>
specFieldFromJson(MLIRContext *context, const llvm::json::Value &value,
                  StringRef path, function_ref<InFlightDiagnostic()> emitError);
/// Parse a QLayerConfig dict.
FailureOr<LayerSpecAttr>
layerSpecFromJson(MLIRContext *context, const llvm::json::Value &value,
                  StringRef path,
                  function_ref<InFlightDiagnostic()> emitError);

/// Registers the quark-translate translations of this file:
/// --quark-spec-to-json and --json-to-quark-spec.
void registerQuarkSpecJsonTranslations();

} // namespace mlir::quark

#endif // QUARK_TARGET_QUARKSPECJSON_H
