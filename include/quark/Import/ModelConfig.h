//===- ModelConfig.h - A Hugging Face config.json, validated ----*- C++ -*-===//
//
// The fields of config.json that decide a model's computation, for the
// architectures the importer supports: llama, mistral, qwen2, qwen3,
// mixtral and opt. Parsing rejects what the importer cannot honour (another
// architecture, an unknown rope scaling, an activation it does not have,
// Qwen2's per-layer sliding window) with an error naming the field, instead
// of importing a model that would compute something else.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_IMPORT_MODELCONFIG_H
#define QUARK_IMPORT_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mlir::quark {

enum class ModelFamily { Llama, Mistral, Qwen2, Qwen3, Mixtral, OPT };

struct RopeScalingConfig {
  std::string type; // "linear" or "llama3"
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositionEmbeddings = 8192;
};

struct ModelConfig {
  ModelFamily family = ModelFamily::Llama;
  std::string modelType;    // config.json "model_type"
  std::string architecture; // first entry of "architectures"
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0; // OPT: ffn_dim
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositionEmbeddings = 0;
  double normEpsilon = 1e-6;
  double ropeTheta = 10000.0;
  std::optional<RopeScalingConfig> ropeScaling;
  std::optional<int64_t> slidingWindow;
  std::string hiddenAct = "silu";
  bool tieWordEmbeddings = false;
  /// Biases on q/k/v (qwen2; llama's attention_bias also covers o_proj).
  bool qkvBias = false;
  bool oProjBias = false;
  bool mlpBias = false;
  /// Qwen3's per-head RMSNorm on q and k.
  bool qkNorm = false;
  // Mixture of experts (mixtral).
  int64_t numExperts = 0;
  int64_t expertsPerToken = 0;
  // OPT.
  int64_t positionOffset = 0;
  /// "torch_dtype" as written, for reporting.
  std::string torchDtype;

  bool isMoE() const { return numExperts > 0; }
  llvm::StringRef familyName() const;
};

/// Parses a config.json text; `path` names it in errors.
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef text,
                                             llvm::StringRef path);
/// Reads and parses `dir`/config.json.
llvm::Expected<ModelConfig> readModelConfig(llvm::StringRef dir);

} // namespace mlir::quark

#endif // QUARK_IMPORT_MODELCONFIG_H
