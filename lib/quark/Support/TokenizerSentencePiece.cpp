//===- TokenizerSentencePiece.cpp - tokenizer.model via libsentencepiece --===//
//
// A folder with only tokenizer.model is what transformers' slow
// LlamaTokenizer reads: special tokens in the text are split out first, each
// remaining segment goes through SentencePiece (which adds its dummy prefix
// per segment: the "legacy" behaviour), and BOS/EOS follow add_bos_token /
// add_eos_token.
//
//===----------------------------------------------------------------------===//

#include "TokenizerBpe.h"

#include "llvm/Support/FormatVariadic.h"

#include <sentencepiece_processor.h>

using namespace mlir::quark;
using namespace mlir::quark::detail;

namespace {
class SentencePieceTokenizer final : public Tokenizer {
public:
  SentencePieceTokenizer(
      std::unique_ptr<sentencepiece::SentencePieceProcessor> sp,
      std::vector<AddedToken> specials, std::vector<int32_t> prefix,
      std::vector<int32_t> suffix, std::string path)
      : processor(std::move(sp)), splitter(specials), prefix(std::move(prefix)),
        suffix(std::move(suffix)), path(std::move(path)) {}

  llvm::Expected<std::vector<int32_t>>
  encode(llvm::StringRef text, bool addSpecialTokens) const override {
    if (llvm::Error error = validateUtf8(text, "text"))
      return std::move(error);
    std::vector<int32_t> ids;
    if (addSpecialTokens)
      ids = prefix;
    std::vector<int> pieces;
    if (llvm::Error error = splitter.split(
            text,
            [&](llvm::StringRef segment, bool) -> llvm::Error {
              sentencepiece::util::Status status = processor->Encode(
                  std::string_view(segment.data(), segment.size()), &pieces);
              if (!status.ok())
                return llvm::createStringError(
                    llvm::inconvertibleErrorCode(),
                    path + ": SentencePiece: " + status.ToString());
              ids.insert(ids.end(), pieces.begin(), pieces.end());
              return llvm::Error::success();
            },
            [&](int32_t id) { ids.push_back(id); }))
      return std::move(error);
    if (addSpecialTokens)
      ids.insert(ids.end(), suffix.begin(), suffix.end());
    return ids;
  }

  std::string decode(llvm::ArrayRef<int32_t> ids) const override {
    std::vector<int> pieces(ids.begin(), ids.end());
    std::string text;
    if (!processor->Decode(pieces, &text).ok())
      return {};
    return text;
  }

  size_t vocabSize() const override { return processor->GetPieceSize(); }
  std::string describe() const override {
    return llvm::formatv("SentencePiece tokenizer.model ({0} pieces)",
                         processor->GetPieceSize());
  }

  void setSpecialIds(std::optional<int32_t> bosId,
                     std::optional<int32_t> eosId) {
    bos = bosId;
    eos = eosId;
  }

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor;
  AddedTokenSplitter splitter;
  std::vector<int32_t> prefix, suffix;
  std::string path;
};
} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::fromSentencePieceFile(llvm::StringRef path,
                                 llvm::StringRef configText) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status =
      processor->Load(std::string_view(path.data(), path.size()));
  if (!status.ok())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": not a SentencePiece model: " + status.ToString());
  llvm::Expected<TokenizerSettings> settings =
      parseTokenizerConfig(configText, "tokenizer_config.json");
  if (!settings)
    return settings.takeError();

  // Control and unknown pieces are the slow tokenizer's special tokens.
  std::vector<AddedToken> specials;
  for (int id = 0, e = processor->GetPieceSize(); id < e; ++id)
    if (processor->IsControl(id) || processor->IsUnknown(id))
      specials.push_back({processor->IdToPiece(id), id, true});

  auto idOf = [&](const std::optional<std::string> &token,
                  int fallback) -> std::optional<int32_t> {
    int id = token ? processor->PieceToId(*token) : fallback;
    if (token && id == processor->unk_id() &&
        *token != processor->IdToPiece(id))
      return std::nullopt;
    return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
  };
  std::optional<int32_t> bos = idOf(settings->bosToken, processor->bos_id());
  std::optional<int32_t> eos = idOf(settings->eosToken, processor->eos_id());
  std::vector<int32_t> prefix, suffix;
  if (settings->addBos.value_or(true) && bos)
    prefix.push_back(*bos);
  if (settings->addEos.value_or(false) && eos)
    suffix.push_back(*eos);
  auto tokenizer = std::make_unique<SentencePieceTokenizer>(
      std::move(processor), std::move(specials), std::move(prefix),
      std::move(suffix), path.str());
  tokenizer->setSpecialIds(bos, eos);
  return tokenizer;
}

llvm::Expected<SentencePieceVocab>
mlir::quark::readSentencePieceVocab(llvm::StringRef path) {
  sentencepiece::SentencePieceProcessor processor;
  // A NUL-terminated copy: libsentencepiece reads the name as a C string.
  std::string file = path.str();
  sentencepiece::util::Status status = processor.Load(file);
  if (!status.ok())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": not a SentencePiece model: " + status.ToString());
  SentencePieceVocab vocab;
  for (int id = 0, e = processor.GetPieceSize(); id < e; ++id) {
    vocab.pieces.push_back(processor.IdToPiece(id));
    vocab.scores.push_back(processor.GetScore(id));
    int32_t type = SentencePieceVocab::Normal;
    if (processor.IsUnknown(id))
      type = SentencePieceVocab::Unknown;
    else if (processor.IsControl(id))
      type = SentencePieceVocab::Control;
    else if (processor.IsUnused(id))
      type = SentencePieceVocab::Unused;
    else if (processor.IsByte(id))
      type = SentencePieceVocab::Byte;
    vocab.types.push_back(type);
  }
  vocab.unkId = processor.unk_id();
  vocab.bosId = processor.bos_id();
  vocab.eosId = processor.eos_id();
  vocab.padId = processor.pad_id();
  return vocab;
}
