//===- DataType.cpp - Quark data type table -------------------------------===//

#include "quark/Support/DataType.h"

#include <array>
#include <cassert>
#include <iterator>

namespace mlir::quark {

namespace {
DTypeInfo integer(QuantDType dtype, std::string_view name, unsigned bits,
                  int64_t qmin, int64_t qmax, int mxEmax = 0,
                  int mxMantissaBits = 0) {
  DTypeInfo info{dtype, name, DTypeKind::Integer, bits};
  info.qmin = qmin;
  info.qmax = qmax;
  info.mxEmax = mxEmax;
  info.mxMantissaBits = mxMantissaBits;
  return info;
}

DTypeInfo floating(QuantDType dtype, const MiniFloatFormat &format,
                   int mxEmax = 0, DTypeKind kind = DTypeKind::Float) {
  DTypeInfo info{dtype, format.name, kind, format.totalBits()};
  info.format = &format;
  info.mxEmax = mxEmax;
  info.mxMantissaBits = static_cast<int>(format.mantissaBits);
  return info;
}

DTypeInfo other(QuantDType dtype, std::string_view name, DTypeKind kind,
                unsigned bits) {
  return DTypeInfo{dtype, name, kind, bits};
}

// Ordered like the QuantDType enumerators; checked at first use.
const std::array<DTypeInfo, 23> &table() {
  static const std::array<DTypeInfo, 23> kTable = {
      integer(QuantDType::Int2, "int2", 2, -2, 1),
      integer(QuantDType::Int3, "int3", 3, -4, 3),
      integer(QuantDType::Int4, "int4", 4, -8, 7),
      integer(QuantDType::UInt4, "uint4", 4, 0, 15),
      // MX int8 elements: emax 0 and 8 mantissa bits in Quark's table.
      integer(QuantDType::Int8, "int8", 8, -128, 127, 0, 8),
      integer(QuantDType::UInt8, "uint8", 8, 0, 255),
      integer(QuantDType::Int16, "int16", 16, -32768, 32767),
      integer(QuantDType::UInt16, "uint16", 16, 0, 65535),
      integer(QuantDType::Int32, "int32", 32, INT32_MIN, INT32_MAX),
      floating(QuantDType::FP8E4M3, kFloat8E4M3FN, 8),
      floating(QuantDType::FP8E4M3FNUZ, kFloat8E4M3FNUZ),
      floating(QuantDType::FP8E5M2, kFloat8E5M2, 15),
      floating(QuantDType::FP8E5M2FNUZ, kFloat8E5M2FNUZ),
      floating(QuantDType::FP8E5M3, kFloat8E5M3),
      floating(QuantDType::FP6E2M3, kFloat6E2M3, 2),
      floating(QuantDType::FP6E3M2, kFloat6E3M2, 4),
      floating(QuantDType::FP4, kFloat4E2M1, 2),
      other(QuantDType::MX, "mx", DTypeKind::MX, 0),
      other(QuantDType::MX6, "mx6", DTypeKind::BlockFloat, 6),
      other(QuantDType::MX9, "mx9", DTypeKind::BlockFloat, 9),
      other(QuantDType::BFP16, "bfp16", DTypeKind::BlockFloat, 16),
      floating(QuantDType::BFloat16, kBFloat16, 0, DTypeKind::Cast),
      floating(QuantDType::Float16, kFloat16, 0, DTypeKind::Cast),
  };
  return kTable;
}
} // namespace

const DTypeInfo &getDTypeInfo(QuantDType dtype) {
  const DTypeInfo &info = table()[static_cast<size_t>(dtype)];
  assert(info.dtype == dtype && "DTypeInfo table out of enum order");
  return info;
}

std::optional<QuantDType> parseQuantDType(std::string_view name) {
  for (const DTypeInfo &info : table())
    if (info.name == name)
      return info.dtype;
  return std::nullopt;
}

bool isMXElementType(QuantDType dtype) {
  switch (dtype) {
  case QuantDType::FP4:
  case QuantDType::FP6E2M3:
  case QuantDType::FP6E3M2:
  case QuantDType::FP8E4M3:
  case QuantDType::FP8E5M2:
  case QuantDType::Int8:
    return true;
  default:
    return false;
  }
}

} // namespace mlir::quark
