//===- TwoStageQuant.cpp - Quark's two-stage specs ------------------------===//

#include "quark/Support/TwoStageQuant.h"

#include "quark/Support/ScalarQuant.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace mlir::quark;

static llvm::Error twoStageError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

static float elementMax(const TensorQuantSpec &spec) {
  const DTypeInfo &info = getDTypeInfo(spec.elementType());
  if (info.isInteger())
    return static_cast<float>(info.qmax);
  return static_cast<float>(info.format->maxFinite());
}

float mlir::quark::scaleQuantDivisor(const TensorQuantSpec &first,
                                     const TensorQuantSpec &second) {
  return elementMax(first) * elementMax(second);
}

float mlir::quark::scaleQuantSecondScale(const TensorQuantSpec &first,
                                         const TensorQuantSpec &second,
                                         float globalAmax) {
  // Quark's PerTensorMinMaxObserver with quant_max_first_level: a single
  // division by the product of both maxima; zero becomes 2^-23. The stage's
  // scale_type (float32 in every Quark scheme) keeps it in float32.
  float scale = globalAmax / scaleQuantDivisor(first, second);
  return scale == 0.0f ? kScaleEpsilon : scale;
}

llvm::Expected<std::vector<float>> mlir::quark::scaleQuantBlockScales(
    const TensorQuantSpec &first, const TensorQuantSpec &second,
    const QuantLayout &layout, llvm::ArrayRef<float> in,
    std::optional<float> secondScale) {
  if (second.qscheme != QScheme::PerTensor)
    return twoStageError("the scale-quantizing stage must be per tensor");
  // First stage: block amax / element max (its observer's float32 format).
  MinMaxStats stats;
  observeMinMax(layout, in, stats);
  llvm::Expected<QuantParams> blockParams = computeQuantParams(first, stats);
  if (!blockParams)
    return blockParams.takeError();
  std::vector<float> &scales = blockParams->scales;
  if (!secondScale) {
    float globalAmax = 0.0f;
    for (size_t s = 0; s < stats.min.size(); ++s)
      globalAmax = std::max(
          {globalAmax, std::fabs(stats.min[s]), std::fabs(stats.max[s])});
    secondScale = scaleQuantSecondScale(first, second, globalAmax);
  }
  // Second stage: fake-quantize the block scales with one per-tensor scale.
  llvm::Expected<QuantLayout> scaleLayout =
      QuantLayout::get({static_cast<int64_t>(scales.size())}, second);
  if (!scaleLayout)
    return scaleLayout.takeError();
  QuantParams perTensor;
  perTensor.scales = {*secondScale};
  std::vector<float> quantized(scales.size());
  if (llvm::Error error = fakeQuantizeTensor(second, *scaleLayout, scales,
                                             perTensor, quantized))
    return std::move(error);
  return quantized;
}

llvm::Error mlir::quark::fakeQuantizeScaleQuant(
    const TensorQuantSpec &first, const TensorQuantSpec &second,
    llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> in,
    std::optional<float> secondScale, llvm::MutableArrayRef<float> out) {
  llvm::Expected<QuantLayout> layout = QuantLayout::get(shape, first);
  if (!layout)
    return layout.takeError();
  llvm::Expected<std::vector<float>> scales =
      scaleQuantBlockScales(first, second, *layout, in, secondScale);
  if (!scales)
    return scales.takeError();
  QuantParams params;
  params.scales = std::move(*scales);
  return fakeQuantizeTensor(first, *layout, in, params, out);
}

llvm::Error mlir::quark::fakeQuantizeProgressive(
    const TensorQuantSpec &first, const TensorQuantSpec &second,
    llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<float> in,
    llvm::MutableArrayRef<float> out) {
  llvm::Expected<QuantLayout> firstLayout = QuantLayout::get(shape, first);
  if (!firstLayout)
    return firstLayout.takeError();
  llvm::Expected<QuantLayout> secondLayout = QuantLayout::get(shape, second);
  if (!secondLayout)
    return secondLayout.takeError();
  llvm::Expected<QuantParams> firstParams =
      computeDynamicParams(first, *firstLayout, in);
  if (!firstParams)
    return firstParams.takeError();
  // The first stage leaves element values (codes decoded, not scaled back).
  std::vector<int32_t> codes(in.size());
  if (llvm::Error error =
          quantizeTensor(first, *firstLayout, in, *firstParams, codes))
    return error;
  QuantParams unit = *firstParams;
  std::fill(unit.scales.begin(), unit.scales.end(), 1.0f);
  std::vector<float> values(in.size());
  if (llvm::Error error =
          dequantizeTensor(first, *firstLayout, codes, unit, values))
    return error;
  // The second stage quantizes those values with parameters of its own.
  llvm::Expected<QuantParams> secondParams =
      computeDynamicParams(second, *secondLayout, values);
  if (!secondParams)
    return secondParams.takeError();
  if (llvm::Error error =
          fakeQuantizeTensor(second, *secondLayout, values, *secondParams, out))
    return error;
  // Dequantize the first stage: multiply its scale back.
  for (size_t i = 0; i < out.size(); ++i)
    out[i] *=
        firstParams->scales[firstLayout->paramIndex(static_cast<int64_t>(i))];
  return llvm::Error::success();
}
