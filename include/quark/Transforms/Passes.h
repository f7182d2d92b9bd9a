//===- Passes.h - quark framework passes ------------------------*- C++ -*-===//

#ifndef QUARK_TRANSFORMS_PASSES_H
#define QUARK_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::quark {

/// Set by quark-quantize-weights on the quark.param of the codes it stores:
/// {name, file?} of the float weight they were quantized from (no file: the
/// model checkpoint), so an exporter that must quantize that weight at
/// another scale can start from it.
constexpr llvm::StringLiteral kQuantizedFromAttr = "quark.quantized_from";

#define GEN_PASS_DECL
#include "quark/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quark/Transforms/Passes.h.inc"

} // namespace mlir::quark

#endif // QUARK_TRANSFORMS_PASSES_H
