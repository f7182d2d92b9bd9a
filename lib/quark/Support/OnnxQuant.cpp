//===- OnnxQuant.cpp - ONNX QuantizeLinear semantics ----------------------===//

#include "quark/Support/OnnxQuant.h"

#include "quark/Support/Rounding.h"

#include <algorithm>
#include <cmath>

namespace mlir::quark {

int32_t onnxQuantizeLinear(float x, float scale, int32_t zeroPoint,
                           int64_t qmin, int64_t qmax) {
  float rounded = roundHalfEven(x / scale);
  if (std::isnan(rounded))
    return zeroPoint;
  double shifted = static_cast<double>(rounded) + zeroPoint;
  return static_cast<int32_t>(std::clamp(shifted, static_cast<double>(qmin),
                                         static_cast<double>(qmax)));
}

float onnxDequantizeLinear(int32_t code, float scale, int32_t zeroPoint) {
  return static_cast<float>(code - zeroPoint) * scale;
}

OnnxDynamicQuantParams onnxDynamicQuantizeParams(llvm::ArrayRef<float> data) {
  float minValue = 0.0f, maxValue = 0.0f;
  for (float x : data) {
    minValue = std::min(minValue, x);
    maxValue = std::max(maxValue, x);
  }
  float scale = (maxValue - minValue) / 255.0f;
  if (scale == 0.0f)
    return {scale, 0};
  float zero = std::clamp(0.0f - minValue / scale, 0.0f, 255.0f);
  return {scale, static_cast<int32_t>(roundHalfEven(zero))};
}

} // namespace mlir::quark
