//===- ModelConfigFuzzer.cpp - Fuzz the config.json parser ----------------===//

#include "quark/Import/ModelConfig.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::Expected<mlir::quark::ModelConfig> config =
      mlir::quark::parseModelConfig(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz/config.json");
  if (!config)
    llvm::consumeError(config.takeError());
  return 0;
}
