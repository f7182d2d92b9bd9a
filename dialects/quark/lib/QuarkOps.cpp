//===- QuarkOps.cpp - quark dialect operations ----------------------------===//

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::quark;

#define GET_OP_CLASSES
#include "quark/Dialect/Quark/IR/QuarkOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared checks
//===----------------------------------------------------------------------===//

static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape,
      [&](int64_t dim) {
        text += ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
      },
      [&] { text += ", "; });
  return text + "]";
}

static bool shapesCompatible(ArrayRef<int64_t> actual,
                             ArrayRef<int64_t> expected) {
  if (actual.size() != expected.size())
    return false;
  for (auto [a, e] : llvm::zip(actual, expected))
    if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(e) && a != e)
      return false;
  return true;
}

/// How the scale and zero point of an op are supplied.
enum class ParamSource {
  /// The op needs them as operands.
  Operands,
  /// The op may take them or derive them from the data (fake_quant of MX).
  OperandsOrData,
  /// The op derives them from the data and takes none.
  Data,
  /// The code type carries them (a !quant.uniform element type).
  CodeType,
};

/// Checks presence, shapes and element types of `scale` / `zeroPoint` for a
/// value of type `valueType` quantized with `spec`.
static LogicalResult verifyQuantParams(Operation *op, TensorSpecAttr spec,
                                       RankedTensorType valueType, Value scale,
                                       Value zeroPoint, ParamSource source) {
  StringRef dtype = stringifyDtype(spec.getDtype());
  if (source == ParamSource::CodeType) {
    if (scale || zeroPoint)
      return op->emitOpError("takes its scale from the !quant.uniform code "
                             "type; no 'scale' or 'zero_point' operand is "
                             "allowed");
    return success();
  }
  if (source == ParamSource::Data) {
    if (scale || zeroPoint)
      return op->emitOpError()
             << "derives its parameters from the input for dtype = " << dtype
             << (spec.isDynamic() && !spec.isBlockFloat() && !spec.isCast()
                     ? " with is_dynamic = true"
                     : "")
             << "; no 'scale' or 'zero_point' operand is allowed";
    return success();
  }
  if (!scale) {
    if (source == ParamSource::OperandsOrData)
      return success();
    return op->emitOpError()
           << "requires a 'scale' operand for dtype = " << dtype;
  }
  if (zeroPoint && !spec.hasZeroPoint())
    return op->emitOpError()
           << "takes no 'zero_point' for a symmetric or float spec (dtype = "
           << dtype << ")";
  if (!zeroPoint && spec.hasZeroPoint())
    return op->emitOpError()
           << "requires a 'zero_point' operand for an asymmetric spec";

  auto emitError = [&]() { return op->emitOpError(); };
  FailureOr<SmallVector<int64_t>> expected =
      getParamShape(spec, valueType.getShape(), emitError);
  if (failed(expected))
    return failure();
  auto scaleType = cast<RankedTensorType>(scale.getType());
  ArrayRef<int64_t> scaleShape = scaleType.getShape();
  bool perTensor = expected->empty();
  bool scaleShapeOk = perTensor
                          ? (scaleShape.empty() ||
                             (scaleShape.size() == 1 && scaleShape[0] == 1))
                          : shapesCompatible(scaleShape, *expected);
  if (!scaleShapeOk)
    return op->emitOpError()
           << "expects a scale of shape " << shapeString(*expected) << " for "
           << stringifyQSchemeType(spec.getQSchemeOrDefault())
           << " quantization of a " << shapeString(valueType.getShape())
           << " tensor, got " << shapeString(scaleShape);
  if (isa<Float8E8M0FNUType>(scaleType.getElementType()) &&
      !spec.usesMXScales())
    return op->emitOpError() << "an f8E8M0FNU scale needs an MX spec "
                                "(dtype = mx or scale_format = e8m0)";
  if (zeroPoint) {
    auto zeroType = cast<RankedTensorType>(zeroPoint.getType());
    if (zeroType.getShape() != scaleShape)
      return op->emitOpError()
             << "expects the zero point to have the scale's shape "
             << shapeString(scaleShape) << ", got "
             << shapeString(zeroType.getShape());
  }
  return success();
}

/// Checks that `codeElement` stores codes of `spec`. Sets `carriesScale`
/// when it is a !quant.uniform type with its own scale.
static LogicalResult verifyCodeElementType(Operation *op, TensorSpecAttr spec,
                                           Type codeElement, Type expressedType,
                                           int64_t rank, bool &carriesScale) {
  carriesScale = false;
  StringRef dtype = stringifyDtype(spec.getDtype());
  if (spec.isBlockFloat())
    return op->emitOpError()
           << "dtype = " << dtype
           << " is a simulation-only format with no storage encoding; use "
              "quark.fake_quant";
  Dtype storage = spec.getStorageDtype();
  if (!isIntegerDtype(storage)) {
    Type expected = getCodeElementType(spec, expressedType);
    if (codeElement != expected)
      return op->emitOpError()
             << "expects codes of type " << expected << " for dtype = " << dtype
             << ", got " << codeElement;
    return success();
  }
  auto quantized = dyn_cast<quant::QuantizedType>(codeElement);
  if (!quantized)
    return op->emitOpError()
           << "expects integer codes as a !quant type (e.g. "
           << getCodeElementType(spec, expressedType)
           << ") for dtype = " << dtype << ", got " << codeElement;
  unsigned width = getIntegerDtypeWidth(storage);
  if (quantized.getStorageTypeIntegralWidth() != width ||
      quantized.isSigned() != isSignedIntegerDtype(storage))
    return op->emitOpError()
           << "expects "
           << (isSignedIntegerDtype(storage) ? "signed " : "unsigned ") << width
           << "-bit storage for dtype = " << stringifyDtype(storage) << ", got "
           << codeElement;
  if (isa<quant::AnyQuantizedType>(quantized))
    return success();
  QSchemeType qscheme = spec.getQSchemeOrDefault();
  if (isa<quant::UniformQuantizedType>(quantized)) {
    if (qscheme != QSchemeType::per_tensor)
      return op->emitOpError()
             << "a per-tensor !quant.uniform type cannot hold "
             << stringifyQSchemeType(qscheme) << " codes";
    carriesScale = true;
    return success();
  }
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quantized)) {
    int64_t axis = spec.getChAxis().value_or(0);
    if (axis < 0)
      axis += rank;
    if (qscheme != QSchemeType::per_channel ||
        perAxis.getQuantizedDimension() != axis)
      return op->emitOpError()
             << "a per-axis !quant.uniform type on dimension "
             << perAxis.getQuantizedDimension()
             << " needs qscheme = per_channel with 'ch_axis' = "
             << perAxis.getQuantizedDimension();
    carriesScale = true;
    return success();
  }
  return op->emitOpError() << "unsupported quantized code type " << codeElement
                           << "; use !quant.any with scale operands for "
                              "per-group quantization";
}

/// Parameter source of an op that converts between floats and codes.
static ParamSource codeOpParamSource(TensorSpecAttr spec, bool carriesScale) {
  if (carriesScale)
    return ParamSource::CodeType;
  if (spec.isCast())
    return ParamSource::Data;
  return ParamSource::Operands;
}

//===----------------------------------------------------------------------===//
// ObserveOp
//===----------------------------------------------------------------------===//

static bool isHistogramObserver(std::optional<ObserverClass> observer) {
  return observer == ObserverClass::PerTensorHistogramObserver ||
         observer == ObserverClass::PerTensorHistogramObserverPro ||
         observer == ObserverClass::PerTensorPercentileObserver ||
         observer == ObserverClass::PerTensorMSEObserver;
}

LogicalResult ObserveOp::verify() {
  if (static_cast<bool>(getMinValues()) != static_cast<bool>(getMaxValues()))
    return emitOpError("expects 'min_values' and 'max_values' together");
  if (getMinValues()) {
    auto emitError = [&]() { return emitOpError(); };
    FailureOr<SmallVector<int64_t>> expected =
        getParamShape(getSpec(), getInput().getType().getShape(), emitError);
    if (failed(expected))
      return failure();
    for (DenseElementsAttr stats : {*getMinValues(), *getMaxValues()}) {
      ArrayRef<int64_t> shape = stats.getType().getShape();
      if (!shapesCompatible(shape, *expected))
        return emitOpError()
               << "expects statistics of shape " << shapeString(*expected)
               << ", got " << shapeString(shape);
    }
  }
  if (getHistogram()) {
    if (!isHistogramObserver(getSpec().getObserverCls()))
      return emitOpError("carries a histogram but its observer_cls keeps "
                         "none (histogram, percentile and MSE observers do)");
    if (!getHistogramEdges() || getHistogramEdges()->getNumElements() < 2)
      return emitOpError("expects 'histogram_edges' (at least two bin "
                         "edges) with a histogram");
    if (getHistogram()->getType().getRank() != 1 ||
        getHistogramEdges()->getType().getRank() != 1)
      return emitOpError("expects a 1-D 'histogram' and 'histogram_edges'");
  } else if (getHistogramEdges()) {
    return emitOpError("expects 'histogram_edges' only with a 'histogram'");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TwoStageFakeQuantOp
//===----------------------------------------------------------------------===//

/// A `second_scale` operand is the one per-tensor scale of a
/// scale-quantizing second stage.
static LogicalResult verifySecondScale(Operation *op, TwoStageSpecAttr spec,
                                       Value secondScale) {
  if (!secondScale)
    return success();
  if (!spec.quantizesScales())
    return op->emitOpError("takes a 'second_scale' only when the second "
                           "stage quantizes the first stage's scales");
  if (cast<RankedTensorType>(secondScale.getType()).getRank() != 0)
    return op->emitOpError("expects a scalar 'second_scale' (tensor<f32>)");
  return success();
}

LogicalResult TwoStageFakeQuantOp::verify() {
  return verifySecondScale(*this, getSpec(), getSecondScale());
}

//===----------------------------------------------------------------------===//
// ComputeBlockScalesOp
//===----------------------------------------------------------------------===//

LogicalResult ComputeBlockScalesOp::verify() {
  TwoStageSpecAttr spec = getSpec();
  if (!spec.quantizesScales())
    return emitOpError("expects a scale-quantizing two-stage spec (its "
                       "second stage with is_scale_quant = true)");
  if (failed(verifySecondScale(*this, spec, getSecondScale())))
    return failure();
  TensorSpecAttr first = spec.getFirst();
  if (first.hasZeroPoint())
    return emitOpError("expects a first stage without zero points");
  return verifyQuantParams(*this, first, getInput().getType(), getScale(),
                           Value(), ParamSource::Operands);
}

//===----------------------------------------------------------------------===//
// ComputeQParamsOp
//===----------------------------------------------------------------------===//

LogicalResult ComputeQParamsOp::verify() {
  TensorSpecAttr spec = getSpec();
  if (spec.isBlockFloat() || spec.isCast())
    return emitOpError() << "dtype = " << stringifyDtype(spec.getDtype())
                         << " has no quantization parameters";
  return verifyQuantParams(*this, spec, getInput().getType(), getScale(),
                           getZeroPoint(), ParamSource::Operands);
}

//===----------------------------------------------------------------------===//
// FakeQuantOp
//===----------------------------------------------------------------------===//

LogicalResult FakeQuantOp::verify() {
  TensorSpecAttr spec = getSpec();
  ParamSource source = ParamSource::Operands;
  if (spec.isBlockFloat() || spec.isCast() ||
      (spec.isDynamic() && !spec.usesMXScales()))
    source = ParamSource::Data;
  else if (spec.usesMXScales())
    source = ParamSource::OperandsOrData;
  return verifyQuantParams(*this, spec, getInput().getType(), getScale(),
                           getZeroPoint(), source);
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

static LogicalResult verifyCodeOp(Operation *op, TensorSpecAttr spec,
                                  RankedTensorType floatType,
                                  RankedTensorType codeType, Value scale,
                                  Value zeroPoint) {
  if (!shapesCompatible(floatType.getShape(), codeType.getShape()))
    return op->emitOpError()
           << "expects codes and values of the same shape, got "
           << shapeString(codeType.getShape()) << " and "
           << shapeString(floatType.getShape());
  bool carriesScale = false;
  if (failed(verifyCodeElementType(op, spec, codeType.getElementType(),
                                   floatType.getElementType(),
                                   floatType.getRank(), carriesScale)))
    return failure();
  return verifyQuantParams(op, spec, floatType, scale, zeroPoint,
                           codeOpParamSource(spec, carriesScale));
}

LogicalResult QuantizeOp::verify() {
  return verifyCodeOp(*this, getSpec(), getInput().getType(),
                      cast<RankedTensorType>(getResult().getType()), getScale(),
                      getZeroPoint());
}

bool DequantizeOp::hasDecodedInput() {
  auto input = cast<RankedTensorType>(getInput().getType());
  return isa<FloatType>(input.getElementType()) && !getSpec().isCast();
}

LogicalResult DequantizeOp::verify() {
  if (hasDecodedInput()) {
    // Decoded values of a narrow float format: value * scale.
    TensorSpecAttr spec = getSpec();
    if (isIntegerDtype(spec.getStorageDtype()) || spec.isBlockFloat() ||
        spec.usesMXScales())
      return emitOpError()
             << "takes decoded float values only for a narrow-float spec "
                "without MX scales (a progressive spec's first stage); "
                "dtype = "
             << stringifyDtype(spec.getDtype()) << " needs codes";
    if (!shapesCompatible(
            getResult().getType().getShape(),
            cast<RankedTensorType>(getInput().getType()).getShape()))
      return emitOpError("expects values and result of the same shape");
    return verifyQuantParams(*this, spec, getResult().getType(), getScale(),
                             getZeroPoint(), ParamSource::Operands);
  }
  return verifyCodeOp(*this, getSpec(), getResult().getType(),
                      cast<RankedTensorType>(getInput().getType()), getScale(),
                      getZeroPoint());
}

//===----------------------------------------------------------------------===//
// StorageCastOp
//===----------------------------------------------------------------------===//

Type StorageCastOp::getStorageElementType(Type codeElement) {
  if (auto quantized = dyn_cast<quant::QuantizedType>(codeElement))
    return quantized.getStorageType();
  if (auto qfloat = dyn_cast<QFloatType>(codeElement)) {
    if (FloatType builtin = qfloat.getBuiltinFloatType())
      return builtin;
    return IntegerType::get(codeElement.getContext(), 8, IntegerType::Unsigned);
  }
  return {};
}

LogicalResult StorageCastOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (input.getShape() != result.getShape())
    return emitOpError("expects operand and result of the same shape");
  Type inputStorage = getStorageElementType(input.getElementType());
  Type resultStorage = getStorageElementType(result.getElementType());
  if (static_cast<bool>(inputStorage) == static_cast<bool>(resultStorage))
    return emitOpError("casts between quantization codes (!quant or "
                       "!quark.qfloat elements) and their raw storage; "
                       "exactly one side must hold codes");
  Type codes = inputStorage ? input.getElementType() : result.getElementType();
  Type storage = inputStorage ? inputStorage : resultStorage;
  Type raw = inputStorage ? result.getElementType() : input.getElementType();
  if (raw != storage)
    return emitOpError() << "expects " << codes << " to be stored as "
                         << storage << ", got " << raw;
  return success();
}

OpFoldResult StorageCastOp::fold(FoldAdaptor) {
  auto inner = getInput().getDefiningOp<StorageCastOp>();
  if (inner && inner.getInput().getType() == getType())
    return inner.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// PackOp / UnpackOp
//===----------------------------------------------------------------------===//

namespace {
/// The packed layout of one code type.
struct PackedLayout {
  Type packedElement;
  unsigned codesPerUnit;    // codes in one packing unit
  unsigned elementsPerUnit; // packed elements the unit occupies
  bool padsPartialUnit;     // int4 words may be partial
  bool takesPackMethod;
};
} // namespace

static FailureOr<PackedLayout> getPackedLayout(Operation *op,
                                               Type codeElement) {
  MLIRContext *context = op->getContext();
  Type byte = IntegerType::get(context, 8, IntegerType::Unsigned);
  if (auto quantized = dyn_cast<quant::QuantizedType>(codeElement)) {
    unsigned width = quantized.getStorageTypeIntegralWidth();
    if (width == 4)
      return PackedLayout{IntegerType::get(context, 32), 8, 1, true, true};
    if (width == 3 && quantized.isSigned())
      return PackedLayout{byte, 8, 3, false, false};
    return op->emitOpError()
           << "has no packed layout for " << codeElement
           << " (int8 and wider codes are stored unpacked; Quark stores int2 "
              "unpacked too)";
  }
  if (auto qfloat = dyn_cast<QFloatType>(codeElement)) {
    if (qfloat.getBitWidth() == 4)
      return PackedLayout{byte, 2, 1, false, false};
    if (qfloat.getBitWidth() == 6)
      return PackedLayout{byte, 4, 3, false, false};
    return op->emitOpError() << "has no packed layout for " << codeElement
                             << " (8-bit codes are stored as bytes)";
  }
  return op->emitOpError() << "packs quantization codes (!quant or "
                              "!quark.qfloat elements), got "
                           << codeElement;
}

static LogicalResult verifyPacking(Operation *op, RankedTensorType codes,
                                   RankedTensorType packed,
                                   std::optional<PackMethod> method) {
  FailureOr<PackedLayout> layout = getPackedLayout(op, codes.getElementType());
  if (failed(layout))
    return failure();
  if (layout->takesPackMethod && !method)
    return op->emitOpError("requires 'pack_method' (order or reorder) for "
                           "int4 codes");
  if (!layout->takesPackMethod && method)
    return op->emitOpError("takes 'pack_method' for int4 codes only");
  if (packed.getElementType() != layout->packedElement)
    return op->emitOpError()
           << "expects packed elements of type " << layout->packedElement
           << ", got " << packed.getElementType();
  if (codes.getRank() == 0 || codes.getRank() != packed.getRank())
    return op->emitOpError("expects codes and packed tensors of the same "
                           "rank >= 1");
  ArrayRef<int64_t> codeShape = codes.getShape();
  ArrayRef<int64_t> packedShape = packed.getShape();
  if (!shapesCompatible(codeShape.drop_back(), packedShape.drop_back()))
    return op->emitOpError("expects codes and packed tensors to agree on "
                           "all but the last dimension");
  int64_t last = codeShape.back();
  if (ShapedType::isDynamic(last) || ShapedType::isDynamic(packedShape.back()))
    return success();
  if (!layout->padsPartialUnit && last % layout->codesPerUnit != 0)
    return op->emitOpError()
           << "expects the last dimension (" << last << ") to be a multiple of "
           << layout->codesPerUnit << " for " << codes.getElementType();
  int64_t units = (last + layout->codesPerUnit - 1) / layout->codesPerUnit;
  int64_t expected = units * layout->elementsPerUnit;
  if (packedShape.back() != expected)
    return op->emitOpError()
           << "expects a packed last dimension of " << expected << " for "
           << last << " codes, got " << packedShape.back();
  return success();
}

LogicalResult PackOp::verify() {
  return verifyPacking(*this, cast<RankedTensorType>(getInput().getType()),
                       cast<RankedTensorType>(getResult().getType()),
                       getPackMethod());
}

LogicalResult UnpackOp::verify() {
  return verifyPacking(*this, cast<RankedTensorType>(getResult().getType()),
                       cast<RankedTensorType>(getInput().getType()),
                       getPackMethod());
}

OpFoldResult PackOp::fold(FoldAdaptor) {
  auto unpack = getInput().getDefiningOp<UnpackOp>();
  if (unpack && unpack.getPackMethod() == getPackMethod() &&
      unpack.getInput().getType() == getType())
    return unpack.getInput();
  return {};
}

OpFoldResult UnpackOp::fold(FoldAdaptor) {
  auto pack = getInput().getDefiningOp<PackOp>();
  if (pack && pack.getPackMethod() == getPackMethod() &&
      pack.getInput().getType() == getType())
    return pack.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// fake_quant as quantize + dequantize
//===----------------------------------------------------------------------===//

/// quark.quantize then quark.dequantize of `input` under `spec` with the
/// given parameters: the values a fake_quant returns, as codes and back.
static Value quantizeAndDequantize(OpBuilder &builder, Location loc,
                                   Value input, TensorSpecAttr spec,
                                   Value scale, Value zeroPoint) {
  auto floatType = cast<RankedTensorType>(input.getType());
  auto codeType = RankedTensorType::get(
      floatType.getShape(),
      getCodeElementType(spec, floatType.getElementType()));
  Value codes =
      QuantizeOp::create(builder, loc, codeType, input, spec, scale, zeroPoint);
  return DequantizeOp::create(builder, loc, floatType, codes, spec, scale,
                              zeroPoint);
}

/// The f32 parameter tensor of `spec` for `input`, or an error on `op`.
static FailureOr<RankedTensorType> paramType(Operation *op, TensorSpecAttr spec,
                                             Value input) {
  auto emitError = [&]() { return op->emitOpError(); };
  FailureOr<SmallVector<int64_t>> paramShape = getParamShape(
      spec, cast<RankedTensorType>(input.getType()).getShape(), emitError);
  if (failed(paramShape))
    return failure();
  return RankedTensorType::get(*paramShape, Float32Type::get(op->getContext()));
}

LogicalResult mlir::quark::expandFakeQuant(RewriterBase &rewriter,
                                           FakeQuantOp op,
                                           TensorSpecAttr spec) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  Value scale = op.getScale(), zeroPoint = op.getZeroPoint();
  if (!scale && !spec.isCast()) {
    FailureOr<RankedTensorType> scaleType = paramType(op, spec, op.getInput());
    if (failed(scaleType))
      return failure();
    Type zeroType;
    if (spec.hasZeroPoint())
      zeroType = scaleType->clone(rewriter.getI32Type());
    auto params = ComputeQParamsOp::create(rewriter, loc, *scaleType, zeroType,
                                           op.getInput(), spec);
    scale = params.getScale();
    zeroPoint = params.getZeroPoint();
  }
  rewriter.replaceOp(op, quantizeAndDequantize(rewriter, loc, op.getInput(),
                                               spec, scale, zeroPoint));
  return success();
}

LogicalResult mlir::quark::expandTwoStageFakeQuant(RewriterBase &rewriter,
                                                   TwoStageFakeQuantOp op,
                                                   TensorSpecAttr first) {
  TwoStageSpecAttr spec = op.getSpec();
  if (!spec.quantizesScales())
    return op.emitOpError(
        "is progressive (both stages quantize values, as int4_fp8 weights "
        "do); only scale-quantizing specs expand to quantize + dequantize: "
        "store progressive weights with quark-quantize-weights");
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  FailureOr<RankedTensorType> scaleType = paramType(op, first, op.getInput());
  if (failed(scaleType))
    return failure();
  auto adapted =
      TwoStageSpecAttr::get(op.getContext(), first, spec.getSecond());
  Value scales = ComputeBlockScalesOp::create(
      rewriter, loc, *scaleType, op.getInput(), adapted, op.getSecondScale());
  rewriter.replaceOp(op, quantizeAndDequantize(rewriter, loc, op.getInput(),
                                               first, scales, Value()));
  return success();
}
