//===- Perplexity.h - Perplexity with the GPTQ/Quark convention -*- C++ -*-===//
//
// The token stream (the whole text tokenized once, BOS only at its start) is
// cut into floor(N / seq_len) non-overlapping windows; the tail is dropped.
// Each window is run from scratch; its loss is the mean next-token negative
// log-likelihood over its seq_len - 1 predictions; perplexity is
// exp(mean of the window losses). This is what GPTQ's and Quark's
// evaluation scripts compute (they scale each loss by seq_len and divide the
// sum by windows * seq_len, which is the same mean).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_PERPLEXITY_H
#define QUARK_RUNTIME_PERPLEXITY_H

#include "quark/Runtime/Executor.h"

#include <functional>
#include <optional>

namespace mlir::quark {

struct PerplexityOptions {
  int64_t seqLen = 512;
  /// Evaluate only the first windows (--num_eval_data).
  std::optional<int64_t> maxWindows;
  /// Windows per forward pass.
  int64_t batchSize = 1;
  /// Called after each batch with the windows done and the total.
  std::function<void(int64_t, int64_t)> progress;
};

struct PerplexityResult {
  int64_t tokens = 0;  // in the stream
  int64_t windows = 0; // evaluated
  int64_t seqLen = 0;
  double meanNll = 0;
  double perplexity = 0;
  std::vector<double> windowNll;
  double seconds = 0; // forward passes and losses
};

/// Runs `forward` (token ids [batch, seq] -> logits [batch, seq, vocab]).
llvm::Expected<PerplexityResult>
evaluatePerplexity(Executor &executor, func::FuncOp forward,
                   llvm::ArrayRef<int32_t> ids,
                   const PerplexityOptions &options);

} // namespace mlir::quark

#endif // QUARK_RUNTIME_PERPLEXITY_H
