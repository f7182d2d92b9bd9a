//===- VllmAdopted.h - Quark's legacy vllm-adopt export ---------*- C++ -*-===//
//
// Quark 0.1's `--model_export vllm_adopted_safetensors` (docs/export.md,
// "Legacy vLLM fp8fnuz export"): a Llama model as one `<model_type>.json`
// describing its structure in the AMMO/TensorRT-LLM layout (merged qkv,
// mlp fc/gate/proj, tensor names of the scaling factors), one
// `<model_type>.safetensors` with the quantized weights and scales, and,
// for FP8, the `fp8fnuz_config.json` mapping that ROCm vLLM's Fp8Fnuz
// quantization reads from the model folder. The FP8 weights are OCP e4m3fn
// bit patterns stored as int8, which that loader reads as e4m3fnuz with
// doubled scales.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_VLLMADOPTED_H
#define QUARK_TARGET_VLLMADOPTED_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::quark {

struct VllmAdoptedExportOptions {
  /// The folder the files go into (created if needed; other files in it
  /// stay).
  std::string outputDir;
  /// Quark's default weight merge group ["*up_proj", "*gate_proj"]: gate_proj
  /// and up_proj share the larger of their per-tensor weight (and output)
  /// scales. `--no_weight_matrix_merge` keeps each its own.
  bool mergeGateUp = true;
  /// Replace existing files of the same names.
  bool overwrite = false;
};

struct VllmAdoptedExportResult {
  /// The format's quantization type: "fp8", "int4_awq", "w4a8_awq", or ""
  /// for a float model.
  std::string quantization;
  /// The files written, in the output folder.
  std::vector<std::string> files;
  int64_t tensors = 0;
  /// FP8 weights quantized again at a scale shared with their merge group
  /// (q/k/v, and gate/up when merging) because their own was smaller: from
  /// the float weight, as Quark does, where the IR records it
  /// (quark.quantized_from), else from the stored codes' values
  /// (`requantizedFromCodes` of them), which can land one fp8 step off.
  int64_t requantizedWeights = 0;
  int64_t requantizedFromCodes = 0;
};

/// The files the export writes for a model of config.json's `modelType`:
/// `<model_type>.json`, `<model_type>.safetensors` and, for FP8,
/// `fp8fnuz_config.json`.
std::vector<std::string> vllmAdoptedFileNames(llvm::StringRef modelType,
                                              bool fp8);

/// Writes the quantized Llama-family `module` (after quark-quantize-weights)
/// in the legacy vllm-adopt format. Nothing is left behind on failure.
FailureOr<VllmAdoptedExportResult>
exportVllmAdopted(ModuleOp module, const VllmAdoptedExportOptions &options);

} // namespace mlir::quark

#endif // QUARK_TARGET_VLLMADOPTED_H
