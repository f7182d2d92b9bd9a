//===- Gguf.h - GGUF (llama.cpp) files: reading and writing ------*- C++
//-*-===//
//
// GGUF v2/v3: "GGUF", version, tensor count, metadata count, typed key/value
// metadata, tensor infos, then aligned tensor data. The reader validates
// every length against the file size (it is fuzzed) and keeps the metadata;
// tensor data stays in the mapped file. The writer produces v3 files with
// the ggml block formats that carry a quantizer's own codes and scales:
// Q8_0, Q4_0 and Q4_1 (blocks of 32 along a row), besides F32 and F16.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_GGUF_H
#define QUARK_SUPPORT_GGUF_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <functional>
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
  /// For arrays: the type of every element (also when there are none).
  GgufType elementType = GgufType::UInt32;

  static GgufValue string(std::string text);
  static GgufValue uint32(uint32_t v);
  static GgufValue int32(int32_t v);
  static GgufValue float32(float v);
  static GgufValue boolean(bool v);
  /// An array of `elementType` values.
  static GgufValue array(GgufType elementType, std::vector<GgufValue> items);

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

//===----------------------------------------------------------------------===//
// ggml tensor types and blocks
//===----------------------------------------------------------------------===//

/// The ggml tensor types the writer produces, numbered as in ggml.h.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 8
};

/// Elements per block of the quantized types (QK4_0 = QK4_1 = QK8_0).
constexpr int64_t kGgmlBlockSize = 32;

llvm::StringRef ggmlTypeName(GgmlType type);
/// Whether a tensor's stored type number is one of GgmlType's (files from
/// other writers may hold types this project does not write).
bool isKnownGgmlType(uint32_t value);
/// Bytes of `count` elements; for block types `count` must be a multiple of
/// the block size (each row is whole blocks).
uint64_t ggmlByteSize(GgmlType type, uint64_t count);

/// Encodes integer codes with one scale (and zero point) per block of 32
/// consecutive elements, so that each element decodes to
/// (code - zeroPoint) * scale up to the fp16 rounding of the block's
/// fields:
///   Q8_0: d = fp16(scale), int8 codes; zero points must be 0.
///   Q4_0: d = fp16(scale), nibbles code + 8 (codes in [-8, 7]); zero
///         points 0.
///   Q4_1: d = fp16(scale), m = fp16((codeMin - zeroPoint) * scale),
///         nibbles code - codeMin (codes in [codeMin, codeMin + 15]):
///         Quark's uint4 asymmetric form, m = -scale * zeroPoint.
/// Nibbles: element j of a block in the low half of byte j, element j + 16
/// in the high half. `zeroPoints` may be empty (all 0). An error names the
/// first code or zero point the format cannot hold.
llvm::Expected<std::vector<uint8_t>>
encodeGgmlBlocks(GgmlType type, llvm::ArrayRef<int32_t> codes,
                 llvm::ArrayRef<float> scales,
                 llvm::ArrayRef<int32_t> zeroPoints, int32_t codeMin);

/// Float data as F32 or F16 (round half to even).
std::vector<uint8_t> encodeGgmlFloats(GgmlType type,
                                      llvm::ArrayRef<float> values);

/// The values `count` elements of any writer type decode to, as ggml's
/// dequantize_row_* computes them.
llvm::Expected<std::vector<float>>
decodeGgmlTensor(GgmlType type, llvm::ArrayRef<uint8_t> bytes, uint64_t count);

/// Writes a GGUF v3 file: metadata in insertion order, then tensors in
/// insertion order, each at an offset aligned to `general.alignment` (32).
/// Tensor bytes come from producers called one at a time while writing, so
/// a model larger than memory streams through. The file is written
/// atomically.
class GgufWriter {
public:
  using Producer = std::function<llvm::Expected<std::vector<uint8_t>>()>;

  void set(llvm::StringRef key, GgufValue value);
  /// `dims` in ggml order: dims[0] is the contiguous (row) dimension.
  void addTensor(std::string name, std::vector<uint64_t> dims, GgmlType type,
                 Producer produce);
  /// Writes the file at `path` atomically.
  llvm::Error write(llvm::StringRef path) const;
  /// Writes the file's bytes to `os`.
  llvm::Error write(llvm::raw_ostream &os) const;

private:
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    Producer produce;
  };
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<PendingTensor> tensors;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_GGUF_H
