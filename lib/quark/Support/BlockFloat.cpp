//===- BlockFloat.cpp - MX6, MX9 and BFP16 block simulation ---------------===//

#include "quark/Support/BlockFloat.h"

#include "quark/Support/Rounding.h"
#include "quark/Support/ScalarQuant.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mlir::quark {

/// NaN and +-Inf become 0 (torch.nan_to_num with nan=posinf=neginf=0).
static float finiteOrZero(float x) { return std::isfinite(x) ? x : 0.0f; }

/// Quark's t_exponent: the fp32 exponent field minus 127 (so -127 for zero
/// and subnormals), after nan_to_num.
static int fieldExponent(float x) {
  x = finiteOrZero(x);
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return static_cast<int>((bits >> 23) & 0xFF) - 127;
}

void mxTwoLevelFakeQuantizeBlock(llvm::MutableArrayRef<float> block,
                                 int quantBits) {
  assert(block.size() % 2 == 0 && "MX6/MX9 blocks pair their elements");
  float amax = 0.0f;
  for (float x : block)
    amax = std::max(amax, std::fabs(finiteOrZero(x)));
  int maxExponent = fieldExponent(amax);
  // Saturation bound, computed in double and rounded to float as torch does
  // (float64 pow minus the float32 step, clamped to FLT_MAX).
  double topOfRange = std::ldexp(1.0, maxExponent + 1);
  for (size_t pair = 0; pair < block.size(); pair += 2) {
    bool bothSmall = maxExponent - fieldExponent(block[pair]) >= 1 &&
                     maxExponent - fieldExponent(block[pair + 1]) >= 1;
    int sharedExponent = maxExponent - (bothSmall ? 1 : 0);
    float step = std::ldexp(1.0f, sharedExponent - quantBits + 2);
    float bound = static_cast<float>(
        std::min(topOfRange - static_cast<double>(step),
                 static_cast<double>(FLT_MAX)));
    float maxSteps = bound / step;
    for (size_t i = pair; i < pair + 2; ++i) {
      float steps = roundHalfEven(block[i] / step);
      if (!std::isnan(steps))
        steps = std::clamp(steps, -maxSteps, maxSteps);
      block[i] = steps * step;
    }
  }
}

/// 2^(floor(log2 amax) - 6), with a zero result replaced by 2^-23.
static float bfp16Step(float amax) {
  if (amax == 0.0f)
    return kScaleEpsilon;
  if (std::isinf(amax))
    return amax; // only reachable when doubling FLT_MAX-sized blocks
  float step = std::ldexp(1.0f, std::ilogb(amax) - 6);
  return step == 0.0f ? kScaleEpsilon : step;
}

void bfp16FakeQuantizeBlock(llvm::MutableArrayRef<float> block) {
  float amax = 0.0f;
  for (float &x : block) {
    x = finiteOrZero(x);
    amax = std::max(amax, std::fabs(x));
  }
  // First pass with a widened range detects elements that round past int8;
  // such a block moves to the next exponent.
  float step = bfp16Step(amax);
  bool overflows = false;
  for (float x : block) {
    int32_t code = quantizeInt(x, step, 0, -129, 128);
    overflows |= code >= 128 || code < -128;
  }
  if (overflows)
    step = bfp16Step(amax * 2.0f);
  for (float &x : block)
    x = fakeQuantizeInt(x, step, 0, -128, 127);
}

} // namespace mlir::quark
