//===- Rounding.h - Rounding modes of Quark's quantizers --------*- C++ -*-===//
//
// Quark's RoundType has three members. `half_even` is what torch.round does and
// is the default everywhere; `round` rounds halves away from zero (C's round);
// `floor` rounds toward minus infinity.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_ROUNDING_H
#define QUARK_SUPPORT_ROUNDING_H

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mlir::quark {

enum class RoundMode : uint8_t { HalfEven, HalfAwayFromZero, Floor };

/// Round to the nearest integer, ties to even, independent of the current
/// floating-point environment (std::nearbyint would follow fesetround).
inline float roundHalfEven(float x) { return __builtin_roundevenf(x); }
inline double roundHalfEven(double x) { return __builtin_roundeven(x); }

inline float roundWith(float x, RoundMode mode) {
  switch (mode) {
  case RoundMode::HalfEven:
    return roundHalfEven(x);
  case RoundMode::HalfAwayFromZero:
    return std::round(x);
  case RoundMode::Floor:
    return std::floor(x);
  }
  return x;
}

/// Quark's names: "half_even", "round", "floor".
std::optional<RoundMode> parseRoundMode(std::string_view name);
std::string_view roundModeName(RoundMode mode);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_ROUNDING_H
