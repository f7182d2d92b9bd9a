//===- quark-export-onnx.cpp - Write a model's IR as an ONNX graph --------===//
//
// quark-export-onnx MODEL.mlir -o DIR [--overwrite]
//
// Writes DIR/model.onnx and DIR/model.onnx.data (see quark/Target/Onnx.h)
// for an imported or quantized model's IR (quark-quantize writes
// model.mlir). A tool of its own so that protobuf never shares a process
// with libsentencepiece (tools/quark-export-onnx/CMakeLists.txt).
//
//===----------------------------------------------------------------------===//

#include "quark/InitAll.h"
#include "quark/Target/Onnx.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;

static llvm::cl::OptionCategory category("quark-export-onnx options");
static llvm::cl::opt<std::string> input(llvm::cl::Positional,
                                        llvm::cl::desc("<model.mlir>"),
                                        llvm::cl::Required,
                                        llvm::cl::cat(category));
static llvm::cl::opt<std::string> outputDir("o",
                                            llvm::cl::desc("output folder"),
                                            llvm::cl::Required,
                                            llvm::cl::cat(category));
static llvm::cl::opt<bool> overwrite("overwrite",
                                     llvm::cl::desc("replace existing files"),
                                     llvm::cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "Write a model's IR as an ONNX graph\n");
  DialectRegistry registry;
  quark::registerAllQuarkDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sources;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(input.getValue(), &context);
  if (!module) {
    llvm::WithColor::error(llvm::errs(), "quark-export-onnx")
        << input << ": not a readable model IR\n";
    return 1;
  }
  quark::OnnxExportOptions options;
  options.overwrite = overwrite;
  FailureOr<quark::OnnxExportResult> result =
      quark::exportOnnx(*module, outputDir, options);
  if (failed(result))
    return 1;
  llvm::errs() << "quark-export-onnx: exported onnx to " << result->modelFile
               << ": opset " << result->opset << ", " << result->nodes
               << " nodes, " << result->initializers << " initializers ("
               << result->externalBytes << " bytes of external data)\n";
  return 0;
}
