//===- Perplexity.cpp - Perplexity with the GPTQ/Quark convention ---------===//

#include "quark/Runtime/Perplexity.h"

#include "quark/Runtime/Kernels.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace mlir::quark;

llvm::Expected<PerplexityResult>
mlir::quark::evaluatePerplexity(Executor &executor, func::FuncOp forward,
                                llvm::ArrayRef<int32_t> ids,
                                const PerplexityOptions &options) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  if (options.seqLen < 2)
    return error(
        llvm::formatv("seq_len must be at least 2, not {0}", options.seqLen));
  if (options.batchSize < 1)
    return error("the evaluation batch size must be positive");
  PerplexityResult result;
  result.tokens = static_cast<int64_t>(ids.size());
  result.seqLen = options.seqLen;
  int64_t windows = result.tokens / options.seqLen;
  if (options.maxWindows)
    windows = std::min(windows, *options.maxWindows);
  if (windows < 1)
    return error(llvm::formatv("the text has {0} tokens: fewer than one "
                               "window of seq_len {1}",
                               result.tokens, options.seqLen));

  auto start = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < windows; first += options.batchSize) {
    int64_t batch = std::min(options.batchSize, windows - first);
    llvm::ArrayRef<int32_t> slice =
        ids.slice(first * options.seqLen, batch * options.seqLen);
    llvm::Expected<std::vector<Tensor>> outputs = executor.run(
        forward,
        {Tensor::fromInts({batch, options.seqLen},
                          std::vector<int32_t>(slice.begin(), slice.end()))});
    if (!outputs)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("window {0}: {1}", first,
                        llvm::toString(outputs.takeError())));
    const Tensor &logits = outputs->front();
    if (logits.rank() != 3 || logits.dim(0) != batch ||
        logits.dim(1) != options.seqLen)
      return error("@forward must return logits [batch, seq, vocab]");
    int64_t vocab = logits.dim(2);
    for (int64_t b = 0; b < batch; ++b) {
      double sum = kernels::nextTokenNLL(
          logits.floats().data() + b * options.seqLen * vocab,
          slice.data() + b * options.seqLen, options.seqLen, vocab);
      result.windowNll.push_back(sum / (options.seqLen - 1));
    }
    if (options.progress)
      options.progress(first + batch, windows);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  result.windows = windows;
  double total = 0;
  for (double nll : result.windowNll)
    total += nll;
  result.meanNll = total / windows;
  result.perplexity = std::exp(result.meanNll);
  return result;
}
