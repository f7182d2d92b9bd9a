//===- MiniFloatTest.cpp - Exhaustive tests of the small float codecs -----===//
//
// The fast bit-level encoder is checked against a brute-force reference: the
// nearest finite value of the format's decoded code table, ties to the even
// code. Every code of every <= 8-bit format round-trips.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/MiniFloat.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace mlir::quark;

namespace {

const MiniFloatFormat *const kSmallFormats[] = {
    &kFloat8E4M3FN, &kFloat8E4M3FNUZ, &kFloat8E5M2, &kFloat8E5M2FNUZ,
    &kFloat8E5M3,   &kFloat6E2M3,     &kFloat6E3M2, &kFloat4E2M1};

/// Brute-force saturating round-to-nearest-even over the decoded table.
uint32_t referenceEncode(const MiniFloatFormat &format, float x) {
  uint32_t codes = 1u << format.totalBits();
  double target = x;
  double maxFinite = format.maxFinite();
  if (!format.hasSign && target < 0)
    return 0;
  if (target > maxFinite)
    target = maxFinite;
  if (target < -maxFinite)
    target = -maxFinite;
  uint32_t best = 0;
  double bestError = std::numeric_limits<double>::infinity();
  for (uint32_t code = 0; code < codes; ++code) {
    float value = decodeMiniFloat(format, code);
    if (std::isnan(value) || std::isinf(value))
      continue;
    // Zero keeps the sign of x, except in fnuz formats (no -0 code).
    bool hasNegativeZero =
        format.specials != SpecialValues::FiniteNegZeroNaN && format.hasSign;
    if (value == 0.0f && hasNegativeZero &&
        std::signbit(value) != std::signbit(x))
      continue;
    double error = std::fabs(static_cast<double>(value) - target);
    if (error < bestError ||
        (error == bestError && (code & 1u) == 0 && (best & 1u) != 0)) {
      best = code;
      bestError = error;
    }
  }
  return best;
}

TEST(MiniFloat, FormatConstants) {
  EXPECT_EQ(kFloat8E4M3FN.maxFinite(), 448.0);
  EXPECT_EQ(kFloat8E4M3FNUZ.maxFinite(), 240.0);
  EXPECT_EQ(kFloat8E5M2.maxFinite(), 57344.0);
  EXPECT_EQ(kFloat8E5M2FNUZ.maxFinite(), 57344.0);
  EXPECT_EQ(kFloat8E5M3.maxFinite(), 114688.0);
  EXPECT_EQ(kFloat6E2M3.maxFinite(), 7.5);
  EXPECT_EQ(kFloat6E3M2.maxFinite(), 28.0);
  EXPECT_EQ(kFloat4E2M1.maxFinite(), 6.0);
  EXPECT_EQ(kFloat8E4M3FN.minSubnormal(), std::ldexp(1.0, -9));
  EXPECT_EQ(kFloat8E4M3FNUZ.minSubnormal(), std::ldexp(1.0, -10));
  EXPECT_EQ(kFloat8E5M2.minSubnormal(), std::ldexp(1.0, -16));
  EXPECT_EQ(kFloat8E5M3.minSubnormal(), std::ldexp(1.0, -17));
  EXPECT_EQ(kFloat4E2M1.minSubnormal(), 0.5);
}

TEST(MiniFloat, EveryCodeRoundTrips) {
  for (const MiniFloatFormat *format : kSmallFormats) {
    uint32_t codes = 1u << format->totalBits();
    for (uint32_t code = 0; code < codes; ++code) {
      float value = decodeMiniFloat(*format, code);
      uint32_t again = encodeMiniFloat(*format, value, Overflow::Propagate);
      if (format->isNaNCode(code)) {
        EXPECT_TRUE(std::isnan(value)) << format->name << " code " << code;
        EXPECT_TRUE(format->isNaNCode(again)) << format->name;
        continue;
      }
      EXPECT_EQ(again, code) << format->name << " code " << code << " value "
                             << value;
    }
  }
}

TEST(MiniFloat, FP4TableIsOCP) {
  const float expected[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (uint32_t code = 0; code < 8; ++code) {
    EXPECT_EQ(decodeMiniFloat(kFloat4E2M1, code), expected[code]);
    EXPECT_EQ(decodeMiniFloat(kFloat4E2M1, code | 8), -expected[code]);
  }
}

TEST(MiniFloat, SpecialCodes) {
  EXPECT_TRUE(std::isnan(decodeMiniFloat(kFloat8E4M3FN, 0x7F)));
  EXPECT_TRUE(std::isnan(decodeMiniFloat(kFloat8E4M3FN, 0xFF)));
  EXPECT_EQ(decodeMiniFloat(kFloat8E4M3FN, 0x7E), 448.0f);
  EXPECT_TRUE(std::isinf(decodeMiniFloat(kFloat8E5M2, 0x7C)));
  EXPECT_EQ(decodeMiniFloat(kFloat8E5M2, 0x7B), 57344.0f);
  // fnuz: 0x80 is the only NaN; there is no negative zero.
  EXPECT_TRUE(std::isnan(decodeMiniFloat(kFloat8E4M3FNUZ, 0x80)));
  EXPECT_EQ(decodeMiniFloat(kFloat8E4M3FNUZ, 0x7F), 240.0f);
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FNUZ, -0.0f), 0u);
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FNUZ, std::nanf("")), 0x80u);
  // e5m3 is unsigned; 0xFF is NaN and negatives clamp to zero.
  EXPECT_TRUE(std::isnan(decodeMiniFloat(kFloat8E5M3, 0xFF)));
  EXPECT_EQ(encodeMiniFloat(kFloat8E5M3, -3.0f), 0u);
  EXPECT_EQ(encodeMiniFloat(kFloat8E5M3, 114688.0f), 0xFEu);
  // -0 keeps its sign in the OCP formats.
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FN, -0.0f), 0x80u);
}

TEST(MiniFloat, OverflowPolicies) {
  float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FN, 500.0f), 0x7Eu);
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FN, -inf), 0xFEu);
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FN, 500.0f, Overflow::Propagate), 0x7Fu);
  EXPECT_EQ(encodeMiniFloat(kFloat8E5M2, 1e6f), 0x7Bu);
  EXPECT_EQ(encodeMiniFloat(kFloat8E5M2, 1e6f, Overflow::Propagate), 0x7Cu);
  EXPECT_EQ(encodeMiniFloat(kFloat8E5M2, -inf, Overflow::Propagate), 0xFCu);
  EXPECT_EQ(encodeMiniFloat(kFloat4E2M1, 100.0f), 0x7u);
  EXPECT_EQ(encodeMiniFloat(kFloat4E2M1, -inf, Overflow::Propagate), 0xFu);
  // 464 lies between 448 and the (absent) 480: saturates either way.
  EXPECT_EQ(encodeMiniFloat(kFloat8E4M3FN, 449.0f), 0x7Eu);
  // No NaN in fp4: it encodes as +max (what Quark's packer writes).
  EXPECT_EQ(encodeMiniFloat(kFloat4E2M1, std::nanf("")), 0x7u);
}

TEST(MiniFloat, FP4TiesToEven) {
  // The OCP demo block at scale 1 under round-half-to-even.
  const float in[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, -2.5f};
  const float out[] = {0.0f, 1.0f, 1.0f, 2.0f, 2.0f, 4.0f, 4.0f, -2.0f};
  for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); ++i)
    EXPECT_EQ(roundToMiniFloat(kFloat4E2M1, in[i]), out[i]) << in[i];
}

TEST(MiniFloat, MatchesBruteForceOnTiesAndRandomValues) {
  std::mt19937 rng(1234);
  for (const MiniFloatFormat *format : kSmallFormats) {
    std::vector<float> probes;
    // Every midpoint between consecutive finite magnitudes: the ties.
    uint32_t magnitudes = 1u << (format->exponentBits + format->mantissaBits);
    for (uint32_t code = 0; code + 1 < magnitudes; ++code) {
      double a = format->decodeMagnitude(code);
      double b = format->decodeMagnitude(code + 1);
      if (!std::isfinite(a) || !std::isfinite(b))
        continue;
      probes.push_back(static_cast<float>((a + b) / 2));
      probes.push_back(-static_cast<float>((a + b) / 2));
      probes.push_back(std::nextafter(static_cast<float>((a + b) / 2), 0.0f));
    }
    double span = format->maxFinite() * 1.2;
    std::uniform_real_distribution<double> uniform(-span, span);
    std::uniform_real_distribution<double> logMagnitude(-24.0, 18.0);
    for (int i = 0; i < 20000; ++i) {
      probes.push_back(static_cast<float>(uniform(rng)));
      probes.push_back(static_cast<float>(std::exp2(logMagnitude(rng)) *
                                          ((i & 1) ? 1 : -1)));
    }
    for (float x : probes)
      ASSERT_EQ(encodeMiniFloat(*format, x), referenceEncode(*format, x))
          << format->name << " x=" << x;
  }
}

TEST(MiniFloat, BFloat16IsRoundNearestEven) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint32_t> bitsDist;
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = bitsDist(rng);
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    if (std::isnan(x))
      continue;
    // Textbook RNE on the fp32 pattern.
    uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    ASSERT_EQ(encodeBFloat16(x), static_cast<uint16_t>(rounded)) << x;
  }
  EXPECT_EQ(decodeBFloat16(encodeBFloat16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(decodeBFloat16(encodeBFloat16(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.015625f);
  EXPECT_EQ(encodeBFloat16(std::numeric_limits<float>::quiet_NaN()), 0x7FC0u);
  EXPECT_EQ(encodeBFloat16(-std::numeric_limits<float>::quiet_NaN()), 0x7FC0u);
}

TEST(MiniFloat, Float16KnownValues) {
  EXPECT_EQ(encodeFloat16(1.0f), 0x3C00u);
  EXPECT_EQ(encodeFloat16(65504.0f), 0x7BFFu);
  EXPECT_EQ(encodeFloat16(65520.0f), 0x7C00u); // rounds to Inf
  EXPECT_EQ(encodeFloat16(std::ldexp(1.0f, -24)), 0x0001u);
  EXPECT_EQ(decodeFloat16(0x3555), 0.333251953125f);
}

TEST(MiniFloat, E8M0) {
  EXPECT_EQ(encodeE8M0(1.0f), 127);
  EXPECT_EQ(encodeE8M0(0.5f), 126);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.0f, -127)), 0);
  EXPECT_EQ(encodeE8M0(std::ldexp(1.0f, 127)), 254);
  EXPECT_EQ(encodeE8M0(0.0f), kE8M0NaN);
  EXPECT_EQ(encodeE8M0(3.0f), 128); // truncates to the power below
  EXPECT_EQ(decodeE8M0(0), std::ldexp(1.0f, -127));
  EXPECT_TRUE(std::isnan(decodeE8M0(255)));
  for (int code = 0; code < 255; ++code)
    EXPECT_EQ(encodeE8M0(decodeE8M0(static_cast<uint8_t>(code))), code);
}

} // namespace
