//===- HandComputedQuantTest.cpp - Scales, zero points, codes by hand -----===//
//
// Every integer and float dtype, every qscheme, symmetric and asymmetric,
// all rounding modes and the MX scale modes, on small tensors whose
// parameters and codes are worked out in the comments. Integer cases use
// power-of-two scales (amax = 127.5 * 2^k for int8) so that the reciprocal
// Quark multiplies by is exact and every tie below is a real tie.
//
//===----------------------------------------------------------------------===//

#include "quark/Support/TensorQuant.h"

#include "quark/Support/Microscaling.h"
#include "quark/Support/TwoStageQuant.h"

#include "gtest/gtest.h"

#include <cmath>
#include <vector>

using namespace mlir::quark;

namespace {

struct Case {
  std::vector<float> scales;
  std::vector<int32_t> zeroPoints;
  std::vector<int32_t> codes;
};

/// Observes `data` (min-max, or MX block scales), computes parameters,
/// quantizes, and checks that dequantizing the codes gives the fake
/// quantization.
Case run(const TensorQuantSpec &spec, llvm::ArrayRef<int64_t> shape,
         llvm::ArrayRef<float> data) {
  llvm::Expected<QuantLayout> layout = QuantLayout::get(shape, spec);
  EXPECT_TRUE(static_cast<bool>(layout)) << llvm::toString(layout.takeError());
  llvm::Expected<QuantParams> params =
      computeDynamicParams(spec, *layout, data);
  EXPECT_TRUE(static_cast<bool>(params)) << llvm::toString(params.takeError());
  std::vector<int32_t> codes(data.size());
  EXPECT_FALSE(
      static_cast<bool>(quantizeTensor(spec, *layout, data, *params, codes)));
  std::vector<float> back(data.size()), fake(data.size());
  EXPECT_FALSE(
      static_cast<bool>(dequantizeTensor(spec, *layout, codes, *params, back)));
  EXPECT_FALSE(static_cast<bool>(
      fakeQuantizeTensor(spec, *layout, data, *params, fake)));
  // NaN fake-quantizes to NaN but is stored as the zero point.
  for (size_t i = 0; i < data.size(); ++i)
    if (!std::isnan(data[i]))
      EXPECT_EQ(back[i], fake[i]) << "element " << i;
    else
      EXPECT_TRUE(std::isnan(fake[i])) << "element " << i;
  return {params->scales, params->zeroPoints, codes};
}

TensorQuantSpec intSpec(QuantDType dtype, QScheme qscheme, bool symmetric,
                        int64_t axis = 0, int64_t groupSize = 0) {
  TensorQuantSpec spec;
  spec.dtype = dtype;
  spec.qscheme = qscheme;
  spec.symmetric = symmetric;
  spec.axis = axis;
  spec.groupSize = groupSize;
  return spec;
}

TEST(HandComputed, Int8PerTensorAllRoundingModes) {
  // amax 15.9375 = 127.5 / 8: scale 1/8, reciprocal 8.
  // x * 8: 127.5, -127.5, 0.5, 1.5, -2.5, 8, -56, 127.2.
  std::vector<float> data = {15.9375f, -15.9375f, 0.0625f, 0.1875f,
                             -0.3125f, 1.0f,      -7.0f,   15.9f};
  TensorQuantSpec spec = intSpec(QuantDType::Int8, QScheme::PerTensor, true);
  Case even = run(spec, {8}, data);
  EXPECT_EQ(even.scales, (std::vector<float>{0.125f}));
  EXPECT_TRUE(even.zeroPoints.empty());
  // half_even: 127.5 -> 128 clamps to 127; -127.5 -> -128; 0.5 -> 0;
  // 1.5 -> 2; -2.5 -> -2.
  EXPECT_EQ(even.codes,
            (std::vector<int32_t>{127, -128, 0, 2, -2, 8, -56, 127}));
  spec.round = RoundMode::HalfAwayFromZero;
  EXPECT_EQ(run(spec, {8}, data).codes,
            (std::vector<int32_t>{127, -128, 1, 2, -3, 8, -56, 127}));
  spec.round = RoundMode::Floor;
  EXPECT_EQ(run(spec, {8}, data).codes,
            (std::vector<int32_t>{127, -128, 0, 1, -3, 8, -56, 127}));
}

TEST(HandComputed, Uint8PerTensorAsymmetric) {
  // min -2, max 2.25: range 4.25 / 255 = 1/60; zero point
  // 0 - round(-2 * 60) = 120. 1.0 -> 60 + 120; 2.25 -> 135 + 120.
  std::vector<float> data = {-2.0f, 1.0f, 2.25f, 0.0f};
  Case c =
      run(intSpec(QuantDType::UInt8, QScheme::PerTensor, false), {4}, data);
  EXPECT_EQ(c.scales, (std::vector<float>{4.25f / 255.0f}));
  EXPECT_EQ(c.zeroPoints, (std::vector<int32_t>{120}));
  EXPECT_EQ(c.codes, (std::vector<int32_t>{0, 180, 255, 120}));
  // A range that excludes 0 is widened to include it: [0.5, 1.02] behaves
  // as [0, 1.02]: scale 1.02 / 255 = 0.004, zero point 0.
  Case positive = run(intSpec(QuantDType::UInt8, QScheme::PerTensor, false),
                      {2}, std::vector<float>{0.5f, 1.02f});
  EXPECT_EQ(positive.scales, (std::vector<float>{1.02f / 255.0f}));
  EXPECT_EQ(positive.zeroPoints, (std::vector<int32_t>{0}));
  EXPECT_EQ(positive.codes, (std::vector<int32_t>{125, 255}));
}

TEST(HandComputed, Int8PerChannelAlongTheLastAxis) {
  // [3, 2] with channels along axis 1 (one slot per column):
  // column 0 amax 15.9375 (scale 1/8), column 1 amax 31.875 (scale 1/4).
  std::vector<float> data = {15.9375f, -31.875f, //
                             -3.0f,    10.0f,    //
                             0.0625f,  0.375f};
  Case c = run(intSpec(QuantDType::Int8, QScheme::PerChannel, true, 1), {3, 2},
               data);
  EXPECT_EQ(c.scales, (std::vector<float>{0.125f, 0.25f}));
  // 127.5 -> 127 (clamp), -127.5 -> -128, -24, 40, 0.5 -> 0, 1.5 -> 2.
  EXPECT_EQ(c.codes, (std::vector<int32_t>{127, -128, -24, 40, 0, 2}));
}

TEST(HandComputed, Int4PerGroupAlongEitherAxis) {
  // Along the last axis, groups of 4: group 0 amax 7.5 (scale 1), group 1
  // amax 0.75 (7.5 / 7.5 = 0.1; 0.75 * (1 / 0.1f) = 7.5 still a tie).
  std::vector<float> rows = {7.5f,  -7.5f, 3.4f,   -0.5f,
                             0.75f, 0.25f, -0.35f, 0.06f};
  Case last = run(intSpec(QuantDType::Int4, QScheme::PerGroup, true, -1, 4),
                  {1, 8}, rows);
  EXPECT_EQ(last.scales, (std::vector<float>{1.0f, 0.75f / 7.5f}));
  // 7.5 -> 8 clamps to 7 (int4 never reaches +8 from +amax); -7.5 -> -8;
  // -0.5 -> -0 -> 0; 2.5 -> 2; -3.5 -> -4; 0.6 -> 1.
  EXPECT_EQ(last.codes, (std::vector<int32_t>{7, -8, 3, 0, 7, 2, -4, 1}));

  // Along axis 0 of a [4, 2] tensor, groups of 2 rows: slots [2, 2].
  // Group rows 0-1: column 0 amax 3.75 (scale 0.5), column 1 amax 3.75;
  // rows 2-3: column 0 amax 0.46875 (1/16), column 1 amax 0.9375 (1/8).
  std::vector<float> columns = {1.0f,     3.75f,    //
                                -3.75f,   0.5f,     //
                                0.46875f, -0.9375f, //
                                0.125f,   0.75f};
  Case first = run(intSpec(QuantDType::Int4, QScheme::PerGroup, true, 0, 2),
                   {4, 2}, columns);
  EXPECT_EQ(first.scales, (std::vector<float>{0.5f, 0.5f, 0.0625f, 0.125f}));
  EXPECT_EQ(first.codes, (std::vector<int32_t>{2, 7, -8, 1, 7, -8, 2, 6}));
}

TEST(HandComputed, Int8PerBlock) {
  // [2, 4] in 2x2 blocks: block (0, 0) amax 15.9375 (1/8), block (0, 1)
  // amax 31.875 (1/4).
  TensorQuantSpec spec = intSpec(QuantDType::Int8, QScheme::PerBlock, true);
  spec.blockSize = {2, 2};
  std::vector<float> data = {15.9375f, 1.0f,    31.875f, -2.0f,
                             -0.5f,    0.0625f, 0.25f,   3.0f};
  Case c = run(spec, {2, 4}, data);
  EXPECT_EQ(c.scales, (std::vector<float>{0.125f, 0.25f}));
  EXPECT_EQ(c.codes, (std::vector<int32_t>{127, 8, 127, -8, -4, 0, 1, 12}));
}

TEST(HandComputed, NarrowAndWideIntegers) {
  // int2 [-2, 1]: half range 1.5; amax 1.5 gives scale 1.
  Case int2 = run(intSpec(QuantDType::Int2, QScheme::PerTensor, true), {3},
                  std::vector<float>{1.5f, -1.5f, 0.4f});
  EXPECT_EQ(int2.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(int2.codes, (std::vector<int32_t>{1, -2, 0}));
  // int3 [-4, 3]: half range 3.5.
  Case int3 = run(intSpec(QuantDType::Int3, QScheme::PerTensor, true), {3},
                  std::vector<float>{3.5f, -3.5f, 1.2f});
  EXPECT_EQ(int3.codes, (std::vector<int32_t>{3, -4, 1}));
  // uint4 asymmetric [0, 15]: min -1, max 2 -> scale 0.2, zero point 5.
  Case uint4 = run(intSpec(QuantDType::UInt4, QScheme::PerTensor, false), {3},
                   std::vector<float>{-1.0f, 2.0f, 0.4f});
  EXPECT_EQ(uint4.scales, (std::vector<float>{3.0f / 15.0f}));
  EXPECT_EQ(uint4.zeroPoints, (std::vector<int32_t>{5}));
  EXPECT_EQ(uint4.codes, (std::vector<int32_t>{0, 15, 7}));
  // int16: half range 32767.5; amax 32767.5 / 1024 gives scale 2^-10.
  Case int16 = run(intSpec(QuantDType::Int16, QScheme::PerTensor, true), {2},
                   std::vector<float>{32767.5f / 1024.0f, 1.0f});
  EXPECT_EQ(int16.scales, (std::vector<float>{1.0f / 1024.0f}));
  EXPECT_EQ(int16.codes, (std::vector<int32_t>{32767, 1024}));
}

TEST(HandComputed, Fp8PerTensorAndPerChannel) {
  // e4m3: amax 448 -> scale 1; codes are the e4m3 bits of x / 1:
  // 448 = 1.75 * 2^8 -> 0 1111 110; -1 -> 1 0111 000; 0.1 -> 1.625 * 2^-4
  // (0.1015625) -> 0 0011 101; 300 -> 1.125 * 2^8 = 288 -> 0 1111 001.
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP8E4M3;
  Case e4m3 = run(spec, {4}, std::vector<float>{448.0f, -1.0f, 0.1f, 300.0f});
  EXPECT_EQ(e4m3.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(e4m3.codes, (std::vector<int32_t>{0x7E, 0xB8, 0x1D, 0x79}));

  // e5m2 per channel (axis 0): row 0 amax 57344 (scale 1), row 1 amax
  // 28672 (scale 0.5). 1 -> 0 01111 00; -1 / 0.5 = -2 -> 1 10000 00;
  // 28672 / 0.5 = 57344 = 1.75 * 2^15 -> 0 11110 11.
  spec.dtype = QuantDType::FP8E5M2;
  spec.qscheme = QScheme::PerChannel;
  spec.axis = 0;
  Case e5m2 =
      run(spec, {2, 2}, std::vector<float>{57344.0f, 1.0f, -1.0f, 28672.0f});
  EXPECT_EQ(e5m2.scales, (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ(e5m2.codes, (std::vector<int32_t>{0x7B, 0x3C, 0xC0, 0x7B}));
}

TEST(HandComputed, Fp6AndFp4WithFloatScales) {
  // fp4 (e2m1) per group of 4, float32 scales amax / 6: group amax 6 ->
  // scale 1. 6 -> 0 11 1; -3 -> 1 10 1; 0.25 is a tie of 0 and 0.5 -> 0;
  // 1.75 ties 1.5 and 2 -> 2 (even mantissa) -> 0 10 0.
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP4;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = 4;
  Case fp4 = run(spec, {1, 4}, std::vector<float>{6.0f, -3.0f, 0.25f, 1.75f});
  EXPECT_EQ(fp4.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(fp4.codes, (std::vector<int32_t>{0x7, 0xD, 0x0, 0x4}));

  // fp6 e2m3 (max 7.5) and e3m2 (max 28), per tensor, scale 1.
  spec.qscheme = QScheme::PerTensor;
  spec.dtype = QuantDType::FP6E2M3;
  Case e2m3 = run(spec, {3}, std::vector<float>{7.5f, -1.0f, 0.125f});
  EXPECT_EQ(e2m3.scales, (std::vector<float>{1.0f}));
  // 7.5 = 1.875 * 2^2 -> 0 11 111; -1 -> 1 01 000; 0.125 = 1/8 (the
  // subnormal step) -> 0 00 001.
  EXPECT_EQ(e2m3.codes, (std::vector<int32_t>{0x1F, 0x28, 0x01}));
  spec.dtype = QuantDType::FP6E3M2;
  Case e3m2 = run(spec, {3}, std::vector<float>{28.0f, -1.0f, 0.0625f});
  // 28 = 1.75 * 2^4 -> 0 111 11; -1 -> 1 011 00; 0.0625 = 2^-4 (the
  // subnormal step) -> 0 000 01.
  EXPECT_EQ(e3m2.codes, (std::vector<int32_t>{0x1F, 0x2C, 0x01}));
}

TEST(HandComputed, MxFp4EvenVersusFloorScales) {
  // One block [7, 1, -0.5, 0] (group 4). fp4's emax is 2.
  std::vector<float> block = {7.0f, 1.0f, -0.5f, 0.0f};
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP4;
  spec.scaleFormat = ScaleFormat::E8M0;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = 4;
  // floor: 2^(floor(log2 7) - 2) = 1; 7 saturates to 6 (0x7), 1 -> 0x2,
  // -0.5 -> 0x9.
  spec.mxScaleMode = MXScaleMode::Floor;
  Case floor = run(spec, {1, 4}, block);
  EXPECT_EQ(floor.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(floor.codes, (std::vector<int32_t>{0x7, 0x2, 0x9, 0x0}));
  // even: 7's mantissa 1.75 reaches fp4's threshold, so amax rounds up to
  // 8 and the scale is 2^(3 - 2) = 2; 3.5 ties 3 and 4 -> 4 (0x6), 0.5 ->
  // 0x1, -0.25 ties -0 and -0.5 -> 0, stored as +0.
  spec.mxScaleMode = MXScaleMode::Even;
  Case even = run(spec, {1, 4}, block);
  EXPECT_EQ(even.scales, (std::vector<float>{2.0f}));
  EXPECT_EQ(even.codes, (std::vector<int32_t>{0x6, 0x1, 0x0, 0x0}));
}

TEST(HandComputed, ScaleQuantizedNvfp4Scales) {
  // NVFP4: the second stage's scale is amax / (6 * 448) as one division;
  // a tensor amax 2688 gives exactly 1. The block scales amax / 6 (6 and
  // 0.06 -> 1.0 and 0.01) are then fp8-quantized with it: 1.0 stays, 0.01
  // becomes e4m3's nearest, 1.25 * 2^-7 = 0.009765625.
  TensorQuantSpec first;
  first.dtype = QuantDType::FP4;
  first.qscheme = QScheme::PerGroup;
  first.axis = -1;
  first.groupSize = 2;
  TensorQuantSpec second;
  second.dtype = QuantDType::FP8E4M3;
  EXPECT_EQ(scaleQuantSecondScale(first, second, 2688.0f), 1.0f);
  std::vector<float> data = {6.0f, -3.0f, 0.06f, 0.0f};
  llvm::Expected<QuantLayout> layout = QuantLayout::get({1, 4}, first);
  ASSERT_TRUE(static_cast<bool>(layout));
  llvm::Expected<std::vector<float>> scales =
      scaleQuantBlockScales(first, second, *layout, data, 1.0f);
  ASSERT_TRUE(static_cast<bool>(scales)) << llvm::toString(scales.takeError());
  EXPECT_EQ(*scales, (std::vector<float>{1.0f, 0.009765625f}));
}

TEST(HandComputed, LargeTensorsMatchRowByRowAndSkipNaN) {
  // Over 2^20 elements the kernels split the work across threads; the
  // result must equal quantizing each row alone.
  TensorQuantSpec spec =
      intSpec(QuantDType::Int4, QScheme::PerGroup, true, -1, 128);
  const int64_t rows = 1024, cols = 1536;
  std::vector<float> data(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    data[i] = static_cast<float>((i * 7919) % 2001 - 1000) / 256.0f;
  data[5] = NAN; // ignored by the statistics; quantizes to the zero point
  Case whole = run(spec, {rows, cols}, data);
  for (int64_t r : {int64_t{0}, int64_t{517}, rows - 1}) {
    Case row =
        run(spec, {1, cols}, llvm::ArrayRef<float>(data).slice(r * cols, cols));
    for (int64_t g = 0; g < cols / 128; ++g)
      EXPECT_EQ(whole.scales[r * (cols / 128) + g], row.scales[g]);
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(whole.codes[r * cols + c], row.codes[c]) << r << ", " << c;
  }
  EXPECT_EQ(whole.codes[5], 0);
  // Per-tensor min/max over the same data, split across threads.
  MinMaxStats stats;
  llvm::Expected<QuantLayout> layout = QuantLayout::get(
      {rows, cols}, intSpec(QuantDType::Int8, QScheme::PerTensor, true));
  ASSERT_TRUE(static_cast<bool>(layout));
  observeMinMax(*layout, data, stats);
  EXPECT_EQ(stats.min, (std::vector<float>{-1000.0f / 256.0f}));
  EXPECT_EQ(stats.max, (std::vector<float>{1000.0f / 256.0f}));
}

TEST(HandComputed, UnobservedStatisticsGetQuarksDefaults) {
  // An observer that saw nothing keeps min +inf, max -inf. Quark's integer
  // path (check_min_max_valid) returns scale 1 and zero point 0; its fp8
  // path clamps the range to include 0 and takes the epsilon scale.
  MinMaxStats unobserved{{INFINITY}, {-INFINITY}};
  llvm::Expected<QuantParams> int8 = computeQuantParams(
      intSpec(QuantDType::UInt8, QScheme::PerTensor, false), unobserved);
  ASSERT_TRUE(static_cast<bool>(int8));
  EXPECT_EQ(int8->scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(int8->zeroPoints, (std::vector<int32_t>{0}));
  TensorQuantSpec fp8;
  fp8.dtype = QuantDType::FP8E4M3;
  llvm::Expected<QuantParams> fp8Params = computeQuantParams(fp8, unobserved);
  ASSERT_TRUE(static_cast<bool>(fp8Params));
  EXPECT_EQ(fp8Params->scales, (std::vector<float>{std::ldexp(1.0f, -23)}));
}

} // namespace
