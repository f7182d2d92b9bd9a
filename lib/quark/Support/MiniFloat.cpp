//===- MiniFloat.cpp - Small float codecs ---------------------------------===//

#include "quark/Support/MiniFloat.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace mlir::quark {

// clang-format off
const MiniFloatFormat kFloat8E4M3FN{"fp8_e4m3", 4, 3, 7, true,
                                    SpecialValues::FiniteAllOnesNaN};
const MiniFloatFormat kFloat8E4M3FNUZ{"fp8_e4m3fnuz", 4, 3, 8, true,
                                      SpecialValues::FiniteNegZeroNaN};
const MiniFloatFormat kFloat8E5M2{"fp8_e5m2", 5, 2, 15, true,
                                  SpecialValues::IEEE};
const MiniFloatFormat kFloat8E5M2FNUZ{"fp8_e5m2fnuz", 5, 2, 16, true,
                                      SpecialValues::FiniteNegZeroNaN};
const MiniFloatFormat kFloat8E5M3{"fp8_e5m3", 5, 3, 15, false,
                                  SpecialValues::FiniteAllOnesNaN};
const MiniFloatFormat kFloat6E2M3{"fp6_e2m3", 2, 3, 1, true,
                                  SpecialValues::FiniteNoNaN};
const MiniFloatFormat kFloat6E3M2{"fp6_e3m2", 3, 2, 3, true,
                                  SpecialValues::FiniteNoNaN};
const MiniFloatFormat kFloat4E2M1{"fp4", 2, 1, 1, true,
                                  SpecialValues::FiniteNoNaN};
const MiniFloatFormat kBFloat16{"bfloat16", 8, 7, 127, true,
                                SpecialValues::IEEE};
const MiniFloatFormat kFloat16{"float16", 5, 10, 15, true,
                               SpecialValues::IEEE};
// clang-format on

static uint32_t floatBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
}

static float bitsToFloat(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

uint32_t MiniFloatFormat::maxFiniteMagnitudeCode() const {
  uint32_t allOnes = (1u << (exponentBits + mantissaBits)) - 1;
  switch (specials) {
  case SpecialValues::IEEE:
    // Top exponent reserved: largest is exponent all-ones-minus-one, full
    // mantissa.
    return allOnes - (1u << mantissaBits);
  case SpecialValues::FiniteAllOnesNaN:
    return allOnes - 1;
  case SpecialValues::FiniteNegZeroNaN:
  case SpecialValues::FiniteNoNaN:
    return allOnes;
  }
  return allOnes;
}

double MiniFloatFormat::decodeMagnitude(uint32_t magnitudeCode) const {
  uint32_t exponentField = magnitudeCode >> mantissaBits;
  uint32_t mantissa = magnitudeCode & ((1u << mantissaBits) - 1);
  uint32_t maxExponentField = (1u << exponentBits) - 1;
  if (specials == SpecialValues::IEEE && exponentField == maxExponentField)
    return mantissa == 0 ? std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  if (specials == SpecialValues::FiniteAllOnesNaN &&
      magnitudeCode == (1u << (exponentBits + mantissaBits)) - 1)
    return std::numeric_limits<double>::quiet_NaN();
  double significand;
  int exponent;
  if (exponentField == 0) {
    significand = static_cast<double>(mantissa) / (1u << mantissaBits);
    exponent = 1 - exponentBias;
  } else {
    significand = 1.0 + static_cast<double>(mantissa) / (1u << mantissaBits);
    exponent = static_cast<int>(exponentField) - exponentBias;
  }
  return std::ldexp(significand, exponent);
}

double MiniFloatFormat::minSubnormal() const {
  return std::ldexp(1.0, 1 - exponentBias - static_cast<int>(mantissaBits));
}

bool MiniFloatFormat::isNaNCode(uint32_t code) const {
  code &= (1u << totalBits()) - 1;
  uint32_t magnitude = code & ~signBit();
  switch (specials) {
  case SpecialValues::IEEE:
    return (magnitude >> mantissaBits) == (1u << exponentBits) - 1 &&
           (magnitude & ((1u << mantissaBits) - 1)) != 0;
  case SpecialValues::FiniteAllOnesNaN:
    return magnitude == (1u << (exponentBits + mantissaBits)) - 1;
  case SpecialValues::FiniteNegZeroNaN:
    return code == signBit();
  case SpecialValues::FiniteNoNaN:
    return false;
  }
  return false;
}

bool MiniFloatFormat::isInfCode(uint32_t code) const {
  if (specials != SpecialValues::IEEE)
    return false;
  uint32_t magnitude = code & ((1u << totalBits()) - 1) & ~signBit();
  return magnitude == ((1u << exponentBits) - 1) << mantissaBits;
}

/// Code returned for NaN input.
static uint32_t nanCode(const MiniFloatFormat &format) {
  switch (format.specials) {
  case SpecialValues::IEEE:
    // Quiet NaN: all-ones exponent, top mantissa bit set.
    return (((1u << format.exponentBits) - 1) << format.mantissaBits) |
           (1u << (format.mantissaBits - 1));
  case SpecialValues::FiniteAllOnesNaN:
    return (1u << (format.exponentBits + format.mantissaBits)) - 1;
  case SpecialValues::FiniteNegZeroNaN:
    return format.signBit();
  case SpecialValues::FiniteNoNaN:
    return format.maxFiniteMagnitudeCode();
  }
  return 0;
}

/// Magnitude code for an overflowing value under `overflow`.
static uint32_t overflowCode(const MiniFloatFormat &format, Overflow overflow,
                             uint32_t sign) {
  if (overflow == Overflow::Saturate)
    return sign | format.maxFiniteMagnitudeCode();
  switch (format.specials) {
  case SpecialValues::IEEE:
    return sign | (((1u << format.exponentBits) - 1) << format.mantissaBits);
  case SpecialValues::FiniteAllOnesNaN:
  case SpecialValues::FiniteNegZeroNaN:
    return nanCode(format);
  case SpecialValues::FiniteNoNaN:
    return sign | format.maxFiniteMagnitudeCode();
  }
  return 0;
}

uint32_t encodeMiniFloat(const MiniFloatFormat &format, float x,
                         Overflow overflow) {
  uint32_t bits = floatBits(x);
  bool negative = (bits >> 31) != 0;
  uint32_t absBits = bits & 0x7FFFFFFFu;
  if (absBits > 0x7F800000u)
    return nanCode(format);
  if (!format.hasSign && negative)
    return 0; // Quark clamps unsigned formats at 0.
  uint32_t sign = negative ? format.signBit() : 0;
  if (absBits == 0x7F800000u)
    return overflowCode(format, overflow, sign);

  uint32_t magnitude =
      roundToMagnitudeCode(format.mantissaBits, format.exponentBias, absBits);
  if (magnitude > format.maxFiniteMagnitudeCode())
    return overflowCode(format, overflow, sign);
  if (magnitude == 0 && format.specials == SpecialValues::FiniteNegZeroNaN)
    return 0; // no negative zero in fnuz formats
  return sign | magnitude;
}

float decodeMiniFloat(const MiniFloatFormat &format, uint32_t code) {
  code &= (1u << format.totalBits()) - 1;
  if (format.isNaNCode(code))
    return std::numeric_limits<float>::quiet_NaN();
  bool negative = format.hasSign && (code & format.signBit());
  double magnitude = format.decodeMagnitude(code & ~format.signBit());
  return static_cast<float>(negative ? -magnitude : magnitude);
}

float decodeBFloat16(uint16_t bits) {
  return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t encodeFloat16(float x) {
  return static_cast<uint16_t>(
      encodeMiniFloat(kFloat16, x, Overflow::Propagate));
}

float decodeFloat16(uint16_t bits) { return decodeMiniFloat(kFloat16, bits); }

uint8_t encodeE8M0(float powerOfTwo) {
  if (!(powerOfTwo > 0.0f) || std::isinf(powerOfTwo))
    return kE8M0NaN;
  int exponent = std::ilogb(powerOfTwo);
  if (exponent < -127)
    exponent = -127;
  if (exponent > 127)
    return kE8M0NaN;
  return encodeE8M0FromExponent(exponent);
}

float decodeE8M0(uint8_t code) {
  if (code == kE8M0NaN)
    return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(code) - 127);
}

} // namespace mlir::quark
