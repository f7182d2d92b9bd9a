//===- QuarkOps.h - quark dialect operations --------------------*- C++ -*-===//

#ifndef QUARK_DIALECT_QUARK_IR_QUARKOPS_H
#define QUARK_DIALECT_QUARK_IR_QUARKOPS_H

#include "quark/Dialect/Quark/IR/QuarkDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "quark/Dialect/Quark/IR/QuarkOps.h.inc"

#endif // QUARK_DIALECT_QUARK_IR_QUARKOPS_H
