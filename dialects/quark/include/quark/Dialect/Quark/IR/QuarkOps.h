//===- QuarkOps.h - quark dialect operations --------------------*- C++ -*-===//

#ifndef QUARK_DIALECT_QUARK_IR_QUARKOPS_H
#define QUARK_DIALECT_QUARK_IR_QUARKOPS_H

#include "quark/Dialect/Quark/IR/QuarkDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "quark/Dialect/Quark/IR/QuarkOps.h.inc"

namespace mlir::quark {

/// Replaces the fake_quant `op` by quark.quantize then quark.dequantize
/// under `spec` (the op's own, or one adapted to the input's layout), with
/// quark.compute_qparams materializing the parameters a dynamic or MX spec
/// derives from the data. Fails, naming the op, when the spec cannot apply
/// to the input's shape.
LogicalResult expandFakeQuant(RewriterBase &rewriter, FakeQuantOp op,
                              TensorSpecAttr spec);

/// Replaces the scale-quantizing two_stage_fake_quant `op` (NVFP4,
/// amdfp4_global) by quark.compute_block_scales, then quark.quantize and
/// quark.dequantize under its first stage `first` (the op's own, or one
/// adapted to the input's layout) with those scales. Fails, naming the op,
/// for progressive specs and layouts that do not fit the input.
LogicalResult expandTwoStageFakeQuant(RewriterBase &rewriter,
                                      TwoStageFakeQuantOp op,
                                      TensorSpecAttr first);

} // namespace mlir::quark

#endif // QUARK_DIALECT_QUARK_IR_QUARKOPS_H
