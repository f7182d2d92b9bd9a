//===- HfFormat.h - Quark hf_format export, check and reload ----*- C++ -*-===//
//
// Quark's hf_format (quark-semantics.md, section 2): a Hugging Face model
// folder whose config.json carries `quantization_config` and whose
// safetensors hold codes, scales and zero points under Quark's names.
//
//  * exportHfFormat collects a manifest from the quantized IR (every file
//    tensor with its dtype, shape and how to produce its bytes), then
//    serializes it into a temporary folder renamed into place at the end.
//  * checkHfFormat re-reads a folder and applies vLLM's Quark loader rules
//    plus the layout rules of QuarkHfLayout.h.
//  * importQuantizedHfModel reads such a folder back into IR whose weights
//    are the stored codes, decoded and dequantized by the IR itself.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_HFFORMAT_H
#define QUARK_TARGET_HFFORMAT_H

#include "quark/Support/Packing.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::quark {

enum class HfCustomMode : uint8_t { Quark, Awq };

struct HfExportOptions {
  std::string outputDir;
  /// int4 nibble order (`export.pack_method`).
  Int4PackOrder packOrder = Int4PackOrder::Reorder;
  /// fake_quantized: weights as their dequantized values in the model's
  /// dtype (scales and zero points kept), instead of codes.
  bool fakeQuantized = false;
  HfCustomMode customMode = HfCustomMode::Quark;
  /// Shards hold at most this many tensor bytes (a larger tensor gets a
  /// shard of its own), as save_pretrained's max_shard_size ("5GB").
  uint64_t maxShardBytes = 5'000'000'000;
  /// Instead of shards by size: the input checkpoint's shards, with the
  /// same file names, each exported tensor in the shard of the tensor it
  /// comes from (a sharded checkpoint stays sharded as it was).
  bool keepInputShards = false;
  /// Replace a non-empty output folder.
  bool overwrite = false;
};

struct HfExportResult {
  std::vector<std::string> shards;
  int64_t tensors = 0;
  uint64_t tensorBytes = 0;
};

/// Whether `options.outputDir` may receive an export of the model in
/// `modelDir`: named, not the model folder itself, and empty unless
/// `overwrite`. exportHfFormat checks it; a driver can check it before the
/// work that leads to the export.
llvm::Error checkHfExportTarget(llvm::StringRef modelDir,
                                const HfExportOptions &options);

/// Writes the quantized model `module` (after quark-quantize-weights) as an
/// hf_format folder. Nothing is left behind on failure.
FailureOr<HfExportResult> exportHfFormat(ModuleOp module,
                                         const HfExportOptions &options);

/// Parses "5GB", "500MB", "2GiB", "1000" (bytes) as save_pretrained does.
std::optional<uint64_t> parseShardSize(llvm::StringRef text);

struct HfCheckFinding {
  /// "error": vLLM (or SGLang) rejects the checkpoint; "warning": it loads,
  /// with a caveat.
  std::string severity;
  std::string message;
};

/// Re-reads an hf_format folder and reports what vLLM's Quark loader (or
/// SGLang's derivative) would reject. An empty result means it loads.
std::vector<HfCheckFinding> checkHfFormat(llvm::StringRef dir);

/// Reads an exported quantized checkpoint (quant_method "quark" or "awq")
/// into IR: real-quantized weights become quark.param (in the file's
/// layout) -> storage_cast -> dequantize, static activation quantizers use
/// the stored scales, dynamic ones derive theirs per call.
FailureOr<OwningOpRef<ModuleOp>>
importQuantizedHfModel(MLIRContext *context, llvm::StringRef dir, Location loc);

} // namespace mlir::quark

#endif // QUARK_TARGET_HFFORMAT_H
