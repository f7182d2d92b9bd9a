//===- InitAll.cpp - Register everything quark-opt knows ------------------===//

#include "quark/InitAll.h"

#include "quark/Conversion/Passes.h"
#include "quark/Dialect/Quark/IR/QuarkOps.h"
#include "quark/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Transforms/Passes.h"

void mlir::quark::registerAllQuarkDialects(DialectRegistry &registry) {
  registry
      .insert<QuarkDialect, quant::QuantDialect, arith::ArithDialect,
              func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, tensor::TensorDialect>();
  // The GPU pipelines run upstream passes over every dialect on the way to
  // LLVM, and gpu-module-to-binary translates through the target models.
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}

void mlir::quark::registerAllQuarkPasses() {
  registerQuarkPasses();
  registerQuarkConversionPasses();
  registerQuarkPipelines();
  // Upstream passes, so pipelines can continue from any quark step.
  registerAllPasses();
  // The generic clean-ups pipelines are built from.
  registerCanonicalizerPass();
  registerCSEPass();
  registerSymbolDCEPass();
  registerInlinerPass();
}
