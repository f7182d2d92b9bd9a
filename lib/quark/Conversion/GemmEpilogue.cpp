//===- GemmEpilogue.cpp - a GEMM kernel's fused scale epilogue ------------===//

#include "GemmEpilogue.h"

#include "GenericBody.h"
#include "ZeroingFill.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::quark;

std::optional<GemmEpilogue>
mlir::quark::findGemmEpilogue(linalg::GenericOp gemm, Value acc) {
  if (!acc.getDefiningOp<memref::AllocOp>())
    return std::nullopt;
  // The first generic after the GEMM that uses the accumulator; when the
  // epilogue works in place (bufferization reused the accumulator for its
  // result), later ops such as the return may read it too.
  linalg::GenericOp epilogue;
  for (Operation *op = gemm->getNextNode(); op && !epilogue;
       op = op->getNextNode())
    if (auto generic = dyn_cast<linalg::GenericOp>(op))
      if (llvm::is_contained(generic->getOperands(), acc))
        epilogue = generic;
  if (!epilogue)
    return std::nullopt;
  for (Operation *user : acc.getUsers())
    if (user != gemm.getOperation() && user != epilogue.getOperation() &&
        !isa<linalg::FillOp>(user) &&
        (user->getBlock() != gemm->getBlock() ||
         !epilogue->isBeforeInBlock(user) || epilogue.getDpsInits()[0] != acc))
      return std::nullopt;
  if (epilogue->getBlock() != gemm->getBlock() ||
      !gemm->isBeforeInBlock(epilogue) || !epilogue.hasPureBufferSemantics() ||
      epilogue.getNumDpsInits() != 1 || epilogue.getNumLoops() != 2 ||
      epilogue.getNumParallelLoops() != 2)
    return std::nullopt;
  MLIRContext *context = gemm.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, context);
  GemmEpilogue result{epilogue, nullptr, epilogue.getDpsInits()[0]};
  OpOperand *init = epilogue.getDpsInitOperand(0);
  if (epilogue.getMatchingIndexingMap(init) != identity ||
      !epilogue.getMatchingBlockArgument(init).use_empty() ||
      !cast<MemRefType>(result.out.getType()).getLayout().isIdentity())
    return std::nullopt;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    if (input->get() == acc) {
      if (result.accumulator ||
          epilogue.getMatchingIndexingMap(input) != identity)
        return std::nullopt;
      result.accumulator = input;
      continue;
    }
    Operation *def = input->get().getDefiningOp();
    if (def &&
        (def->getBlock() != gemm->getBlock() || !def->isBeforeInBlock(gemm)))
      return std::nullopt;
  }
  // Between the two: only allocations (the epilogue's output among them).
  for (Operation *op = gemm->getNextNode(); op != epilogue.getOperation();
       op = op->getNextNode())
    if (!isa<memref::AllocOp>(op))
      return std::nullopt;
  if (Operation *def = result.out.getDefiningOp();
      def && !isa<memref::AllocOp>(def) && !def->isBeforeInBlock(gemm))
    return std::nullopt;
  return result;
}

void GemmResultStore::store(OpBuilder &b, Location loc, Value value, Value row,
                            Value col) const {
  if (!epilogue) {
    memref::StoreOp::create(b, loc, value, acc, ValueRange{row, col});
    return;
  }
  GenericBodyAt at{epilogue->op, {row, col}};
  at.knownInput = epilogue->accumulator;
  at.knownValue = value;
  Value result = cloneGenericBody(b, loc, at);
  memref::StoreOp::create(b, loc, result, epilogue->out, ValueRange{row, col});
}

void mlir::quark::replaceGemmWithKernel(
    linalg::GenericOp gemm, Value acc,
    llvm::function_ref<void(OpBuilder &, bool, const GemmResultStore &)>
        build) {
  linalg::FillOp fill = zeroingFill(gemm, acc);
  if (fill)
    fill->erase();
  std::optional<GemmEpilogue> epilogue = findGemmEpilogue(gemm, acc);
  // The kernel stores the epilogue's results where the GEMM stood.
  if (epilogue)
    if (Operation *alloc = epilogue->out.getDefiningOp();
        alloc && !alloc->isBeforeInBlock(gemm))
      alloc->moveBefore(gemm);
  OpBuilder b(gemm);
  build(b, /*outputZeroed=*/fill != nullptr, GemmResultStore(acc, epilogue));
  gemm->erase();
  if (!epilogue)
    return;
  epilogue->op->erase();
  if (acc.use_empty())
    acc.getDefiningOp()->erase();
}
