//===- Gguf.cpp - GGUF (llama.cpp) files: reading -------------------------===//

#include "quark/Support/Gguf.h"

#include "quark/Support/ReadFile.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"

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
