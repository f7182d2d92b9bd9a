//===- WeightStore.cpp - Model weights for the executor -------------------===//

#include "quark/Runtime/WeightStore.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

using namespace mlir::quark;

llvm::Expected<SafetensorsCheckpoint *>
WeightStore::open(llvm::StringRef file) {
  auto it = files.find(file);
  if (it != files.end())
    return it->second.get();
  llvm::SmallString<256> path(modelDir);
  if (!file.empty())
    llvm::sys::path::append(path, file);
  llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>> opened =
      SafetensorsCheckpoint::open(path);
  if (!opened)
    return opened.takeError();
  SafetensorsCheckpoint *result = opened->get();
  files[file] = std::move(*opened);
  return result;
}

llvm::Expected<SafetensorsCheckpoint *> WeightStore::checkpoint() {
  return open("");
}

llvm::Expected<Tensor> WeightStore::get(llvm::StringRef name,
                                        llvm::StringRef file) {
  if (file.empty()) {
    auto overridden = overrides.find(name);
    if (overridden != overrides.end())
      return overridden->second;
  }
  std::string key = (file + "\n" + name).str();
  auto cached = cache.find(key);
  if (cached != cache.end())
    return cached->second;
  llvm::Expected<SafetensorsCheckpoint *> source = open(file);
  if (!source)
    return source.takeError();
  std::optional<TensorRef> tensor = (*source)->find(name);
  if (!tensor)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "no tensor '" + name + "' in " +
            (file.empty() ? llvm::Twine(modelDir) : llvm::Twine(file)));
  Tensor value = Tensor::empty(tensor->info->shape, ElementKind::F32);
  if (llvm::Error error =
          convertToFloat(tensor->info->dtype, tensor->bytes(), value.floats()))
    return std::move(error);
  if (caching)
    cache[key] = value;
  return value;
}

void WeightStore::set(llvm::StringRef name, Tensor value) {
  overrides[name] = std::move(value);
}

size_t WeightStore::cachedBytes() const {
  size_t total = 0;
  for (const auto &entry : cache)
    total += entry.getValue().byteSize();
  return total;
}
