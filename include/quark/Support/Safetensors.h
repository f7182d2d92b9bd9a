//===- Safetensors.h - Lazy safetensors reader, streaming writer -*- C++
//-*-===//
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}), then the tensor bytes; offsets count
// from the start of the data. Sharded checkpoints add
// model.safetensors.index.json ({"metadata": ..., "weight_map": {name:
// shard file}}).
//
// Opening memory-maps the file and reads only the header: cost and resident
// memory are O(header), tensor pages load when a tensor is read. Validation
// is strict and every error names the file and the tensor: a header longer
// than the file, invalid JSON, unknown dtypes, shapes whose byte size does
// not match data_offsets, offsets outside the data, and holes or overlaps
// between tensors (as the reference implementation, tensors must tile the
// data section exactly), duplicate names, missing shards.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_SAFETENSORS_H
#define QUARK_SUPPORT_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::quark {

class AtomicFile;

enum class TensorDType : uint8_t {
  F64,
  F32,
  F16,
  BF16,
  F8_E4M3,
  F8_E5M2,
  I64,
  I32,
  I16,
  I8,
  U64,
  U32,
  U16,
  U8,
  BOOL,
};

std::optional<TensorDType> parseTensorDType(llvm::StringRef name);
llvm::StringRef tensorDTypeName(TensorDType dtype);
size_t tensorDTypeSize(TensorDType dtype);
bool isFloatTensorDType(TensorDType dtype);
/// BF16, F16 or F32: values a model computes with, as opposed to fp8 (or
/// integer) codes of a quantized checkpoint.
bool isModelFloatTensorDType(TensorDType dtype);

/// One tensor's header entry. Offsets are absolute in the file.
struct TensorInfo {
  std::string name;
  TensorDType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  uint64_t offset; // first byte in the file
  uint64_t size;   // bytes

  int64_t numElements() const;
};

class SafetensorsFile {
public:
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);
  /// Validates and indexes a file already in memory (what open() maps, or
  /// fuzzer input); `path` names it in errors.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef path);

  llvm::StringRef path() const { return filePath; }
  /// Tensors in data order.
  llvm::ArrayRef<TensorInfo> tensors() const { return entries; }
  const TensorInfo *find(llvm::StringRef name) const;
  /// The bytes of a tensor (mapped; pages load on first touch).
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &tensor) const;
  /// Returns the mapped pages wholly inside `tensor`'s bytes to the OS; they
  /// reload from the file if touched again. Streaming a checkpoint larger
  /// than memory tensor by tensor keeps the resident set bounded this way.
  /// Does nothing for a file read into memory rather than mapped.
  void releasePages(const TensorInfo &tensor) const;
  /// Asks the OS to start reading `tensor`'s pages of a mapping ahead of
  /// their use (a hint; nothing for a file read into memory).
  void prefetchPages(const TensorInfo &tensor) const;
  const std::map<std::string, std::string> &metadata() const {
    return metadataMap;
  }

private:
  SafetensorsFile() = default;
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorInfo> entries;
  llvm::StringMap<size_t> byName;
  std::map<std::string, std::string> metadataMap;
};

/// A tensor of a checkpoint: where it lives and what it is.
struct TensorRef {
  const SafetensorsFile *file;
  const TensorInfo *info;

  llvm::ArrayRef<uint8_t> bytes() const { return file->bytes(*info); }
  void releasePages() const { file->releasePages(*info); }
  void prefetchPages() const { file->prefetchPages(*info); }
};

/// A Hugging Face checkpoint: a single model.safetensors, or shards listed in
/// model.safetensors.index.json.
class SafetensorsCheckpoint {
public:
  /// Opens `path`: a folder (index or model.safetensors), an index file, or
  /// a single .safetensors file.
  static llvm::Expected<std::unique_ptr<SafetensorsCheckpoint>>
  open(llvm::StringRef path);

  std::optional<TensorRef> find(llvm::StringRef name) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  llvm::ArrayRef<std::unique_ptr<SafetensorsFile>> files() const {
    return shards;
  }
  /// Total tensor bytes.
  uint64_t totalBytes() const;

private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  llvm::StringMap<TensorRef> byName;
};

/// Converts `count` elements of a float or integer tensor of `dtype` to
/// float32.
llvm::Error convertToFloat(TensorDType dtype, llvm::ArrayRef<uint8_t> bytes,
                           llvm::MutableArrayRef<float> out);
/// All elements of `tensor` as float32.
llvm::Expected<std::vector<float>> readTensorAsFloat(const TensorRef &tensor);

/// Streaming writer. The tensors are declared up front (the header comes
/// first in the file), then their bytes are appended in declaration order,
/// in as many chunks as the caller likes. The file appears at its path only
/// on finish(); a writer destroyed before that leaves nothing behind.
///
/// Bytes reach the file on a background thread, in order, so that copying
/// them into the page cache overlaps the caller's work on the next tensor;
/// at most kMaxQueuedBytes wait (append blocks beyond that). Write errors
/// surface at finish().
class SafetensorsWriter {
public:
  struct Declaration {
    std::string name;
    TensorDType dtype;
    llvm::SmallVector<int64_t, 4> shape;
  };

  static llvm::Expected<std::unique_ptr<SafetensorsWriter>>
  create(llvm::StringRef path, llvm::ArrayRef<Declaration> tensors,
         const std::map<std::string, std::string> &metadata = {});
  ~SafetensorsWriter();

  /// Checks that `name` is the next declared tensor, before its bytes are
  /// appended in pieces.
  llvm::Error begin(llvm::StringRef name);
  /// Appends bytes of the tensor currently being written; returns once
  /// they are written out (no copy of their size is made, so a mapped
  /// input's tensor can go straight to the file).
  llvm::Error append(llvm::ArrayRef<uint8_t> bytes);
  /// Appends bytes the writer takes over, saving the copy.
  llvm::Error append(std::vector<uint8_t> &&bytes);
  /// Appends a whole tensor: `name` must be the next declared tensor.
  llvm::Error write(llvm::StringRef name, llvm::ArrayRef<uint8_t> bytes);
  llvm::Error finish();

  static constexpr size_t kMaxQueuedBytes = size_t{64} << 20;

private:
  class BackgroundSink;
  SafetensorsWriter() = default;
  /// Checks `size` more bytes against the declared sizes and advances.
  llvm::Error account(uint64_t size);
  std::unique_ptr<AtomicFile> file;
  std::unique_ptr<BackgroundSink> sink;
  std::vector<Declaration> declared;
  std::vector<uint64_t> sizes;
  size_t current = 0; // index of the tensor being written
  uint64_t writtenOfCurrent = 0;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_SAFETENSORS_H
