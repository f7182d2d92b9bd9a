//===- quark-translate.cpp - Import and export translations ---------------===//

#include "quark/InitAll.h"
#include "quark/Target/QuarkSpecJson.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::quark::registerQuarkSpecJsonTranslations();
  return mlir::failed(mlir::mlirTranslateMain(
      argc, argv, "Quark-MLIR import and export translations\n"));
}
