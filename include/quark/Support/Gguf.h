//===- Gguf.h - GGUF (llama.cpp) files: reading -----------------*- C++ -*-===//
//
// GGUF v2/v3: "GGUF", version, tensor count, metadata count, typed key/value
// metadata, tensor infos, then aligned tensor data. The reader validates
// every length against the file size (it is fuzzed) and keeps the metadata;
// tensor data stays in the mapped file.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_GGUF_H
#define QUARK_SUPPORT_GGUF_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace mlir::quark {

/// GGUF metadata value types, numbered as in the format.
enum class GgufType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

struct GgufValue {
  GgufType type = GgufType::UInt32;
  /// Integers (and bool) widened; floats as double; strings; arrays.
  std::variant<int64_t, uint64_t, double, std::string, std::vector<GgufValue>>
      value;

  std::optional<int64_t> asInt() const;
  std::optional<double> asFloat() const;
  const std::string *asString() const;
  const std::vector<GgufValue> *asArray() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t ggmlType;
  uint64_t offset; // relative to the data section
};

class GgufFile {
public:
  static llvm::Expected<std::unique_ptr<GgufFile>> open(llvm::StringRef path);
  /// Parses an in-memory GGUF image (what open() and the fuzzer use).
  static llvm::Expected<std::unique_ptr<GgufFile>> parse(llvm::StringRef bytes,
                                                         llvm::StringRef name);

  uint32_t version() const { return formatVersion; }
  const GgufValue *get(llvm::StringRef key) const;
  const std::vector<std::string> &keys() const { return keyOrder; }
  const std::vector<GgufTensorInfo> &tensors() const { return tensorInfos; }
  uint64_t dataOffset() const { return dataStart; }

private:
  uint32_t formatVersion = 0;
  llvm::StringMap<GgufValue> metadata;
  std::vector<std::string> keyOrder;
  std::vector<GgufTensorInfo> tensorInfos;
  uint64_t dataStart = 0;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_GGUF_H
