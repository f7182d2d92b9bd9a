//===- Passes.h - quark framework passes ------------------------*- C++ -*-===//

#ifndef QUARK_TRANSFORMS_PASSES_H
#define QUARK_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::quark {

#define GEN_PASS_DECL
#include "quark/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quark/Transforms/Passes.h.inc"

} // namespace mlir::quark

#endif // QUARK_TRANSFORMS_PASSES_H
