//===- TokenizerGguf.cpp - the vocabulary embedded in a GGUF file ---------===//
//
// llama.cpp stores a tokenizer as tokenizer.ggml.* metadata. "gpt2" is
// byte-level BPE with merges, whose pre-tokenizer regex is implied by
// tokenizer.ggml.pre; "llama" is SentencePiece BPE, merging by piece score.
// Both map onto the same BPE pipeline as tokenizer.json.
//
//===----------------------------------------------------------------------===//

#include "TokenizerBpe.h"

#include "quark/Support/Gguf.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir::quark;
using namespace mlir::quark::detail;

namespace {
/// The Hugging Face pre-tokenizer patterns that tokenizer.ggml.pre names.
struct PreTokenizerPattern {
  const char *name;
  const char *pattern;
  bool ignoreMerges;
  bool nfc;
};
} // namespace

static const PreTokenizerPattern kPreTokenizers[] = {
    {"default", kGpt2Pattern, false, false},
    {"gpt-2", kGpt2Pattern, false, false},
    {"llama-bpe",
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
     " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     true, false},
    {"qwen2",
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
     " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     false, true},
};

llvm::StringRef Tokenizer::ggufPreTokenizerName(llvm::StringRef pattern) {
  if (pattern == kGpt2Pattern)
    return "gpt-2";
  for (const PreTokenizerPattern &known : kPreTokenizers)
    if (pattern == known.pattern)
      return known.name;
  return {};
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::fromGguf(const GgufFile &file, llvm::StringRef name) {
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": " + message);
  };
  auto stringOf = [&](llvm::StringRef key) -> std::optional<std::string> {
    const GgufValue *value = file.get(key);
    if (!value || !value->asString())
      return std::nullopt;
    return *value->asString();
  };
  auto intOf = [&](llvm::StringRef key) -> std::optional<int64_t> {
    const GgufValue *value = file.get(key);
    return value ? value->asInt() : std::nullopt;
  };
  auto arrayOf = [&](llvm::StringRef key) -> const std::vector<GgufValue> * {
    const GgufValue *value = file.get(key);
    return value ? value->asArray() : nullptr;
  };

  std::optional<std::string> model = stringOf("tokenizer.ggml.model");
  if (!model)
    return error("no tokenizer.ggml.model");
  if (*model != "gpt2" && *model != "llama")
    return error("tokenizer.ggml.model '" + *model +
                 "' is not supported (gpt2 and llama are)");
  const std::vector<GgufValue> *tokens = arrayOf("tokenizer.ggml.tokens");
  if (!tokens)
    return error("no tokenizer.ggml.tokens array");
  const std::vector<GgufValue> *types = arrayOf("tokenizer.ggml.token_type");
  if (types && types->size() != tokens->size())
    return error("tokenizer.ggml.token_type and tokenizer.ggml.tokens differ "
                 "in length");

  BpeTokenizerConfig config;
  BpeVocabulary &vocab = config.vocab;
  vocab.tokens.reserve(tokens->size());
  for (size_t id = 0; id < tokens->size(); ++id) {
    const std::string *text = (*tokens)[id].asString();
    if (!text)
      return error(
          llvm::formatv("tokenizer.ggml.tokens[{0}] is not a string", id));
    vocab.tokens.push_back(*text);
    vocab.ids.try_emplace(*text, static_cast<int32_t>(id));
    std::optional<int64_t> type = types ? (*types)[id].asInt() : std::nullopt;
    if (type && (*type == SentencePieceVocab::Control ||
                 *type == SentencePieceVocab::UserDefined)) {
      AddedToken token;
      token.content = *text;
      token.id = static_cast<int32_t>(id);
      token.special = *type == SentencePieceVocab::Control;
      config.addedTokens.push_back(std::move(token));
    }
  }
  vocab.indexByteTokens();
  if (std::optional<int64_t> unknown = intOf("tokenizer.ggml.unknown_token_id"))
    if (*unknown >= 0 && static_cast<size_t>(*unknown) < tokens->size())
      vocab.unknown = static_cast<int32_t>(*unknown);

  auto special = [&](llvm::StringRef key) -> std::optional<int32_t> {
    std::optional<int64_t> id = intOf(key);
    if (!id || *id < 0 || static_cast<size_t>(*id) >= tokens->size())
      return std::nullopt;
    return static_cast<int32_t>(*id);
  };
  config.bos = special("tokenizer.ggml.bos_token_id");
  config.eos = special("tokenizer.ggml.eos_token_id");
  bool isLlama = *model == "llama";
  std::optional<int64_t> addBos = intOf("tokenizer.ggml.add_bos_token");
  std::optional<int64_t> addEos = intOf("tokenizer.ggml.add_eos_token");
  if (addBos.value_or(isLlama) && config.bos)
    config.prefix.push_back(*config.bos);
  if (addEos.value_or(0) && config.eos)
    config.suffix.push_back(*config.eos);

  if (isLlama) {
    const std::vector<GgufValue> *scores = arrayOf("tokenizer.ggml.scores");
    if (!scores || scores->size() != tokens->size())
      return error("a llama vocabulary needs tokenizer.ggml.scores, one per "
                   "token");
    for (const GgufValue &score : *scores)
      vocab.scores.push_back(static_cast<float>(score.asFloat().value_or(0)));
    vocab.mergeByScore = true;
    vocab.byteFallback = true;
    const char *space = "\u2581";
    if (intOf("tokenizer.ggml.add_space_prefix").value_or(1)) {
      Normalizer prepend;
      prepend.kind = Normalizer::Prepend;
      prepend.text = space;
      config.normalizers.push_back(prepend);
    }
    Normalizer replace;
    replace.kind = Normalizer::Replace;
    replace.literal = " ";
    replace.text = space;
    config.normalizers.push_back(replace);
    DecoderStep unescape, bytes, fuse, strip;
    unescape.kind = DecoderStep::Replace;
    unescape.pattern = space;
    unescape.content = " ";
    bytes.kind = DecoderStep::ByteFallback;
    fuse.kind = DecoderStep::Fuse;
    strip.kind = DecoderStep::Strip;
    strip.content = " ";
    strip.start = 1;
    config.decoder = {unescape, bytes, fuse, strip};
    config.description = llvm::formatv(
        "GGUF llama (SentencePiece BPE, {0} tokens)", tokens->size());
    return makeBpeTokenizer(std::move(config), name);
  }

  const std::vector<GgufValue> *merges = arrayOf("tokenizer.ggml.merges");
  if (!merges)
    return error("a gpt2 vocabulary needs tokenizer.ggml.merges");
  for (size_t index = 0; index < merges->size(); ++index) {
    const std::string *merge = (*merges)[index].asString();
    if (!merge)
      return error(
          llvm::formatv("tokenizer.ggml.merges[{0}] is not a string", index));
    auto [left, right] = llvm::StringRef(*merge).split(' ');
    if (!vocab.addMerge(left, right))
      return error(llvm::formatv("tokenizer.ggml.merges[{0}] '{1}' names "
                                 "tokens not in the vocabulary",
                                 index, *merge));
  }
  std::string pre = stringOf("tokenizer.ggml.pre").value_or("default");
  const PreTokenizerPattern *known = nullptr;
  for (const PreTokenizerPattern &candidate : kPreTokenizers)
    if (pre == candidate.name)
      known = &candidate;
  if (!known)
    return error("tokenizer.ggml.pre '" + pre +
                 "' is not supported (default, gpt-2, llama-bpe, qwen2 are)");
  llvm::Expected<std::shared_ptr<Regex>> pattern =
      Regex::compile(known->pattern, "tokenizer.ggml.pre pattern");
  if (!pattern)
    return pattern.takeError();
  if (known->nfc) {
    Normalizer nfc;
    nfc.kind = Normalizer::NFC;
    config.normalizers.push_back(nfc);
  }
  PreTokenizer split;
  split.kind = PreTokenizer::Split;
  split.pattern = *pattern;
  PreTokenizer byteLevel;
  byteLevel.kind = PreTokenizer::ByteLevel;
  config.preTokenizers = {split, byteLevel};
  vocab.ignoreMerges = known->ignoreMerges;
  DecoderStep bytes;
  bytes.kind = DecoderStep::ByteLevel;
  config.decoder = {bytes};
  config.description =
      llvm::formatv("GGUF gpt2 (byte-level BPE, pre-tokenizer {0}, {1} tokens)",
                    pre, tokens->size());
  return makeBpeTokenizer(std::move(config), name);
}
