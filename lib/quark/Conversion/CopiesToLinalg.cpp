//===- CopiesToLinalg.cpp - buffer copies as linalg ops -------------------===//
//
// Bufferization copies a buffer where a tensor is overwritten while still
// read (a per-tensor dynamic scale of one token reuses the fills of the
// merges it CSE'd together). On the CPU a memref.copy is a memcpy; in a
// GPU pipeline's host function it would be a host copy of device memory,
// which no launcher runs. As a linalg.copy it becomes a kernel like every
// other linalg op, and quark-fuse-row-chains can fold it into its chain.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKCOPIESTOLINALG
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;

namespace {

struct QuarkCopiesToLinalgPass
    : mlir::quark::impl::QuarkCopiesToLinalgBase<QuarkCopiesToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy->erase();
    }
  }
};

} // namespace
