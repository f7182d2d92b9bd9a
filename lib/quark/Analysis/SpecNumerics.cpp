//===- SpecNumerics.cpp - From #quark.spec to the Support numerics --------===//

#include "quark/Analysis/SpecNumerics.h"

#include "quark/Support/Packing.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/SwapByteOrder.h"

using namespace mlir;
using namespace mlir::quark;

QuantDType mlir::quark::toQuantDType(Dtype dtype) {
  std::optional<QuantDType> parsed = parseQuantDType(stringifyDtype(dtype));
  assert(parsed && "dialect and Support dtype names diverged");
  return *parsed;
}

static QScheme toQScheme(QSchemeType qscheme) {
  switch (qscheme) {
  case QSchemeType::per_tensor:
    return QScheme::PerTensor;
  case QSchemeType::per_channel:
    return QScheme::PerChannel;
  case QSchemeType::per_group:
    return QScheme::PerGroup;
  case QSchemeType::per_block:
    return QScheme::PerBlock;
  }
  return QScheme::PerTensor;
}

static RoundMode toRoundMode(RoundType round) {
  switch (round) {
  case RoundType::round:
    return RoundMode::HalfAwayFromZero;
  case RoundType::floor:
    return RoundMode::Floor;
  case RoundType::half_even:
    return RoundMode::HalfEven;
  }
  return RoundMode::HalfEven;
}

static MXScaleMode toMXScaleMode(ScaleCalculationMode mode) {
  switch (mode) {
  case ScaleCalculationMode::even:
    return MXScaleMode::Even;
  case ScaleCalculationMode::floor:
    return MXScaleMode::Floor;
  case ScaleCalculationMode::ceil:
    return MXScaleMode::Ceil;
  }
  return MXScaleMode::Even;
}

ScalePrecision mlir::quark::floatTypePrecision(Type floatType) {
  if (isa<BFloat16Type>(floatType))
    return ScalePrecision::BFloat16;
  if (isa<Float16Type>(floatType))
    return ScalePrecision::Float16;
  return ScalePrecision::Float32;
}

FailureOr<TensorQuantSpec>
mlir::quark::getTensorQuantSpec(TensorSpecAttr spec, Type modelFloatType,
                                function_ref<InFlightDiagnostic()> emitError) {
  TensorQuantSpec result;
  result.dtype = toQuantDType(spec.getDtype());
  result.qscheme = toQScheme(spec.getQSchemeOrDefault());
  result.axis = spec.getChAxis().value_or(0);
  result.groupSize = spec.getGroupSize().value_or(0);
  result.blockSize.assign(spec.getBlockSize().begin(),
                          spec.getBlockSize().end());
  result.symmetric = spec.isSymmetric();
  result.round =
      toRoundMode(spec.getRoundMethod().value_or(RoundType::half_even));
  if (spec.getMxElementDtype())
    result.mxElement = toQuantDType(*spec.getMxElementDtype());
  result.mxScaleMode = toMXScaleMode(
      spec.getScaleCalculationMode().value_or(ScaleCalculationMode::even));
  // mx, mx6, mx9 and bfp16 are blocks along ch_axis of group_size elements.
  if (spec.getDtype() == Dtype::mx || spec.isBlockFloat())
    result.qscheme = QScheme::PerGroup;

  if (std::optional<ScaleFormatType> format = spec.getScaleFormat()) {
    switch (*format) {
    case ScaleFormatType::e8m0:
      result.scaleFormat = ScaleFormat::E8M0;
      break;
    case ScaleFormatType::e5m3:
      result.scaleFormat = ScaleFormat::E5M3;
      break;
    case ScaleFormatType::e4m3:
      result.scaleFormat = ScaleFormat::E4M3;
      break;
    case ScaleFormatType::float32:
      result.scaleFormat = ScaleFormat::Float;
      break;
    }
  }

  switch (spec.getScaleType().value_or(ScaleType::model_float)) {
  case ScaleType::model_float:
    result.scalePrecision = floatTypePrecision(modelFloatType);
    break;
  case ScaleType::float32:
    result.scalePrecision = ScalePrecision::Float32;
    break;
  case ScaleType::float16:
    result.scalePrecision = ScalePrecision::Float16;
    break;
  case ScaleType::bfloat16:
    result.scalePrecision = ScalePrecision::BFloat16;
    break;
  case ScaleType::float8_e5m3:
    // The scale values are e5m3-rounded by scale_format = e5m3; their
    // in-memory precision is float32.
    result.scalePrecision = ScalePrecision::Float32;
    break;
  case ScaleType::float8_e8m0fnu:
    if (!spec.usesMXScales())
      return emitError() << "scale_type = float8_e8m0fnu stores power-of-two "
                            "scales: it needs an MX spec (dtype = mx or "
                            "scale_format = e8m0)";
    break;
  case ScaleType::pof2:
    return emitError() << "scale_type = pof2 (power-of-two observers) is not "
                          "supported by this build's numerics";
  }
  return result;
}

/// Converts an APFloat of any semantics to float.
static float toFloat(APFloat value) {
  bool losesInfo = false;
  value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                &losesInfo);
  return value.convertToFloat();
}

std::vector<float> mlir::quark::readFloats(DenseElementsAttr attr) {
  std::vector<float> values;
  values.reserve(attr.getNumElements());
  for (APFloat value : attr.getValues<APFloat>())
    values.push_back(toFloat(value));
  return values;
}

DenseElementsAttr mlir::quark::makeFloats(ShapedType type,
                                          ArrayRef<float> values) {
  auto elementType = cast<FloatType>(type.getElementType());
  SmallVector<APFloat> converted;
  converted.reserve(values.size());
  for (float value : values) {
    APFloat apValue(value);
    bool losesInfo = false;
    apValue.convert(elementType.getFloatSemantics(),
                    APFloat::rmNearestTiesToEven, &losesInfo);
    converted.push_back(apValue);
  }
  return DenseElementsAttr::get(type, converted);
}

std::vector<int32_t> mlir::quark::readInts(DenseElementsAttr attr) {
  auto intType = cast<IntegerType>(attr.getElementType());
  std::vector<int32_t> values;
  values.reserve(attr.getNumElements());
  for (APInt value : attr.getValues<APInt>())
    values.push_back(static_cast<int32_t>(
        intType.isUnsigned() ? value.getZExtValue() : value.getSExtValue()));
  return values;
}

std::vector<int32_t> mlir::quark::readCodes(DenseElementsAttr storage,
                                            Type codeElement) {
  if (isa<IntegerType>(storage.getElementType())) {
    bool isSigned = false;
    if (auto quantized = dyn_cast_or_null<quant::QuantizedType>(codeElement))
      isSigned = quantized.isSigned();
    std::vector<int32_t> codes;
    codes.reserve(storage.getNumElements());
    for (APInt value : storage.getValues<APInt>())
      codes.push_back(static_cast<int32_t>(isSigned ? value.getSExtValue()
                                                    : value.getZExtValue()));
    return codes;
  }
  std::vector<int32_t> codes;
  codes.reserve(storage.getNumElements());
  for (APFloat value : storage.getValues<APFloat>())
    codes.push_back(
        static_cast<int32_t>(value.bitcastToAPInt().getZExtValue()));
  return codes;
}

DenseElementsAttr mlir::quark::makeCodes(ShapedType storageType,
                                         ArrayRef<int32_t> codes) {
  Type element = storageType.getElementType();
  if (auto intType = dyn_cast<IntegerType>(element)) {
    SmallVector<APInt> values;
    values.reserve(codes.size());
    for (int32_t code : codes)
      values.emplace_back(intType.getWidth(), static_cast<uint64_t>(code),
                          /*isSigned=*/!intType.isUnsigned(),
                          /*implicitTrunc=*/true);
    return DenseElementsAttr::get(storageType, values);
  }
  auto floatType = cast<FloatType>(element);
  SmallVector<APFloat> values;
  values.reserve(codes.size());
  for (int32_t code : codes)
    values.emplace_back(
        floatType.getFloatSemantics(),
        APInt(floatType.getWidth(), static_cast<uint32_t>(code)));
  return DenseElementsAttr::get(storageType, values);
}

namespace {
/// The Support packing routine of a code element type.
enum class PackKind { Int4, Int3, Fp4, Fp6 };

PackKind packKindOf(Type codeElement) {
  if (auto quantized = dyn_cast<quant::QuantizedType>(codeElement))
    return quantized.getStorageTypeIntegralWidth() == 4 ? PackKind::Int4
                                                        : PackKind::Int3;
  return cast<QFloatType>(codeElement).getBitWidth() == 4 ? PackKind::Fp4
                                                          : PackKind::Fp6;
}
} // namespace

Int4PackOrder mlir::quark::toPackOrder(std::optional<PackMethod> method) {
  return method == PackMethod::order ? Int4PackOrder::Order
                                     : Int4PackOrder::Reorder;
}

/// Bytes that `count` codes of a byte-packed kind occupy (2 fp4 codes, 4
/// fp6 codes or 8 int3 codes to whole bytes).
static size_t packedByteCount(PackKind kind, size_t count) {
  switch (kind) {
  case PackKind::Fp4:
    return count / 2;
  case PackKind::Fp6:
    return count / 4 * 3;
  case PackKind::Int3:
    return count / 8 * 3;
  case PackKind::Int4:
    break;
  }
  return count / 2;
}

std::vector<int32_t> mlir::quark::packCodes(Type codeElement,
                                            ArrayRef<int64_t> codeShape,
                                            ArrayRef<int32_t> codes,
                                            std::optional<PackMethod> method) {
  PackKind kind = packKindOf(codeElement);
  if (kind == PackKind::Int4) {
    int64_t cols = codeShape.empty() ? 1 : codeShape.back();
    int64_t rows = cols == 0 ? 0 : static_cast<int64_t>(codes.size()) / cols;
    std::vector<int32_t> words(rows * packedInt4Cols(cols));
    packInt4(codes, rows, cols, toPackOrder(method), words);
    return words;
  }
  std::vector<uint8_t> bytes(packedByteCount(kind, codes.size()));
  packCodesToStorage(codeElement, codeShape, codes, method, bytes);
  return std::vector<int32_t>(bytes.begin(), bytes.end());
}

void mlir::quark::packCodesToStorage(Type codeElement,
                                     ArrayRef<int64_t> codeShape,
                                     ArrayRef<int32_t> codes,
                                     std::optional<PackMethod> method,
                                     MutableArrayRef<uint8_t> out) {
  int64_t cols = codeShape.empty() ? 1 : codeShape.back();
  int64_t rows = cols == 0 ? 0 : static_cast<int64_t>(codes.size()) / cols;
  PackKind kind = packKindOf(codeElement);
  if (kind == PackKind::Int4) {
    size_t words = static_cast<size_t>(rows * packedInt4Cols(cols));
    assert(out.size() == words * 4);
    if (llvm::sys::IsLittleEndianHost &&
        reinterpret_cast<uintptr_t>(out.data()) % alignof(int32_t) == 0) {
      packInt4(codes, rows, cols, toPackOrder(method),
               {reinterpret_cast<int32_t *>(out.data()), words});
      return;
    }
    std::vector<int32_t> packed(words);
    packInt4(codes, rows, cols, toPackOrder(method), packed);
    for (size_t w = 0; w < words; ++w)
      llvm::support::endian::write32le(out.data() + 4 * w, packed[w]);
    return;
  }
  // Byte-packed kinds: convert and pack a block at a time.
  constexpr size_t kBlock = 4096; // a multiple of 8
  uint8_t values[kBlock];
  for (size_t start = 0; start < codes.size(); start += kBlock) {
    size_t count = std::min(kBlock, codes.size() - start);
    for (size_t i = 0; i < count; ++i)
      values[i] = static_cast<uint8_t>(codes[start + i]);
    MutableArrayRef<uint8_t> target =
        out.slice(packedByteCount(kind, start), packedByteCount(kind, count));
    switch (kind) {
    case PackKind::Fp4:
      packFp4({values, count}, target);
      break;
    case PackKind::Fp6:
      packFp6({values, count}, target);
      break;
    case PackKind::Int3:
      packInt3({reinterpret_cast<const int8_t *>(values), count}, target);
      break;
    case PackKind::Int4:
      break;
    }
  }
}

std::vector<int32_t>
mlir::quark::unpackCodes(Type codeElement, ArrayRef<int64_t> codeShape,
                         ArrayRef<int32_t> packed,
                         std::optional<PackMethod> method) {
  int64_t numCodes = 1;
  for (int64_t dim : codeShape)
    numCodes *= dim;
  int64_t cols = codeShape.empty() ? 1 : codeShape.back();
  int64_t rows = cols == 0 ? 0 : numCodes / cols;
  switch (packKindOf(codeElement)) {
  case PackKind::Int4: {
    bool isSigned = cast<quant::QuantizedType>(codeElement).isSigned();
    std::vector<int32_t> codes(numCodes);
    unpackInt4(packed, rows, cols, toPackOrder(method), isSigned,
               llvm::MutableArrayRef<int32_t>(codes));
    return codes;
  }
  case PackKind::Int3: {
    std::vector<uint8_t> bytes(packed.begin(), packed.end());
    std::vector<int8_t> values(numCodes);
    unpackInt3(bytes, values);
    return std::vector<int32_t>(values.begin(), values.end());
  }
  case PackKind::Fp4:
  case PackKind::Fp6: {
    std::vector<uint8_t> bytes(packed.begin(), packed.end());
    std::vector<uint8_t> values(numCodes);
    if (packKindOf(codeElement) == PackKind::Fp4)
      unpackFp4(bytes, values);
    else
      unpackFp6(bytes, values);
    return std::vector<int32_t>(values.begin(), values.end());
  }
  }
  return {};
}
