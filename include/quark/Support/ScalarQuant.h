//===- ScalarQuant.h - Quark's per-element quantization formulas -*- C++
//-*-===//
//
// The scalar formulas behind Quark's observers and fake-quantize kernels, in
// float32 arithmetic exactly as Quark evaluates them (quark-semantics.md 4.6):
//
//  * integer, symmetric:  scale = max(amax / ((qmax - qmin) / 2), 2^-23)
//    so int8 divides by 127.5 and int4 by 7.5;
//  * integer, asymmetric: scale = max((max+ - min-) / (qmax - qmin), 2^-23),
//    zp = clamp(qmin - round_half_even(min- / scale), qmin, qmax)
//    where min- = min(min, 0) and max+ = max(max, 0);
//  * integer fake-quant (torch.fake_quantize_per_channel_affine):
//    q = clamp(round(x * (1 / scale)) + zp, qmin, qmax), x' = (q - zp) * scale
//    with a *multiply by the reciprocal* and scale floored at FLT_MIN;
//  * fp8: scale = amax / max_normal (0 -> 2^-23); x' = cast(clamp(x / scale,
//    +-max)) * scale with a *true division*;
//  * fp4/fp6: x / scale through Quark's element kernel (round half even on
//    the mantissa, saturate, +-0 becomes +0, NaN/Inf pass through).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_SCALARQUANT_H
#define QUARK_SUPPORT_SCALARQUANT_H

#include "quark/Support/DataType.h"
#include "quark/Support/Rounding.h"

#include <cstdint>

namespace mlir::quark {

/// torch.finfo(torch.float32).eps: Quark's floor for computed scales.
constexpr float kScaleEpsilon = 1.1920928955078125e-07f;

struct IntQParams {
  float scale;
  int32_t zeroPoint;
};

/// Quark's symmetric integer scale from observed min and max.
float quarkSymmetricIntScale(float minValue, float maxValue, int64_t qmin,
                             int64_t qmax);
/// Quark's asymmetric integer scale and int32 zero point.
IntQParams quarkAsymmetricIntParams(float minValue, float maxValue,
                                    int64_t qmin, int64_t qmax);
/// Quark's float (fp8/fp6/fp4 per-tensor/channel/group with float32 scale
/// format) scale: amax / maxNormal, with 0 replaced by 2^-23.
float quarkFloatScale(float minValue, float maxValue, float maxNormal);

/// Integer code of `x` given the reciprocal of its scale (what
/// quantizeInt multiplies by): inline so that whole-tensor loops vectorize.
/// `Bound` is the type the zero point is added and the clamp done in:
/// double is exact for every integer range; float (twice the vector
/// lanes) gives the same codes when qmin, qmax and the zero point lie
/// within +-2^24, where a sum float rounds is already out of range and
/// clamps to the same bound. A NaN (rounded != rounded) maps to the zero
/// point.
template <typename Bound = double>
inline int32_t quantizeIntWithInverse(float x, float inverseScale,
                                      int32_t zeroPoint, Bound qmin, Bound qmax,
                                      RoundMode mode) {
  float rounded = roundWith(x * inverseScale, mode);
  Bound shifted = static_cast<Bound>(rounded) + static_cast<Bound>(zeroPoint);
  shifted = shifted < qmin ? qmin : shifted;
  shifted = shifted > qmax ? qmax : shifted;
  return rounded != rounded ? zeroPoint : static_cast<int32_t>(shifted);
}
/// 1 / scale as Quark's kernels form it, with the scale floored at FLT_MIN.
inline float inverseScale(float scale) {
  return 1.0f / (scale < 1.17549435e-38f ? 1.17549435e-38f : scale);
}
/// Integer code of `x` (round(x * (1/scale)) + zp, clamped). NaN maps to the
/// zero point.
inline int32_t quantizeInt(float x, float scale, int32_t zeroPoint,
                           int64_t qmin, int64_t qmax,
                           RoundMode mode = RoundMode::HalfEven) {
  return quantizeIntWithInverse(x, inverseScale(scale), zeroPoint,
                                static_cast<double>(qmin),
                                static_cast<double>(qmax), mode);
}
inline float dequantizeInt(int32_t code, float scale, int32_t zeroPoint) {
  return static_cast<float>(code - zeroPoint) * scale;
}
/// quantize-dequantize, NaN preserved.
float fakeQuantizeInt(float x, float scale, int32_t zeroPoint, int64_t qmin,
                      int64_t qmax, RoundMode mode = RoundMode::HalfEven);

/// The code Quark stores for an element of a scaled float type (fp8, fp6,
/// fp4, e5m3) given x already divided by its scale. fp8 saturates at +-max
/// (Quark clamps before the torch cast) and keeps -0; fp4/fp6 follow Quark's
/// element kernel, where a value that rounds to zero is +0.
uint32_t encodeScaledFloatElement(QuantDType dtype, float scaledValue);
/// Float value of `x` quantized to a scaled float type with `scale`.
float fakeQuantizeFloat(QuantDType dtype, float x, float scale);
/// Code of `x` quantized to a scaled float type with `scale`.
uint32_t quantizeFloat(QuantDType dtype, float x, float scale);
float dequantizeFloat(QuantDType dtype, uint32_t code, float scale);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_SCALARQUANT_H
