//===- ScalarQuant.cpp - Quark's per-element quantization formulas --------===//

#include "quark/Support/ScalarQuant.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>

namespace mlir::quark {

float quarkSymmetricIntScale(float minValue, float maxValue, int64_t qmin,
                             int64_t qmax) {
  float minNeg = std::min(minValue, 0.0f);
  float maxPos = std::max(maxValue, 0.0f);
  float amax = std::max(-minNeg, maxPos);
  // float(quant_max - quant_min) / 2 is computed in double by Python, then
  // used as a float32 operand: exact for every integer range Quark has.
  float halfRange = static_cast<float>(static_cast<double>(qmax - qmin) / 2);
  float scale = amax / halfRange;
  return std::max(scale, kScaleEpsilon);
}

IntQParams quarkAsymmetricIntParams(float minValue, float maxValue,
                                    int64_t qmin, int64_t qmax) {
  float minNeg = std::min(minValue, 0.0f);
  float maxPos = std::max(maxValue, 0.0f);
  float scale = (maxPos - minNeg) / static_cast<float>(qmax - qmin);
  scale = std::max(scale, kScaleEpsilon);
  float shifted =
      static_cast<float>(qmin) - roundHalfEven(minNeg / scale);
  int64_t zeroPoint = static_cast<int64_t>(shifted);
  zeroPoint = std::clamp(zeroPoint, qmin, qmax);
  return {scale, static_cast<int32_t>(zeroPoint)};
}

float quarkFloatScale(float minValue, float maxValue, float maxNormal) {
  float amax = std::max(std::fabs(std::min(minValue, 0.0f)),
                        std::fabs(std::max(maxValue, 0.0f)));
  float scale = amax / maxNormal;
  return scale == 0.0f ? kScaleEpsilon : scale;
}

float fakeQuantizeInt(float x, float scale, int32_t zeroPoint, int64_t qmin,
                      int64_t qmax, RoundMode mode) {
  if (std::isnan(x))
    return x;
  scale = std::max(scale, FLT_MIN);
  int32_t code = quantizeInt(x, scale, zeroPoint, qmin, qmax, mode);
  return dequantizeInt(code, scale, zeroPoint);
}

/// Quark's fake_quantize_element for fp4/fp6 on an already scaled value: a
/// zero result is +0, NaN and Inf pass through untouched.
static float quarkLowPrecisionElement(const MiniFloatFormat &format,
                                      float scaledValue) {
  if (!std::isfinite(scaledValue))
    return scaledValue;
  float rounded = roundToMiniFloat(format, scaledValue);
  return rounded == 0.0f ? 0.0f : rounded;
}

uint32_t encodeScaledFloatElement(QuantDType dtype, float scaledValue) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  assert(info.format && "not a float element type");
  uint32_t code = encodeMiniFloat(*info.format, scaledValue);
  if (info.format->specials == SpecialValues::FiniteNoNaN &&
      (code & ~info.format->signBit()) == 0)
    code = 0; // Quark's fp4/fp6 kernel drops the sign of zero.
  return code;
}

float fakeQuantizeFloat(QuantDType dtype, float x, float scale) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  assert(info.format && "not a float element type");
  if (scale == 0.0f)
    scale = kScaleEpsilon;
  float scaled = x / scale;
  float rounded;
  if (info.format->specials == SpecialValues::FiniteNoNaN)
    rounded = quarkLowPrecisionElement(*info.format, scaled);
  else
    rounded = decodeMiniFloat(*info.format,
                              encodeMiniFloat(*info.format, scaled));
  return rounded * scale;
}

uint32_t quantizeFloat(QuantDType dtype, float x, float scale) {
  if (scale == 0.0f)
    scale = kScaleEpsilon;
  return encodeScaledFloatElement(dtype, x / scale);
}

float dequantizeFloat(QuantDType dtype, uint32_t code, float scale) {
  const DTypeInfo &info = getDTypeInfo(dtype);
  assert(info.format && "not a float element type");
  return decodeMiniFloat(*info.format, code) * scale;
}

} // namespace mlir::quark
