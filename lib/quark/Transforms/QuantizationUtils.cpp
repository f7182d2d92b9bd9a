//===- QuantizationUtils.cpp - Shared pieces of the quantization passes ---===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::quark;

Type mlir::quark::modelFloatType(ModuleOp module) {
  MLIRContext *context = module.getContext();
  auto dtype = module->getAttrOfType<StringAttr>(kModelDtypeAttr);
  if (dtype && dtype.getValue() == "bfloat16")
    return BFloat16Type::get(context);
  if (dtype && dtype.getValue() == "float16")
    return Float16Type::get(context);
  return Float32Type::get(context);
}

bool mlir::quark::needsCalibration(TensorSpecAttr spec) {
  if (!spec || spec.getIsDynamic().value_or(false) || spec.isBlockFloat() ||
      spec.isCast())
    return false;
  // Block observers (OCP MX, amdfp4, the first stage of NVFP4) derive each
  // block's scale from the block itself.
  if (spec.getDtype() == Dtype::mx ||
      spec.getScaleFormat() == ScaleFormatType::e8m0)
    return false;
  std::optional<ObserverClass> observer = spec.getObserverCls();
  return !observer || (*observer != ObserverClass::PerBlockMXObserver &&
                       *observer != ObserverClass::PerBlockMXBufferReuseObserver &&
                       *observer != ObserverClass::PerBlockMXDiffsObserver &&
                       *observer != ObserverClass::PerBlockBFPObserver);
}

TensorSpecAttr mlir::quark::singleStage(Attribute field) {
  return dyn_cast_or_null<TensorSpecAttr>(field);
}

FailureOr<std::optional<HistogramMethod>> mlir::quark::observerMethod(
    TensorSpecAttr spec, llvm::function_ref<InFlightDiagnostic()> emitError) {
  std::optional<ObserverClass> observer = spec.getObserverCls();
  if (!observer)
    return std::optional<HistogramMethod>();
  switch (*observer) {
  case ObserverClass::PerTensorMinMaxObserver:
  case ObserverClass::PerChannelMinMaxObserver:
  case ObserverClass::PerGroupMinMaxObserver:
  case ObserverClass::UniformScalingObserver:
  case ObserverClass::PlaceholderObserver:
  case ObserverClass::PerBlockMXObserver:
  case ObserverClass::PerBlockMXBufferReuseObserver:
  case ObserverClass::PerBlockBFPObserver:
    return std::optional<HistogramMethod>();
  case ObserverClass::PerTensorHistogramObserver:
    return std::optional(HistogramMethod::Histogram);
  case ObserverClass::PerTensorPercentileObserver:
    return std::optional(HistogramMethod::Percentile);
  case ObserverClass::PerTensorMSEObserver:
    return std::optional(HistogramMethod::MSE);
  default:
    break;
  }
  return emitError() << "observer_cls " << stringifyObserverClass(*observer)
                     << " is not implemented (min-max, histogram, percentile, "
                        "MSE and the block observers are)";
}

FailureOr<std::pair<RankedTensorType, RankedTensorType>>
mlir::quark::paramTypes(TensorSpecAttr spec, RankedTensorType type,
                        Operation *at) {
  FailureOr<SmallVector<int64_t>> shape =
      getParamShape(spec, type.getShape(), [&] { return at->emitOpError(); });
  if (failed(shape))
    return failure();
  Builder builder(at->getContext());
  RankedTensorType zeroType;
  if (spec.hasZeroPoint())
    zeroType = RankedTensorType::get(*shape, builder.getI32Type());
  return std::make_pair(RankedTensorType::get(*shape, builder.getF32Type()),
                        zeroType);
}
