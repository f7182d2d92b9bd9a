//===- TokenizeFuzzer.cpp - Fuzz encoding arbitrary text ------------------===//
//
// Encodes the input (any bytes, valid UTF-8 or not) with a byte-level and a
// SentencePiece-style tokenizer built in memory: errors are allowed, crashes
// and runaway time are not.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/Tokenizer.h"

#include <cstddef>
#include <cstdint>

using namespace mlir::quark;

static const char *const kByteLevel = R"({
  "added_tokens": [{"id": 9, "content": "<|x|>", "special": true,
                    "lstrip": true, "rstrip": true}],
  "normalizer": {"type": "NFC"},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "behavior": "Isolated", "pattern": {"Regex":
      "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "ignore_merges": true,
    "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġa": 4, "Ċ": 5, "Ã": 6,
              "©": 7, "Ã©": 8, "<|x|>": 9},
    "merges": ["a b", "Ġ a", "Ã ©"]}})";

static const char *const kSentencePiece = R"({
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true,
    "unk_token": "<unk>",
    "vocab": {"<unk>": 0, "<0x0A>": 1, "<0xC3>": 2, "▁": 3, "a": 4, "b": 5,
              "▁a": 6, "▁ab": 7},
    "merges": ["▁ a", "▁a b"]}})";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::unique_ptr<Tokenizer> tokenizers[] = {
      llvm::cantFail(Tokenizer::fromHuggingFaceJson(kByteLevel, "byte-level")),
      llvm::cantFail(
          Tokenizer::fromHuggingFaceJson(kSentencePiece, "sentencepiece")),
  };
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  for (const auto &tokenizer : tokenizers) {
    llvm::Expected<std::vector<int32_t>> ids = tokenizer->encode(text, true);
    if (!ids)
      llvm::consumeError(ids.takeError());
    else
      (void)tokenizer->decode(*ids);
  }
  return 0;
}
