//===- KernelBuffers.h - the buffer behind a kernel argument ----*- C++ -*-===//
//
// A GPU pipeline's host function passes its kernels whole buffers (its
// arguments and its allocations) or reshapes of them, which keep the base
// pointer. The launch manifest names each kernel argument by that buffer,
// and quark-annotate-kernel-arguments relies on the same walk to know a
// pointer is a buffer's base.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_CONVERSION_KERNELBUFFERS_H
#define QUARK_LIB_CONVERSION_KERNELBUFFERS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::quark {

/// The value `value` views through ops that keep its base pointer (expand /
/// collapse shapes, casts); `value` itself when it is no such view.
inline Value baseKeepingViewSource(Value value) {
  while (Operation *op = value.getDefiningOp()) {
    if (!isa<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::CastOp>(
            op))
      break;
    value = op->getOperand(0);
  }
  return value;
}

} // namespace mlir::quark

#endif // QUARK_LIB_CONVERSION_KERNELBUFFERS_H
