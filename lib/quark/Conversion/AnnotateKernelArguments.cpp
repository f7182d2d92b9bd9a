//===- AnnotateKernelArguments.cpp - what kernel pointers are known to be -===//
//
// The bare pointers the kernels receive are the bases of whole buffers:
// host function arguments, or buffers the host function allocates, through
// views that keep the base (quark-write-gpu-binaries refuses anything
// else), and the launchers allocate every buffer with hipMalloc / the CUDA
// allocator (256-byte aligned). LLVM cannot see that from inside the
// kernel: without an alignment it keeps the GEMV's eight neighbouring f32
// activation loads scalar on NVIDIA, and without knowing that two
// arguments never overlap it cannot read weights through the read-only
// cache. The arguments say it here, where the launch site is visible.
//
//===----------------------------------------------------------------------===//

#include "quark/Conversion/Passes.h"

#include "KernelBuffers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKANNOTATEKERNELARGUMENTS
#include "quark/Conversion/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {

/// The buffer whose base pointer `value` is: a host function argument or
/// an allocation, through views that keep the base; null otherwise (a
/// global, a subview with an offset, ...).
Value baseBuffer(Value value) {
  Value base = baseKeepingViewSource(value);
  if (isa_and_nonnull<memref::AllocOp>(base.getDefiningOp()))
    return base;
  auto arg = dyn_cast<BlockArgument>(base);
  return arg && isa<FunctionOpInterface>(arg.getOwner()->getParentOp())
             ? base
             : nullptr;
}

struct QuarkAnnotateKernelArgumentsPass
    : mlir::quark::impl::QuarkAnnotateKernelArgumentsBase<
          QuarkAnnotateKernelArgumentsPass> {
  using QuarkAnnotateKernelArgumentsBase::QuarkAnnotateKernelArgumentsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::DenseMap<Operation *, SmallVector<gpu::LaunchFuncOp>> launchesOf;
    SymbolTableCollection symbols;
    module.walk([&](gpu::LaunchFuncOp launch) {
      if (auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
              launch, launch.getKernel()))
        launchesOf[kernel].push_back(launch);
    });
    Builder b(module.getContext());
    for (auto &[kernelOp, launches] : launchesOf) {
      // Written for the one call site the outliner makes; a kernel launched
      // from several places keeps what LLVM can prove by itself.
      if (launches.size() != 1)
        continue;
      auto kernel = cast<gpu::GPUFuncOp>(kernelOp);
      gpu::LaunchFuncOp launch = launches.front();
      SmallVector<Value> bases;
      for (Value operand : launch.getKernelOperands())
        bases.push_back(isa<MemRefType>(operand.getType()) ? baseBuffer(operand)
                                                           : Value());
      for (auto [i, base] : llvm::enumerate(bases)) {
        if (!base)
          continue;
        kernel.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                          b.getI64IntegerAttr(alignment));
        // Host function arguments are distinct buffers (the launchers
        // allocate one per argument), so an argument is the only pointer
        // into its buffer unless another argument views the same one.
        if (llvm::count(bases, base) == 1)
          kernel.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(),
                            b.getUnitAttr());
      }
    }
  }
};

} // namespace
