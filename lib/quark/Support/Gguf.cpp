//===- Gguf.cpp - GGUF (llama.cpp) files: reading and writing -------------===//

#include "quark/Support/Gguf.h"

#include "quark/Support/AtomicFile.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/ReadFile.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir::quark;

std::optional<int64_t> GgufValue::asInt() const {
  if (const auto *i = std::get_if<int64_t>(&value))
    return *i;
  if (const auto *u = std::get_if<uint64_t>(&value))
    return static_cast<int64_t>(*u);
  return std::nullopt;
}

std::optional<double> GgufValue::asFloat() const {
  if (const auto *d = std::get_if<double>(&value))
    return *d;
  if (std::optional<int64_t> i = asInt())
    return static_cast<double>(*i);
  return std::nullopt;
}

const std::string *GgufValue::asString() const {
  return std::get_if<std::string>(&value);
}

const std::vector<GgufValue> *GgufValue::asArray() const {
  return std::get_if<std::vector<GgufValue>>(&value);
}

GgufValue GgufValue::string(std::string text) {
  return {GgufType::String, std::move(text)};
}
GgufValue GgufValue::uint32(uint32_t v) {
  return {GgufType::UInt32, static_cast<uint64_t>(v)};
}
GgufValue GgufValue::int32(int32_t v) {
  return {GgufType::Int32, static_cast<int64_t>(v)};
}
GgufValue GgufValue::float32(float v) {
  return {GgufType::Float32, static_cast<double>(v)};
}
GgufValue GgufValue::boolean(bool v) {
  return {GgufType::Bool, static_cast<int64_t>(v)};
}
GgufValue GgufValue::array(GgufType elementType, std::vector<GgufValue> items) {
  GgufValue value{GgufType::Array, std::move(items)};
  value.elementType = elementType;
  return value;
}

namespace {
/// Bounds-checked little-endian cursor over the file.
class Cursor {
public:
  Cursor(llvm::StringRef bytes, llvm::StringRef name)
      : bytes(bytes), name(name) {}

  bool failed() const { return !problem.empty(); }
  llvm::Error error() const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": " + problem);
  }
  void fail(const llvm::Twine &message) {
    if (problem.empty())
      problem = llvm::formatv("{0} (at byte {1})", message.str(), pos).str();
  }
  uint64_t position() const { return pos; }

  bool need(uint64_t count, llvm::StringRef what) {
    if (failed())
      return false;
    if (count > bytes.size() - pos) {
      fail(llvm::Twine("truncated file: ") + what + " runs past the end");
      return false;
    }
    return true;
  }
  template <typename T> T read(llvm::StringRef what) {
    if (!need(sizeof(T), what))
      return T();
    T value = llvm::support::endian::read<T, llvm::endianness::little>(
        bytes.data() + pos);
    pos += sizeof(T);
    return value;
  }
  std::string readString(llvm::StringRef what) {
    uint64_t length = read<uint64_t>(what);
    if (!need(length, what))
      return {};
    std::string text = bytes.substr(pos, length).str();
    pos += length;
    return text;
  }
  void seek(uint64_t to) { pos = to; }

private:
  llvm::StringRef bytes;
  llvm::StringRef name;
  uint64_t pos = 0;
  std::string problem;
};

bool readValue(Cursor &in, GgufType type, GgufValue &out, int depth) {
  // The type comes from the file: reject values outside the enumeration
  // before switching over it.
  if (static_cast<uint32_t>(type) > static_cast<uint32_t>(GgufType::Float64)) {
    in.fail(
        llvm::formatv("unknown value type {0}", static_cast<uint32_t>(type)));
    return false;
  }
  out.type = type;
  switch (type) {
  case GgufType::UInt8:
    out.value = static_cast<uint64_t>(in.read<uint8_t>("a u8"));
    break;
  case GgufType::Int8:
    out.value = static_cast<int64_t>(in.read<int8_t>("an i8"));
    break;
  case GgufType::UInt16:
    out.value = static_cast<uint64_t>(in.read<uint16_t>("a u16"));
    break;
  case GgufType::Int16:
    out.value = static_cast<int64_t>(in.read<int16_t>("an i16"));
    break;
  case GgufType::UInt32:
    out.value = static_cast<uint64_t>(in.read<uint32_t>("a u32"));
    break;
  case GgufType::Int32:
    out.value = static_cast<int64_t>(in.read<int32_t>("an i32"));
    break;
  case GgufType::UInt64:
    out.value = in.read<uint64_t>("a u64");
    break;
  case GgufType::Int64:
    out.value = in.read<int64_t>("an i64");
    break;
  case GgufType::Float32: {
    uint32_t bits = in.read<uint32_t>("an f32");
    float f;
    std::memcpy(&f, &bits, 4);
    out.value = static_cast<double>(f);
    break;
  }
  case GgufType::Float64: {
    uint64_t bits = in.read<uint64_t>("an f64");
    double d;
    std::memcpy(&d, &bits, 8);
    out.value = d;
    break;
  }
  case GgufType::Bool:
    out.value = static_cast<int64_t>(in.read<uint8_t>("a bool") != 0);
    break;
  case GgufType::String:
    out.value = in.readString("a string");
    break;
  case GgufType::Array: {
    if (depth > 4) {
      in.fail("arrays nested too deeply");
      return false;
    }
    auto elementType = static_cast<GgufType>(in.read<uint32_t>("array type"));
    uint64_t count = in.read<uint64_t>("array length");
    if (in.failed())
      return false;
    // Every element takes at least one byte: a count beyond the file is
    // corrupt, and must not drive an allocation.
    if (!in.need(count, "array elements"))
      return false;
    std::vector<GgufValue> elements(count);
    for (GgufValue &element : elements)
      if (!readValue(in, elementType, element, depth + 1))
        return false;
    out.elementType = elementType;
    out.value = std::move(elements);
    break;
  }
  }
  return !in.failed();
}
} // namespace

llvm::Expected<std::unique_ptr<GgufFile>>
GgufFile::parse(llvm::StringRef bytes, llvm::StringRef name) {
  auto file = std::make_unique<GgufFile>();
  Cursor in(bytes, name);
  if (bytes.size() < 4 || !bytes.starts_with("GGUF"))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": not a GGUF file (bad magic)");
  in.seek(4);
  file->formatVersion = in.read<uint32_t>("the version");
  if (!in.failed() && (file->formatVersion < 2 || file->formatVersion > 3))
    in.fail(llvm::formatv("unsupported GGUF version {0}", file->formatVersion));
  uint64_t tensorCount = in.read<uint64_t>("the tensor count");
  uint64_t keyCount = in.read<uint64_t>("the metadata count");
  if (in.failed())
    return in.error();
  for (uint64_t i = 0; i < keyCount && !in.failed(); ++i) {
    std::string key = in.readString("a metadata key");
    auto type = static_cast<GgufType>(in.read<uint32_t>("a value type"));
    GgufValue value;
    if (!readValue(in, type, value, 0))
      break;
    if (file->metadata.count(key)) {
      in.fail("duplicate metadata key '" + key + "'");
      break;
    }
    file->keyOrder.push_back(key);
    file->metadata[key] = std::move(value);
  }
  if (!in.failed() && !in.need(tensorCount, "tensor infos"))
    return in.error();
  for (uint64_t i = 0; i < tensorCount && !in.failed(); ++i) {
    GgufTensorInfo info;
    info.name = in.readString("a tensor name");
    uint32_t dims = in.read<uint32_t>("a tensor rank");
    if (dims > 8) {
      in.fail(
          llvm::formatv("tensor '{0}' has {1} dimensions", info.name, dims));
      break;
    }
    for (uint32_t d = 0; d < dims; ++d)
      info.dims.push_back(in.read<uint64_t>("a tensor dimension"));
    info.ggmlType = in.read<uint32_t>("a tensor type");
    info.offset = in.read<uint64_t>("a tensor offset");
    file->tensorInfos.push_back(std::move(info));
  }
  if (in.failed())
    return in.error();
  uint64_t alignment = 32;
  if (const GgufValue *value = file->get("general.alignment"))
    if (std::optional<int64_t> a = value->asInt())
      alignment = static_cast<uint64_t>(*a);
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   name + ": general.alignment must be a "
                                          "power of two");
  file->dataStart = (in.position() + alignment - 1) / alignment * alignment;
  return std::move(file);
}

llvm::Expected<std::unique_ptr<GgufFile>> GgufFile::open(llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  llvm::Expected<std::unique_ptr<GgufFile>> file =
      parse((*buffer)->getBuffer(), path);
  if (file)
    (*file)->buffer = std::move(*buffer);
  return file;
}

const GgufValue *GgufFile::get(llvm::StringRef key) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// ggml blocks
//===----------------------------------------------------------------------===//

namespace {
llvm::Error blockError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message.str());
}

void putF16(uint8_t *out, float value) {
  llvm::support::endian::write16le(out, encodeFloat16(value));
}
float getF16(const uint8_t *in) {
  return decodeFloat16(llvm::support::endian::read16le(in));
}

/// Bytes of one block (or one element for float types).
uint64_t blockBytes(GgmlType type) {
  switch (type) {
  case GgmlType::F32:
    return 4;
  case GgmlType::F16:
    return 2;
  case GgmlType::Q4_0:
    return 2 + kGgmlBlockSize / 2;
  case GgmlType::Q4_1:
    return 4 + kGgmlBlockSize / 2;
  case GgmlType::Q8_0:
    return 2 + kGgmlBlockSize;
  }
  return 0;
}

bool isBlockType(GgmlType type) {
  return type != GgmlType::F32 && type != GgmlType::F16;
}
} // namespace

llvm::StringRef mlir::quark::ggmlTypeName(GgmlType type) {
  switch (type) {
  case GgmlType::F32:
    return "F32";
  case GgmlType::F16:
    return "F16";
  case GgmlType::Q4_0:
    return "Q4_0";
  case GgmlType::Q4_1:
    return "Q4_1";
  case GgmlType::Q8_0:
    return "Q8_0";
  }
  return "?";
}

bool mlir::quark::isKnownGgmlType(uint32_t value) {
  switch (static_cast<GgmlType>(value)) {
  case GgmlType::F32:
  case GgmlType::F16:
  case GgmlType::Q4_0:
  case GgmlType::Q4_1:
  case GgmlType::Q8_0:
    return true;
  }
  return false;
}

uint64_t mlir::quark::ggmlByteSize(GgmlType type, uint64_t count) {
  if (!isBlockType(type))
    return count * blockBytes(type);
  return count / kGgmlBlockSize * blockBytes(type);
}

llvm::Expected<std::vector<uint8_t>> mlir::quark::encodeGgmlBlocks(
    GgmlType type, llvm::ArrayRef<int32_t> codes, llvm::ArrayRef<float> scales,
    llvm::ArrayRef<int32_t> zeroPoints, int32_t codeMin) {
  if (!isBlockType(type))
    return blockError("encodeGgmlBlocks: " + ggmlTypeName(type) +
                      " is not a block type");
  uint64_t blocks = codes.size() / kGgmlBlockSize;
  if (codes.size() % kGgmlBlockSize != 0 || scales.size() != blocks ||
      (!zeroPoints.empty() && zeroPoints.size() != blocks))
    return blockError(llvm::formatv(
        "{0}: {1} codes need {2} scales (and zero points), one per block of "
        "{3}; got {4} and {5}",
        ggmlTypeName(type), codes.size(), blocks, kGgmlBlockSize, scales.size(),
        zeroPoints.size()));
  // Range of the codes the format holds, after the shift it applies.
  int32_t low = -128, high = 127;
  if (type == GgmlType::Q4_0)
    low = -8, high = 7;
  else if (type == GgmlType::Q4_1)
    low = codeMin, high = codeMin + 15;
  std::vector<uint8_t> out(blocks * blockBytes(type));
  for (uint64_t b = 0; b < blocks; ++b) {
    const int32_t *block = codes.data() + b * kGgmlBlockSize;
    int32_t zero = zeroPoints.empty() ? 0 : zeroPoints[b];
    if (type != GgmlType::Q4_1 && zero != 0)
      return blockError(llvm::formatv(
          "{0} block {1} has zero point {2}; the format is symmetric",
          ggmlTypeName(type), b, zero));
    for (int64_t j = 0; j < kGgmlBlockSize; ++j)
      if (block[j] < low || block[j] > high)
        return blockError(
            llvm::formatv("{0} block {1} holds code {2}, outside [{3}, {4}]",
                          ggmlTypeName(type), b, block[j], low, high));
    uint8_t *dst = out.data() + b * blockBytes(type);
    putF16(dst, scales[b]);
    switch (type) {
    case GgmlType::Q8_0:
      for (int64_t j = 0; j < kGgmlBlockSize; ++j)
        dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(block[j]));
      break;
    case GgmlType::Q4_0:
    case GgmlType::Q4_1: {
      int32_t shift = type == GgmlType::Q4_0 ? 8 : -codeMin;
      uint8_t *nibbles = dst + 2;
      if (type == GgmlType::Q4_1) {
        putF16(dst + 2, static_cast<float>(codeMin - zero) * scales[b]);
        nibbles = dst + 4;
      }
      constexpr int64_t half = kGgmlBlockSize / 2;
      for (int64_t j = 0; j < half; ++j)
        nibbles[j] = static_cast<uint8_t>((block[j] + shift) |
                                          ((block[j + half] + shift) << 4));
      break;
    }
    default:
      break;
    }
  }
  return out;
}

std::vector<uint8_t>
mlir::quark::encodeGgmlFloats(GgmlType type, llvm::ArrayRef<float> values) {
  std::vector<uint8_t> out(values.size() * (type == GgmlType::F16 ? 2 : 4));
  if (type == GgmlType::F16) {
    for (size_t i = 0; i < values.size(); ++i)
      putF16(out.data() + 2 * i, values[i]);
  } else {
    std::memcpy(out.data(), values.data(), out.size());
  }
  return out;
}

llvm::Expected<std::vector<float>>
mlir::quark::decodeGgmlTensor(GgmlType type, llvm::ArrayRef<uint8_t> bytes,
                              uint64_t count) {
  if ((isBlockType(type) && count % kGgmlBlockSize != 0) ||
      bytes.size() != ggmlByteSize(type, count))
    return blockError(llvm::formatv("{0}: {1} elements do not fit {2} bytes",
                                    ggmlTypeName(type), count, bytes.size()));
  std::vector<float> out(count);
  if (type == GgmlType::F32) {
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
  if (type == GgmlType::F16) {
    for (uint64_t i = 0; i < count; ++i)
      out[i] = getF16(bytes.data() + 2 * i);
    return out;
  }
  constexpr int64_t half = kGgmlBlockSize / 2;
  for (uint64_t b = 0; b < count / kGgmlBlockSize; ++b) {
    const uint8_t *src = bytes.data() + b * blockBytes(type);
    float *dst = out.data() + b * kGgmlBlockSize;
    float d = getF16(src);
    if (type == GgmlType::Q8_0) {
      for (int64_t j = 0; j < kGgmlBlockSize; ++j)
        dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
    } else if (type == GgmlType::Q4_0) {
      for (int64_t j = 0; j < half; ++j) {
        dst[j] = static_cast<float>((src[2 + j] & 0xF) - 8) * d;
        dst[j + half] = static_cast<float>((src[2 + j] >> 4) - 8) * d;
      }
    } else {
      float m = getF16(src + 2);
      for (int64_t j = 0; j < half; ++j) {
        dst[j] = static_cast<float>(src[4 + j] & 0xF) * d + m;
        dst[j + half] = static_cast<float>(src[4 + j] >> 4) * d + m;
      }
    }
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {
constexpr uint64_t kGgufAlignment = 32;

uint64_t alignUp(uint64_t value) {
  return (value + kGgufAlignment - 1) / kGgufAlignment * kGgufAlignment;
}

class ByteSink {
public:
  explicit ByteSink(llvm::raw_ostream &os) : os(os) {}
  template <typename T> void put(T value) {
    char bytes[sizeof(T)];
    llvm::support::endian::write<T, llvm::endianness::little>(bytes, value);
    os.write(bytes, sizeof(T));
    written += sizeof(T);
  }
  void putString(llvm::StringRef text) {
    put<uint64_t>(text.size());
    os << text;
    written += text.size();
  }
  void putBytes(llvm::ArrayRef<uint8_t> bytes) {
    os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    written += bytes.size();
  }
  void padTo(uint64_t alignedPosition) {
    while (written < alignedPosition) {
      os << '\0';
      ++written;
    }
  }
  uint64_t position() const { return written; }

private:
  llvm::raw_ostream &os;
  uint64_t written = 0;
};

void putScalar(ByteSink &out, const GgufValue &value) {
  switch (value.type) {
  case GgufType::UInt8:
    out.put<uint8_t>(static_cast<uint8_t>(*value.asInt()));
    break;
  case GgufType::Int8:
    out.put<int8_t>(static_cast<int8_t>(*value.asInt()));
    break;
  case GgufType::UInt16:
    out.put<uint16_t>(static_cast<uint16_t>(*value.asInt()));
    break;
  case GgufType::Int16:
    out.put<int16_t>(static_cast<int16_t>(*value.asInt()));
    break;
  case GgufType::UInt32:
    out.put<uint32_t>(static_cast<uint32_t>(*value.asInt()));
    break;
  case GgufType::Int32:
    out.put<int32_t>(static_cast<int32_t>(*value.asInt()));
    break;
  case GgufType::UInt64:
    out.put<uint64_t>(static_cast<uint64_t>(*value.asInt()));
    break;
  case GgufType::Int64:
    out.put<int64_t>(*value.asInt());
    break;
  case GgufType::Bool:
    out.put<uint8_t>(*value.asInt() != 0);
    break;
  case GgufType::Float32: {
    float f = static_cast<float>(*value.asFloat());
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    out.put<uint32_t>(bits);
    break;
  }
  case GgufType::Float64: {
    double d = *value.asFloat();
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    out.put<uint64_t>(bits);
    break;
  }
  case GgufType::String:
    out.putString(*value.asString());
    break;
  case GgufType::Array: {
    const std::vector<GgufValue> &items = *value.asArray();
    out.put<uint32_t>(static_cast<uint32_t>(value.elementType));
    out.put<uint64_t>(items.size());
    for (const GgufValue &item : items)
      putScalar(out, item);
    break;
  }
  }
}
} // namespace

void GgufWriter::set(llvm::StringRef key, GgufValue value) {
  for (auto &[name, existing] : metadata)
    if (name == key) {
      existing = std::move(value);
      return;
    }
  metadata.emplace_back(key.str(), std::move(value));
}

void GgufWriter::addTensor(std::string name, std::vector<uint64_t> dims,
                           GgmlType type, Producer produce) {
  tensors.push_back(
      {std::move(name), std::move(dims), type, std::move(produce)});
}

llvm::Error GgufWriter::write(llvm::StringRef path) const {
  llvm::Expected<std::unique_ptr<AtomicFile>> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  if (llvm::Error error = write((*file)->os()))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " +
                                       llvm::toString(std::move(error)));
  return (*file)->commit();
}

llvm::Error GgufWriter::write(llvm::raw_ostream &os) const {
  ByteSink out(os);
  out.put<uint32_t>(0x46554747); // "GGUF"
  out.put<uint32_t>(3);
  out.put<uint64_t>(tensors.size());
  out.put<uint64_t>(metadata.size() + 1);
  out.putString("general.alignment");
  out.put<uint32_t>(static_cast<uint32_t>(GgufType::UInt32));
  out.put<uint32_t>(kGgufAlignment);
  for (const auto &[key, value] : metadata) {
    out.putString(key);
    out.put<uint32_t>(static_cast<uint32_t>(value.type));
    putScalar(out, value);
  }
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const PendingTensor &tensor : tensors) {
    uint64_t count = 1;
    for (uint64_t dim : tensor.dims)
      count *= dim;
    if (isBlockType(tensor.type) &&
        (tensor.dims.empty() || tensor.dims[0] % kGgmlBlockSize != 0))
      return blockError(llvm::formatv(
          "tensor '{0}': rows of {1} elements are not whole {2} blocks",
          tensor.name, tensor.dims.empty() ? 0 : tensor.dims[0],
          ggmlTypeName(tensor.type)));
    sizes.push_back(ggmlByteSize(tensor.type, count));
    out.putString(tensor.name);
    out.put<uint32_t>(static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t dim : tensor.dims)
      out.put<uint64_t>(dim);
    out.put<uint32_t>(static_cast<uint32_t>(tensor.type));
    out.put<uint64_t>(offset);
    offset = alignUp(offset + sizes.back());
  }
  uint64_t dataStart = alignUp(out.position());
  out.padTo(dataStart);
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.padTo(alignUp(out.position()));
    llvm::Expected<std::vector<uint8_t>> bytes = tensors[i].produce();
    if (!bytes)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "tensor '" + tensors[i].name + "': " +
                                         llvm::toString(bytes.takeError()));
    if (bytes->size() != sizes[i])
      return blockError(llvm::formatv(
          "tensor '{0}' produced {1} bytes, its {2} shape needs {3}",
          tensors[i].name, bytes->size(), ggmlTypeName(tensors[i].type),
          sizes[i]));
    out.putBytes(*bytes);
  }
  return llvm::Error::success();
}
