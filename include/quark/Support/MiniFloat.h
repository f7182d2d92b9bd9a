//===- MiniFloat.h - Encoders and decoders for small float formats -*- C++ -*-//
//
// One bit-exact codec for every narrow float format Quark uses: the OCP FP8
// formats (e4m3fn, e5m2), their fnuz variants (AMD MI300 hardware), AMD's
// unsigned e5m3 scale format, OCP FP6 (e2m3, e3m2), OCP FP4 (e2m1), and bf16 /
// fp16 for the cast-only specs. E8M0 (the MX shared scale) is a separate,
// exponent-only codec below.
//
// Encoding rounds to nearest, ties to even, on the fp32 bit pattern (so the
// result is independent of the host FPU). Two overflow policies:
//  * Saturate: what Quark does (it clamps to +-max before casting), so values
//    beyond the largest finite magnitude, and +-Inf, become +-max.
//  * Propagate: IEEE-style; overflow gives Inf where the format has one, else
//    NaN where it has one, else the largest magnitude.
// NaN encodes to the format's NaN code. Formats without NaN (fp4, fp6) encode
// NaN as +max, which is also what Quark's fp4/fp6 packer produces for NaN.
// Negative inputs to the unsigned e5m3 encode to 0 (Quark clamps to [0, max]).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_MINIFLOAT_H
#define QUARK_SUPPORT_MINIFLOAT_H

#include <cstdint>
#include <cstring>
#include <string_view>

namespace mlir::quark {

/// How a format spends its top exponent code (and the sign of zero).
enum class SpecialValues : uint8_t {
  /// IEEE 754: all-ones exponent is Inf (mantissa 0) or NaN (e5m2, bf16, f16).
  IEEE,
  /// "fn": no Inf; only the all-ones pattern S.1111.111 is NaN (OCP e4m3fn).
  FiniteAllOnesNaN,
  /// "fnuz": no Inf, no -0; the pattern 1000...0 (negative zero) is the only
  /// NaN (AMD e4m3fnuz / e5m2fnuz).
  FiniteNegZeroNaN,
  /// No Inf and no NaN at all (OCP fp4 e2m1, fp6 e2m3 / e3m2).
  FiniteNoNaN,
};

enum class Overflow : uint8_t { Saturate, Propagate };

struct MiniFloatFormat {
  std::string_view name;
  unsigned exponentBits;
  unsigned mantissaBits; // explicit (stored) mantissa bits
  int exponentBias;
  bool hasSign;
  SpecialValues specials;

  unsigned totalBits() const {
    return (hasSign ? 1 : 0) + exponentBits + mantissaBits;
  }
  /// Magnitude code of the largest finite value (sign bit excluded).
  uint32_t maxFiniteMagnitudeCode() const;
  double maxFinite() const { return decodeMagnitude(maxFiniteMagnitudeCode()); }
  /// Smallest positive subnormal value.
  double minSubnormal() const;
  /// Value of a magnitude code (sign bit excluded). NaN/Inf codes decode to
  /// NaN/Inf.
  double decodeMagnitude(uint32_t magnitudeCode) const;
  bool isNaNCode(uint32_t code) const;
  bool isInfCode(uint32_t code) const;
  uint32_t signBit() const { return hasSign ? 1u << (totalBits() - 1) : 0u; }
};

// The formats. Biases follow OCP/AMD: e4m3fn 7, e4m3fnuz 8, e5m2 15,
// e5m2fnuz 16, e5m3 15 (unsigned), e2m3 1, e3m2 3, e2m1 1.
extern const MiniFloatFormat kFloat8E4M3FN;
extern const MiniFloatFormat kFloat8E4M3FNUZ;
extern const MiniFloatFormat kFloat8E5M2;
extern const MiniFloatFormat kFloat8E5M2FNUZ;
extern const MiniFloatFormat kFloat8E5M3; // unsigned, NaN = 0xFF, max 114688
extern const MiniFloatFormat kFloat6E2M3;
extern const MiniFloatFormat kFloat6E3M2;
extern const MiniFloatFormat kFloat4E2M1;
extern const MiniFloatFormat kBFloat16;
extern const MiniFloatFormat kFloat16;

/// The magnitude code nearest (ties to even) to a finite fp32 magnitude
/// `absBits` (< 0x7F800000) in a format of `mantissaBits` (< 23) explicit
/// mantissa bits and `exponentBias`, before overflow: it may exceed
/// maxFiniteMagnitudeCode(). The one rounding rule of every encoder here;
/// branch-free, so loops over it vectorize.
inline uint32_t roundToMagnitudeCode(unsigned mantissaBits, int exponentBias,
                                     uint32_t absBits) {
  // Significand with its implicit bit, and the fp32 exponent; fp32
  // subnormals behave like exponent 1 without the implicit bit.
  int32_t exponent32 = static_cast<int32_t>(absBits >> 23);
  uint32_t significand =
      (absBits & 0x7FFFFFu) | (exponent32 != 0 ? 0x800000u : 0u);
  exponent32 = exponent32 == 0 ? 1 : exponent32;
  // Biased exponent in the target format, and how many low bits of the
  // 24-bit significand fall below the target's quantum (more for a target
  // subnormal). Past 25 bits nothing rounds up; 31 keeps the shifts defined.
  int32_t target = exponent32 - 127 + exponentBias;
  int32_t shift =
      23 - static_cast<int32_t>(mantissaBits) + (target <= 0 ? 1 - target : 0);
  shift = shift > 31 ? 31 : shift;
  uint32_t quantums = significand >> shift;
  uint32_t remainder = significand & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  quantums += static_cast<uint32_t>(remainder > half) |
              (static_cast<uint32_t>(remainder == half) & quantums & 1u);
  // A normal value's quantums lie in [2^m, 2^(m+1)] and its code is
  // (e - 1) << m plus quantums: a carry out of the mantissa bumps the
  // exponent by itself. A subnormal's code is its quantums (rounding up to
  // 2^m is the smallest normal).
  return target <= 0
             ? quantums
             : (static_cast<uint32_t>(target - 1) << mantissaBits) + quantums;
}

/// Encode `x` into `format`, rounding half to even.
uint32_t encodeMiniFloat(const MiniFloatFormat &format, float x,
                         Overflow overflow = Overflow::Saturate);
/// Decode a code (only the low totalBits() bits are read).
float decodeMiniFloat(const MiniFloatFormat &format, uint32_t code);

/// Round `x` to the nearest value representable in `format` and return it as
/// a float (decode(encode(x))), with Quark's saturation.
inline float roundToMiniFloat(const MiniFloatFormat &format, float x) {
  return decodeMiniFloat(format, encodeMiniFloat(format, x));
}

/// bf16 round-to-nearest-even of an fp32 value, as torch's `.to(bfloat16)`
/// (c10's round_to_nearest_even): non-saturating (overflow gives Inf), NaN
/// becomes 0x7FC0. bf16 is fp32's top half, so rounding is integer
/// arithmetic on the bit pattern, subnormals included.
inline uint16_t encodeBFloat16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return 0x7FC0;
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}
float decodeBFloat16(uint16_t bits);
uint16_t encodeFloat16(float x);
float decodeFloat16(uint16_t bits);

//===----------------------------------------------------------------------===//
// E8M0: the OCP MX shared scale. 8 exponent bits, no sign, no mantissa,
// bias 127; code 255 is NaN. Code c stands for 2^(c-127).
//===----------------------------------------------------------------------===//

constexpr uint8_t kE8M0NaN = 0xFF;
/// Code of 2^exponent; exponent must be in [-127, 127].
inline uint8_t encodeE8M0FromExponent(int exponent) {
  return static_cast<uint8_t>(exponent + 127);
}
/// Code of a positive power of two (NaN for NaN or non-positive input; a
/// value that is not a power of two is truncated to the power below).
uint8_t encodeE8M0(float powerOfTwo);
float decodeE8M0(uint8_t code);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_MINIFLOAT_H
