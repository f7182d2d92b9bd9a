//===- HuggingFace.h - Hugging Face folders into quark IR -------*- C++ -*-===//
//
// Builds the quark IR of a Hugging Face causal LM folder (config.json and
// safetensors weights): a module with `func.func @forward(%input_ids:
// tensor<?x?xi32>) -> tensor<?x?x<vocab>xf32>` whose decoder layers are
// `quark.block` regions and whose weights are `quark.param` references to
// the checkpoint. Only the checkpoint headers are read, so importing a 70B
// model is as fast as a small one.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_IMPORT_HUGGINGFACE_H
#define QUARK_IMPORT_HUGGINGFACE_H

#include "quark/Import/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::quark {

/// Module attributes the importer sets.
constexpr llvm::StringLiteral kModelDirAttr = "quark.model_dir";
constexpr llvm::StringLiteral kModelTypeAttr = "quark.model_type";
constexpr llvm::StringLiteral kArchitectureAttr = "quark.architecture";
/// "bfloat16", "float16" or "float32": the precision Quark's `float` scale
/// type means for this model.
constexpr llvm::StringLiteral kModelDtypeAttr = "quark.model_dtype";
/// The entry point of an imported model.
constexpr llvm::StringLiteral kForwardFunction = "forward";

/// Imports the model in `modelDir`. Errors (unsupported architecture or
/// config field, a missing or mis-shaped tensor) are reported as
/// diagnostics at `loc`.
struct HuggingFaceImportOptions {
  /// The checkpoint may hold Linear weights quantized (codes, or AutoAWQ's
  /// qweight): such a weight is imported as a float param of its logical
  /// shape for a quantized-checkpoint reader to replace (see
  /// importQuantizedHfModel), instead of failing the import.
  bool quantizedLinearWeights = false;
};

FailureOr<OwningOpRef<ModuleOp>>
importHuggingFaceModel(MLIRContext *context, StringRef modelDir, Location loc,
                       const HuggingFaceImportOptions &options = {});

/// quark-translate --import-hf: the input is a model folder or its
/// config.json.
void registerHuggingFaceImport();

} // namespace mlir::quark

#endif // QUARK_IMPORT_HUGGINGFACE_H
