//===- MicroscalingTest.cpp - OCP MX scales and elements ------------------===//

#include "quark/Support/Microscaling.h"

#include "quark/Support/MiniFloat.h"
#include "quark/Support/ScalarQuant.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace mlir::quark;

namespace {

float pow2(int e) { return std::ldexp(1.0f, e); }

TEST(Microscaling, EvenModeRoundsAmaxUpFromThreshold) {
  // fp4 (mbits 1, emax 2): amax in [1, 1.75) -> 2^-2, [1.75, 2) -> 2^-1.
  EXPECT_EQ(mxSharedScale(1.0f, QuantDType::FP4, MXScaleMode::Even), pow2(-2));
  EXPECT_EQ(mxSharedScale(1.7f, QuantDType::FP4, MXScaleMode::Even), pow2(-2));
  EXPECT_EQ(mxSharedScale(1.75f, QuantDType::FP4, MXScaleMode::Even), pow2(-1));
  // fp8 e4m3 (mbits 3, emax 8): threshold 1.9375.
  EXPECT_EQ(mxSharedScale(1.93f, QuantDType::FP8E4M3, MXScaleMode::Even),
            pow2(-8));
  EXPECT_EQ(mxSharedScale(1.9375f, QuantDType::FP8E4M3, MXScaleMode::Even),
            pow2(-7));
  // Floor mode never rounds up.
  EXPECT_EQ(mxSharedScale(1.75f, QuantDType::FP4, MXScaleMode::Floor),
            pow2(-2));
  EXPECT_EQ(mxSharedScale(1.75f, QuantDType::FP4, MXScaleMode::Ceil),
            pow2(-1));
  EXPECT_EQ(mxSharedScale(2.0f, QuantDType::FP4, MXScaleMode::Ceil), pow2(-1));
}

TEST(Microscaling, DegenerateBlocks) {
  EXPECT_EQ(mxSharedScale(0.0f, QuantDType::FP4, MXScaleMode::Even),
            pow2(-127));
  EXPECT_EQ(mxSharedScale(0.0f, QuantDType::FP4, MXScaleMode::Floor),
            kScaleEpsilon);
  EXPECT_EQ(mxSharedScale(0.0f, QuantDType::Int8, MXScaleMode::Even),
            pow2(-126));
  EXPECT_TRUE(std::isnan(
      mxSharedScale(std::nanf(""), QuantDType::FP4, MXScaleMode::Even)));
  // Clamped at 2^127 (E8M0's largest) in even mode.
  EXPECT_EQ(mxSharedScale(3.0e38f, QuantDType::Int8, MXScaleMode::Even),
            pow2(127));
  // An fp32 subnormal amax loses its mantissa: 2^-127.
  EXPECT_EQ(mxSharedScale(1e-40f, QuantDType::FP4, MXScaleMode::Even),
            pow2(-127));
}

TEST(Microscaling, LargeBlockSaturates) {
  // A block holding 3e38 (floor mode): shared exponent 127 - 2 = 125 and
  // 3e38 / 2^125 = 7.05 saturates to 6: 6 * 2^125 = 2.552e38.
  float scale = mxSharedScale(3.0e38f, QuantDType::FP4, MXScaleMode::Floor);
  EXPECT_EQ(scale, pow2(125));
  EXPECT_EQ(mxFakeQuantizeElement(3.0e38f, scale, QuantDType::FP4),
            6.0f * pow2(125));
}

TEST(Microscaling, DemoBlockUnderEvenRounding) {
  // The OCP demo block at scale 2^0, element rounding half to even. Quark's
  // fp4 kernel returns +0 for -0.25 (microxcaling would give -0).
  const float in[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, -0.25f,
                      -2.5f};
  const float out[] = {0.0f, 1.0f, 1.0f, 2.0f, 2.0f, 4.0f, 4.0f, 0.0f, -2.0f};
  for (size_t i = 0; i < 9; ++i) {
    float q = mxFakeQuantizeElement(in[i], 1.0f, QuantDType::FP4);
    EXPECT_EQ(q, out[i]) << in[i];
    EXPECT_FALSE(q == 0.0f && std::signbit(q)) << "negative zero from " << in[i];
  }
}

TEST(Microscaling, FullBlockFp4) {
  std::vector<float> block(32, 0.0f);
  block[0] = 5.9f;
  block[1] = -2.6f; // -> -3
  block[2] = 0.24f; // -> 0 (below 0.25 midpoint)
  block[3] = 0.26f; // -> 0.5
  block[31] = -7.0f; // amax is now 7: 1.75 * 4 rounds up -> scale 2^1
  mxFakeQuantizeBlock(block, QuantDType::FP4, MXScaleMode::Even);
  // With scale 2: 5.9/2 = 2.95 -> 3 -> 6; -2.6/2 = -1.3 -> -1.5 -> -3;
  // 0.24/2 -> 0; 0.26/2 = 0.13 -> 0; -7/2 = -3.5 -> -4 -> -8.
  EXPECT_EQ(block[0], 6.0f);
  EXPECT_EQ(block[1], -3.0f);
  EXPECT_EQ(block[2], 0.0f);
  EXPECT_EQ(block[3], 0.0f);
  EXPECT_EQ(block[31], -8.0f);
}

TEST(Microscaling, Fp8AndFp6Elements) {
  // MXFP8 e4m3: x / scale clamped to 448 and cast.
  EXPECT_EQ(mxFakeQuantizeElement(1000.0f, 1.0f, QuantDType::FP8E4M3), 448.0f);
  // 17 / 0.5 = 34 -> ties to 32 in [32, 64) (step 4) -> 16.
  EXPECT_EQ(mxFakeQuantizeElement(17.0f, 0.5f, QuantDType::FP8E4M3), 16.0f);
  EXPECT_EQ(mxFakeQuantizeElement(40.0f, 1.0f, QuantDType::FP6E3M2), 28.0f);
  EXPECT_EQ(mxQuantizeElement(7.5f, 1.0f, QuantDType::FP6E2M3), 0x1Fu);
  EXPECT_EQ(mxDequantizeElement(0x1F, 2.0f, QuantDType::FP6E2M3), 15.0f);
}

TEST(Microscaling, Int8ElementsAreSixtyFourths) {
  // MXINT8: k / 64 * scale, k in [-127, 127], half to even.
  EXPECT_EQ(mxFakeQuantizeElement(1.0f, 1.0f, QuantDType::Int8), 1.0f);
  EXPECT_EQ(mxFakeQuantizeElement(2.5f, 1.0f, QuantDType::Int8),
            127.0f / 64.0f);
  EXPECT_EQ(mxFakeQuantizeElement(-2.5f, 1.0f, QuantDType::Int8),
            -127.0f / 64.0f); // -128 is never produced
  // 0.5 / 64 step: 1/128 is a tie between 0 and 1/64 -> 0.
  EXPECT_EQ(mxFakeQuantizeElement(1.0f / 128.0f, 1.0f, QuantDType::Int8), 0.0f);
  EXPECT_EQ(mxFakeQuantizeElement(3.0f / 128.0f, 1.0f, QuantDType::Int8),
            2.0f / 64.0f);
  EXPECT_EQ(mxQuantizeElement(-1.0f, 1.0f, QuantDType::Int8), 0xC0u);
  EXPECT_EQ(mxDequantizeElement(0xC0, 1.0f, QuantDType::Int8), -1.0f);
}

TEST(Microscaling, Names) {
  EXPECT_EQ(parseMXScaleMode("even"), MXScaleMode::Even);
  EXPECT_EQ(parseMXScaleMode("floor"), MXScaleMode::Floor);
  EXPECT_EQ(parseMXScaleMode("ceil"), MXScaleMode::Ceil);
  EXPECT_FALSE(parseMXScaleMode("nearest").has_value());
  EXPECT_EQ(mxScaleModeName(MXScaleMode::Even), "even");
}

} // namespace
