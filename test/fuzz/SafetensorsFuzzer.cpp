//===- SafetensorsFuzzer.cpp - Fuzz the safetensors reader ----------------===//
//
// Any byte string is opened as a .safetensors file; if it validates, every
// tensor is widened to float32, which touches every byte the header claims.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/Safetensors.h"

#include <cstddef>
#include <cstdint>

using namespace mlir::quark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz");
  llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::fromBuffer(std::move(buffer), "fuzz.safetensors");
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const TensorInfo &tensor : (*file)->tensors()) {
    if (tensor.numElements() > (1 << 20))
      continue;
    std::vector<float> values(tensor.numElements());
    llvm::consumeError(
        convertToFloat(tensor.dtype, (*file)->bytes(tensor), values));
  }
  return 0;
}
