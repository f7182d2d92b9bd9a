//===- BlockFloatTest.cpp - MX6 / MX9 / BFP16 golden vectors --------------===//
//
// Expected values come from test/reference/blockfloat_golden.py, an
// independent torch implementation of the block rules.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/BlockFloat.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace mlir::quark;

namespace {

void expectBlock(std::vector<float> in, const std::vector<float> &expected,
                 int mxBits) {
  if (mxBits)
    mxTwoLevelFakeQuantizeBlock(in, mxBits);
  else
    bfp16FakeQuantizeBlock(in);
  ASSERT_EQ(in.size(), expected.size());
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(in[i], expected[i]) << "element " << i;
}

const std::vector<float> kBlock0 = {
    1.0f,   0.30000001192092896f, -0.20000000298023224f, 0.25999999046325684f,
    0.8999999761581421f, -0.05000000074505806f, 0.49000000953674316f,
    0.5099999904632568f, 0.0010000000474974513f, -0.699999988079071f, 0.125f,
    0.12600000202655792f, 3.0f, -2.9000000953674316f, 0.0f, 0.0f};
const std::vector<float> kBlock1 = {
    -4.100672721862793f, 1.9781558513641357f, 4.494542598724365f,
    -6.942019462585449f, -0.8349800705909729f, 1.4257497787475586f,
    -3.2054576873779297f, -4.4682769775390625f, 4.632715225219727f,
    -2.677561044692993f, -5.7986016273498535f, -2.300785779953003f,
    3.5426952838897705f, 5.063776969909668f, 1.1519843339920044f,
    5.4508256912231445f};
const std::vector<float> kBlock2 = {
    -0.0015826646704226732f, -0.0003245666448492557f, 0.0019263682188466191f,
    -0.0003300117386970669f, 0.00019844506459776312f, 0.0007820727187208831f,
    0.0010391076793894172f,  -0.0007245107553899288f, -0.00020934043277520686f,
    -0.00021534154075197875f, -0.0018157287267968059f,
    -0.00034524197690188885f, -0.0020614780951291323f, 0.0006741007091477513f,
    -0.0013233458157628775f, -0.001359769026748836f};

TEST(BlockFloat, MX6) {
  expectBlock(kBlock0,
              {1.0f, 0.25f, -0.25f, 0.25f, 0.875f, -0.0f, 0.5f, 0.5f, 0.0f,
               -0.75f, 0.125f, 0.125f, 3.0f, -3.0f, 0.0f, 0.0f},
              kMX6QuantBits);
  expectBlock(kBlock1,
              {-4.0f, 2.0f, 4.5f, -7.0f, -0.75f, 1.5f, -3.0f, -4.5f, 4.5f,
               -2.5f, -6.0f, -2.5f, 3.5f, 5.0f, 1.0f, 5.5f},
              kMX6QuantBits);
  expectBlock(kBlock2,
              {-0.0015869140625f, -0.0003662109375f, 0.001953125f,
               -0.0003662109375f, 0.000244140625f, 0.000732421875f,
               0.0010986328125f, -0.000732421875f, -0.000244140625f,
               -0.000244140625f, -0.0018310546875f, -0.0003662109375f,
               -0.001953125f, 0.000732421875f, -0.0013427734375f,
               -0.0013427734375f},
              kMX6QuantBits);
}

TEST(BlockFloat, MX9) {
  expectBlock(kBlock0,
              {1.0f, 0.296875f, -0.203125f, 0.265625f, 0.90625f, -0.046875f,
               0.484375f, 0.515625f, 0.0f, -0.703125f, 0.125f, 0.125f, 3.0f,
               -2.90625f, 0.0f, 0.0f},
              kMX9QuantBits);
  expectBlock(kBlock1,
              {-4.125f, 2.0f, 4.5f, -6.9375f, -0.84375f, 1.4375f, -3.1875f,
               -4.4375f, 4.625f, -2.6875f, -5.8125f, -2.3125f, 3.5625f,
               5.0625f, 1.125f, 5.4375f},
              kMX9QuantBits);
  expectBlock(kBlock2,
              {-0.0015869140625f, -0.0003204345703125f, 0.001922607421875f,
               -0.000335693359375f, 0.0001983642578125f, 0.0007781982421875f,
               0.00103759765625f, -0.0007171630859375f, -0.000213623046875f,
               -0.000213623046875f, -0.0018157958984375f,
               -0.0003509521484375f, -0.0020751953125f, 0.00067138671875f,
               -0.0013275146484375f, -0.0013580322265625f},
              kMX9QuantBits);
}

TEST(BlockFloat, MX6KeepsNaNAndSaturatesInf) {
  std::vector<float> block = {1.0f, NAN, INFINITY, -0.5f};
  mxTwoLevelFakeQuantizeBlock(block, kMX6QuantBits);
  EXPECT_EQ(block[0], 1.0f);
  EXPECT_TRUE(std::isnan(block[1]));
  // Inf counts as exponent -127 for the prime bit, so its pair (with -0.5)
  // uses step 2^-4 and saturates at 2 - 2^-4.
  EXPECT_EQ(block[2], 1.9375f);
  EXPECT_EQ(block[3], -0.5f);
}

TEST(BlockFloat, BFP16) {
  expectBlock({1.0f, -0.5f, 0.25f, 0.9900000095367432f, 0.0078125f, -1.0f,
               0.30000001192092896f, 0.699999988079071f},
              {1.0f, -0.5f, 0.25f, 0.984375f, 0.0f, -1.0f, 0.296875f,
               0.703125f},
              0);
  // 127.9 rounds to 128 at step 1: the block moves to step 2.
  expectBlock({127.9000015258789f, 1.0f, -3.0f, 64.0f, 0.10000000149011612f,
               -100.0f, 12.0f, 0.0f},
              {128.0f, 0.0f, -4.0f, 64.0f, 0.0f, -100.0f, 12.0f, 0.0f}, 0);
  expectBlock({1.9900000095367432f, 0.0010000000474974513f, -0.5f, 1.0f, 1.5f,
               0.25f, -1.9800000190734863f, 0.015625f},
              {1.984375f, 0.0f, -0.5f, 1.0f, 1.5f, 0.25f, -1.984375f,
               0.015625f},
              0);
  expectBlock({7.314624309539795f, 0.6082748174667358f, 7.35162353515625f,
               6.076805591583252f, 5.337465286254883f, -2.7537922859191895f,
               -1.3734567165374756f, -2.173419952392578f},
              {7.3125f, 0.625f, 7.375f, 6.0625f, 5.3125f, -2.75f, -1.375f,
               -2.1875f},
              0);
}

TEST(BlockFloat, BFP16ZeroesNonFinite) {
  std::vector<float> block = {1.0f, NAN, -INFINITY, 0.5f, 0, 0, 0, 0};
  bfp16FakeQuantizeBlock(block);
  EXPECT_EQ(block[0], 1.0f);
  EXPECT_EQ(block[1], 0.0f);
  EXPECT_EQ(block[2], 0.0f);
  EXPECT_EQ(block[3], 0.5f);
}

} // namespace
