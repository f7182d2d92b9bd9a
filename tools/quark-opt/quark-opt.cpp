//===- quark-opt.cpp - The quark pass driver ------------------------------===//
//
// MlirOptMain with the quark dialect, the upstream dialects the project uses,
// and every quark pass and pipeline.
//
//===----------------------------------------------------------------------===//

#include "quark/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::quark::registerAllQuarkPasses();
  mlir::DialectRegistry registry;
  mlir::quark::registerAllQuarkDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Quark-MLIR optimizer driver\n", registry));
}
