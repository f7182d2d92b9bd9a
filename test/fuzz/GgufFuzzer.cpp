//===- GgufFuzzer.cpp - Fuzz the GGUF reader and its tokenizer loader -----===//

#include "quark/Support/Gguf.h"
#include "quark/Support/Tokenizer.h"

#include <cstddef>
#include <cstdint>

using namespace mlir::quark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<std::unique_ptr<GgufFile>> file = GgufFile::parse(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.gguf");
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  llvm::Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::fromGguf(**file, "fuzz.gguf");
  if (!tokenizer) {
    llvm::consumeError(tokenizer.takeError());
    return 0;
  }
  llvm::Expected<std::vector<int32_t>> ids =
      (*tokenizer)->encode("Hello  world!\n\xC3\xA9 1234", true);
  if (!ids)
    llvm::consumeError(ids.takeError());
  else
    (void)(*tokenizer)->decode(*ids);
  return 0;
}
