//===- quark-translate.cpp - Import and export translations ---------------===//

#include "quark/Import/HuggingFace.h"
#include "quark/InitAll.h"
#include "quark/Target/Gguf.h"
#include "quark/Target/HfFormat.h"
#include "quark/Target/QuarkSpecJson.h"

#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

/// `--check-export DIR`: what vLLM's Quark loader would say about an
/// exported folder. Prints one line per finding; exits 1 on errors.
static int checkExport(llvm::StringRef dir) {
  std::vector<mlir::quark::HfCheckFinding> findings =
      mlir::quark::checkHfFormat(dir);
  int errors = 0;
  for (const mlir::quark::HfCheckFinding &finding : findings) {
    llvm::outs() << finding.severity << ": " << finding.message << "\n";
    errors += finding.severity == "error";
  }
  llvm::outs() << dir << ": " << errors << " error(s), "
               << findings.size() - errors << " warning(s)"
               << (errors ? "" : "; vLLM's Quark loader accepts it") << "\n";
  return errors ? 1 : 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (llvm::StringRef(argv[i]) == "--check-export" ||
        llvm::StringRef(argv[i]) == "-check-export")
      return checkExport(argv[i + 1]);
  mlir::quark::registerQuarkSpecJsonTranslations();
  mlir::quark::registerHuggingFaceImport();
  mlir::quark::registerGgufExportTranslation();
  // A model folder given as the input stands for its config.json, which is
  // what --import-hf reads first (mlir-translate opens its input as a file).
  std::vector<std::string> storage(argv, argv + argc);
  for (size_t i = 1; i < storage.size(); ++i) {
    if (!storage[i].empty() && storage[i][0] != '-' &&
        llvm::sys::fs::is_directory(storage[i])) {
      llvm::SmallString<256> config(storage[i]);
      llvm::sys::path::append(config, "config.json");
      storage[i] = config.str().str();
    }
  }
  std::vector<char *> args;
  for (std::string &arg : storage)
    args.push_back(arg.data());
  return mlir::failed(
      mlir::mlirTranslateMain(static_cast<int>(args.size()), args.data(),
                              "Quark-MLIR import and export translations\n"));
}
