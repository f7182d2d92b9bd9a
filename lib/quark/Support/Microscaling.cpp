//===- Microscaling.cpp - OCP MX block quantization -----------------------===//

#include "quark/Support/Microscaling.h"

#include "quark/Support/ScalarQuant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

namespace mlir::quark {

std::optional<MXScaleMode> parseMXScaleMode(std::string_view name) {
  if (name == "even")
    return MXScaleMode::Even;
  if (name == "floor")
    return MXScaleMode::Floor;
  if (name == "ceil")
    return MXScaleMode::Ceil;
  return std::nullopt;
}

std::string_view mxScaleModeName(MXScaleMode mode) {
  switch (mode) {
  case MXScaleMode::Even:
    return "even";
  case MXScaleMode::Floor:
    return "floor";
  case MXScaleMode::Ceil:
    return "ceil";
  }
  return "even";
}

/// Quark's even_round on one amax.
static float evenRoundScale(float amax, int mantissaBits, int emax) {
  if (std::isnan(amax))
    return amax;
  float value = amax == 0.0f ? std::ldexp(1.0f, -126) : amax;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits += 1u << (23 - mantissaBits - 1);
  bits &= 0x1FFu << 23; // keep sign and exponent
  std::memcpy(&value, &bits, sizeof(value));
  // value is now a power of two. An fp32 subnormal loses its mantissa to the mask and becomes 0, whose
  // log2 is -inf; an exponent overflow gives +inf. torch's floor/sub/clamp
  // chain turns those into the clamp bounds.
  int exponent;
  if (value == 0.0f)
    exponent = -127;
  else if (std::isinf(value))
    exponent = 127;
  else
    exponent = std::clamp(std::ilogb(value) - emax, -127, 127);
  return std::ldexp(1.0f, exponent);
}

float mxSharedScale(float amax, QuantDType element, MXScaleMode mode) {
  const DTypeInfo &info = getDTypeInfo(element);
  if (mode == MXScaleMode::Even)
    return evenRoundScale(amax, info.mxMantissaBits, info.mxEmax);
  if (std::isnan(amax) || std::isinf(amax))
    return amax;
  if (amax == 0.0f)
    return kScaleEpsilon;
  // log2 of a float is exact at powers of two; floor/ceil of it therefore
  // equals ilogb (floor) or ilogb + (not a power of two) (ceil).
  int exponent = std::ilogb(amax);
  if (mode == MXScaleMode::Ceil && std::ldexp(1.0f, exponent) != amax)
    ++exponent;
  float scale = std::ldexp(1.0f, exponent - info.mxEmax);
  return scale == 0.0f ? kScaleEpsilon : scale;
}

float blockAbsMax(llvm::ArrayRef<float> block) {
  float amax = 0.0f;
  for (float x : block) {
    if (std::isnan(x))
      return x;
    amax = std::max(amax, std::fabs(x));
  }
  return amax;
}

// MX int8 stores k with value k/64 * scale: the element quantizer is an
// integer quantizer with scale/64 and range [-127, 127].
static float mxInt8Scale(float scale) { return scale / 64.0f; }

float mxFakeQuantizeElement(float x, float scale, QuantDType element) {
  if (element == QuantDType::Int8)
    return fakeQuantizeInt(x, mxInt8Scale(scale), 0, -127, 127);
  return fakeQuantizeFloat(element, x, scale);
}

uint32_t mxQuantizeElement(float x, float scale, QuantDType element) {
  if (element == QuantDType::Int8)
    return static_cast<uint8_t>(
        static_cast<int8_t>(quantizeInt(x, mxInt8Scale(scale), 0, -127, 127)));
  return quantizeFloat(element, x, scale);
}

float mxDequantizeElement(uint32_t code, float scale, QuantDType element) {
  if (element == QuantDType::Int8)
    return dequantizeInt(static_cast<int8_t>(code), mxInt8Scale(scale), 0);
  return dequantizeFloat(element, code, scale);
}

void mxFakeQuantizeBlock(llvm::MutableArrayRef<float> block,
                         QuantDType element, MXScaleMode mode) {
  assert(isMXElementType(element) && "not an MX element type");
  float scale = mxSharedScale(blockAbsMax(block), element, mode);
  for (float &x : block)
    x = mxFakeQuantizeElement(x, scale, element);
}

} // namespace mlir::quark
