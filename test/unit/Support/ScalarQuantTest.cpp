//===- ScalarQuantTest.cpp - Quark's scalar quantization formulas ---------===//

#include "quark/Support/ScalarQuant.h"

#include "quark/Support/MiniFloat.h"

#include "gtest/gtest.h"

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

using namespace mlir::quark;

namespace {

TEST(ScalarQuant, SymmetricScaleUsesHalfRange) {
  // int8: amax / 127.5; int4: amax / 7.5 (not 127 / 7 as SmoothQuant/QuaRot).
  EXPECT_EQ(quarkSymmetricIntScale(-1.0f, 127.5f, -128, 127), 1.0f);
  EXPECT_EQ(quarkSymmetricIntScale(-3.75f, 2.0f, -8, 7), 0.5f);
  EXPECT_EQ(quarkSymmetricIntScale(0.0f, 0.0f, -8, 7), kScaleEpsilon);
  // min/max straddling zero only through the larger magnitude.
  EXPECT_EQ(quarkSymmetricIntScale(2.0f, 7.5f, -8, 7), 1.0f);
}

TEST(ScalarQuant, Int4PlusMinusAmax) {
  // amax 3.75 -> scale 0.5: +amax is 7.5 -> rounds to 8 -> clamps to 7;
  // -amax is -7.5 -> -8 (representable).
  float scale = quarkSymmetricIntScale(-3.75f, 3.75f, -8, 7);
  EXPECT_EQ(quantizeInt(3.75f, scale, 0, -8, 7), 7);
  EXPECT_EQ(quantizeInt(-3.75f, scale, 0, -8, 7), -8);
  EXPECT_EQ(fakeQuantizeInt(3.75f, scale, 0, -8, 7), 3.5f);
  EXPECT_EQ(fakeQuantizeInt(-3.75f, scale, 0, -8, 7), -4.0f);
  // Ties go to even: 0.25 / 0.5 = 0.5 -> 0; 0.75 / 0.5 = 1.5 -> 2.
  EXPECT_EQ(quantizeInt(0.25f, scale, 0, -8, 7), 0);
  EXPECT_EQ(quantizeInt(0.75f, scale, 0, -8, 7), 2);
}

TEST(ScalarQuant, RoundModes) {
  EXPECT_EQ(quantizeInt(2.5f, 1.0f, 0, -128, 127, RoundMode::HalfEven), 2);
  EXPECT_EQ(quantizeInt(2.5f, 1.0f, 0, -128, 127, RoundMode::HalfAwayFromZero),
            3);
  EXPECT_EQ(quantizeInt(-2.5f, 1.0f, 0, -128, 127, RoundMode::HalfAwayFromZero),
            -3);
  EXPECT_EQ(quantizeInt(2.9f, 1.0f, 0, -128, 127, RoundMode::Floor), 2);
  EXPECT_EQ(quantizeInt(-2.1f, 1.0f, 0, -128, 127, RoundMode::Floor), -3);
  EXPECT_EQ(parseRoundMode("half_even"), RoundMode::HalfEven);
  EXPECT_EQ(parseRoundMode("round"), RoundMode::HalfAwayFromZero);
  EXPECT_EQ(parseRoundMode("floor"), RoundMode::Floor);
  EXPECT_FALSE(parseRoundMode("nearest").has_value());
}

TEST(ScalarQuant, MultipliesByTheReciprocal) {
  // x / s is exactly 62.5 (-> 62), but x * (1 / s) is 62.500004 (-> 63):
  // Quark, like torch.fake_quantize_per_channel_affine, gets 63.
  float x = 57.10175323486328f, s = 0.9136280417442322f;
  EXPECT_EQ(x / s, 62.5f);
  EXPECT_EQ(quantizeInt(x, s, 0, -128, 127), 63);
}

TEST(ScalarQuant, AsymmetricParams) {
  // uint8 over [-1, 2]: scale 3/255, zero point 0 - round(-1 / scale) = 85.
  IntQParams params = quarkAsymmetricIntParams(-1.0f, 2.0f, 0, 255);
  EXPECT_EQ(params.scale, 3.0f / 255.0f);
  EXPECT_EQ(params.zeroPoint, 85);
  EXPECT_EQ(quantizeInt(-1.0f, params.scale, params.zeroPoint, 0, 255), 0);
  EXPECT_EQ(quantizeInt(2.0f, params.scale, params.zeroPoint, 0, 255), 255);
  EXPECT_EQ(quantizeInt(0.0f, params.scale, params.zeroPoint, 0, 255), 85);
  // A range that excludes zero is widened to include it.
  IntQParams positive = quarkAsymmetricIntParams(1.0f, 16.0f, 0, 15);
  EXPECT_EQ(positive.scale, 16.0f / 15.0f);
  EXPECT_EQ(positive.zeroPoint, 0);
  // uint4 with negative min: zero point clamps into [0, 15].
  IntQParams uint4 = quarkAsymmetricIntParams(-7.5f, 0.5f, 0, 15);
  EXPECT_EQ(uint4.scale, 8.0f / 15.0f);
  EXPECT_EQ(uint4.zeroPoint, 14);
}

TEST(ScalarQuant, NaNHandling) {
  EXPECT_TRUE(std::isnan(fakeQuantizeInt(std::nanf(""), 1.0f, 0, -8, 7)));
  EXPECT_EQ(quantizeInt(std::nanf(""), 1.0f, 3, 0, 15), 3);
}

TEST(ScalarQuant, TinyScaleIsFlooredAtFltMin) {
  // A denormal scale would make 1/scale infinite.
  EXPECT_EQ(quantizeInt(0.0f, 1e-40f, 0, -128, 127), 0);
  EXPECT_EQ(fakeQuantizeInt(1.0f, 0.0f, 0, -128, 127), 127 * FLT_MIN);
}

TEST(ScalarQuant, FloatScaleAndFp8) {
  EXPECT_EQ(quarkFloatScale(-896.0f, 10.0f, 448.0f), 2.0f);
  EXPECT_EQ(quarkFloatScale(0.0f, 0.0f, 448.0f), kScaleEpsilon);
  // fp8 saturates at +-448 and uses a true division.
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP8E4M3, 1000.0f, 1.0f), 448.0f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP8E4M3, -1000.0f, 2.0f), -896.0f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP8E4M3, 17.0f, 1.0f), 16.0f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP8E4M3, 19.0f, 1.0f), 20.0f);
  EXPECT_EQ(quantizeFloat(QuantDType::FP8E4M3, 448.0f, 1.0f), 0x7Eu);
  EXPECT_EQ(quantizeFloat(QuantDType::FP8E4M3, -0.0f, 1.0f), 0x80u);
  EXPECT_EQ(dequantizeFloat(QuantDType::FP8E4M3, 0x7E, 0.5f), 224.0f);
  EXPECT_TRUE(
      std::isnan(fakeQuantizeFloat(QuantDType::FP8E4M3, std::nanf(""), 1.0f)));
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP8E5M2, INFINITY, 1.0f), 57344.0f);
}

TEST(ScalarQuant, Fp4Fp6FollowQuarkElementKernel) {
  // A negative value rounding to zero is +0 in Quark's fp4/fp6 kernel, so
  // the stored code is 0, not 0x8.
  EXPECT_EQ(encodeScaledFloatElement(QuantDType::FP4, -0.2f), 0u);
  EXPECT_FALSE(std::signbit(fakeQuantizeFloat(QuantDType::FP4, -0.2f, 1.0f)));
  EXPECT_EQ(encodeScaledFloatElement(QuantDType::FP6E2M3, -0.01f), 0u);
  // Inf passes through the fp4 kernel (no saturation) but NaN too.
  EXPECT_TRUE(std::isinf(fakeQuantizeFloat(QuantDType::FP4, INFINITY, 1.0f)));
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP4, 7.0f, 1.0f), 6.0f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP6E3M2, 30.0f, 1.0f), 28.0f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP6E2M3, 7.7f, 1.0f), 7.5f);
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP4, 2.6f, 0.5f), 3.0f); // 5.2 -> 6
  EXPECT_EQ(quantizeFloat(QuantDType::FP4, -3.0f, 1.0f), 0xDu);
  // A zero scale is replaced by 2^-23 (Quark's masked_fill).
  EXPECT_EQ(fakeQuantizeFloat(QuantDType::FP4, std::ldexp(1.0f, -23), 0.0f),
            std::ldexp(1.0f, -23));
}

TEST(ScalarQuant, FloatClampMatchesDoubleClampWithin2To24) {
  // The vectorized kernels add the zero point and clamp in float when the
  // range allows; the codes must be those of the exact double clamp,
  // including sums float cannot represent, infinities and NaN.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> exponent(-30.0f, 40.0f);
  struct Range {
    double qmin, qmax;
    int32_t zeroPoint;
  };
  const Range ranges[] = {
      {-128, 127, 0},     {0, 255, 37},      {-8, 7, 0},       {0, 15, 9},
      {-32768, 32767, 0}, {0, 65535, 65535}, {0, 65535, 12345}};
  std::vector<float> values = {0.0f,
                               -0.0f,
                               0.5f,
                               -2.5f,
                               16777215.0f,
                               16777217.0f,
                               -16777216.0f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(),
                               FLT_MAX};
  for (int i = 0; i < 20000; ++i)
    values.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
  for (const Range &range : ranges)
    for (RoundMode mode :
         {RoundMode::HalfEven, RoundMode::HalfAwayFromZero, RoundMode::Floor})
      for (float inverse : {1.0f, 0.37f, 1024.0f})
        for (float x : values)
          ASSERT_EQ(
              quantizeIntWithInverse<float>(
                  x, inverse, range.zeroPoint, static_cast<float>(range.qmin),
                  static_cast<float>(range.qmax), mode),
              quantizeIntWithInverse<double>(x, inverse, range.zeroPoint,
                                             range.qmin, range.qmax, mode))
              << x << " * " << inverse << " + " << range.zeroPoint;
}

} // namespace
