//===- quark-bench-gptq.cpp - GPTQ on one linear, for bench/gptq_bench.py ===//
//
// Reads a weight [out, in] and calibration inputs [tokens, in] (.npy),
// quantizes the weight with GPTQ (Quark's int4 symmetric per-group
// quantizer by default) and prints the phase times as JSON; optionally
// writes the quantized weight.
//
//===----------------------------------------------------------------------===//

#include "quark/Algorithms/Gptq.h"
#include "quark/Support/Npy.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir::quark;
namespace cl = llvm::cl;

static cl::opt<std::string> weightPath("weight", cl::desc("weight .npy"),
                                       cl::Required);
static cl::opt<std::string> inputPath("inputs", cl::desc("inputs .npy"),
                                      cl::Required);
static cl::opt<std::string> outputPath("o", cl::desc("quantized weight .npy"));
static cl::opt<int64_t> groupSize("group-size", cl::init(128));
static cl::opt<int64_t> blockSize("block-size", cl::init(128));
static cl::opt<int64_t> samples("samples",
                                cl::desc("calibration batches the tokens "
                                         "split into"),
                                cl::init(4));
static cl::opt<bool> actOrder("desc-act", cl::init(false));
static cl::opt<bool> staticGroups("static-groups", cl::init(false));
static cl::opt<int> threads("num-threads", cl::init(0));

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "GPTQ on one linear layer\n");
  auto fail = [](const llvm::Twine &message) {
    llvm::WithColor::error(llvm::errs(), "quark-bench-gptq") << message << "\n";
    return 1;
  };
  if (threads > 0)
    llvm::parallel::strategy = llvm::hardware_concurrency(threads);
  setBlasThreads(
      static_cast<int>(llvm::parallel::strategy.compute_thread_count()));
  llvm::Expected<NpyArray> weight = readNpy(weightPath);
  if (!weight)
    return fail(llvm::toString(weight.takeError()));
  llvm::Expected<NpyArray> inputs = readNpy(inputPath);
  if (!inputs)
    return fail(llvm::toString(inputs.takeError()));
  if (weight->shape.size() != 2 || inputs->shape.size() != 2 ||
      weight->shape[1] != inputs->shape[1])
    return fail("expected weight [out, in] and inputs [tokens, in]");
  int64_t rows = weight->shape[0], cols = weight->shape[1];
  int64_t tokens = inputs->shape[0];

  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  GptqHessian hessian(cols);
  int64_t per = tokens / samples;
  for (int64_t s = 0; s < samples; ++s)
    hessian.add(llvm::ArrayRef<float>(inputs->values)
                    .slice(static_cast<size_t>(s * per * cols),
                           static_cast<size_t>(per * cols)),
                per, 1);
  std::vector<float> matrix = hessian.matrix();
  double hessianSeconds =
      std::chrono::duration<double>(Clock::now() - start).count();

  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int4;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = groupSize;
  GptqOptions options;
  options.blockSize = blockSize;
  options.actOrder = actOrder;
  options.staticGroups = staticGroups;
  llvm::Expected<GptqResult> result = gptqQuantize(
      spec, rows, cols, weight->values, std::move(matrix), options);
  if (!result)
    return fail(llvm::toString(result.takeError()));
  double total = std::chrono::duration<double>(Clock::now() - start).count();
  if (!outputPath.empty())
    if (llvm::Error error = writeNpy(outputPath, {rows, cols}, result->weight))
      return fail(llvm::toString(std::move(error)));
  llvm::outs() << llvm::formatv(
      "{{\"total_s\": {0:f6}, \"hessian_s\": {1:f6}, \"prepare_s\": {2:f6}, "
      "\"cholesky_s\": {3:f6}, \"sweep_s\": {4:f6}, \"loss\": {5:e}, "
      "\"threads\": {6}}\n",
      total, hessianSeconds, result->timings.prepare, result->timings.cholesky,
      result->timings.sweep, result->loss,
      llvm::parallel::strategy.compute_thread_count());
  return 0;
}
