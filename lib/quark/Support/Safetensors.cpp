//===- Safetensors.cpp - Lazy safetensors reader, streaming writer --------===//

#include "quark/Support/Safetensors.h"

#include "quark/Support/Json.h"
#include "quark/Support/ReadFile.h"

#include "quark/Support/AtomicFile.h"
#include "quark/Support/MiniFloat.h"
#include "quark/Support/Parallel.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

using namespace mlir::quark;
namespace json = llvm::json;

namespace {
struct DTypeEntry {
  TensorDType dtype;
  llvm::StringLiteral name;
  size_t size;
  bool isFloat;
};
constexpr DTypeEntry kDTypes[] = {
    {TensorDType::F64, "F64", 8, true},
    {TensorDType::F32, "F32", 4, true},
    {TensorDType::F16, "F16", 2, true},
    {TensorDType::BF16, "BF16", 2, true},
    {TensorDType::F8_E4M3, "F8_E4M3", 1, true},
    {TensorDType::F8_E5M2, "F8_E5M2", 1, true},
    {TensorDType::I64, "I64", 8, false},
    {TensorDType::I32, "I32", 4, false},
    {TensorDType::I16, "I16", 2, false},
    {TensorDType::I8, "I8", 1, false},
    {TensorDType::U64, "U64", 8, false},
    {TensorDType::U32, "U32", 4, false},
    {TensorDType::U16, "U16", 2, false},
    {TensorDType::U8, "U8", 1, false},
    {TensorDType::BOOL, "BOOL", 1, false},
};

const DTypeEntry &entryOf(TensorDType dtype) {
  return kDTypes[static_cast<size_t>(dtype)];
}

// The reference implementation refuses headers over 100 MB.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 path + ": " + message);
}
} // namespace

std::optional<TensorDType> mlir::quark::parseTensorDType(llvm::StringRef name) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.name == name)
      return entry.dtype;
  return std::nullopt;
}

llvm::StringRef mlir::quark::tensorDTypeName(TensorDType dtype) {
  return entryOf(dtype).name;
}

size_t mlir::quark::tensorDTypeSize(TensorDType dtype) {
  return entryOf(dtype).size;
}

bool mlir::quark::isFloatTensorDType(TensorDType dtype) {
  return entryOf(dtype).isFloat;
}

bool mlir::quark::isModelFloatTensorDType(TensorDType dtype) {
  return dtype == TensorDType::BF16 || dtype == TensorDType::F16 ||
         dtype == TensorDType::F32;
}

int64_t TensorInfo::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

/// Parses one tensor entry of the header; offsets are still relative.
static llvm::Error parseEntry(llvm::StringRef path, llvm::StringRef name,
                              const json::Value &value, TensorInfo &tensor) {
  auto bad = [&](const llvm::Twine &what) {
    return fileError(path, "tensor '" + name + "': " + what);
  };
  const json::Object *object = value.getAsObject();
  if (!object)
    return bad("expected an object with dtype, shape and data_offsets");
  std::optional<llvm::StringRef> dtypeName = object->getString("dtype");
  if (!dtypeName)
    return bad("missing string 'dtype'");
  std::optional<TensorDType> dtype = parseTensorDType(*dtypeName);
  if (!dtype)
    return bad("unknown dtype '" + *dtypeName + "'");
  tensor.name = name.str();
  tensor.dtype = *dtype;

  const json::Array *shape = object->getArray("shape");
  if (!shape)
    return bad("missing array 'shape'");
  uint64_t elements = 1;
  for (const json::Value &dim : *shape) {
    std::optional<int64_t> extent = dim.getAsInteger();
    if (!extent || *extent < 0)
      return bad("shape entries must be non-negative integers");
    if (*extent != 0 && elements > UINT64_MAX / static_cast<uint64_t>(*extent))
      return bad("shape is too large");
    elements *= static_cast<uint64_t>(*extent);
    tensor.shape.push_back(*extent);
  }

  const json::Array *offsets = object->getArray("data_offsets");
  if (!offsets || offsets->size() != 2)
    return bad("'data_offsets' must be [begin, end]");
  std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
  std::optional<int64_t> end = (*offsets)[1].getAsInteger();
  if (!begin || !end || *begin < 0 || *end < *begin)
    return bad("'data_offsets' must be integers with 0 <= begin <= end");
  size_t elementSize = tensorDTypeSize(*dtype);
  if (elements > UINT64_MAX / elementSize)
    return bad("shape is too large");
  uint64_t expected = elements * elementSize;
  tensor.offset = static_cast<uint64_t>(*begin);
  tensor.size = static_cast<uint64_t>(*end - *begin);
  if (tensor.size != expected)
    return bad(llvm::formatv("data_offsets span {0} bytes but {1} x {2} "
                             "elements of {3} need {4}",
                             tensor.size, shape->size() ? "shape" : "scalar",
                             elements, *dtypeName, expected));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(llvm::StringRef path) {
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  return fromBuffer(std::move(*buffer), path);
}

llvm::Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                            llvm::StringRef path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->filePath = path.str();
  file->buffer = std::move(buffer);
  llvm::StringRef contents = file->buffer->getBuffer();

  if (contents.size() < 8)
    return fileError(path, llvm::formatv("the file has {0} bytes, too few "
                                         "for the 8-byte header length",
                                         contents.size()));
  uint64_t headerSize = llvm::support::endian::read64le(contents.data());
  if (headerSize > contents.size() - 8)
    return fileError(path, llvm::formatv("header length {0} runs past the end "
                                         "of the file ({1} bytes)",
                                         headerSize, contents.size()));
  if (headerSize > kMaxHeaderSize)
    return fileError(path, llvm::formatv("header length {0} exceeds the "
                                         "{1}-byte limit",
                                         headerSize, kMaxHeaderSize));
  llvm::StringRef header = contents.substr(8, headerSize);
  uint64_t dataStart = 8 + headerSize;
  uint64_t dataSize = contents.size() - dataStart;

  llvm::Expected<json::Value> parsed = parseJson(header);
  if (!parsed)
    return fileError(path, "invalid JSON header: " +
                               llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return fileError(path, "the header must be a JSON object");
  if (std::optional<std::string> duplicate = findDuplicateKey(header))
    return fileError(path, "duplicate tensor name '" + *duplicate + "'");

  for (const auto &[key, value] : *root) {
    if (key == "__metadata__") {
      const json::Object *metadata = value.getAsObject();
      if (!metadata)
        return fileError(path, "'__metadata__' must be an object of strings");
      for (const auto &[metaKey, metaValue] : *metadata) {
        std::optional<llvm::StringRef> text = metaValue.getAsString();
        if (!text)
          return fileError(path, "'__metadata__' entry '" + metaKey.str() +
                                     "' must be a string");
        file->metadataMap[metaKey.str()] = text->str();
      }
      continue;
    }
    TensorInfo tensor;
    if (llvm::Error error = parseEntry(path, key, value, tensor))
      return std::move(error);
    file->entries.push_back(std::move(tensor));
  }

  // Tensors must tile the data section: sorted by offset, each starts where
  // the previous ends, and the last ends at the end of the file.
  llvm::sort(file->entries, [](const TensorInfo &a, const TensorInfo &b) {
    return a.offset != b.offset ? a.offset < b.offset : a.name < b.name;
  });
  uint64_t expectedOffset = 0;
  for (const TensorInfo &tensor : file->entries) {
    if (tensor.offset < expectedOffset)
      return fileError(
          path, llvm::formatv("tensor '{0}' at data offset {1} overlaps "
                              "the previous tensor, which ends at {2}",
                              tensor.name, tensor.offset, expectedOffset));
    if (tensor.offset > expectedOffset)
      return fileError(
          path, llvm::formatv("tensor '{0}' starts at data offset {1}, "
                              "leaving a hole after offset {2}",
                              tensor.name, tensor.offset, expectedOffset));
    if (tensor.offset + tensor.size > dataSize)
      return fileError(
          path,
          llvm::formatv("tensor '{0}' ends at data offset {1}, past "
                        "the end of the data ({2} bytes)",
                        tensor.name, tensor.offset + tensor.size, dataSize));
    expectedOffset = tensor.offset + tensor.size;
  }
  if (expectedOffset != dataSize)
    return fileError(path, llvm::formatv("the data section has {0} bytes but "
                                         "the tensors cover {1}",
                                         dataSize, expectedOffset));
  for (size_t i = 0; i < file->entries.size(); ++i) {
    file->entries[i].offset += dataStart;
    if (!file->byName.try_emplace(file->entries[i].name, i).second)
      return fileError(path,
                       "duplicate tensor name '" + file->entries[i].name + "'");
  }
  return std::move(file);
}

const TensorInfo *SafetensorsFile::find(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &entries[it->second];
}

llvm::ArrayRef<uint8_t> SafetensorsFile::bytes(const TensorInfo &tensor) const {
  return {reinterpret_cast<const uint8_t *>(buffer->getBufferStart()) +
              tensor.offset,
          static_cast<size_t>(tensor.size)};
}

/// madvise over the pages of `bytes` (a mapping): the whole pages inside
/// it, or every page it touches.
static void adviseMappedPages(llvm::ArrayRef<uint8_t> bytes, int advice,
                              bool wholePagesOnly) {
  static const uintptr_t pageSize =
      static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  uintptr_t end = begin + bytes.size();
  uintptr_t first = wholePagesOnly ? (begin + pageSize - 1) & ~(pageSize - 1)
                                   : begin & ~(pageSize - 1);
  uintptr_t last = wholePagesOnly ? end & ~(pageSize - 1) : end;
  if (first < last)
    madvise(reinterpret_cast<void *>(first), last - first, advice);
}

void SafetensorsFile::releasePages(const TensorInfo &tensor) const {
  // Only a mapping may be dropped: MADV_DONTNEED on heap memory would zero
  // it, so neither a file read into memory nor a page shared with another
  // tensor.
  if (buffer->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap)
    adviseMappedPages(bytes(tensor), MADV_DONTNEED, /*wholePagesOnly=*/true);
}

void SafetensorsFile::prefetchPages(const TensorInfo &tensor) const {
  if (buffer->getBufferKind() == llvm::MemoryBuffer::MemoryBuffer_MMap)
    adviseMappedPages(bytes(tensor), MADV_WILLNEED, /*wholePagesOnly=*/false);
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

static llvm::Error
addShard(SafetensorsCheckpoint &checkpoint,
         std::vector<std::unique_ptr<SafetensorsFile>> &shards,
         llvm::StringMap<TensorRef> &byName,
         std::unique_ptr<SafetensorsFile> shard) {
  for (const TensorInfo &tensor : shard->tensors()) {
    auto [it, inserted] =
        byName.try_emplace(tensor.name, TensorRef{shard.get(), &tensor});
    if (!inserted)
      return fileError(shard->path(), "tensor '" + tensor.name +
                                          "' is also in " +
                                          it->second.file->path());
  }
  shards.push_back(std::move(shard));
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>>
SafetensorsCheckpoint::open(llvm::StringRef path) {
  auto checkpoint = std::make_unique<SafetensorsCheckpoint>();
  std::string indexPath;
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> index(path), single(path);
    llvm::sys::path::append(index, "model.safetensors.index.json");
    llvm::sys::path::append(single, "model.safetensors");
    if (llvm::sys::fs::exists(index)) {
      indexPath = index.str().str();
    } else if (llvm::sys::fs::exists(single)) {
      return open(single);
    } else {
      return fileError(path, "no model.safetensors or "
                             "model.safetensors.index.json in this folder");
    }
  } else if (path.ends_with(".json")) {
    indexPath = path.str();
  } else {
    llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(path);
    if (!file)
      return file.takeError();
    if (llvm::Error error = addShard(*checkpoint, checkpoint->shards,
                                     checkpoint->byName, std::move(*file)))
      return std::move(error);
    return std::move(checkpoint);
  }

  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> indexBuffer =
      readFile(indexPath);
  if (!indexBuffer)
    return indexBuffer.takeError();
  llvm::Expected<json::Value> index = parseJson((*indexBuffer)->getBuffer());
  if (!index)
    return fileError(indexPath,
                     "invalid JSON: " + llvm::toString(index.takeError()));
  const json::Object *root = index->getAsObject();
  const json::Object *weightMap =
      root ? root->getObject("weight_map") : nullptr;
  if (!weightMap)
    return fileError(indexPath, "expected an object with a 'weight_map'");

  llvm::StringRef folder = llvm::sys::path::parent_path(indexPath);
  std::map<std::string, std::vector<std::string>> tensorsByShard;
  for (const auto &[name, shardValue] : *weightMap) {
    std::optional<llvm::StringRef> shard = shardValue.getAsString();
    if (!shard)
      return fileError(indexPath, "weight_map entry '" + name.str() +
                                      "' must be a file name");
    if (shard->contains('/') || shard->contains('\\') || *shard == ".." ||
        *shard == "." || shard->empty())
      return fileError(indexPath, "weight_map entry '" + name.str() +
                                      "' names '" + *shard +
                                      "', not a file in the checkpoint folder");
    tensorsByShard[shard->str()].push_back(name.str());
  }
  for (const auto &[shardName, names] : tensorsByShard) {
    llvm::SmallString<256> shardPath(folder);
    llvm::sys::path::append(shardPath, shardName);
    if (!llvm::sys::fs::exists(shardPath))
      return fileError(indexPath, "shard '" + shardName + "' (holding '" +
                                      names.front() + "') is missing");
    llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
        SafetensorsFile::open(shardPath);
    if (!file)
      return file.takeError();
    for (const std::string &name : names)
      if (!(*file)->find(name))
        return fileError(shardPath, "the index places tensor '" + name +
                                        "' here, but the shard does not "
                                        "hold it");
    if (llvm::Error error = addShard(*checkpoint, checkpoint->shards,
                                     checkpoint->byName, std::move(*file)))
      return std::move(error);
  }
  return std::move(checkpoint);
}

std::optional<TensorRef>
SafetensorsCheckpoint::find(llvm::StringRef name) const {
  auto it = byName.find(name);
  if (it == byName.end())
    return std::nullopt;
  return it->second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> result;
  for (const auto &entry : byName)
    result.push_back(entry.getKey().str());
  llvm::sort(result);
  return result;
}

uint64_t SafetensorsCheckpoint::totalBytes() const {
  uint64_t total = 0;
  for (const auto &shard : shards)
    for (const TensorInfo &tensor : shard->tensors())
      total += tensor.size;
  return total;
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

/// fp16 -> fp32 through a table: the executor widens whole weight matrices.
static const float *float16Table() {
  static const std::vector<float> table = [] {
    std::vector<float> values(65536);
    for (uint32_t bits = 0; bits < 65536; ++bits)
      values[bits] = decodeFloat16(static_cast<uint16_t>(bits));
    return values;
  }();
  return table.data();
}

template <typename T>
static void widen(llvm::ArrayRef<uint8_t> bytes,
                  llvm::MutableArrayRef<float> out) {
  for (size_t i = 0; i < out.size(); ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(value);
  }
}

/// bf16 -> fp32: the bf16 bits are the top half of the float's.
QUARK_VECTORIZED static void widenBFloat16(const uint8_t *bytes, size_t count,
                                           float *out) {
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = (static_cast<uint32_t>(bytes[2 * i + 1]) << 24) |
                    (static_cast<uint32_t>(bytes[2 * i]) << 16);
    std::memcpy(&out[i], &bits, sizeof(float));
  }
}

/// Converts a range of whole elements (sizes already checked).
static void convertRange(TensorDType dtype, llvm::ArrayRef<uint8_t> bytes,
                         llvm::MutableArrayRef<float> out) {
  switch (dtype) {
  case TensorDType::F32:
    std::memcpy(out.data(), bytes.data(), bytes.size());
    break;
  case TensorDType::BF16:
    widenBFloat16(bytes.data(), out.size(), out.data());
    break;
  case TensorDType::F16: {
    const float *table = float16Table();
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    break;
  }
  case TensorDType::F64:
    widen<double>(bytes, out);
    break;
  case TensorDType::F8_E4M3:
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = decodeMiniFloat(kFloat8E4M3FN, bytes[i]);
    break;
  case TensorDType::F8_E5M2:
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = decodeMiniFloat(kFloat8E5M2, bytes[i]);
    break;
  case TensorDType::I64:
    widen<int64_t>(bytes, out);
    break;
  case TensorDType::I32:
    widen<int32_t>(bytes, out);
    break;
  case TensorDType::I16:
    widen<int16_t>(bytes, out);
    break;
  case TensorDType::I8:
    widen<int8_t>(bytes, out);
    break;
  case TensorDType::U64:
    widen<uint64_t>(bytes, out);
    break;
  case TensorDType::U32:
    widen<uint32_t>(bytes, out);
    break;
  case TensorDType::U16:
    widen<uint16_t>(bytes, out);
    break;
  case TensorDType::U8:
  case TensorDType::BOOL:
    widen<uint8_t>(bytes, out);
    break;
  }
}

llvm::Error mlir::quark::convertToFloat(TensorDType dtype,
                                        llvm::ArrayRef<uint8_t> bytes,
                                        llvm::MutableArrayRef<float> out) {
  if (bytes.size() != out.size() * tensorDTypeSize(dtype))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0} bytes do not hold {1} {2} elements", bytes.size(),
                      out.size(), tensorDTypeName(dtype)));
  // An empty tensor may have null data; memcpy must not see it.
  if (out.empty())
    return llvm::Error::success();
  // Large tensors (whole weight matrices) convert on all threads.
  size_t elementSize = tensorDTypeSize(dtype);
  parallelChunks(static_cast<int64_t>(out.size()), int64_t{1} << 18,
                 [&](int64_t begin, int64_t end) {
                   convertRange(dtype,
                                bytes.slice(begin * elementSize,
                                            (end - begin) * elementSize),
                                out.slice(begin, end - begin));
                 });
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
mlir::quark::readTensorAsFloat(const TensorRef &tensor) {
  std::vector<float> values(static_cast<size_t>(tensor.info->numElements()));
  if (llvm::Error error =
          convertToFloat(tensor.info->dtype, tensor.bytes(), values))
    return std::move(error);
  return values;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// One thread writing the queued buffers to the file in order, bypassing
/// the page cache (O_DIRECT) where the file system allows it: multi-GB
/// outputs then cost no kernel copy, are not throttled as dirty pages, and
/// do not evict the checkpoint being read. Direct I/O needs aligned blocks,
/// so bytes gather in an aligned staging buffer; the last block is padded
/// and the file truncated to its true length.
class SafetensorsWriter::BackgroundSink {
public:
  BackgroundSink(int fd, std::string path) : fd(fd), path(std::move(path)) {
    void *memory = nullptr;
    if (posix_memalign(&memory, kBlock, kStageBytes) != 0)
      memory = nullptr;
    stage.reset(static_cast<uint8_t *>(memory));
    int flags = fcntl(fd, F_GETFL);
    direct = stage && flags != -1 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
    thread = std::thread([this] { run(); });
  }
  ~BackgroundSink() { llvm::consumeError(drain()); }

  void push(std::vector<uint8_t> &&bytes) {
    std::unique_lock<std::mutex> lock(mutex);
    // One buffer larger than the limit still goes through, alone.
    spaceFree.wait(lock, [&] {
      return queuedBytes == 0 || queuedBytes + bytes.size() <= kMaxQueuedBytes;
    });
    queuedBytes += bytes.size();
    queue.push_back({std::move(bytes), {}});
    ++pushed;
    work.notify_one();
  }

  /// Queues bytes the caller owns and returns once they are consumed: no
  /// buffer of their size is allocated and filled first.
  void pushAndWait(llvm::ArrayRef<uint8_t> bytes) {
    std::unique_lock<std::mutex> lock(mutex);
    queue.push_back({{}, bytes});
    uint64_t ticket = ++pushed;
    work.notify_one();
    spaceFree.wait(lock, [&] { return consumed >= ticket; });
  }

  /// Writes everything queued, stops the thread and sets the file's length;
  /// the first write error, if any.
  llvm::Error drain() {
    // Once only: after the first drain the file may be committed and its
    // descriptor closed, and the number reused by another file.
    if (drained)
      return llvm::Error::success();
    drained = true;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      work.notify_one();
    }
    if (thread.joinable())
      thread.join();
    if (!failure && staged > 0) {
      size_t padded = direct ? (staged + kBlock - 1) / kBlock * kBlock : staged;
      std::memset(stage.get() + staged, 0, padded - staged);
      writeStage(padded);
      staged = 0;
    }
    if (!failure && ::ftruncate(fd, static_cast<off_t>(length)) != 0)
      failure = std::error_code(errno, std::generic_category());
    if (failure)
      return llvm::createStringError(*failure, "cannot write '" + path +
                                                   "': " + failure->message());
    return llvm::Error::success();
  }

private:
  static constexpr size_t kBlock = 4096;
  static constexpr size_t kStageBytes = size_t{8} << 20;

  void run() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty())
        return;
      Piece piece = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      consume(piece.owned.empty() ? piece.borrowed
                                  : llvm::ArrayRef<uint8_t>(piece.owned));
      lock.lock();
      queuedBytes -= piece.owned.size();
      ++consumed;
      spaceFree.notify_all();
    }
  }

  void consume(llvm::ArrayRef<uint8_t> bytes) {
    length += bytes.size();
    while (!bytes.empty() && !failure) {
      size_t take = std::min(kStageBytes - staged, bytes.size());
      std::memcpy(stage.get() + staged, bytes.data(), take);
      staged += take;
      bytes = bytes.drop_front(take);
      if (staged == kStageBytes) {
        writeStage(kStageBytes);
        staged = 0;
      }
    }
  }

  /// Writes the first `size` staged bytes at the file's end.
  void writeStage(size_t size) {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pwrite(fd, stage.get() + done, size - done,
                           static_cast<off_t>(written + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EINVAL && direct) {
        // The file system refused direct I/O after all: write through the
        // page cache from here on.
        direct = false;
        int flags = fcntl(fd, F_GETFL);
        if (flags != -1 && fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0)
          continue;
      }
      if (n <= 0) {
        failure = std::error_code(n < 0 ? errno : EIO, std::generic_category());
        return;
      }
      done += static_cast<size_t>(n);
    }
    written += size;
  }

  int fd;
  std::string path;
  struct FreeDeleter {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, FreeDeleter> stage;
  size_t staged = 0;
  uint64_t written = 0; // bytes written to the file (padding included)
  uint64_t length = 0;  // bytes pushed: the file's true length
  bool direct = false;
  std::optional<std::error_code> failure;

  std::mutex mutex;
  std::condition_variable work, spaceFree;
  /// Bytes to write: a buffer the sink owns, or the caller's (pushAndWait).
  struct Piece {
    std::vector<uint8_t> owned;
    llvm::ArrayRef<uint8_t> borrowed;
  };
  std::deque<Piece> queue;
  size_t queuedBytes = 0; // owned bytes queued
  uint64_t pushed = 0, consumed = 0;
  bool stopping = false;
  bool drained = false;
  std::thread thread;
};

llvm::Expected<std::unique_ptr<SafetensorsWriter>>
SafetensorsWriter::create(llvm::StringRef path,
                          llvm::ArrayRef<Declaration> tensors,
                          const std::map<std::string, std::string> &metadata) {
  std::unique_ptr<SafetensorsWriter> writer(new SafetensorsWriter());
  writer->declared.assign(tensors.begin(), tensors.end());
  json::Object header;
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &[key, value] : metadata)
      meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  llvm::StringSet<> seen;
  for (const Declaration &tensor : tensors) {
    if (!seen.insert(tensor.name).second)
      return fileError(path, "duplicate tensor name '" + tensor.name + "'");
    uint64_t size = tensorDTypeSize(tensor.dtype);
    json::Array shape;
    for (int64_t dim : tensor.shape) {
      if (dim < 0)
        return fileError(path, "tensor '" + tensor.name +
                                   "' has a negative dimension");
      size *= static_cast<uint64_t>(dim);
      shape.push_back(dim);
    }
    writer->sizes.push_back(size);
    header[tensor.name] = json::Object{
        {"dtype", tensorDTypeName(tensor.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets", json::Array{static_cast<int64_t>(offset),
                                     static_cast<int64_t>(offset + size)}}};
    offset += size;
  }
  std::string text;
  llvm::raw_string_ostream(text) << json::Value(std::move(header));
  // Pad the header with spaces to keep the data 8-byte aligned, as the
  // reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  llvm::Expected<std::unique_ptr<AtomicFile>> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  writer->file = std::move(*file);
  // Every byte, header included, goes through the sink, which writes the
  // file from offset 0 in aligned blocks.
  std::vector<uint8_t> head(8 + text.size());
  llvm::support::endian::write64le(head.data(), text.size());
  std::memcpy(head.data() + 8, text.data(), text.size());
  writer->sink =
      std::make_unique<BackgroundSink>(writer->file->fd(), path.str());
  writer->sink->push(std::move(head));
  return std::move(writer);
}

SafetensorsWriter::~SafetensorsWriter() = default;

llvm::Error SafetensorsWriter::account(uint64_t size) {
  while (size > 0) {
    if (current >= declared.size())
      return fileError(file->path(), "more bytes than the declared tensors "
                                     "hold");
    uint64_t chunk =
        std::min<uint64_t>(sizes[current] - writtenOfCurrent, size);
    writtenOfCurrent += chunk;
    size -= chunk;
    if (writtenOfCurrent == sizes[current]) {
      ++current;
      writtenOfCurrent = 0;
    }
  }
  // Zero-byte tensors complete without data.
  while (current < declared.size() && sizes[current] == 0)
    ++current;
  return llvm::Error::success();
}

llvm::Error SafetensorsWriter::append(std::vector<uint8_t> &&bytes) {
  if (llvm::Error error = account(bytes.size()))
    return error;
  if (!bytes.empty())
    sink->push(std::move(bytes));
  return llvm::Error::success();
}

llvm::Error SafetensorsWriter::append(llvm::ArrayRef<uint8_t> bytes) {
  if (llvm::Error error = account(bytes.size()))
    return error;
  if (!bytes.empty())
    sink->pushAndWait(bytes);
  return llvm::Error::success();
}

llvm::Error SafetensorsWriter::begin(llvm::StringRef name) {
  while (current < declared.size() && sizes[current] == 0 &&
         declared[current].name != name)
    ++current;
  if (current >= declared.size() || declared[current].name != name ||
      writtenOfCurrent != 0)
    return fileError(file->path(),
                     "tensor '" + name + "' is not the next declared tensor");
  return llvm::Error::success();
}

llvm::Error SafetensorsWriter::write(llvm::StringRef name,
                                     llvm::ArrayRef<uint8_t> bytes) {
  if (llvm::Error error = begin(name))
    return error;
  if (bytes.size() != sizes[current])
    return fileError(file->path(),
                     llvm::formatv("tensor '{0}' is declared with {1} bytes, "
                                   "got {2}",
                                   name, sizes[current], bytes.size()));
  if (bytes.empty()) {
    ++current;
    return llvm::Error::success();
  }
  return append(bytes);
}

llvm::Error SafetensorsWriter::finish() {
  while (current < declared.size() && sizes[current] == 0)
    ++current;
  if (current != declared.size())
    return fileError(file->path(), "tensor '" + declared[current].name +
                                       "' was declared but not written");
  if (llvm::Error error = sink->drain())
    return error;
  return file->commit();
}
