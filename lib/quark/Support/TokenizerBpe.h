//===- TokenizerBpe.h - The BPE tokenizer pipeline (private) ----*- C++ -*-===//
//
// One pipeline serves every BPE tokenizer the loaders understand, in the
// order Hugging Face's `tokenizers` runs it:
//
//   split on added tokens -> normalize each segment -> pre-tokenize into
//   pieces -> (byte-level: map bytes to printable code points) -> BPE merges
//   per piece -> post-processor template.
//
// The loaders (tokenizer.json, GGUF) only translate their format into a
// BpeTokenizerConfig.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_LIB_SUPPORT_TOKENIZERBPE_H
#define QUARK_LIB_SUPPORT_TOKENIZERBPE_H

#include "quark/Support/Tokenizer.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <array>
#include <functional>

namespace mlir::quark::detail {

// Text helpers (TokenizerText.cpp); text is valid UTF-8 unless noted.

/// Bytes in the UTF-8 sequence that starts with `lead`.
size_t utf8Length(unsigned char lead);
void appendUtf8(std::string &out, int32_t codepoint);
bool isUnicodeWhitespace(int32_t codepoint);
/// Calls `fn(begin, length, codepoint)` for each code point (an invalid byte
/// reads as U+FFFD of length 1).
void forEachCodepoint(llvm::StringRef text,
                      llvm::function_ref<void(size_t, size_t, int32_t)> fn);
std::string replaceLiteral(llvm::StringRef text, llvm::StringRef from,
                           llvm::StringRef to);

/// GPT-2's reversible map between bytes and printable code points.
struct ByteLevelTable {
  ByteLevelTable();
  std::array<std::string, 256> encoded;
  llvm::DenseMap<int32_t, uint8_t> decoded;
};
const ByteLevelTable &byteLevelTable();

/// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available).
class Regex {
public:
  static llvm::Expected<std::shared_ptr<Regex>> compile(llvm::StringRef pattern,
                                                        llvm::StringRef what);
  ~Regex();
  /// Calls `onMatch(begin, end)` for each non-overlapping match, left to
  /// right, as an iterator over matches would (an empty match advances one
  /// code point).
  /// Fails only when PCRE2 gives up (match limit) on adversarial text.
  llvm::Error
  forEachMatch(llvm::StringRef text,
               llvm::function_ref<void(size_t, size_t)> onMatch) const;

private:
  Regex() = default;
  void *code = nullptr; // pcre2_code_8
};

struct Normalizer {
  enum Kind { NFC, NFKC, NFD, NFKD, Lowercase, Prepend, Replace, Strip };
  Kind kind = NFC;
  std::string text;               // Prepend: prefix; Replace: content
  std::string literal;            // Replace: literal pattern
  std::shared_ptr<Regex> pattern; // Replace: regex pattern (or null)
  bool stripLeft = false, stripRight = false;
};

enum class SplitBehavior {
  Isolated,
  Removed,
  MergedWithPrevious,
  MergedWithNext,
  Contiguous
};

/// Digits, WhitespaceSplit and Whitespace load as Split with the pattern
/// and behavior that define them.
struct PreTokenizer {
  enum Kind { Split, ByteLevel, Metaspace };
  enum class Prepend { Always, First, Never };
  Kind kind = Split;
  // Split (also ByteLevel with use_regex, and Digits).
  std::shared_ptr<Regex> pattern;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  // ByteLevel.
  bool addPrefixSpace = false;
  // Metaspace.
  std::string replacement;
  Prepend prependScheme = Prepend::Always;
  bool splitOnReplacement = true;
};

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false, singleWord = false;
};

/// Splits text on added tokens as `tokenizers` does: at the leftmost
/// position where one matches, the longest match wins; lstrip/rstrip absorb
/// the whitespace beside it, single_word requires word boundaries.
class AddedTokenSplitter {
public:
  explicit AddedTokenSplitter(const std::vector<AddedToken> &tokens);
  /// Calls `onText(segment, atInputStart)` for the text between tokens and
  /// `onToken(id)` for each token, in order.
  llvm::Error
  split(llvm::StringRef text,
        llvm::function_ref<llvm::Error(llvm::StringRef, bool)> onText,
        llvm::function_ref<void(int32_t)> onToken) const;

private:
  const AddedToken *match(llvm::StringRef text, size_t pos) const;
  std::vector<std::vector<AddedToken>> byFirstByte;
};

struct DecoderStep {
  enum Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
  Kind kind = Fuse;
  std::string pattern,
      content; // Replace; Strip: content; Metaspace: replacement
  unsigned start = 0, stop = 0; // Strip
  bool stripFirstSpace = false; // Metaspace: prepend scheme != never
};

struct BpeVocabulary {
  llvm::StringMap<int32_t> ids;
  std::vector<std::string> tokens; // by id; holes are empty
  /// Merge table: (left id << 32 | right id) -> (rank, merged id). Lower
  /// rank merges first (tokenizer.json / GGUF gpt2).
  llvm::DenseMap<uint64_t, std::pair<int32_t, int32_t>> merges;
  /// With scores instead (GGUF llama / SentencePiece BPE): two symbols merge
  /// when their concatenation is a token; a higher score merges first.
  bool mergeByScore = false;
  std::vector<float> scores;
  std::optional<int32_t> unknown;
  bool byteFallback = false;
  bool fuseUnknown = false;
  /// A piece that is a whole token is emitted as is (Llama-3).
  bool ignoreMerges = false;
  std::array<int32_t, 256> byteTokens; // <0xXX> ids, -1 when absent

  BpeVocabulary() { byteTokens.fill(-1); }
  /// Fills byteTokens from the vocabulary's "<0xXX>" entries.
  void indexByteTokens();
  /// Adds the merge "left right" (the next rank); false when either side or
  /// their concatenation is not a token.
  bool addMerge(llvm::StringRef left, llvm::StringRef right);
  std::optional<int32_t> lookup(llvm::StringRef token) const {
    auto it = ids.find(token);
    if (it == ids.end())
      return std::nullopt;
    return it->second;
  }
};

struct BpeTokenizerConfig {
  std::string description;
  std::vector<AddedToken> addedTokens;
  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> preTokenizers;
  BpeVocabulary vocab;
  std::vector<DecoderStep> decoder;
  /// Post-processor for a single sequence.
  std::vector<int32_t> prefix, suffix;
  std::optional<int32_t> bos, eos;
};

/// Validates the configuration (byte-level last, ...) and builds the
/// tokenizer; `name` labels errors.
llvm::Expected<std::unique_ptr<Tokenizer>>
makeBpeTokenizer(BpeTokenizerConfig config, llvm::StringRef name);

/// What tokenizer_config.json says about special tokens.
struct TokenizerSettings {
  std::string tokenizerClass;
  std::optional<std::string> bosToken, eosToken;
  std::optional<bool> addBos, addEos;
};
/// Empty text gives default settings; `name` labels errors.
llvm::Expected<TokenizerSettings> parseTokenizerConfig(llvm::StringRef text,
                                                       llvm::StringRef name);

/// GPT-2's pre-tokenizer pattern, used by ByteLevel(use_regex=true).
extern const char *const kGpt2Pattern;

} // namespace mlir::quark::detail

#endif // QUARK_LIB_SUPPORT_TOKENIZERBPE_H
