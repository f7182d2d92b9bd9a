//===- DataType.h - Quark's quantization data types, IR-free ----*- C++ -*-===//
//
// The element types of Quark's `Dtype` enum (plus the two AMD fnuz fp8
// variants), with the facts the numerics need: integer range, float format,
// and the MX exponent parameters Quark uses (`get_dtype_params`).
//
// The names are Quark's serialized names ("int4", "fp8_e4m3", ...), which are
// also the quark dialect's enum spellings: the bridge between the two is the
// name.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_DATATYPE_H
#define QUARK_SUPPORT_DATATYPE_H

#include "quark/Support/MiniFloat.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace mlir::quark {

enum class QuantDType : uint8_t {
  Int2,
  Int3,
  Int4,
  UInt4,
  Int8,
  UInt8,
  Int16,
  UInt16,
  Int32,
  FP8E4M3,     // OCP e4m3fn, Quark's "fp8_e4m3"
  FP8E4M3FNUZ, // AMD MI300 variant (not a Quark file format)
  FP8E5M2,
  FP8E5M2FNUZ,
  FP8E5M3, // unsigned, used for scales (amdfp4)
  FP6E2M3,
  FP6E3M2,
  FP4,
  MX,    // OCP MX: element type given separately, E8M0 scale per 32
  MX6,   // AMD two-level block format (simulation only)
  MX9,   // AMD two-level block format (simulation only)
  BFP16, // AMD block floating point, 8-element blocks (simulation only)
  BFloat16,
  Float16,
};

enum class DTypeKind : uint8_t {
  Integer,    // uniform integer quantization with scale and zero point
  Float,      // scaled narrow float (fp8/fp6/fp4)
  MX,         // OCP microscaling container (elements + E8M0 scales)
  BlockFloat, // mx6/mx9/bfp16: scales derived from the data, not stored
  Cast,       // bf16/fp16: a plain cast, no scale
};

struct DTypeInfo {
  QuantDType dtype;
  std::string_view name;
  DTypeKind kind;
  unsigned bits;
  // Integer range (Integer kind).
  int64_t qmin = 0;
  int64_t qmax = 0;
  // Element format (Float and Cast kinds).
  const MiniFloatFormat *format = nullptr;
  // Quark's get_dtype_params for MX element use: the element's largest
  // exponent (emax) and the mantissa width used by the "even" scale rounding.
  int mxEmax = 0;
  int mxMantissaBits = 0;

  bool isInteger() const { return kind == DTypeKind::Integer; }
  bool isSigned() const { return qmin < 0; }
};

const DTypeInfo &getDTypeInfo(QuantDType dtype);
std::optional<QuantDType> parseQuantDType(std::string_view name);
inline std::string_view dtypeName(QuantDType dtype) {
  return getDTypeInfo(dtype).name;
}
/// True for the element types an OCP MX block may hold (fp4, fp6, fp8, int8).
bool isMXElementType(QuantDType dtype);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_DATATYPE_H
