//===- QuantizationUtils.cpp - Shared pieces of the quantization passes ---===//

#include "QuantizationUtils.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Import/HuggingFace.h"
#include "quark/Support/Parallel.h"

#include "mlir/IR/Builders.h"

#include <mutex>
#include <optional>

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
  return !observer ||
         (*observer != ObserverClass::PerBlockMXObserver &&
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

llvm::Expected<MinMaxStats>
mlir::quark::streamedExtremes(WeightStore &store, llvm::StringRef name,
                              llvm::StringRef file,
                              llvm::ArrayRef<int64_t> shape) {
  constexpr int64_t kChunkElements = 1 << 16;
  int64_t rows = shape.empty() ? 1 : shape.front();
  int64_t rowElements = 1;
  for (int64_t dim : shape.drop_front())
    rowElements *= dim;
  int64_t chunkRows =
      std::max<int64_t>(1, kChunkElements / std::max<int64_t>(rowElements, 1));
  TensorQuantSpec whole;
  whole.qscheme = QScheme::PerTensor;
  std::mutex mutex;
  std::optional<std::string> failure;
  MinMaxStats extremes;
  parallelChunks(rows, chunkRows, [&](int64_t from, int64_t to) {
    std::vector<float> values;
    MinMaxStats local;
    for (int64_t begin = from; begin < to; begin += chunkRows) {
      int64_t end = std::min(to, begin + chunkRows);
      values.resize(static_cast<size_t>((end - begin) * rowElements));
      llvm::Error error = store.readRows(name, file, begin, end, values);
      llvm::Expected<QuantLayout> layout =
          error
              ? llvm::Expected<QuantLayout>(std::move(error))
              : QuantLayout::get({static_cast<int64_t>(values.size())}, whole);
      if (!layout) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure)
          failure = llvm::toString(layout.takeError());
        else
          llvm::consumeError(layout.takeError());
        return;
      }
      observeMinMax(*layout, values, local);
    }
    if (local.empty())
      return;
    std::lock_guard<std::mutex> lock(mutex);
    if (extremes.empty()) {
      extremes = local;
      return;
    }
    extremes.min[0] = std::min(extremes.min[0], local.min[0]);
    extremes.max[0] = std::max(extremes.max[0], local.max[0]);
  });
  if (failure)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *failure);
  if (extremes.empty())
    extremes = {{0.0f}, {0.0f}};
  return extremes;
}
