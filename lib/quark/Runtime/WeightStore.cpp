//===- WeightStore.cpp - Model weights for the executor -------------------===//

#include "quark/Runtime/WeightStore.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir::quark;

llvm::Expected<SafetensorsCheckpoint *>
WeightStore::open(llvm::StringRef file) {
  auto it = files.find(file);
  if (it != files.end())
    return it->second.get();
  llvm::SmallString<256> path;
  if (llvm::sys::path::is_absolute(file)) {
    path = file;
  } else {
    path = modelDir;
    if (!file.empty())
      llvm::sys::path::append(path, file);
  }
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

llvm::Expected<Tensor> WeightStore::getCodes(llvm::StringRef name,
                                             llvm::StringRef file) {
  llvm::Expected<SafetensorsCheckpoint *> source = open(file);
  if (!source)
    return source.takeError();
  std::optional<TensorRef> tensor = (*source)->find(name);
  if (!tensor)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "no tensor '" + name + "' in " +
            (file.empty() ? llvm::Twine(modelDir) : llvm::Twine(file)));
  llvm::ArrayRef<uint8_t> bytes = tensor->bytes();
  Tensor codes = Tensor::empty(tensor->info->shape, ElementKind::I32);
  int32_t *out = codes.i32();
  int64_t count = tensor->info->numElements();
  switch (tensor->info->dtype) {
  case TensorDType::I8:
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<int8_t>(bytes[i]);
    break;
  case TensorDType::U8:
  case TensorDType::BOOL:
  case TensorDType::F8_E4M3:
  case TensorDType::F8_E5M2:
    for (int64_t i = 0; i < count; ++i)
      out[i] = bytes[i];
    break;
  case TensorDType::I16:
    for (int64_t i = 0; i < count; ++i)
      out[i] = static_cast<int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    break;
  case TensorDType::I32:
    std::memcpy(out, bytes.data(), count * 4);
    break;
  default:
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tensor '" + name + "' (" + tensorDTypeName(tensor->info->dtype) +
            ") does not hold codes (8-, 16- or 32-bit integers or fp8 bits)");
  }
  return codes;
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
