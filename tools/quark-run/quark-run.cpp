//===- quark-run.cpp - Run a model on token ids ---------------------------===//
//
// Runs @forward of a model with the CPU executor and writes the logits as a
// float32 .npy file. The model is a Hugging Face folder (imported on the fly)
// or a quark IR file whose quark.model_dir names its weights.
//
//   quark-run --model DIR_OR_MLIR --ids "1,2,3;4,5,6" -o logits.npy
//
//===----------------------------------------------------------------------===//

#include "quark/Import/HuggingFace.h"
#include "quark/InitAll.h"
#include "quark/Runtime/Executor.h"
#include "quark/Runtime/Kernels.h"
#include "quark/Support/Npy.h"
#include "quark/Support/ReadFile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
using namespace mlir::quark;

static llvm::cl::OptionCategory category("quark-run options");
static llvm::cl::opt<std::string>
    modelPath("model", llvm::cl::desc("model folder or quark IR file"),
              llvm::cl::Required, llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    idsText("ids",
            llvm::cl::desc("token ids: comma-separated, sequences of equal "
                           "length separated by ';'"),
            llvm::cl::cat(category));
static llvm::cl::opt<std::string>
    idsFile("ids-file", llvm::cl::desc("file holding the --ids text"),
            llvm::cl::cat(category));
static llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("output .npy"),
                                             llvm::cl::Required,
                                             llvm::cl::cat(category));
static llvm::cl::opt<int> threads("num-threads",
                                  llvm::cl::desc("threads (0: all cores)"),
                                  llvm::cl::init(0), llvm::cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "quark-run") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --help lists this tool's options, not every LLVM library's.
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(argc, argv, "Run a model on token ids\n");
  kernels::setNumThreads(threads);

  DialectRegistry registry;
  registerAllQuarkDialects(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module;
  if (llvm::sys::fs::is_directory(modelPath)) {
    FailureOr<OwningOpRef<ModuleOp>> imported = importHuggingFaceModel(
        &context, modelPath, FileLineColLoc::get(&context, modelPath, 0, 0));
    if (failed(imported))
      return 1;
    module = std::move(*imported);
  } else {
    module = parseSourceFile<ModuleOp>(modelPath, &context);
    if (!module)
      return 1;
  }
  auto modelDir = (*module)->getAttrOfType<StringAttr>(kModelDirAttr);
  if (!modelDir)
    return fail("the module has no '" + kModelDirAttr + "' attribute");
  auto forward = module->lookupSymbol<func::FuncOp>(kForwardFunction);
  if (!forward)
    return fail("the module has no @forward function");

  std::string idsSource = idsText;
  if (!idsFile.empty()) {
    llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        readFile(idsFile);
    if (!buffer)
      return fail(llvm::toString(buffer.takeError()));
    idsSource = (*buffer)->getBuffer().trim().str();
  }
  if (idsSource.empty())
    return fail("give the token ids with --ids or --ids-file");
  std::vector<int32_t> ids;
  int64_t batch = 0, seq = -1;
  llvm::SmallVector<llvm::StringRef> sequences;
  llvm::StringRef(idsSource).split(sequences, ';');
  for (llvm::StringRef sequence : sequences) {
    llvm::SmallVector<llvm::StringRef> tokens;
    sequence.split(tokens, ',');
    if (seq >= 0 && static_cast<int64_t>(tokens.size()) != seq)
      return fail("all sequences must have the same length");
    seq = static_cast<int64_t>(tokens.size());
    for (llvm::StringRef token : tokens) {
      int32_t id;
      if (token.trim().getAsInteger(10, id))
        return fail("'" + token + "' is not a token id");
      ids.push_back(id);
    }
    ++batch;
  }

  WeightStore weights(modelDir.getValue().str());
  Executor executor(weights);
  llvm::Expected<std::vector<Tensor>> results =
      executor.run(forward, {Tensor::fromInts({batch, seq}, ids)});
  if (!results)
    return fail(llvm::toString(results.takeError()));
  const Tensor &logits = results->front();
  if (llvm::Error error = writeNpy(outputPath, logits.shape(), logits.floats()))
    return fail(llvm::toString(std::move(error)));
  return 0;
}
