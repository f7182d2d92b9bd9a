//===- TokenizerHuggingFace.cpp - tokenizer.json and model folders --------===//
//
// Translates a `tokenizers` JSON document into the BPE pipeline. Every
// component type the pipeline implements is accepted; any other is an error
// that names it, never a silent approximation.
//
//===----------------------------------------------------------------------===//

#include "TokenizerBpe.h"

#include "quark/Support/Json.h"
#include "quark/Support/ReadFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir::quark;
using namespace mlir::quark::detail;
namespace json = llvm::json;

namespace {
/// Parses one tokenizer.json; errors carry the file name and the JSON path
/// of the offending component.
class TokenizerJsonParser {
public:
  explicit TokenizerJsonParser(llvm::StringRef name) : name(name) {}

  llvm::Error parseModel(const json::Object &model, BpeVocabulary &vocab);
  llvm::Error parseAddedTokens(const json::Array &tokens,
                               BpeTokenizerConfig &config);
  llvm::Error parseNormalizer(const json::Value &value,
                              std::vector<Normalizer> &out);
  llvm::Error parsePreTokenizer(const json::Value &value,
                                std::vector<PreTokenizer> &out);
  llvm::Error parsePostProcessor(const json::Value &value,
                                 BpeTokenizerConfig &config);
  llvm::Error parseDecoder(const json::Value &value,
                           std::vector<DecoderStep> &out);
  llvm::Error parseNormalizerObject(const json::Object &object,
                                    std::vector<Normalizer> &out);
  llvm::Error parsePreTokenizerObject(const json::Object &object,
                                      std::vector<PreTokenizer> &out);
  llvm::Error parsePostProcessorObject(const json::Object &object,
                                       BpeTokenizerConfig &config);
  llvm::Error parseDecoderObject(const json::Object &object,
                                 std::vector<DecoderStep> &out);
  /// A component is null, an object, or {"type": "Sequence", listKey:
  /// [components]}; calls `parseOne` on each object, in order.
  llvm::Error forEachComponent(
      const json::Value &value, llvm::StringRef component,
      llvm::StringRef listKey,
      llvm::function_ref<llvm::Error(const json::Object &)> parseOne);

  llvm::Error error(const llvm::Twine &message) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": " + message);
  }

private:
  llvm::Expected<std::shared_ptr<Regex>> pattern(const json::Object &object,
                                                 llvm::StringRef component,
                                                 std::string *literal);
  llvm::StringRef typeOf(const json::Object &object) const {
    return object.getString("type").value_or("");
  }

  std::string name;
};
} // namespace

llvm::Error TokenizerJsonParser::forEachComponent(
    const json::Value &value, llvm::StringRef component,
    llvm::StringRef listKey,
    llvm::function_ref<llvm::Error(const json::Object &)> parseOne) {
  if (value.kind() == json::Value::Null)
    return llvm::Error::success();
  const json::Object *object = value.getAsObject();
  if (!object)
    return error(component + " is not an object");
  if (typeOf(*object) != "Sequence")
    return parseOne(*object);
  if (const json::Array *steps = object->getArray(listKey))
    for (const json::Value &step : *steps)
      if (llvm::Error e = forEachComponent(step, component, listKey, parseOne))
        return e;
  return llvm::Error::success();
}

llvm::Error TokenizerJsonParser::parseModel(const json::Object &model,
                                            BpeVocabulary &vocab) {
  llvm::StringRef type = typeOf(model);
  if (!type.empty() && type != "BPE")
    return error("model type '" + type +
                 "' is not supported (BPE tokenizers are)");
  for (llvm::StringRef key :
       {"continuing_subword_prefix", "end_of_word_suffix"})
    if (std::optional<llvm::StringRef> affix = model.getString(key))
      if (!affix->empty())
        return error("model." + key + " '" + *affix + "' is not supported");
  const json::Object *tokens = model.getObject("vocab");
  if (!tokens)
    return error("model.vocab is missing");
  for (const auto &[token, idValue] : *tokens) {
    std::optional<int64_t> id = idValue.getAsInteger();
    if (!id || *id < 0 || *id > (1 << 26))
      return error("model.vocab['" + token.str() + "'] is not a token id");
    vocab.ids[token.str()] = static_cast<int32_t>(*id);
    if (static_cast<size_t>(*id) >= vocab.tokens.size())
      vocab.tokens.resize(*id + 1);
    vocab.tokens[*id] = token.str();
  }
  if (const json::Array *merges = model.getArray("merges")) {
    size_t index = 0;
    for (const json::Value &merge : *merges) {
      std::string left, right;
      if (std::optional<llvm::StringRef> text = merge.getAsString()) {
        auto [l, r] = text->split(' ');
        if (r.empty() || r.contains(' '))
          return error(llvm::formatv("model.merges[{0}] '{1}' is not two "
                                     "tokens separated by a space",
                                     index, *text));
        left = l.str(), right = r.str();
      } else if (const json::Array *pair = merge.getAsArray();
                 pair && pair->size() == 2 && (*pair)[0].getAsString() &&
                 (*pair)[1].getAsString()) {
        left = (*pair)[0].getAsString()->str();
        right = (*pair)[1].getAsString()->str();
      } else {
        return error(llvm::formatv("model.merges[{0}] is neither \"a b\" "
                                   "nor [\"a\", \"b\"]",
                                   index));
      }
      if (!vocab.addMerge(left, right))
        return error(llvm::formatv("model.merges[{0}] '{1} {2}': a side or "
                                   "their concatenation is not in the "
                                   "vocabulary",
                                   index, left, right));
      ++index;
    }
  }
  if (std::optional<llvm::StringRef> unknown = model.getString("unk_token")) {
    vocab.unknown = vocab.lookup(*unknown);
    if (!vocab.unknown)
      return error("model.unk_token '" + *unknown +
                   "' is not in the vocabulary");
  }
  vocab.byteFallback = model.getBoolean("byte_fallback").value_or(false);
  vocab.fuseUnknown = model.getBoolean("fuse_unk").value_or(false);
  vocab.ignoreMerges = model.getBoolean("ignore_merges").value_or(false);
  vocab.indexByteTokens();
  return llvm::Error::success();
}

llvm::Error TokenizerJsonParser::parseAddedTokens(const json::Array &tokens,
                                                  BpeTokenizerConfig &config) {
  size_t index = 0;
  for (const json::Value &value : tokens) {
    const json::Object *object = value.getAsObject();
    std::optional<int64_t> id =
        object ? object->getInteger("id") : std::nullopt;
    std::optional<llvm::StringRef> content =
        object ? object->getString("content") : std::nullopt;
    if (!id || !content || *id < 0 || *id > (1 << 26))
      return error(
          llvm::formatv("added_tokens[{0}] needs an id and a content", index));
    AddedToken token;
    token.content = content->str();
    token.id = static_cast<int32_t>(*id);
    token.special = object->getBoolean("special").value_or(false);
    token.lstrip = object->getBoolean("lstrip").value_or(false);
    token.rstrip = object->getBoolean("rstrip").value_or(false);
    token.singleWord = object->getBoolean("single_word").value_or(false);
    BpeVocabulary &vocab = config.vocab;
    if (static_cast<size_t>(token.id) >= vocab.tokens.size())
      vocab.tokens.resize(token.id + 1);
    if (vocab.tokens[token.id].empty()) {
      vocab.tokens[token.id] = token.content;
      vocab.ids.try_emplace(token.content, token.id);
    }
    config.addedTokens.push_back(std::move(token));
    ++index;
  }
  return llvm::Error::success();
}

llvm::Expected<std::shared_ptr<Regex>>
TokenizerJsonParser::pattern(const json::Object &object,
                             llvm::StringRef component, std::string *literal) {
  const json::Object *pattern = object.getObject("pattern");
  if (pattern) {
    if (std::optional<llvm::StringRef> regex = pattern->getString("Regex"))
      return Regex::compile(*regex, name + ": " + component.str() + " pattern");
    if (std::optional<llvm::StringRef> text = pattern->getString("String")) {
      if (literal) {
        *literal = text->str();
        return nullptr;
      }
      // A literal pattern where the component needs a regex.
      std::string escaped;
      for (char c : *text) {
        if (llvm::StringRef("\\^$.|?*+()[]{}").contains(c))
          escaped += '\\';
        escaped += c;
      }
      return Regex::compile(escaped,
                            name + ": " + component.str() + " pattern");
    }
  }
  return error(component + " needs a pattern {\"String\": ...} or "
                           "{\"Regex\": ...}");
}

llvm::Error TokenizerJsonParser::parseNormalizer(const json::Value &value,
                                                 std::vector<Normalizer> &out) {
  return forEachComponent(value, "normalizer", "normalizers",
                          [&](const json::Object &object) {
                            return parseNormalizerObject(object, out);
                          });
}

llvm::Error
TokenizerJsonParser::parseNormalizerObject(const json::Object &object,
                                           std::vector<Normalizer> &out) {
  llvm::StringRef type = typeOf(object);
  Normalizer step;
  if (type == "NFC")
    step.kind = Normalizer::NFC;
  else if (type == "NFKC")
    step.kind = Normalizer::NFKC;
  else if (type == "NFD")
    step.kind = Normalizer::NFD;
  else if (type == "NFKD")
    step.kind = Normalizer::NFKD;
  else if (type == "Lowercase")
    step.kind = Normalizer::Lowercase;
  else if (type == "Prepend") {
    step.kind = Normalizer::Prepend;
    step.text = object.getString("prepend").value_or("").str();
  } else if (type == "Replace") {
    step.kind = Normalizer::Replace;
    step.text = object.getString("content").value_or("").str();
    llvm::Expected<std::shared_ptr<Regex>> regex =
        pattern(object, "normalizer Replace", &step.literal);
    if (!regex)
      return regex.takeError();
    step.pattern = *regex;
  } else if (type == "Strip") {
    step.kind = Normalizer::Strip;
    step.stripLeft = object.getBoolean("strip_left").value_or(true);
    step.stripRight = object.getBoolean("strip_right").value_or(true);
  } else {
    return error("normalizer '" + type + "' is not supported");
  }
  out.push_back(std::move(step));
  return llvm::Error::success();
}

static std::optional<SplitBehavior> parseBehavior(llvm::StringRef text) {
  return llvm::StringSwitch<std::optional<SplitBehavior>>(text)
      .Case("Isolated", SplitBehavior::Isolated)
      .Case("Removed", SplitBehavior::Removed)
      .Case("MergedWithPrevious", SplitBehavior::MergedWithPrevious)
      .Case("MergedWithNext", SplitBehavior::MergedWithNext)
      .Case("Contiguous", SplitBehavior::Contiguous)
      .Default(std::nullopt);
}

llvm::Error
TokenizerJsonParser::parsePreTokenizer(const json::Value &value,
                                       std::vector<PreTokenizer> &out) {
  return forEachComponent(value, "pre_tokenizer", "pretokenizers",
                          [&](const json::Object &object) {
                            return parsePreTokenizerObject(object, out);
                          });
}

llvm::Error
TokenizerJsonParser::parsePreTokenizerObject(const json::Object &object,
                                             std::vector<PreTokenizer> &out) {
  llvm::StringRef type = typeOf(object);
  PreTokenizer step;
  auto splitOn = [&](llvm::StringRef regex, SplitBehavior behavior,
                     bool invert) -> llvm::Error {
    llvm::Expected<std::shared_ptr<Regex>> compiled =
        Regex::compile(regex, name + ": pre-tokenizer " + type.str());
    if (!compiled)
      return compiled.takeError();
    step.kind = PreTokenizer::Split;
    step.pattern = *compiled;
    step.behavior = behavior;
    step.invert = invert;
    return llvm::Error::success();
  };
  if (type == "ByteLevel") {
    step.kind = PreTokenizer::ByteLevel;
    step.addPrefixSpace = object.getBoolean("add_prefix_space").value_or(true);
    if (object.getBoolean("use_regex").value_or(true)) {
      llvm::Expected<std::shared_ptr<Regex>> regex =
          Regex::compile(kGpt2Pattern, "GPT-2 pattern");
      if (!regex)
        return regex.takeError();
      step.pattern = *regex;
    }
  } else if (type == "Split") {
    llvm::Expected<std::shared_ptr<Regex>> regex =
        pattern(object, "pre-tokenizer Split", nullptr);
    if (!regex)
      return regex.takeError();
    llvm::StringRef behaviorText =
        object.getString("behavior").value_or("Isolated");
    std::optional<SplitBehavior> behavior = parseBehavior(behaviorText);
    if (!behavior)
      return error("pre-tokenizer Split behavior '" + behaviorText +
                   "' is not one of Isolated, Removed, MergedWithPrevious, "
                   "MergedWithNext, Contiguous");
    step.kind = PreTokenizer::Split;
    step.pattern = *regex;
    step.behavior = *behavior;
    step.invert = object.getBoolean("invert").value_or(false);
  } else if (type == "Metaspace") {
    step.kind = PreTokenizer::Metaspace;
    step.replacement = object.getString("replacement").value_or("\u2581").str();
    step.splitOnReplacement = object.getBoolean("split").value_or(true);
    if (std::optional<llvm::StringRef> scheme =
            object.getString("prepend_scheme")) {
      if (*scheme == "always")
        step.prependScheme = PreTokenizer::Prepend::Always;
      else if (*scheme == "first")
        step.prependScheme = PreTokenizer::Prepend::First;
      else if (*scheme == "never")
        step.prependScheme = PreTokenizer::Prepend::Never;
      else
        return error("pre-tokenizer Metaspace prepend_scheme '" + *scheme +
                     "' is not always, first or never");
    } else {
      step.prependScheme = object.getBoolean("add_prefix_space").value_or(true)
                               ? PreTokenizer::Prepend::Always
                               : PreTokenizer::Prepend::Never;
    }
  } else if (type == "Digits") {
    bool individual = object.getBoolean("individual_digits").value_or(false);
    if (llvm::Error e = splitOn(individual ? "\\p{N}" : "\\p{N}+",
                                SplitBehavior::Isolated, false))
      return e;
  } else if (type == "WhitespaceSplit") {
    if (llvm::Error e = splitOn("\\s+", SplitBehavior::Removed, false))
      return e;
  } else if (type == "Whitespace") {
    if (llvm::Error e =
            splitOn("\\w+|[^\\w\\s]+", SplitBehavior::Removed, true))
      return e;
  } else if (type == "Punctuation") {
    llvm::StringRef behaviorText =
        object.getString("behavior").value_or("Isolated");
    std::optional<SplitBehavior> behavior = parseBehavior(behaviorText);
    if (!behavior)
      return error("pre-tokenizer Punctuation behavior '" + behaviorText +
                   "' is not supported");
    if (llvm::Error e = splitOn("[\\p{P}!-/:-@\\[-`{-~]", *behavior, false))
      return e;
  } else {
    return error("pre-tokenizer '" + type + "' is not supported");
  }
  out.push_back(std::move(step));
  return llvm::Error::success();
}

llvm::Error
TokenizerJsonParser::parsePostProcessor(const json::Value &value,
                                        BpeTokenizerConfig &config) {
  return forEachComponent(value, "post_processor", "processors",
                          [&](const json::Object &object) {
                            return parsePostProcessorObject(object, config);
                          });
}

llvm::Error
TokenizerJsonParser::parsePostProcessorObject(const json::Object &object,
                                              BpeTokenizerConfig &config) {
  llvm::StringRef type = typeOf(object);
  if (type == "ByteLevel") // offsets only
    return llvm::Error::success();
  if (type == "TemplateProcessing") {
    const json::Array *single = object.getArray("single");
    const json::Object *specials = object.getObject("special_tokens");
    if (!single)
      return error("post_processor TemplateProcessing has no 'single'");
    bool seenSequence = false;
    for (const json::Value &item : *single) {
      const json::Object *entry = item.getAsObject();
      if (entry && entry->getObject("Sequence")) {
        seenSequence = true;
        continue;
      }
      const json::Object *special =
          entry ? entry->getObject("SpecialToken") : nullptr;
      std::optional<llvm::StringRef> id =
          special ? special->getString("id") : std::nullopt;
      const json::Object *known =
          id && specials ? specials->getObject(*id) : nullptr;
      const json::Array *ids = known ? known->getArray("ids") : nullptr;
      if (!ids)
        return error("post_processor template names a special token that "
                     "special_tokens does not define");
      for (const json::Value &tokenId : *ids) {
        std::optional<int64_t> number = tokenId.getAsInteger();
        if (!number)
          return error("post_processor special token ids must be integers");
        (seenSequence ? config.suffix : config.prefix)
            .push_back(static_cast<int32_t>(*number));
      }
    }
    return llvm::Error::success();
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto idOf = [&](llvm::StringRef key) -> std::optional<int32_t> {
      const json::Array *pair = object.getArray(key);
      if (!pair || pair->size() != 2 || !(*pair)[1].getAsInteger())
        return std::nullopt;
      return static_cast<int32_t>(*(*pair)[1].getAsInteger());
    };
    std::optional<int32_t> cls = idOf("cls"), sep = idOf("sep");
    if (!cls || !sep)
      return error("post_processor " + type + " needs cls and sep");
    config.prefix.push_back(*cls);
    config.suffix.push_back(*sep);
    return llvm::Error::success();
  }
  return error("post_processor '" + type + "' is not supported");
}

llvm::Error TokenizerJsonParser::parseDecoder(const json::Value &value,
                                              std::vector<DecoderStep> &out) {
  return forEachComponent(value, "decoder", "decoders",
                          [&](const json::Object &object) {
                            return parseDecoderObject(object, out);
                          });
}

llvm::Error
TokenizerJsonParser::parseDecoderObject(const json::Object &object,
                                        std::vector<DecoderStep> &out) {
  llvm::StringRef type = typeOf(object);
  DecoderStep step;
  if (type == "ByteLevel") {
    step.kind = DecoderStep::ByteLevel;
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Fuse;
  } else if (type == "Replace") {
    step.kind = DecoderStep::Replace;
    const json::Object *pattern = object.getObject("pattern");
    std::optional<llvm::StringRef> literal =
        pattern ? pattern->getString("String") : std::nullopt;
    if (!literal)
      return error("decoder Replace supports only String patterns");
    step.pattern = literal->str();
    step.content = object.getString("content").value_or("").str();
  } else if (type == "Strip") {
    step.kind = DecoderStep::Strip;
    step.content = object.getString("content").value_or(" ").str();
    step.start = object.getInteger("start").value_or(0);
    step.stop = object.getInteger("stop").value_or(0);
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::Metaspace;
    step.content = object.getString("replacement").value_or("\u2581").str();
    std::optional<llvm::StringRef> scheme = object.getString("prepend_scheme");
    step.stripFirstSpace =
        scheme ? *scheme != "never"
               : object.getBoolean("add_prefix_space").value_or(true);
  } else {
    return error("decoder '" + type + "' is not supported");
  }
  out.push_back(std::move(step));
  return llvm::Error::success();
}

/// A special token in tokenizer_config.json: "text" or {"content": "text"}.
static std::optional<std::string> specialTokenText(const json::Object &config,
                                                   llvm::StringRef key) {
  const json::Value *value = config.get(key);
  if (!value)
    return std::nullopt;
  if (std::optional<llvm::StringRef> text = value->getAsString())
    return text->str();
  if (const json::Object *object = value->getAsObject())
    if (std::optional<llvm::StringRef> text = object->getString("content"))
      return text->str();
  return std::nullopt;
}

llvm::Expected<TokenizerSettings>
mlir::quark::detail::parseTokenizerConfig(llvm::StringRef text,
                                          llvm::StringRef name) {
  TokenizerSettings settings;
  if (text.empty())
    return settings;
  llvm::Expected<json::Value> document = parseJson(text);
  if (!document)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        name + ": invalid JSON: " + llvm::toString(document.takeError()));
  const json::Object *config = document->getAsObject();
  if (!config)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": not a JSON object");
  settings.tokenizerClass =
      config->getString("tokenizer_class").value_or("").str();
  settings.bosToken = specialTokenText(*config, "bos_token");
  settings.eosToken = specialTokenText(*config, "eos_token");
  settings.addBos = config->getBoolean("add_bos_token");
  settings.addEos = config->getBoolean("add_eos_token");
  return settings;
}

/// transformers' Llama-style tokenizers rebuild the post-processor from
/// add_bos_token / add_eos_token, overriding tokenizer.json.
static bool rebuildsPostProcessor(llvm::StringRef tokenizerClass) {
  tokenizerClass.consume_back("Fast");
  return tokenizerClass == "LlamaTokenizer" ||
         tokenizerClass == "CodeLlamaTokenizer" ||
         tokenizerClass == "GemmaTokenizer";
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::fromHuggingFaceJson(llvm::StringRef text, llvm::StringRef name,
                               llvm::StringRef configText) {
  TokenizerJsonParser parser(name);
  llvm::Expected<json::Value> document = parseJson(text);
  if (!document)
    return parser.error("invalid JSON: " +
                        llvm::toString(document.takeError()));
  const json::Object *root = document->getAsObject();
  if (!root)
    return parser.error("the document is not a JSON object");
  const json::Object *model = root->getObject("model");
  if (!model)
    return parser.error("no 'model'");

  BpeTokenizerConfig config;
  if (llvm::Error e = parser.parseModel(*model, config.vocab))
    return std::move(e);
  if (const json::Array *added = root->getArray("added_tokens"))
    if (llvm::Error e = parser.parseAddedTokens(*added, config))
      return std::move(e);
  const json::Value null(nullptr);
  auto member = [&](llvm::StringRef key) -> const json::Value & {
    const json::Value *value = root->get(key);
    return value ? *value : null;
  };
  if (llvm::Error e =
          parser.parseNormalizer(member("normalizer"), config.normalizers))
    return std::move(e);
  if (llvm::Error e = parser.parsePreTokenizer(member("pre_tokenizer"),
                                               config.preTokenizers))
    return std::move(e);
  if (llvm::Error e =
          parser.parsePostProcessor(member("post_processor"), config))
    return std::move(e);
  if (llvm::Error e = parser.parseDecoder(member("decoder"), config.decoder))
    return std::move(e);

  llvm::Expected<TokenizerSettings> settings =
      parseTokenizerConfig(configText, "tokenizer_config.json");
  if (!settings)
    return settings.takeError();
  auto idOf = [&](const std::optional<std::string> &token) {
    return token ? config.vocab.lookup(*token) : std::nullopt;
  };
  config.bos = idOf(settings->bosToken);
  config.eos = idOf(settings->eosToken);
  if (rebuildsPostProcessor(settings->tokenizerClass)) {
    config.prefix.clear();
    config.suffix.clear();
    if (settings->addBos.value_or(true) && config.bos)
      config.prefix.push_back(*config.bos);
    if (settings->addEos.value_or(false) && config.eos)
      config.suffix.push_back(*config.eos);
  }
  if (!config.bos && !config.prefix.empty())
    config.bos = config.prefix.front();

  bool byteLevel =
      llvm::any_of(config.preTokenizers, [](const PreTokenizer &p) {
        return p.kind == PreTokenizer::ByteLevel;
      });
  config.description =
      llvm::formatv("tokenizer.json BPE ({0}, {1} tokens, {2} merges)",
                    byteLevel ? "byte-level" : "SentencePiece-style",
                    config.vocab.tokens.size(), config.vocab.merges.size());
  return makeBpeTokenizer(std::move(config), name);
}

static llvm::Expected<std::string> readText(llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  return (*buffer)->getBuffer().str();
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::loadFromDirectory(llvm::StringRef dir) {
  auto pathOf = [&](llvm::StringRef file) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, file);
    return path.str().str();
  };
  std::string configText;
  if (llvm::sys::fs::exists(pathOf("tokenizer_config.json"))) {
    llvm::Expected<std::string> text =
        readText(pathOf("tokenizer_config.json"));
    if (!text)
      return text.takeError();
    configText = std::move(*text);
  }
  if (llvm::sys::fs::exists(pathOf("tokenizer.json"))) {
    llvm::Expected<std::string> text = readText(pathOf("tokenizer.json"));
    if (!text)
      return text.takeError();
    return fromHuggingFaceJson(*text, pathOf("tokenizer.json"), configText);
  }
  if (llvm::sys::fs::exists(pathOf("tokenizer.model")))
    return fromSentencePieceFile(pathOf("tokenizer.model"), configText);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 dir +
                                     ": no tokenizer.json or tokenizer.model");
}
