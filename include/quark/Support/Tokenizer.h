//===- Tokenizer.h - Hugging Face and SentencePiece tokenizers --*- C++ -*-===//
//
// Text -> token ids as a Hugging Face model folder defines it:
//   * tokenizer.json (a fast tokenizer): BPE models, byte-level (GPT-2,
//     Llama-3, Qwen2) or SentencePiece-style (Llama-2: escaped spaces, byte
//     fallback), with their normalizers, pre-tokenizers, added tokens and
//     post-processor;
//   * tokenizer.model (SentencePiece) through libsentencepiece, when there is
//     no tokenizer.json;
//   * the vocabulary embedded in a GGUF file (llama.cpp's tokenizer.ggml.*).
// tokenizer_config.json decides BOS/EOS the way transformers does.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_TOKENIZER_H
#define QUARK_SUPPORT_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::quark {

class GgufFile;

class Tokenizer {
public:
  virtual ~Tokenizer();

  /// The tokenizer of a model folder: tokenizer.json when present (as
  /// transformers' AutoTokenizer prefers the fast tokenizer), else
  /// tokenizer.model; tokenizer_config.json adjusts BOS/EOS.
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  loadFromDirectory(llvm::StringRef dir);

  /// A tokenizer.json document; `name` labels errors. `config` is the
  /// tokenizer_config.json text, or empty.
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  fromHuggingFaceJson(llvm::StringRef json, llvm::StringRef name,
                      llvm::StringRef config = {});

  /// A SentencePiece model file, with tokenizer_config.json text or empty
  /// (then BOS is added and EOS is not, as LlamaTokenizer defaults).
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  fromSentencePieceFile(llvm::StringRef path, llvm::StringRef config = {});

  /// The vocabulary of a GGUF file (tokenizer.ggml.model "llama" or "gpt2").
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  fromGguf(const GgufFile &file, llvm::StringRef name);
  /// llama.cpp's tokenizer.ggml.pre for a byte-level BPE tokenizer whose
  /// pre-tokenizer splits with the regex `pattern` (GPT-2's own pattern:
  /// "gpt-2"); empty when llama.cpp has no such pre-tokenizer. The inverse
  /// of what fromGguf reads.
  static llvm::StringRef ggufPreTokenizerName(llvm::StringRef pattern);

  /// Token ids of UTF-8 text. With `addSpecialTokens`, BOS/EOS are added as
  /// the post-processor says (transformers' add_special_tokens=True).
  /// Invalid UTF-8 is an error naming its byte offset.
  virtual llvm::Expected<std::vector<int32_t>>
  encode(llvm::StringRef text, bool addSpecialTokens) const = 0;

  /// Text of token ids (special tokens included as their text).
  virtual std::string decode(llvm::ArrayRef<int32_t> ids) const = 0;

  virtual size_t vocabSize() const = 0;
  /// A short description ("tokenizer.json BPE (byte-level)", ...).
  virtual std::string describe() const = 0;

  std::optional<int32_t> bosId() const { return bos; }
  std::optional<int32_t> eosId() const { return eos; }

protected:
  std::optional<int32_t> bos, eos;
};

/// Checks that `text` is valid UTF-8; the error names `what` and the offset.
llvm::Error validateUtf8(llvm::StringRef text, llvm::StringRef what);

/// The byte a byte-fallback token ("<0x0A>", SentencePiece's spelling)
/// stands for; nullopt for any other token.
std::optional<uint8_t> parseByteToken(llvm::StringRef token);

/// A SentencePiece model's vocabulary as GGUF's "llama" tokenizer holds it
/// (tokenizer.ggml.tokens / scores / token_type).
struct SentencePieceVocab {
  /// GGUF token types, numbered as llama.cpp's llama_token_type.
  enum TokenType : int32_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6
  };
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  /// -1 where the model has none.
  int32_t unkId = -1, bosId = -1, eosId = -1, padId = -1;
};

/// Reads a tokenizer.model's pieces, scores and piece types.
llvm::Expected<SentencePieceVocab> readSentencePieceVocab(llvm::StringRef path);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_TOKENIZER_H
