//===- GenericBody.h - a linalg.generic's body at one point -----*- C++ -*-===//
//
// The GPU kernels that replace a linalg.generic (the split-K and tiled
// GEMMs, the GEMM kernels' fused epilogue) compute its body at indices of their
// own choosing. This clones the body there, so every fused decode or scale
// works unchanged.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_CONVERSION_GENERICBODY_H
#define QUARK_LIB_CONVERSION_GENERICBODY_H

#include "GemmEpilogue.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::quark {

/// What to clone of `op`'s body and where.
struct GenericBodyAt {
  GenericBodyAt(linalg::GenericOp op, SmallVector<Value, 3> indices)
      : op(op), indices(std::move(indices)) {}
  linalg::GenericOp op;
  /// The loop indices (one per loop of `op`).
  SmallVector<Value, 3> indices;
  /// An input whose element is already known (`knownValue`), or null.
  OpOperand *knownInput = nullptr;
  Value knownValue;
  /// A body op not to clone (the GEMM's accumulation), or null.
  Operation *skip = nullptr;
  /// The body value to return; null: the yielded one.
  Value result;
};

/// Clones the body at the builder's insertion point: each input's element
/// is loaded through its indexing map (scalars are used as they are),
/// linalg.index becomes the given index. Returns the clone of `result`.
Value cloneGenericBody(OpBuilder &b, Location loc, const GenericBodyAt &at);

/// Clones the whole body of `op` (a linalg.generic or a named op such as
/// linalg.fill) at `indices`: inputs loaded through their indexing maps, the
/// output arguments bound to `outputs` (one per init; null where the body
/// does not read it). Returns the yielded values, one per init.
SmallVector<Value> cloneLinalgBody(OpBuilder &b, Location loc,
                                   linalg::LinalgOp op, ValueRange indices,
                                   ValueRange outputs);

/// Builds `scf.for %iv = lo to hi step step` and `body(%iv)` inside it (the
/// loops of the kernels' threads, lanes and steps, and of their CPU
/// emulations).
void buildLoop(OpBuilder &b, Location loc, Value lo, Value hi, Value step,
               llvm::function_ref<void(Value)> body);

/// A bufferized GEMM generic `out[m, n] = out[m, n] + term(m, n, k)` over
/// loops (m, n, k), with a static identity-layout output: what the split-K
/// and tiled kernels replace.
struct AccumulatingGemm {
  linalg::GenericOp op;
  Value out;
  int64_t m = 0, n = 0, k = 0; // k may be dynamic
  /// The body's accumulation (`arith.addf` / `arith.addi` of the output
  /// argument, which nothing else uses) and the value it adds.
  Operation *accumulate = nullptr;
  Value term;
};

std::optional<AccumulatingGemm> matchAccumulatingGemm(linalg::GenericOp op);

/// The GEMM when quark-split-k-gemm with `maxRows` takes it (at most that
/// many rows, N a multiple of 8, K of 256).
std::optional<AccumulatingGemm> matchSplitKGemm(linalg::GenericOp op,
                                                int64_t maxRows);

/// Replaces each GEMM generic under `root` that `match` accepts (returning
/// an optional of a type with the GEMM `op` and its output buffer `out`,
/// such as AccumulatingGemm) by a kernel, as replaceGemmWithKernel does:
/// the zeroing fill of the output goes (the kernel starts from zero
/// instead), and the kernel stores its results through `results` (the
/// fused epilogue, when there is one). `makeBuilder(builder, gemm,
/// outputZeroed, results)` returns the kernel's builder, which emits the
/// GPU kernel (buildGpuKernel) or, with `emulate`, the same kernel as host
/// loops (buildCpuEmulation).
template <typename Match, typename MakeBuilder>
void replaceGemmsWithKernels(Operation *root, Match match, bool emulate,
                             MakeBuilder makeBuilder) {
  // Matched first: replacing a GEMM erases its epilogue, another generic.
  using Gemm =
      typename decltype(match(std::declval<linalg::GenericOp>()))::value_type;
  SmallVector<Gemm> gemms;
  root->walk([&](linalg::GenericOp op) {
    if (auto gemm = match(op))
      gemms.push_back(*gemm);
  });
  for (Gemm &gemm : gemms) {
    replaceGemmWithKernel(
        gemm.op, gemm.out,
        [&](OpBuilder &b, bool outputZeroed, const GemmResultStore &results) {
          auto builder = makeBuilder(b, gemm, outputZeroed, results);
          if (emulate)
            builder.buildCpuEmulation();
          else
            builder.buildGpuKernel();
        });
  }
}

} // namespace mlir::quark

#endif // QUARK_LIB_CONVERSION_GENERICBODY_H
