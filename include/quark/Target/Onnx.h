//===- Onnx.h - ONNX QDQ export ---------------------------------*- C++ -*-===//
//
// Writes a model (float, or quantized by quark-quantize) as an ONNX graph:
// token ids in ("input_ids", int64 [batch, sequence]), logits out
// ("logits", float [batch, sequence, vocab]), no KV cache. Every op of the
// IR translates to standard ONNX ops; stored quantized weights become
// DequantizeLinear of their codes. Static activation quantizers would be
// QuantizeLinear -> DequantizeLinear pairs, but are refused until their
// results agree with the executor's (see OnnxExportOptions). The opset is
// 19 (fp8 and int8) or 21 when int4/uint4 or blocked (per-group) scales
// are used. Initializers above 1 KiB go to an external data file beside
// the model.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_ONNX_H
#define QUARK_TARGET_ONNX_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir::quark {

struct OnnxExportOptions {
  /// Replace existing files.
  bool overwrite = false;
};

struct OnnxExportResult {
  int64_t opset = 0;
  int64_t nodes = 0;
  int64_t initializers = 0;
  uint64_t externalBytes = 0;
  /// The two files written.
  std::string modelFile, dataFile;
};

/// Writes `dir`/model.onnx and `dir`/model.onnx.data for `module` (an
/// imported model, or one after quark-quantize-weights and quark-freeze).
/// Schemes ONNX cannot express (fp4, fp6, MX, dynamic activation
/// quantization) are errors naming the op; nothing is written then.
FailureOr<OnnxExportResult> exportOnnx(ModuleOp module, llvm::StringRef dir,
                                       const OnnxExportOptions &options);

} // namespace mlir::quark

#endif // QUARK_TARGET_ONNX_H
