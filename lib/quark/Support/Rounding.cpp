//===- Rounding.cpp - Round mode names ------------------------------------===//

#include "quark/Support/Rounding.h"

namespace mlir::quark {

std::optional<RoundMode> parseRoundMode(std::string_view name) {
  if (name == "half_even")
    return RoundMode::HalfEven;
  if (name == "round")
    return RoundMode::HalfAwayFromZero;
  if (name == "floor")
    return RoundMode::Floor;
  return std::nullopt;
}

std::string_view roundModeName(RoundMode mode) {
  switch (mode) {
  case RoundMode::HalfEven:
    return "half_even";
  case RoundMode::HalfAwayFromZero:
    return "round";
  case RoundMode::Floor:
    return "floor";
  }
  return "half_even";
}

} // namespace mlir::quark
