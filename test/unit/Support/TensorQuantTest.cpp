//===- TensorQuantTest.cpp - Layouts and whole-tensor quantization --------===//

#include "quark/Support/TensorQuant.h"

#include "quark/Support/BlockFloat.h"
#include "quark/Support/ScalarQuant.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace mlir::quark;

namespace {

QuantLayout layoutOf(llvm::ArrayRef<int64_t> shape,
                     const TensorQuantSpec &spec) {
  llvm::Expected<QuantLayout> layout = QuantLayout::get(shape, spec);
  EXPECT_TRUE(static_cast<bool>(layout)) << llvm::toString(layout.takeError());
  return *layout;
}

TEST(QuantLayout, Shapes) {
  TensorQuantSpec spec;
  spec.qscheme = QScheme::PerChannel;
  spec.axis = 0;
  QuantLayout channel = layoutOf({4, 6}, spec);
  EXPECT_EQ(channel.paramShape(), (llvm::ArrayRef<int64_t>{4}));
  EXPECT_EQ(channel.paramIndex(7), 1); // row 1
  spec.axis = -1;
  QuantLayout column = layoutOf({4, 6}, spec);
  EXPECT_EQ(column.paramShape(), (llvm::ArrayRef<int64_t>{6}));
  EXPECT_EQ(column.paramIndex(7), 1); // column 1

  spec.qscheme = QScheme::PerGroup;
  spec.axis = 1;
  spec.groupSize = 3;
  QuantLayout group = layoutOf({4, 6}, spec);
  EXPECT_EQ(group.paramShape(), (llvm::ArrayRef<int64_t>{4, 2}));
  EXPECT_EQ(group.paramIndex(5), 1); // row 0, columns 3..5
  EXPECT_EQ(group.paramIndex(6), 2); // row 1, columns 0..2
  EXPECT_EQ(group.groupStart(3), 9); // row 1, column 3
  spec.groupSize = -1;
  EXPECT_EQ(layoutOf({4, 6}, spec).paramShape(),
            (llvm::ArrayRef<int64_t>{4, 1}));

  // Groups along axis 0 of a [4, 6] tensor are strided by 6.
  spec.axis = 0;
  spec.groupSize = 2;
  QuantLayout strided = layoutOf({4, 6}, spec);
  EXPECT_EQ(strided.paramShape(), (llvm::ArrayRef<int64_t>{2, 6}));
  EXPECT_EQ(strided.paramIndex(6 + 5), 5);   // row 1, column 5 -> group 0
  EXPECT_EQ(strided.paramIndex(12 + 5), 11); // row 2, column 5 -> group 1
  EXPECT_EQ(strided.axisStride(), 6);

  spec.qscheme = QScheme::PerBlock;
  spec.blockSize = {2, 4};
  QuantLayout block = layoutOf({4, 6}, spec);
  EXPECT_EQ(block.paramShape(), (llvm::ArrayRef<int64_t>{2, 2}));
  EXPECT_EQ(block.paramIndex(5), 1);         // (0, 5)
  EXPECT_EQ(block.paramIndex(3 * 6 + 1), 2); // (3, 1)
}

TEST(QuantLayout, RejectsBadSpecs) {
  TensorQuantSpec spec;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = 1;
  spec.groupSize = 4;
  llvm::Expected<QuantLayout> ragged = QuantLayout::get({4, 6}, spec);
  ASSERT_FALSE(static_cast<bool>(ragged));
  EXPECT_EQ(llvm::toString(ragged.takeError()),
            "dimension 1 has 6 elements, not a multiple of group_size 4");
  // MX pads a ragged last block instead.
  spec.dtype = QuantDType::MX;
  spec.mxElement = QuantDType::FP4;
  EXPECT_TRUE(static_cast<bool>(QuantLayout::get({4, 6}, spec)));
  spec.axis = 2;
  llvm::Expected<QuantLayout> axis = QuantLayout::get({4, 6}, spec);
  ASSERT_FALSE(static_cast<bool>(axis));
  EXPECT_EQ(llvm::toString(axis.takeError()),
            "ch_axis 2 is out of range for a rank-2 tensor");
}

TEST(TensorQuant, PerChannelInt8Symmetric) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::Int8;
  spec.qscheme = QScheme::PerChannel;
  spec.axis = 0;
  std::vector<float> weight = {1.0f, -2.55f, 0.5f, 0.1f, 0.2f, -0.3f};
  QuantLayout layout = layoutOf({2, 3}, spec);
  MinMaxStats stats;
  observeMinMax(layout, weight, stats);
  EXPECT_EQ(stats.min, (std::vector<float>{-2.55f, -0.3f}));
  llvm::Expected<QuantParams> params = computeQuantParams(spec, stats);
  ASSERT_TRUE(static_cast<bool>(params));
  EXPECT_EQ(params->scales[0], 2.55f / 127.5f);
  EXPECT_EQ(params->scales[1], 0.3f / 127.5f);
  EXPECT_TRUE(params->zeroPoints.empty());
  std::vector<int32_t> codes(6);
  ASSERT_FALSE(
      static_cast<bool>(quantizeTensor(spec, layout, weight, *params, codes)));
  // -2.55 is -amax: -127.5 -> -128; 1.0 / 0.02 = 50. In row 1 the float32
  // reciprocal makes -0.3 * (127.5 / 0.3) = -127.49999 -> -127 (as torch).
  EXPECT_EQ(codes, (std::vector<int32_t>{50, -128, 25, 42, 85, -127}));
  std::vector<float> back(6);
  ASSERT_FALSE(
      static_cast<bool>(dequantizeTensor(spec, layout, codes, *params, back)));
  std::vector<float> fake(6);
  ASSERT_FALSE(static_cast<bool>(
      fakeQuantizeTensor(spec, layout, weight, *params, fake)));
  EXPECT_EQ(back, fake);
}

TEST(TensorQuant, PerGroupUint4Asymmetric) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::UInt4;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = 1;
  spec.groupSize = 4;
  spec.symmetric = false;
  std::vector<float> weight = {0.0f,  1.0f,  2.0f,  15.0f,  // group [0, 15]
                               -1.0f, -2.0f, -3.0f, -7.5f}; // group [-7.5, 0]
  QuantLayout layout = layoutOf({1, 8}, spec);
  llvm::Expected<QuantParams> params =
      computeDynamicParams(spec, layout, weight);
  ASSERT_TRUE(static_cast<bool>(params));
  EXPECT_EQ(params->scales, (std::vector<float>{1.0f, 0.5f}));
  EXPECT_EQ(params->zeroPoints, (std::vector<int32_t>{0, 15}));
  std::vector<int32_t> codes(8);
  ASSERT_FALSE(
      static_cast<bool>(quantizeTensor(spec, layout, weight, *params, codes)));
  EXPECT_EQ(codes, (std::vector<int32_t>{0, 1, 2, 15, 13, 11, 9, 0}));
}

// The vectorized run over a per-tensor float spec gives the scalar
// encoder's codes bit for bit: every float format, values across the whole
// exponent range (target subnormals, ties, overflow), both zeros, and runs
// with NaN / Inf (which take the scalar path).
TEST(TensorQuant, FloatRunsMatchTheScalarEncoder) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> anyBits;
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) {
    uint32_t bits = anyBits(rng);
    // Exponents around the narrow formats' ranges, and some anywhere.
    if (i % 4)
      bits = (bits & 0x807FFFFFu) | ((100u + bits % 60u) << 23);
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    if (std::isfinite(v))
      values.push_back(v);
  }
  for (float v : {0.0f, -0.0f, 0.5f, -0.75f, 448.0f, 464.0f, -480.0f, 1e-9f,
                  -1e-9f, 0.0009765625f, 0.00146484375f, 6.0f, 7.0f})
    values.push_back(v);
  for (QuantDType dtype :
       {QuantDType::FP8E4M3, QuantDType::FP8E4M3FNUZ, QuantDType::FP8E5M2,
        QuantDType::FP8E5M2FNUZ, QuantDType::FP8E5M3, QuantDType::FP6E2M3,
        QuantDType::FP6E3M2, QuantDType::FP4}) {
    TensorQuantSpec spec;
    spec.dtype = dtype;
    spec.qscheme = QScheme::PerTensor;
    for (float scale : {1.0f, 0.0123f, 0.0f}) {
      for (bool special : {false, true}) {
        std::vector<float> in = values;
        if (special) {
          in[7] = std::numeric_limits<float>::quiet_NaN();
          in[8] = -std::numeric_limits<float>::infinity();
        }
        QuantLayout layout = layoutOf({static_cast<int64_t>(in.size())}, spec);
        QuantParams params;
        params.scales = {scale};
        std::vector<int32_t> codes(in.size());
        ASSERT_FALSE(
            static_cast<bool>(quantizeTensor(spec, layout, in, params, codes)));
        for (size_t i = 0; i < in.size(); ++i)
          ASSERT_EQ(codes[i],
                    static_cast<int32_t>(quantizeFloat(dtype, in[i], scale)))
              << dtypeName(dtype) << " x=" << in[i] << " scale=" << scale;
      }
    }
  }
}

TEST(TensorQuant, MissingParamsAreAnError) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::UInt8;
  spec.symmetric = false;
  QuantLayout layout = layoutOf({3}, spec);
  std::vector<float> data = {1, 2, 3}, out(3);
  llvm::Error error =
      fakeQuantizeTensor(spec, layout, data, QuantParams{{0.1f}, {}}, out);
  EXPECT_EQ(llvm::toString(std::move(error)),
            "expected 1 zero point(s) for an asymmetric per_tensor layout, "
            "got 0");
}

TEST(TensorQuant, MxFp4Tensor) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP4;
  spec.scaleFormat = ScaleFormat::E8M0;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = -1;
  spec.groupSize = 32;
  std::vector<float> data(64);
  for (int i = 0; i < 64; ++i)
    data[i] = (i < 32 ? 0.1f : 3.0f) * static_cast<float>(i % 7 - 3);
  QuantLayout layout = layoutOf({2, 32}, spec);
  std::vector<float> scales = computeMXScales(spec, layout, data);
  // Block 0 amax 0.3 -> 2^(-2 - 2) = 1/16; block 1 amax 9 -> 2^(3 - 2).
  EXPECT_EQ(scales, (std::vector<float>{0.0625f, 2.0f}));
  std::vector<float> fake(64);
  ASSERT_FALSE(static_cast<bool>(
      fakeQuantizeTensor(spec, layout, data, QuantParams{}, fake)));
  // -0.3 / (1/16) = -4.8 -> -4 (fp4 step 2 in [4, 8)) -> -0.25.
  EXPECT_EQ(fake[0], -0.25f);
  // data[35] = 3 * -3 = -9 at scale 2: -4.5 -> -4 -> -8; data[32] = 3 is
  // exactly 1.5 * 2.
  EXPECT_EQ(fake[35], -8.0f);
  EXPECT_EQ(fake[32], 3.0f);
}

TEST(TensorQuant, BlockFloatAlongNonLastAxis) {
  // BFP16 groups of 8 along axis 0 of an [8, 2] tensor: each column is a
  // block, gathered with stride 2.
  TensorQuantSpec spec;
  spec.dtype = QuantDType::BFP16;
  spec.qscheme = QScheme::PerGroup;
  spec.axis = 0;
  spec.groupSize = 8;
  std::vector<float> column = {1.0f,       -0.5f, 0.25f, 0.99f,
                               0.0078125f, -1.0f, 0.3f,  0.7f};
  std::vector<float> data(16);
  for (int r = 0; r < 8; ++r) {
    data[r * 2] = column[r];
    data[r * 2 + 1] = 2.0f * column[r];
  }
  QuantLayout layout = layoutOf({8, 2}, spec);
  std::vector<float> out(16);
  ASSERT_FALSE(static_cast<bool>(
      fakeQuantizeTensor(spec, layout, data, QuantParams{}, out)));
  std::vector<float> expected = column;
  bfp16FakeQuantizeBlock(expected);
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(out[r * 2], expected[r]);
    EXPECT_EQ(out[r * 2 + 1], 2.0f * expected[r]);
  }
  std::vector<int32_t> codes(16);
  llvm::Error error = quantizeTensor(spec, layout, data, QuantParams{}, codes);
  EXPECT_EQ(llvm::toString(std::move(error)),
            "bfp16 is a simulation-only format with no storage encoding");
}

TEST(TensorQuant, CastTypes) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::BFloat16;
  QuantLayout layout = layoutOf({2}, spec);
  std::vector<float> data = {1.0f + std::ldexp(1.0f, -8), 3.0f}, out(2);
  ASSERT_FALSE(static_cast<bool>(
      fakeQuantizeTensor(spec, layout, data, QuantParams{}, out)));
  EXPECT_EQ(out, (std::vector<float>{1.0f, 3.0f}));
  std::vector<int32_t> codes(2);
  ASSERT_FALSE(static_cast<bool>(
      quantizeTensor(spec, layout, data, QuantParams{}, codes)));
  EXPECT_EQ(codes, (std::vector<int32_t>{0x3F80, 0x4040}));
}

TEST(TensorQuant, ScalePrecisionAndFormats) {
  TensorQuantSpec spec;
  spec.dtype = QuantDType::FP8E4M3;
  spec.scalePrecision = ScalePrecision::BFloat16;
  MinMaxStats stats{{-1.0f}, {3.0f}};
  llvm::Expected<QuantParams> params = computeQuantParams(spec, stats);
  ASSERT_TRUE(static_cast<bool>(params));
  // 3 / 448 = 0.0066964... rounded to bf16.
  EXPECT_EQ(params->scales[0], 0.006683349609375f);

  spec.dtype = QuantDType::FP4;
  spec.scalePrecision = ScalePrecision::Float32;
  spec.scaleFormat = ScaleFormat::E5M3;
  params = computeQuantParams(spec, MinMaxStats{{-1.0f}, {0.7f}});
  ASSERT_TRUE(static_cast<bool>(params));
  // 1 / 6 = 0.1666 -> e5m3 grid in [0.125, 0.25) has step 1/64: 11/64.
  EXPECT_EQ(params->scales[0], 11.0f / 64.0f);

  spec.qscheme = QScheme::PerGroup;
  spec.scaleFormat = ScaleFormat::E4M3;
  // NVFP4 two-level: global amax 12 -> 448 * 6 / 12 = 224; block amax 3
  // -> 0.5 * 224 = 112 (exact in e4m3) -> 0.5; block amax 1 -> 37.33 ->
  // e4m3 36 -> 36 / 224.
  params = computeQuantParams(
      spec, MinMaxStats{{-12.0f, 0.0f, -1.0f}, {0.0f, 3.0f, 0.5f}});
  ASSERT_TRUE(static_cast<bool>(params));
  EXPECT_EQ(params->scales[0], 2.0f);
  EXPECT_EQ(params->scales[1], 0.5f);
  EXPECT_EQ(params->scales[2], 36.0f / 224.0f);
}

} // namespace
