//===- TokenizerJsonFuzzer.cpp - Fuzz the tokenizer.json loader -----------===//
//
// The input is a tokenizer.json; one that loads then encodes and decodes a
// fixed text covering spaces, newlines, digits and multi-byte characters.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/Tokenizer.h"

#include <cstddef>
#include <cstdint>

using namespace mlir::quark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::fromHuggingFaceJson(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz/tokenizer.json");
  if (!tokenizer) {
    llvm::consumeError(tokenizer.takeError());
    return 0;
  }
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)
          ->encode("  Hello, y'all!\n\n\t1234 \xC3\xA9\xE2\x82\xAC <s> ab",
                   true);
  if (!ids)
    llvm::consumeError(ids.takeError());
  else
    (void)(*tokenizer)->decode(*ids);
  return 0;
}
