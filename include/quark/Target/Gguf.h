//===- Gguf.h - GGUF export for llama.cpp -----------------------*- C++ -*-===//
//
// Writes a Llama-family model (float, or quantized by quark-quantize with
// weight-only per-group-32 integer schemes) as one GGUF file that llama.cpp
// loads. Quantized weights keep their own codes and scales in the ggml block
// that holds them exactly: int8 symmetric -> Q8_0, int4 symmetric -> Q4_0,
// 4-bit asymmetric (Quark's uint4_wo_32, the legacy GGUF path) -> Q4_1; the
// only change is fp16 block scales. Anything else is an error naming the
// layer.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TARGET_GGUF_H
#define QUARK_TARGET_GGUF_H

#include "quark/Support/Gguf.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>

namespace mlir::quark {

struct GgufExportOptions {
  /// How 2-D float tensors (embeddings, unquantized linears) are written:
  /// F16 (llama.cpp's default) or F32. Norms are always F32.
  GgmlType floatType = GgmlType::F16;
  /// Replace an existing file.
  bool overwrite = false;
};

struct GgufExportResult {
  int64_t tensors = 0;
  /// Tensors per ggml type name.
  std::map<std::string, int64_t> typeCounts;
  /// llama.cpp's general.file_type (LLAMA_FTYPE_MOSTLY_*).
  uint32_t fileType = 0;
};

/// Writes `module` (an imported model, or one after quark-quantize-weights)
/// to the GGUF file `path`, atomically.
FailureOr<GgufExportResult> exportGguf(ModuleOp module, llvm::StringRef path,
                                       const GgufExportOptions &options);

/// Registers `--export-gguf` with mlir-translate (quark-translate).
void registerGgufExportTranslation();

} // namespace mlir::quark

#endif // QUARK_TARGET_GGUF_H
