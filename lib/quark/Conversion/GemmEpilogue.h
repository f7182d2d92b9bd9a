//===- GemmEpilogue.h - a GEMM kernel's fused scale epilogue ----*- C++ -*-===//
//
// convert-quark-to-linalg writes a W8A8 GEMM as a code-domain GEMM into an
// accumulator, then an elementwise linalg.generic (the epilogue: activation
// and weight scales, bias, result type) that reads it. Every GEMM kernel
// (matrix cores, split-K, tiled) applies that epilogue to each accumulator
// element before storing it, so the accumulator never goes to memory and
// the epilogue is not a launch of its own. This is the one place that
// decides when that is allowed and does the rewiring.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_CONVERSION_GEMMEPILOGUE_H
#define QUARK_LIB_CONVERSION_GEMMEPILOGUE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::quark {

/// The elementwise linalg.generic after a GEMM that reads its accumulator.
struct GemmEpilogue {
  linalg::GenericOp op;
  OpOperand *accumulator; // the epilogue's input that is the accumulator
  Value out;              // the buffer it writes
};

/// The epilogue of `gemm` (accumulating into `acc`) when it can move into
/// the kernel: `acc` is a local allocation that only zeroing fills, the GEMM
/// and the epilogue use (and, when the epilogue writes its result in place,
/// ops after it); the epilogue reads it at (m, n) and writes its output at
/// (m, n) without reading that, and its other inputs are defined before the
/// GEMM and not written between the two.
std::optional<GemmEpilogue> findGemmEpilogue(linalg::GenericOp gemm, Value acc);

/// Where a GEMM kernel puts accumulator element (row, col): through the
/// fused epilogue's body into its output, or as it is into the accumulator.
class GemmResultStore {
public:
  GemmResultStore(Value acc, std::optional<GemmEpilogue> epilogue)
      : acc(acc), epilogue(epilogue) {}
  void store(OpBuilder &b, Location loc, Value value, Value row,
             Value col) const;

private:
  Value acc;
  std::optional<GemmEpilogue> epilogue;
};

/// Replaces `gemm` (accumulating into `acc`) by the kernel `build(builder,
/// outputZeroed, results)` emits in its place. The zeroing fill of `acc`
/// goes (the kernel starts from zero instead: `outputZeroed`); the epilogue
/// found by findGemmEpilogue goes into the kernel through `results` and is
/// erased, with the accumulator when nothing else uses it.
void replaceGemmWithKernel(
    linalg::GenericOp gemm, Value acc,
    llvm::function_ref<void(OpBuilder &, bool outputZeroed,
                            const GemmResultStore &)>
        build);

} // namespace mlir::quark

#endif // QUARK_LIB_CONVERSION_GEMMEPILOGUE_H
