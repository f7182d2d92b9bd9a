//===- QuarkAttrs.cpp - Quantization specifications and their rules -------===//
//
// The verifiers implement Quark's QTensorConfig / QLayerConfig validity rules
// (quark/torch/quantization/config/config.py, __post_init__) and the OCP MX
// constraints. Every diagnostic names the offending field and what it allows.
//
//===----------------------------------------------------------------------===//

#include "quark/Dialect/Quark/IR/QuarkDialect.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::quark;

#define GET_ATTRDEF_CLASSES
#include "quark/Dialect/Quark/IR/QuarkAttrs.cpp.inc"

void QuarkDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "quark/Dialect/Quark/IR/QuarkAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Parameter parsing helpers
//===----------------------------------------------------------------------===//

FailureOr<std::optional<bool>> mlir::quark::parseBoolValue(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("true")))
    return std::optional<bool>(true);
  if (succeeded(parser.parseOptionalKeyword("false")))
    return std::optional<bool>(false);
  return parser.emitError(parser.getCurrentLocation(),
                          "expected 'true' or 'false'");
}

FailureOr<SmallVector<int64_t>>
mlir::quark::parseIntegerList(AsmParser &parser) {
  SmallVector<int64_t> values;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&]() {
        int64_t value;
        if (parser.parseInteger(value))
          return failure();
        values.push_back(value);
        return success();
      }))
    return failure();
  return values;
}

void mlir::quark::printIntegerList(AsmPrinter &printer,
                                   ArrayRef<int64_t> values) {
  printer << '[';
  llvm::interleaveComma(values, printer);
  printer << ']';
}

//===----------------------------------------------------------------------===//
// Dtype classification
//===----------------------------------------------------------------------===//

bool mlir::quark::isFloatCodeDtype(Dtype dtype) {
  switch (dtype) {
  case Dtype::fp8_e4m3:
  case Dtype::fp8_e4m3fnuz:
  case Dtype::fp8_e5m2:
  case Dtype::fp8_e5m2fnuz:
  case Dtype::fp8_e5m3:
  case Dtype::fp6_e2m3:
  case Dtype::fp6_e3m2:
  case Dtype::fp4:
    return true;
  default:
    return false;
  }
}

bool mlir::quark::isIntegerDtype(Dtype dtype) {
  switch (dtype) {
  case Dtype::int2:
  case Dtype::int3:
  case Dtype::int4:
  case Dtype::uint4:
  case Dtype::int8:
  case Dtype::uint8:
  case Dtype::int16:
  case Dtype::uint16:
  case Dtype::int32:
    return true;
  default:
    return false;
  }
}

bool mlir::quark::isSignedIntegerDtype(Dtype dtype) {
  return isIntegerDtype(dtype) && dtype != Dtype::uint4 &&
         dtype != Dtype::uint8 && dtype != Dtype::uint16;
}

unsigned mlir::quark::getIntegerDtypeWidth(Dtype dtype) {
  switch (dtype) {
  case Dtype::int2:
    return 2;
  case Dtype::int3:
    return 3;
  case Dtype::int4:
  case Dtype::uint4:
    return 4;
  case Dtype::int8:
  case Dtype::uint8:
    return 8;
  case Dtype::int16:
  case Dtype::uint16:
    return 16;
  case Dtype::int32:
    return 32;
  default:
    return 0;
  }
}

static bool isBlockFloatDtype(Dtype dtype) {
  return dtype == Dtype::mx6 || dtype == Dtype::mx9 || dtype == Dtype::bfp16;
}

static bool isCastDtype(Dtype dtype) {
  return dtype == Dtype::bfloat16 || dtype == Dtype::float16;
}

/// Quark insists on an explicit is_dynamic for integers and OCP fp8.
static bool requiresDynamicField(Dtype dtype) {
  switch (dtype) {
  case Dtype::fp8_e4m3:
  case Dtype::fp8_e4m3fnuz:
  case Dtype::fp8_e5m2:
  case Dtype::fp8_e5m2fnuz:
    return true;
  default:
    return isIntegerDtype(dtype);
  }
}

static bool isMXElementDtype(Dtype dtype) {
  switch (dtype) {
  case Dtype::fp8_e4m3:
  case Dtype::fp8_e5m2:
  case Dtype::fp6_e2m3:
  case Dtype::fp6_e3m2:
  case Dtype::fp4:
  case Dtype::int8:
    return true;
  default:
    return false;
  }
}

//===----------------------------------------------------------------------===//
// Observer classes by granularity (Quark's PER_*_OBSERVERS sets)
//===----------------------------------------------------------------------===//

static bool isPerTensorObserver(ObserverClass observer) {
  switch (observer) {
  case ObserverClass::PerTensorMinMaxObserver:
  case ObserverClass::PerTensorPowOf2MinMaxObserver:
  case ObserverClass::PerTensorPowOf2MinMSEObserver:
  case ObserverClass::PerTensorHistogramObserver:
  case ObserverClass::PerTensorHistogramObserverPro:
  case ObserverClass::PerTensorPercentileObserver:
  case ObserverClass::PerTensorMSEObserver:
  case ObserverClass::TQTObserver:
  case ObserverClass::LSQObserver:
    return true;
  default:
    return false;
  }
}

static bool isPerChannelObserver(ObserverClass observer) {
  switch (observer) {
  case ObserverClass::PerChannelMinMaxObserver:
  case ObserverClass::PerChannelPowOf2MinMaxObserver:
  case ObserverClass::PerChannelPowOf2MinMSEObserver:
  case ObserverClass::LSQObserver:
    return true;
  default:
    return false;
  }
}

static bool isPerGroupObserver(ObserverClass observer) {
  switch (observer) {
  case ObserverClass::PerBlockMXObserver:
  case ObserverClass::PerBlockMXBufferReuseObserver:
  case ObserverClass::PerBlockMXDiffsObserver:
  case ObserverClass::PerBlockBFPObserver:
  case ObserverClass::PerBlock2DMinMaxObserver:
  case ObserverClass::PerGroupMinMaxObserver:
    return true;
  default:
    return false;
  }
}

static std::string observersMatching(bool (*predicate)(ObserverClass)) {
  std::string names;
  for (uint32_t i = 0; i <= getMaxEnumValForObserverClass(); ++i) {
    auto observer = static_cast<ObserverClass>(i);
    if (!predicate(observer))
      continue;
    if (!names.empty())
      names += ", ";
    names += stringifyObserverClass(observer);
  }
  return names;
}

//===----------------------------------------------------------------------===//
// TensorSpecAttr
//===----------------------------------------------------------------------===//

Dtype TensorSpecAttr::getStorageDtype() const {
  if (getDtype() == Dtype::mx && getMxElementDtype())
    return *getMxElementDtype();
  return getDtype();
}

bool TensorSpecAttr::usesMXScales() const {
  return getDtype() == Dtype::mx ||
         getScaleFormat() == std::optional<ScaleFormatType>(ScaleFormatType::e8m0);
}

bool TensorSpecAttr::isBlockFloat() const {
  return isBlockFloatDtype(getDtype());
}

bool TensorSpecAttr::isCast() const { return isCastDtype(getDtype()); }

bool TensorSpecAttr::hasZeroPoint() const {
  return isIntegerDtype(getStorageDtype()) && !isSymmetric() &&
         !usesMXScales();
}

/// Checks of the non-scaled formats (mx, mx6, mx9, bfp16): the block is
/// `group_size` elements along `ch_axis`.
static LogicalResult
verifyBlockFormat(function_ref<InFlightDiagnostic()> emitError, Dtype dtype,
                  std::optional<QSchemeType> qscheme,
                  std::optional<int64_t> chAxis,
                  std::optional<int64_t> groupSize,
                  std::optional<Dtype> mxElementDtype) {
  StringRef name = stringifyDtype(dtype);
  if (!chAxis)
    return emitError() << "dtype = " << name << " requires 'ch_axis'";
  if (!groupSize)
    return emitError() << "dtype = " << name << " requires 'group_size'";
  if (qscheme && *qscheme != QSchemeType::per_group)
    return emitError() << "dtype = " << name
                       << " is block quantization: 'qscheme' must be "
                          "per_group, got "
                       << stringifyQSchemeType(*qscheme);
  switch (dtype) {
  case Dtype::mx:
    if (!mxElementDtype)
      return emitError() << "dtype = mx requires 'mx_element_dtype'";
    if (!isMXElementDtype(*mxElementDtype))
      return emitError() << "'mx_element_dtype' must be one of fp8_e4m3, "
                            "fp8_e5m2, fp6_e2m3, fp6_e3m2, fp4, int8; got "
                         << stringifyDtype(*mxElementDtype);
    if (*groupSize != 32)
      return emitError() << "dtype = mx is OCP MX with 32-element blocks: "
                            "'group_size' must be 32, got "
                         << *groupSize;
    return success();
  case Dtype::bfp16:
    if (*groupSize != 8)
      return emitError() << "dtype = bfp16 uses 8-element blocks: "
                            "'group_size' must be 8, got "
                         << *groupSize;
    return success();
  default: // mx6, mx9: elements pair up for the shared prime bit
    if (*groupSize <= 0 || *groupSize % 2 != 0)
      return emitError() << "dtype = " << name
                         << " pairs block elements: 'group_size' must be a "
                            "positive even number, got "
                         << *groupSize;
    return success();
  }
}

/// Granularity checks of scaled formats: the observer must support the
/// qscheme and the qscheme's own fields must be present.
static LogicalResult
verifyGranularity(function_ref<InFlightDiagnostic()> emitError,
                  QSchemeType qscheme, ObserverClass observer,
                  std::optional<int64_t> chAxis,
                  std::optional<int64_t> groupSize,
                  ArrayRef<int64_t> blockSize) {
  StringRef observerName = stringifyObserverClass(observer);
  switch (qscheme) {
  case QSchemeType::per_tensor:
    if (!isPerTensorObserver(observer))
      return emitError() << "qscheme = per_tensor needs a per-tensor "
                            "'observer_cls' ("
                         << observersMatching(isPerTensorObserver) << "), got "
                         << observerName;
    return success();
  case QSchemeType::per_channel:
    if (!isPerChannelObserver(observer))
      return emitError() << "qscheme = per_channel needs a per-channel "
                            "'observer_cls' ("
                         << observersMatching(isPerChannelObserver)
                         << "), got " << observerName;
    if (!chAxis)
      return emitError() << "qscheme = per_channel requires 'ch_axis'";
    return success();
  case QSchemeType::per_group:
    if (!isPerGroupObserver(observer))
      return emitError() << "qscheme = per_group needs a per-group "
                            "'observer_cls' ("
                         << observersMatching(isPerGroupObserver) << "), got "
                         << observerName;
    if (!chAxis)
      return emitError() << "qscheme = per_group requires 'ch_axis'";
    if (!groupSize)
      return emitError() << "qscheme = per_group requires 'group_size'";
    if (*groupSize <= 0 && *groupSize != -1)
      return emitError() << "'group_size' must be a positive integer or -1 "
                            "(the whole axis), got "
                         << *groupSize;
    return success();
  case QSchemeType::per_block:
    if (blockSize.size() != 2 ||
        llvm::any_of(blockSize, [](int64_t b) { return b <= 0; }))
      return emitError() << "qscheme = per_block requires 'block_size' with "
                            "two positive extents, e.g. [128, 128]";
    return success();
  }
  return success();
}

/// scale_format fixes the element types and block structure it can encode.
static LogicalResult
verifyScaleFormat(function_ref<InFlightDiagnostic()> emitError, Dtype dtype,
                  ScaleFormatType format, std::optional<QSchemeType> qscheme,
                  std::optional<int64_t> groupSize) {
  StringRef name = stringifyScaleFormatType(format);
  switch (format) {
  case ScaleFormatType::e8m0:
    if (dtype == Dtype::mx)
      return success();
    if (!isMXElementDtype(dtype) || dtype == Dtype::int8)
      return emitError() << "scale_format = e8m0 is OCP MX: 'dtype' must be "
                            "fp4, fp6_e2m3, fp6_e3m2, fp8_e4m3 or fp8_e5m2, "
                            "got "
                         << stringifyDtype(dtype);
    if (qscheme != QSchemeType::per_group || groupSize != 32)
      return emitError() << "scale_format = e8m0 is OCP MX: needs qscheme = "
                            "per_group with 'group_size' = 32";
    return success();
  case ScaleFormatType::e5m3:
    if (dtype != Dtype::fp4)
      return emitError() << "scale_format = e5m3 (AMD FP4) needs dtype = "
                            "fp4, got "
                         << stringifyDtype(dtype);
    if (qscheme != QSchemeType::per_group ||
        (groupSize != 16 && groupSize != 32))
      return emitError() << "scale_format = e5m3 needs qscheme = per_group "
                            "with 'group_size' 16 or 32";
    return success();
  case ScaleFormatType::e4m3:
    if (dtype != Dtype::fp4 || qscheme != QSchemeType::per_group)
      return emitError() << "scale_format = " << name
                         << " (NVFP4 local scales) needs dtype = fp4 with "
                            "qscheme = per_group";
    return success();
  case ScaleFormatType::float32:
    return success();
  }
  return success();
}

LogicalResult TensorSpecAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, Dtype dtype,
    std::optional<QSchemeType> qscheme, std::optional<int64_t> chAxis,
    std::optional<int64_t> groupSize, ArrayRef<int64_t> blockSize,
    std::optional<bool> symmetric, std::optional<bool> isDynamic,
    std::optional<RoundType> roundMethod, std::optional<ScaleType> scaleType,
    std::optional<ScaleFormatType> scaleFormat,
    std::optional<ScaleCalculationMode> scaleCalculationMode,
    std::optional<Dtype> mxElementDtype,
    std::optional<ObserverClass> observerCls, bool isScaleQuant) {
  StringRef name = stringifyDtype(dtype);
  if (mxElementDtype && dtype != Dtype::mx)
    return emitError() << "'mx_element_dtype' only applies to dtype = mx, got "
                          "dtype = "
                       << name;
  bool mxScales = dtype == Dtype::mx || scaleFormat == ScaleFormatType::e8m0;
  // Quark's block-format specs (MX6Spec, MX9Spec, BFP16Spec) all carry it.
  if (scaleCalculationMode && !mxScales && dtype != Dtype::mx6 &&
      dtype != Dtype::mx9 && dtype != Dtype::bfp16)
    return emitError() << "'scale_calculation_mode' only applies to MX "
                          "scales (dtype = mx, mx6, mx9, bfp16 or "
                          "scale_format = e8m0)";
  if (!blockSize.empty() && qscheme != QSchemeType::per_block)
    return emitError() << "'block_size' only applies to qscheme = per_block";

  if (isCastDtype(dtype)) {
    if (observerCls && *observerCls != ObserverClass::PlaceholderObserver)
      return emitError() << "dtype = " << name
                         << " is a cast and only takes 'observer_cls' = "
                            "PlaceholderObserver, got "
                         << stringifyObserverClass(*observerCls);
    if (isScaleQuant)
      return emitError() << "dtype = " << name
                         << " is a cast and cannot quantize scales";
    return success();
  }

  if (dtype == Dtype::mx || isBlockFloatDtype(dtype)) {
    if (isScaleQuant)
      return emitError() << "dtype = " << name
                         << " derives its scales from the data and cannot "
                            "quantize scales";
    return verifyBlockFormat(emitError, dtype, qscheme, chAxis, groupSize,
                             mxElementDtype);
  }

  // What remains are the scaled formats: integers and narrow floats.
  if (requiresDynamicField(dtype) && !isDynamic)
    return emitError() << "dtype = " << name << " requires 'is_dynamic'";
  if (!observerCls)
    return emitError() << "dtype = " << name << " requires 'observer_cls'";
  if (!qscheme)
    return emitError() << "dtype = " << name << " requires 'qscheme'";
  if (isIntegerDtype(dtype)) {
    if (!symmetric)
      return emitError() << "dtype = " << name << " requires 'symmetric'";
    if (!roundMethod)
      return emitError() << "dtype = " << name << " requires 'round_method'";
    if (!scaleType)
      return emitError() << "dtype = " << name << " requires 'scale_type'";
  } else if (symmetric == std::optional<bool>(false)) {
    return emitError() << "dtype = " << name
                       << " is a scaled float format without zero point: "
                          "'symmetric' cannot be false";
  }
  if (failed(verifyGranularity(emitError, *qscheme, *observerCls, chAxis,
                               groupSize, blockSize)))
    return failure();
  if (scaleFormat &&
      failed(verifyScaleFormat(emitError, dtype, *scaleFormat, qscheme,
                               groupSize)))
    return failure();
  if (isScaleQuant && *qscheme != QSchemeType::per_tensor)
    return emitError() << "a scale-quantizing spec ('is_scale_quant' = true) "
                          "quantizes the first stage's scales per tensor: "
                          "'qscheme' must be per_tensor, got "
                       << stringifyQSchemeType(*qscheme);
  return success();
}

//===----------------------------------------------------------------------===//
// TwoStageSpecAttr
//===----------------------------------------------------------------------===//

LogicalResult
TwoStageSpecAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         TensorSpecAttr first, TensorSpecAttr second) {
  if (first.getIsScaleQuant())
    return emitError() << "the first stage of a two-stage spec quantizes "
                          "values: its 'is_scale_quant' must be false";
  if (second.getIsScaleQuant()) {
    if (first.getQSchemeOrDefault() == QSchemeType::per_tensor)
      return emitError() << "a scale-quantizing second stage needs a first "
                            "stage with one scale per channel, group or "
                            "block, not per_tensor";
    if (first.isBlockFloat() || first.isCast())
      return emitError() << "the first stage (dtype = "
                         << stringifyDtype(first.getDtype())
                         << ") has no scales to quantize";
    return success();
  }
  for (TensorSpecAttr stage : {first, second})
    if (stage.isBlockFloat() || stage.isCast() ||
        stage.getDtype() == Dtype::mx)
      return emitError() << "a progressive two-stage spec chains scaled "
                            "integer or float quantizers; dtype = "
                         << stringifyDtype(stage.getDtype())
                         << " cannot take part";
  return success();
}

//===----------------------------------------------------------------------===//
// LayerSpecAttr
//===----------------------------------------------------------------------===//

static LogicalResult
verifyLayerField(function_ref<InFlightDiagnostic()> emitError,
                 StringRef field, Attribute value, bool isActivation) {
  if (!value)
    return success();
  SmallVector<TensorSpecAttr, 2> stages;
  if (auto spec = dyn_cast<TensorSpecAttr>(value)) {
    stages.push_back(spec);
  } else if (auto twoStage = dyn_cast<TwoStageSpecAttr>(value)) {
    stages.push_back(twoStage.getFirst());
    stages.push_back(twoStage.getSecond());
  } else {
    return emitError() << "'" << field
                       << "' must be a #quark.spec or #quark.two_stage";
  }
  if (!isActivation)
    return success();
  for (TensorSpecAttr spec : stages)
    if (spec.getQscheme() == QSchemeType::per_group && !spec.isDynamic() &&
        !spec.getIsScaleQuant())
      return emitError() << "'" << field
                         << "': static per_group quantization of activations "
                            "is not supported (as in Quark); use "
                            "'is_dynamic' = true";
  return success();
}

LogicalResult LayerSpecAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, Attribute inputTensors,
    Attribute outputTensors, Attribute weight, Attribute bias) {
  if (failed(verifyLayerField(emitError, "input_tensors", inputTensors,
                              /*isActivation=*/true)) ||
      failed(verifyLayerField(emitError, "output_tensors", outputTensors,
                              /*isActivation=*/true)) ||
      failed(verifyLayerField(emitError, "weight", weight, false)) ||
      failed(verifyLayerField(emitError, "bias", bias, false)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Layouts and code types
//===----------------------------------------------------------------------===//

Type mlir::quark::getCodeElementType(TensorSpecAttr spec, Type expressedType) {
  MLIRContext *context = spec.getContext();
  if (spec.isBlockFloat())
    return {};
  if (spec.isCast())
    return spec.getDtype() == Dtype::bfloat16
               ? static_cast<Type>(BFloat16Type::get(context))
               : static_cast<Type>(Float16Type::get(context));
  Dtype storage = spec.getStorageDtype();
  if (isFloatCodeDtype(storage))
    return QFloatType::get(context, storage);
  if (!isIntegerDtype(storage))
    return {};
  unsigned width = getIntegerDtypeWidth(storage);
  bool isSigned = isSignedIntegerDtype(storage);
  int64_t minimum = isSigned ? -(int64_t(1) << (width - 1)) : 0;
  int64_t maximum = isSigned ? (int64_t(1) << (width - 1)) - 1
                             : (int64_t(1) << width) - 1;
  return quant::AnyQuantizedType::get(
      isSigned ? quant::QuantizationFlags::Signed : 0,
      IntegerType::get(context, width), expressedType, minimum, maximum);
}

FailureOr<SmallVector<int64_t>>
mlir::quark::getParamShape(TensorSpecAttr spec, ArrayRef<int64_t> shape,
                           function_ref<InFlightDiagnostic()> emitError) {
  QSchemeType qscheme = spec.getQSchemeOrDefault();
  int64_t rank = static_cast<int64_t>(shape.size());
  if (qscheme == QSchemeType::per_tensor)
    return SmallVector<int64_t>{};
  if (qscheme == QSchemeType::per_block) {
    ArrayRef<int64_t> blocks = spec.getBlockSize();
    if (static_cast<int64_t>(blocks.size()) != rank)
      return emitError() << "per_block 'block_size' has " << blocks.size()
                         << " extents for a rank-" << rank << " tensor";
    SmallVector<int64_t> paramShape;
    for (auto [dim, block] : llvm::zip(shape, blocks))
      paramShape.push_back(ShapedType::isDynamic(dim)
                               ? ShapedType::kDynamic
                               : (dim + block - 1) / block);
    return paramShape;
  }
  int64_t axis = spec.getChAxis().value_or(0);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return emitError() << "'ch_axis' = " << spec.getChAxis().value_or(0)
                       << " is out of range for a rank-" << rank << " tensor";
  if (qscheme == QSchemeType::per_channel)
    return SmallVector<int64_t>{shape[axis]};
  int64_t group = spec.getGroupSize().value_or(-1);
  SmallVector<int64_t> paramShape(shape.begin(), shape.end());
  if (ShapedType::isDynamic(shape[axis]))
    return paramShape;
  if (group == -1)
    group = shape[axis];
  bool padsLastGroup = spec.usesMXScales() || spec.isBlockFloat();
  if (!padsLastGroup && shape[axis] % group != 0)
    return emitError() << "dimension " << axis << " (" << shape[axis]
                       << " elements) is not a multiple of 'group_size' = "
                       << group;
  paramShape[axis] = (shape[axis] + group - 1) / group;
  return paramShape;
}
