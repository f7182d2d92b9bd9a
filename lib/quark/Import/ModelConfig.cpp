//===- ModelConfig.cpp - A Hugging Face config.json, validated ------------===//

#include "quark/Import/ModelConfig.h"

#include "quark/Support/Json.h"
#include "quark/Support/ReadFile.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir::quark;
namespace json = llvm::json;

llvm::StringRef ModelConfig::familyName() const {
  switch (family) {
  case ModelFamily::Llama:
    return "llama";
  case ModelFamily::Mistral:
    return "mistral";
  case ModelFamily::Qwen2:
    return "qwen2";
  case ModelFamily::Qwen3:
    return "qwen3";
  case ModelFamily::Mixtral:
    return "mixtral";
  case ModelFamily::OPT:
    return "opt";
  }
  return "llama";
}

namespace {
/// Typed access to config.json fields; the first problem becomes the error.
class ConfigReader {
public:
  ConfigReader(const json::Object &object, llvm::StringRef path)
      : object(object), path(path) {}

  llvm::Error takeError() {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  }
  bool failed() const { return !message.empty(); }

  void fail(const llvm::Twine &problem) {
    if (message.empty())
      message = (path + ": " + problem).str();
  }

  const json::Value *get(llvm::StringRef key) {
    const json::Value *value = object.get(key);
    return value && value->kind() != json::Value::Null ? value : nullptr;
  }

  int64_t integer(llvm::StringRef key, std::optional<int64_t> fallback = {}) {
    const json::Value *value = get(key);
    if (!value) {
      if (!fallback)
        fail("missing required field '" + key + "'");
      return fallback.value_or(0);
    }
    std::optional<int64_t> parsed = value->getAsInteger();
    if (!parsed || *parsed < 0) {
      fail("field '" + key + "' must be a non-negative integer");
      return 0;
    }
    return *parsed;
  }

  std::optional<int64_t> optionalInteger(llvm::StringRef key) {
    if (!get(key))
      return std::nullopt;
    return integer(key);
  }

  double number(llvm::StringRef key, double fallback) {
    const json::Value *value = get(key);
    if (!value)
      return fallback;
    std::optional<double> parsed = value->getAsNumber();
    if (!parsed) {
      fail("field '" + key + "' must be a number");
      return fallback;
    }
    return *parsed;
  }

  bool boolean(llvm::StringRef key, bool fallback) {
    const json::Value *value = get(key);
    if (!value)
      return fallback;
    std::optional<bool> parsed = value->getAsBoolean();
    if (!parsed) {
      fail("field '" + key + "' must be true or false");
      return fallback;
    }
    return *parsed;
  }

  std::string string(llvm::StringRef key, llvm::StringRef fallback) {
    const json::Value *value = get(key);
    if (!value)
      return fallback.str();
    std::optional<llvm::StringRef> parsed = value->getAsString();
    if (!parsed) {
      fail("field '" + key + "' must be a string");
      return fallback.str();
    }
    return parsed->str();
  }

private:
  const json::Object &object;
  llvm::StringRef path;
  std::string message; // the first problem found
};

/// The project's name for a Hugging Face activation, or empty.
std::string canonicalActivation(llvm::StringRef name) {
  if (name == "silu" || name == "swish")
    return "silu";
  if (name == "relu")
    return "relu";
  if (name == "gelu")
    return "gelu";
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return "gelu_tanh";
  return "";
}

void readRopeScaling(ConfigReader &reader, ModelConfig &config) {
  const json::Value *value = reader.get("rope_scaling");
  if (!value)
    return;
  const json::Object *object = value->getAsObject();
  if (!object) {
    reader.fail("field 'rope_scaling' must be an object or null");
    return;
  }
  ConfigReader scaling(*object, "rope_scaling");
  // Newer configs say "rope_type", older ones "type".
  std::string type = scaling.string("rope_type", scaling.string("type", ""));
  if (type.empty() || type == "default")
    return;
  if (type != "linear" && type != "llama3") {
    reader.fail("unsupported rope_scaling type '" + type +
                "' (supported: linear, llama3)");
    return;
  }
  RopeScalingConfig rope;
  rope.type = type;
  rope.factor = scaling.number("factor", 1.0);
  if (type == "llama3") {
    rope.lowFreqFactor = scaling.number("low_freq_factor", 1.0);
    rope.highFreqFactor = scaling.number("high_freq_factor", 4.0);
    rope.originalMaxPositionEmbeddings =
        scaling.integer("original_max_position_embeddings", 8192);
  }
  if (scaling.failed()) {
    reader.fail(llvm::toString(scaling.takeError()));
    return;
  }
  config.ropeScaling = rope;
}
} // namespace

llvm::Expected<ModelConfig>
mlir::quark::parseModelConfig(llvm::StringRef text, llvm::StringRef path) {
  llvm::Expected<json::Value> parsed = parseJson(text);
  if (!parsed)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": invalid JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *object = parsed->getAsObject();
  if (!object)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": expected a JSON object");
  ConfigReader reader(*object, path);
  ModelConfig config;
  config.modelType = reader.string("model_type", "");
  if (const json::Value *architectures = reader.get("architectures")) {
    const json::Array *list = architectures->getAsArray();
    if (list && !list->empty() && (*list)[0].getAsString())
      config.architecture = (*list)[0].getAsString()->str();
  }

  static const std::pair<llvm::StringLiteral, ModelFamily> kFamilies[] = {
      {"llama", ModelFamily::Llama},     {"mistral", ModelFamily::Mistral},
      {"qwen2", ModelFamily::Qwen2},     {"qwen3", ModelFamily::Qwen3},
      {"mixtral", ModelFamily::Mixtral}, {"opt", ModelFamily::OPT}};
  bool known = false;
  for (auto [name, family] : kFamilies)
    if (config.modelType == name) {
      config.family = family;
      known = true;
    }
  if (!known) {
    reader.fail("unsupported model_type '" + config.modelType +
                "' (architecture '" + config.architecture +
                "'); supported: llama, mistral, qwen2, qwen3, mixtral, opt");
    return reader.takeError();
  }
  if (!config.architecture.empty() &&
      !llvm::StringRef(config.architecture).ends_with("ForCausalLM")) {
    reader.fail("architecture '" + config.architecture +
                "' is not a causal language model (expected *ForCausalLM)");
    return reader.takeError();
  }

  config.vocabSize = reader.integer("vocab_size");
  config.hiddenSize = reader.integer("hidden_size");
  config.numLayers = reader.integer("num_hidden_layers");
  config.numHeads = reader.integer("num_attention_heads");
  config.maxPositionEmbeddings =
      reader.integer("max_position_embeddings", 2048);
  config.torchDtype = reader.string("torch_dtype", reader.string("dtype", ""));

  std::string activation;
  if (config.family == ModelFamily::OPT) {
    config.intermediateSize = reader.integer("ffn_dim");
    config.numKVHeads = config.numHeads;
    config.normEpsilon = 1e-5; // torch.nn.LayerNorm's default
    config.tieWordEmbeddings = reader.boolean("tie_word_embeddings", true);
    config.positionOffset = 2;
    bool bias = reader.boolean("enable_bias", true);
    config.qkvBias = config.oProjBias = config.mlpBias = bias;
    activation = reader.string("activation_function", "relu");
    if (!reader.boolean("do_layer_norm_before", true))
      reader.fail("do_layer_norm_before = false (post-norm OPT, as "
                  "opt-350m) is not supported");
    if (reader.integer("word_embed_proj_dim", config.hiddenSize) !=
        config.hiddenSize)
      reader.fail("word_embed_proj_dim different from hidden_size (projected "
                  "embeddings, as opt-350m) is not supported");
    if (!reader.boolean("layer_norm_elementwise_affine", true))
      reader.fail("layer_norm_elementwise_affine = false is not supported");
    if (reader.boolean("_remove_final_layer_norm", false))
      reader.fail("_remove_final_layer_norm = true is not supported");
  } else {
    config.intermediateSize = reader.integer("intermediate_size");
    config.numKVHeads = reader.integer("num_key_value_heads", config.numHeads);
    config.normEpsilon = reader.number("rms_norm_eps", 1e-6);
    config.ropeTheta = reader.number("rope_theta", 10000.0);
    config.tieWordEmbeddings = reader.boolean("tie_word_embeddings", false);
    activation = reader.string("hidden_act", "silu");
    readRopeScaling(reader, config);
    switch (config.family) {
    case ModelFamily::Llama:
      config.qkvBias = config.oProjBias =
          reader.boolean("attention_bias", false);
      config.mlpBias = reader.boolean("mlp_bias", false);
      break;
    case ModelFamily::Mistral:
      config.slidingWindow = reader.optionalInteger("sliding_window");
      break;
    case ModelFamily::Qwen2:
    case ModelFamily::Qwen3:
      if (reader.boolean("use_sliding_window", false))
        reader.fail("use_sliding_window = true (per-layer sliding windows) "
                    "is not supported");
      if (config.family == ModelFamily::Qwen2) {
        config.qkvBias = true;
      } else {
        config.qkvBias = config.oProjBias =
            reader.boolean("attention_bias", false);
        config.qkNorm = true;
      }
      break;
    case ModelFamily::Mixtral:
      config.slidingWindow = reader.optionalInteger("sliding_window");
      config.numExperts = reader.integer("num_local_experts");
      config.expertsPerToken = reader.integer("num_experts_per_tok");
      break;
    case ModelFamily::OPT:
      break;
    }
  }
  // head_dim: explicit when given (qwen3 defaults to 128 as in its
  // configuration class), otherwise hidden_size / num_attention_heads.
  int64_t defaultHeadDim =
      config.family == ModelFamily::Qwen3
          ? 128
          : (config.numHeads ? config.hiddenSize / config.numHeads : 0);
  config.headDim = config.family == ModelFamily::OPT
                       ? defaultHeadDim
                       : reader.integer("head_dim", defaultHeadDim);
  config.hiddenAct = canonicalActivation(activation);
  if (config.hiddenAct.empty())
    reader.fail("unsupported activation '" + activation +
                "' (supported: silu, relu, gelu, gelu_new, gelu_pytorch_tanh)");

  if (reader.failed())
    return reader.takeError();
  auto invalid = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  // Sizes beyond any real model are corrupt (or adversarial) configs: reject
  // them before they size an allocation or a loop.
  struct Bound {
    const char *field;
    int64_t value, max;
  };
  const Bound bounds[] = {
      {"vocab_size", config.vocabSize, 1 << 24},
      {"hidden_size", config.hiddenSize, 1 << 20},
      {"intermediate_size", config.intermediateSize, 1 << 22},
      {"num_hidden_layers", config.numLayers, 1 << 12},
      {"num_attention_heads", config.numHeads, 1 << 12},
      {"num_key_value_heads", config.numKVHeads, 1 << 12},
      {"head_dim", config.headDim, 1 << 12},
      {"num_local_experts", config.numExperts, 1 << 12},
      {"max_position_embeddings", config.maxPositionEmbeddings, 1 << 30},
      {"sliding_window", config.slidingWindow.value_or(0), 1 << 30},
  };
  for (const Bound &bound : bounds)
    if (bound.value > bound.max)
      return invalid(llvm::formatv("{0} ({1}) is beyond any model this "
                                   "importer accepts (at most {2})",
                                   bound.field, bound.value, bound.max));
  if (!std::isfinite(config.ropeTheta) || config.ropeTheta <= 0)
    return invalid(
        llvm::formatv("rope_theta ({0}) must be positive", config.ropeTheta));
  if (!std::isfinite(config.normEpsilon) || config.normEpsilon < 0)
    return invalid(llvm::formatv("the norm epsilon ({0}) must be >= 0",
                                 config.normEpsilon));
  if (const std::optional<RopeScalingConfig> &rope = config.ropeScaling) {
    if (!std::isfinite(rope->factor) || rope->factor <= 0)
      return invalid(llvm::formatv("rope_scaling.factor ({0}) must be positive",
                                   rope->factor));
    if (rope->type == "llama3" &&
        (!(rope->lowFreqFactor > 0) ||
         !(rope->highFreqFactor > rope->lowFreqFactor) ||
         rope->originalMaxPositionEmbeddings <= 0))
      return invalid("rope_scaling (llama3) needs 0 < low_freq_factor < "
                     "high_freq_factor and original_max_position_embeddings "
                     "> 0");
  }
  if (config.numHeads == 0 || config.numKVHeads == 0 ||
      config.numHeads % config.numKVHeads != 0)
    return invalid(llvm::formatv("num_attention_heads ({0}) must be a positive "
                                 "multiple of num_key_value_heads ({1})",
                                 config.numHeads, config.numKVHeads));
  if (config.headDim == 0 || config.headDim % 2 != 0)
    return invalid(llvm::formatv("head_dim ({0}) must be positive and even",
                                 config.headDim));
  if (config.family == ModelFamily::OPT &&
      config.hiddenSize != config.numHeads * config.headDim)
    return invalid("hidden_size must be num_attention_heads * head_dim");
  if (config.hiddenSize == 0 || config.vocabSize == 0 ||
      config.intermediateSize == 0)
    return invalid("hidden_size, vocab_size and the MLP size must be positive");
  if (config.isMoE() && (config.expertsPerToken == 0 ||
                         config.expertsPerToken > config.numExperts))
    return invalid(
        "num_experts_per_tok must be between 1 and num_local_experts");
  return config;
}

llvm::Expected<ModelConfig> mlir::quark::readModelConfig(llvm::StringRef dir) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "config.json");
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  return parseModelConfig((*buffer)->getBuffer(), path);
}
