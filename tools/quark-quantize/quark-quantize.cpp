//===- quark-quantize.cpp - The user driver -------------------------------===//
//
// Mirrors AMD Quark's quantize_quark.py: a Hugging Face model folder in,
// evaluation results (and, as quantization lands, a quantized checkpoint)
// out. Flags keep Quark's names and defaults.
//
//   quark-quantize --model_dir models/tiny-llama --skip_quantization \
//       --tasks perplexity --eval_dataset data/sherlock-holmes.txt \
//       --seq_len 512 --report-json report.json
//
// stdout carries the results ("perplexity: <value>"); progress and
// diagnostics go to stderr.
//
//===----------------------------------------------------------------------===//

#include "quark/Import/HuggingFace.h"
#include "quark/InitAll.h"
#include "quark/Runtime/Executor.h"
#include "quark/Runtime/Kernels.h"
#include "quark/Runtime/Perplexity.h"
#include "quark/Support/AtomicFile.h"
#include "quark/Support/Progress.h"
#include "quark/Support/TextDataset.h"
#include "quark/Support/Tokenizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"

#include <chrono>

using namespace mlir;
using namespace mlir::quark;

namespace cl = llvm::cl;

static cl::OptionCategory category("quark-quantize options");
static cl::opt<std::string> modelDir("model_dir",
                                     cl::desc("Hugging Face model folder"),
                                     cl::Required, cl::cat(category));
static cl::opt<bool> skipQuantization("skip_quantization",
                                      cl::desc("evaluate the model as it is"),
                                      cl::cat(category));
static cl::list<std::string>
    tasks("tasks", cl::desc("evaluation tasks, comma-separated: perplexity"),
          cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> evalDataset(
    "eval_dataset",
    cl::desc("perplexity text: a UTF-8 file, or a folder of .txt files"),
    cl::cat(category));
static cl::opt<int64_t> seqLen("seq_len", cl::desc("window length in tokens"),
                               cl::init(512), cl::cat(category));
static cl::opt<int64_t>
    numEvalData("num_eval_data",
                cl::desc("evaluate only the first N windows (0: all)"),
                cl::init(0), cl::cat(category));
static cl::opt<int64_t> evalBatchSize("eval_batch_size",
                                      cl::desc("windows per forward pass"),
                                      cl::init(1), cl::cat(category));
static cl::opt<std::string>
    reportJson("report-json",
               cl::desc("write the results as JSON to this file"),
               cl::cat(category));
static cl::opt<int> numThreads("num-threads",
                               cl::desc("CPU threads (0: all cores)"),
                               cl::init(0), cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "quark-quantize") << message << "\n";
  return 1;
}

namespace {
/// Wall-clock seconds since construction.
struct Stopwatch {
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }
};
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "quark-quantize: quantize and evaluate a Hugging Face model\n");
  Stopwatch total;

  if (!skipQuantization)
    return fail("this version evaluates models but does not quantize them "
                "yet: pass --skip_quantization");
  bool perplexity = false;
  for (const std::string &task : tasks) {
    if (task != "perplexity")
      return fail("unknown task '" + task + "' (supported: perplexity)");
    perplexity = true;
  }
  if (!perplexity)
    return fail("nothing to do: give --tasks perplexity");
  if (evalDataset.empty())
    return fail("--tasks perplexity needs --eval_dataset FILE_OR_DIR");
  if (seqLen < 2)
    return fail("--seq_len must be at least 2");
  if (numEvalData < 0 || evalBatchSize < 1)
    return fail("--num_eval_data must be >= 0 and --eval_batch_size >= 1");
  kernels::setNumThreads(numThreads);

  DialectRegistry registry;
  registerAllQuarkDialects(registry);
  MLIRContext context(registry);
  Stopwatch importClock;
  FailureOr<OwningOpRef<ModuleOp>> module = importHuggingFaceModel(
      &context, modelDir, FileLineColLoc::get(&context, modelDir, 0, 0));
  if (failed(module))
    return 1;
  auto forward = (*module)->lookupSymbol<func::FuncOp>(kForwardFunction);
  double importSeconds = importClock.seconds();

  Stopwatch tokenizeClock;
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::loadFromDirectory(modelDir);
  if (!tokenizer)
    return fail(llvm::toString(tokenizer.takeError()));
  llvm::Expected<TextDataset> dataset = readTextDataset(evalDataset);
  if (!dataset)
    return fail(llvm::toString(dataset.takeError()));
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)->encode(dataset->text, /*addSpecialTokens=*/true);
  if (!ids)
    return fail(evalDataset + ": " + llvm::toString(ids.takeError()));
  double tokenizeSeconds = tokenizeClock.seconds();
  llvm::errs() << "quark-quantize: " << modelDir << ": "
               << (*tokenizer)->describe() << "; " << evalDataset << ": "
               << dataset->text.size() << " bytes, " << ids->size()
               << " tokens\n";

  WeightStore weights(modelDir);
  Executor executor(weights);
  PerplexityOptions options;
  options.seqLen = seqLen;
  if (numEvalData > 0)
    options.maxWindows = numEvalData;
  options.batchSize = evalBatchSize;
  int64_t windows = static_cast<int64_t>(ids->size()) / seqLen;
  if (options.maxWindows)
    windows = std::min(windows, *options.maxWindows);
  ProgressBar progress("perplexity", windows, "windows");
  options.progress = [&](int64_t done, int64_t) { progress.update(done); };
  llvm::Expected<PerplexityResult> result =
      evaluatePerplexity(executor, forward, *ids, options);
  progress.finish();
  if (!result)
    return fail(modelDir + ": " + llvm::toString(result.takeError()));

  llvm::outs() << "perplexity: " << llvm::format("%.4f", result->perplexity)
               << "\n";
  double evalTokens = static_cast<double>(result->windows) * seqLen;
  llvm::errs() << "quark-quantize: " << result->windows << " windows of "
               << seqLen << " tokens in "
               << llvm::format("%.2f s (%.0f tokens/s, %d threads)",
                               result->seconds, evalTokens / result->seconds,
                               kernels::getNumThreads())
               << "\n";

  if (!reportJson.empty()) {
    llvm::json::Array files;
    for (const std::string &file : dataset->files)
      files.push_back(file);
    llvm::json::Object report{
        {"model", modelDir},
        {"model_type",
         (**module)->getAttrOfType<StringAttr>(kModelTypeAttr).getValue()},
        {"tokenizer", (*tokenizer)->describe()},
        {"dataset", evalDataset},
        {"dataset_files", std::move(files)},
        {"task", "perplexity"},
        {"tokens", result->tokens},
        {"seq_len", result->seqLen},
        {"windows", result->windows},
        {"mean_nll", result->meanNll},
        {"perplexity", result->perplexity},
        {"num_threads", kernels::getNumThreads()},
        {"timings",
         llvm::json::Object{
             {"import_s", importSeconds},
             {"tokenize_s", tokenizeSeconds},
             {"evaluate_s", result->seconds},
             {"eval_tokens_per_s", evalTokens / result->seconds},
             {"total_s", total.seconds()},
         }},
    };
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
    if (llvm::Error error = writeFileAtomically(reportJson, text))
      return fail(llvm::toString(std::move(error)));
  }
  return 0;
}
