//===- WeightStore.cpp - Model weights for the executor -------------------===//

#include "quark/Runtime/WeightStore.h"

#include "quark/Support/StoredLayout.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <algorithm>

#include <cstring>

using namespace mlir::quark;

llvm::Expected<SafetensorsCheckpoint *>
WeightStore::open(llvm::StringRef file) {
  std::lock_guard<std::mutex> lock(filesMutex);
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

llvm::Expected<TensorRef> WeightStore::locate(llvm::StringRef name,
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
  return *tensor;
}

/// The key of tensor `name` of `file` in the cache and the overrides.
static std::string keyOf(llvm::StringRef name, llvm::StringRef file) {
  return (file + "\n" + name).str();
}

llvm::Expected<llvm::SmallVector<int64_t, 4>>
WeightStore::shapeOf(llvm::StringRef name, llvm::StringRef file) {
  if (auto overridden = overrides.find(keyOf(name, file));
      overridden != overrides.end()) {
    llvm::ArrayRef<int64_t> shape = overridden->second.shape();
    return llvm::SmallVector<int64_t, 4>(shape.begin(), shape.end());
  }
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (!tensor)
    return tensor.takeError();
  return tensor->info->shape;
}

llvm::Error WeightStore::readRows(llvm::StringRef name, llvm::StringRef file,
                                  int64_t begin, int64_t end,
                                  llvm::MutableArrayRef<float> out) {
  auto rowsOf = [&](llvm::ArrayRef<int64_t> shape,
                    int64_t numElements) -> llvm::Expected<int64_t> {
    int64_t rows = shape.empty() ? 1 : shape.front();
    int64_t rowElements = rows == 0 ? 0 : numElements / rows;
    if (begin < 0 || end > rows || begin > end ||
        static_cast<int64_t>(out.size()) != (end - begin) * rowElements)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::formatv("rows [{0}, {1}) of '{2}' do not fit its {3} rows or "
                        "a buffer of {4} elements",
                        begin, end, name, rows, out.size()));
    return rowElements;
  };
  if (auto overridden = overrides.find(keyOf(name, file));
      overridden != overrides.end()) {
    const Tensor &value = overridden->second;
    llvm::Expected<int64_t> rowElements =
        rowsOf(value.shape(), value.numElements());
    if (!rowElements)
      return rowElements.takeError();
    std::copy_n(value.floats().begin() + begin * *rowElements, out.size(),
                out.begin());
    return llvm::Error::success();
  }
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (!tensor)
    return tensor.takeError();
  llvm::Expected<int64_t> rowElements =
      rowsOf(tensor->info->shape, tensor->info->numElements());
  if (!rowElements)
    return rowElements.takeError();
  size_t elementSize = tensorDTypeSize(tensor->info->dtype);
  return convertToFloat(
      tensor->info->dtype,
      tensor->bytes().slice(begin * *rowElements * elementSize,
                            out.size() * elementSize),
      out);
}

void WeightStore::release(llvm::StringRef name, llvm::StringRef file) {
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (tensor)
    tensor->releasePages();
  else
    llvm::consumeError(tensor.takeError());
}

llvm::Expected<Tensor> WeightStore::get(llvm::StringRef name,
                                        llvm::StringRef file) {
  std::string key = keyOf(name, file);
  if (auto overridden = overrides.find(key); overridden != overrides.end())
    return overridden->second;
  auto cached = cache.find(key);
  if (cached != cache.end())
    return cached->second;
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (!tensor)
    return tensor.takeError();
  Tensor value = Tensor::empty(tensor->info->shape, ElementKind::F32);
  if (llvm::Error error =
          convertToFloat(tensor->info->dtype, tensor->bytes(), value.floats()))
    return std::move(error);
  if (caching)
    cache[key] = value;
  else
    tensor->releasePages();
  return value;
}

llvm::Expected<Tensor> WeightStore::getStored(llvm::StringRef name,
                                              llvm::StringRef file,
                                              llvm::StringRef layoutText,
                                              llvm::ArrayRef<int64_t> shape,
                                              bool codes) {
  llvm::Expected<StoredLayout> layout = StoredLayout::parse(layoutText);
  if (!layout)
    return layout.takeError();
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (!tensor)
    return tensor.takeError();
  auto named = [&](llvm::Error error) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tensor '" + name.str() + "': " + llvm::toString(std::move(error)));
  };
  Tensor value;
  if (codes) {
    llvm::Expected<std::vector<int32_t>> decoded =
        decodeStoredCodes(*layout, tensor->info->dtype, tensor->info->shape,
                          shape, tensor->bytes());
    if (!decoded)
      return named(decoded.takeError());
    value = Tensor::fromInts(shape, *decoded);
  } else {
    llvm::Expected<std::vector<float>> decoded =
        decodeStoredFloats(*layout, tensor->info->dtype, tensor->info->shape,
                           shape, tensor->bytes());
    if (!decoded)
      return named(decoded.takeError());
    value = Tensor::fromFloats(shape, *decoded);
  }
  if (!caching)
    tensor->releasePages();
  return value;
}

llvm::Expected<Tensor> WeightStore::getCodes(llvm::StringRef name,
                                             llvm::StringRef file) {
  llvm::Expected<TensorRef> tensor = locate(name, file);
  if (!tensor)
    return tensor.takeError();
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
  if (!caching)
    tensor->releasePages();
  return codes;
}

void WeightStore::set(llvm::StringRef name, Tensor value,
                      llvm::StringRef file) {
  overrides[keyOf(name, file)] = std::move(value);
}

void WeightStore::unset(llvm::StringRef name, llvm::StringRef file) {
  overrides.erase(keyOf(name, file));
}

size_t WeightStore::cachedBytes() const {
  size_t total = 0;
  for (const auto &entry : cache)
    total += entry.getValue().byteSize();
  return total;
}
