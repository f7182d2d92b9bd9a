//===- ZeroingFill.h - the fill a GEMM kernel makes redundant ---*- C++ -*-===//
//
// convert-quark-to-linalg zeroes a GEMM's accumulator with a linalg.fill
// before the GEMM. A GPU kernel that writes every accumulator element
// itself makes that fill (a kernel launch of its own) redundant.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_CONVERSION_ZEROINGFILL_H
#define QUARK_LIB_CONVERSION_ZEROINGFILL_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"

namespace mlir::quark {

/// The linalg.fill that zeroes `buffer` just for `gemm` (no op between them
/// touches the buffer), or null.
inline linalg::FillOp zeroingFill(linalg::GenericOp gemm, Value buffer) {
  for (Operation *op = gemm->getPrevNode(); op; op = op->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(op))
      if (fill.getDpsInits()[0] == buffer &&
          (matchPattern(fill.value(), m_Zero()) ||
           matchPattern(fill.value(), m_AnyZeroFloat())))
        return fill;
    if (llvm::is_contained(op->getOperands(), buffer))
      return nullptr;
  }
  return nullptr;
}

} // namespace mlir::quark

#endif // QUARK_LIB_CONVERSION_ZEROINGFILL_H
