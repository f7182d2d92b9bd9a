//===- AwqTest.cpp - AWQ's invariants on small matrices -------------------===//

#include "quark/Algorithms/Awq.h"
#include "quark/Algorithms/Gptq.h"

#include "TestMatrices.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>

using namespace mlir::quark;
using namespace mlir::quark::test;

namespace {

/// The per-token second moment AWQ scores with: GPTQ's Hessian with one
/// sample per token.
std::vector<float> secondMoment(llvm::ArrayRef<float> x, int64_t cols) {
  GptqHessian hessian(cols);
  int64_t tokens = static_cast<int64_t>(x.size()) / cols;
  hessian.add(x, tokens, tokens);
  return hessian.matrix();
}

std::vector<float> meanAbsOf(llvm::ArrayRef<float> x, int64_t cols) {
  ChannelAbsMean mean;
  mean.add(x, cols);
  return mean.mean();
}

TensorQuantSpec uint4Group(int64_t groupSize) {
  TensorQuantSpec spec = int4Group(groupSize);
  spec.dtype = QuantDType::UInt4;
  spec.symmetric = false;
  return spec;
}

TEST(Awq, ScalesFollowTheFormula) {
  std::vector<float> meanAbs = {0.5f, 2.0f, 8.0f, 0.0f};
  std::vector<float> s = awqScales(meanAbs, 0.5);
  // sqrt: 0.7071, 1.4142, 2.8284, then 0 clamped to 1e-4; normalised by
  // sqrt(2.8284 * 1e-4).
  float norm = std::sqrt(std::sqrt(8.0f) * 1e-4f);
  EXPECT_FLOAT_EQ(s[0], std::sqrt(0.5f) / norm);
  EXPECT_FLOAT_EQ(s[2], std::sqrt(8.0f) / norm);
  EXPECT_FLOAT_EQ(s[3], 1e-4f / norm);
  for (float v : awqScales(meanAbs, 0.0))
    EXPECT_EQ(v, 1.0f);
}

TEST(Awq, ChannelAbsMeanIsTheMeanOfMagnitudes) {
  std::vector<float> x = {1, -2, -3, 4, 5, 0};
  ChannelAbsMean mean;
  mean.add(x, 2);
  EXPECT_EQ(mean.tokens(), 3);
  std::vector<float> m = mean.mean();
  EXPECT_FLOAT_EQ(m[0], 3.0f);
  EXPECT_FLOAT_EQ(m[1], 2.0f);
}

TEST(Awq, OutputErrorFromTheSecondMomentMatchesTheTokens) {
  int64_t rows = 24, cols = 64, tokens = 200;
  std::vector<float> w = makeWeight(rows, cols, 11);
  std::vector<float> x = makeInputs(tokens, cols, 12);
  llvm::Expected<std::vector<float>> q =
      rtnQuantize(int4Group(32), rows, cols, w);
  ASSERT_TRUE(static_cast<bool>(q));
  double direct =
      outputError(w, *q, x, rows, cols) / static_cast<double>(rows * tokens);
  double fromMoment =
      outputMeanSquaredError(rows, cols, w, *q, secondMoment(x, cols));
  EXPECT_NEAR(fromMoment, direct, 1e-4 * direct);
}

// Ratio 0 gives s = 1, so the first grid point is plain round-to-nearest.
TEST(Awq, RatioZeroIsRoundToNearest) {
  int64_t rows = 32, cols = 128;
  std::vector<float> w = makeWeight(rows, cols, 13);
  std::vector<float> x = makeInputs(256, cols, 14);
  for (const TensorQuantSpec &spec : {int4Group(32), uint4Group(128)}) {
    std::vector<float> ones = awqScales(meanAbsOf(x, cols), 0.0);
    llvm::Expected<std::vector<float>> scaled =
        awqQuantizeScaled(spec, rows, cols, w, ones);
    llvm::Expected<std::vector<float>> rtn = rtnQuantize(spec, rows, cols, w);
    ASSERT_TRUE(scaled && rtn);
    EXPECT_EQ(*scaled, *rtn);

    std::vector<float> h = secondMoment(x, cols);
    AwqLinear linear{&spec, rows, cols, w, h, 256};
    llvm::Expected<AwqScaleSearch> search =
        awqSearchScales(meanAbsOf(x, cols), linear);
    ASSERT_TRUE(static_cast<bool>(search));
    ASSERT_EQ(search->losses.size(), 20u);
    EXPECT_DOUBLE_EQ(search->losses[0],
                     outputMeanSquaredError(rows, cols, w, *rtn, h));
  }
}

// With outlier input channels, the searched scales cut the output error
// well below round-to-nearest's (the error measured on the tokens).
TEST(Awq, SearchBeatsRoundToNearest) {
  int64_t rows = 64, cols = 256, tokens = 512;
  std::vector<float> w = makeWeight(rows, cols, 15);
  std::vector<float> x = makeInputs(tokens, cols, 16);
  std::vector<float> h = secondMoment(x, cols);
  for (const TensorQuantSpec &spec : {int4Group(128), uint4Group(32)}) {
    AwqLinear linear{&spec, rows, cols, w, h, tokens};
    llvm::Expected<AwqScaleSearch> search =
        awqSearchScales(meanAbsOf(x, cols), linear);
    ASSERT_TRUE(static_cast<bool>(search));
    EXPECT_GT(search->bestIndex, 0);
    EXPECT_EQ(search->losses[search->bestIndex],
              *std::min_element(search->losses.begin(), search->losses.end()));
    llvm::Expected<std::vector<float>> awq =
        awqQuantizeScaled(spec, rows, cols, w, search->scales);
    llvm::Expected<std::vector<float>> rtn = rtnQuantize(spec, rows, cols, w);
    ASSERT_TRUE(awq && rtn);
    double awqError = outputError(w, *awq, x, rows, cols);
    double rtnError = outputError(w, *rtn, x, rows, cols);
    EXPECT_LT(awqError, 0.8 * rtnError) << "ratio " << search->bestRatio;
  }
}

// Two linears reading one input are scored together: the winner minimises
// their combined error, and a linear without a spec adds none.
TEST(Awq, GroupLossCombinesItsLinears) {
  int64_t cols = 64, tokens = 128;
  std::vector<float> a = makeWeight(16, cols, 17), b = makeWeight(48, cols, 18);
  std::vector<float> x = makeInputs(tokens, cols, 19);
  std::vector<float> h = secondMoment(x, cols);
  TensorQuantSpec spec = int4Group(32);
  std::vector<float> meanAbs = meanAbsOf(x, cols);
  AwqLinear first{&spec, 16, cols, a, h, tokens};
  AwqLinear second{&spec, 48, cols, b, h, tokens};
  llvm::Expected<AwqScaleSearch> both =
      awqSearchScales(meanAbs, {first, second});
  llvm::Expected<AwqScaleSearch> alone = awqSearchScales(meanAbs, {first});
  ASSERT_TRUE(both && alone);
  for (size_t k = 0; k < both->losses.size(); ++k) {
    std::vector<float> s = awqScales(meanAbs, static_cast<double>(k) / 20);
    double ea = outputMeanSquaredError(
        16, cols, a, *awqQuantizeScaled(spec, 16, cols, a, s), h);
    double eb = outputMeanSquaredError(
        48, cols, b, *awqQuantizeScaled(spec, 48, cols, b, s), h);
    EXPECT_NEAR(both->losses[k], (16 * ea + 48 * eb) / 64, 1e-9 * ea);
  }
  AwqLinear unquantized{nullptr, 48, cols, b, h, tokens};
  llvm::Expected<AwqScaleSearch> withPlain =
      awqSearchScales(meanAbs, {first, unquantized});
  ASSERT_TRUE(static_cast<bool>(withPlain));
  EXPECT_EQ(withPlain->bestIndex, alone->bestIndex);
  EXPECT_NEAR(withPlain->losses[3], alone->losses[3] * 16 / 64,
              1e-9 * alone->losses[3]);
}

// Clipping never raises a slot's own error (no clip is the first
// candidate), stays within max|w| and, on heavy-tailed weights, lowers the
// whole output error.
TEST(Awq, ClipLowersTheOutputError) {
  int64_t rows = 32, cols = 128, tokens = 256;
  std::vector<float> w = makeWeight(rows, cols, 20);
  for (size_t i = 0; i < w.size(); i += 37)
    w[i] *= 6.0f; // a heavy tail
  std::vector<float> x = makeInputs(tokens, cols, 21);
  std::vector<float> h = secondMoment(x, cols);
  for (const TensorQuantSpec &spec : {int4Group(32), uint4Group(128)}) {
    std::vector<float> clipped = w;
    llvm::Expected<std::vector<float>> maxima =
        awqClip(spec, rows, cols, clipped, h);
    ASSERT_TRUE(static_cast<bool>(maxima));
    int64_t run = spec.groupSize;
    int64_t shrunk = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float limit = (*maxima)[r * (cols / run) + c / run];
        EXPECT_LE(std::fabs(clipped[r * cols + c]), limit);
        EXPECT_EQ(clipped[r * cols + c],
                  std::clamp(w[r * cols + c], -limit, limit));
      }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols / run; ++g) {
        float original = 0;
        for (int64_t c = g * run; c < (g + 1) * run; ++c)
          original = std::max(original, std::fabs(w[r * cols + c]));
        float limit = (*maxima)[r * (cols / run) + g];
        EXPECT_LE(limit, original);
        EXPECT_GE(limit, 0.55f * original);
        shrunk += limit < original;
      }
    EXPECT_GT(shrunk, 0);
    llvm::Expected<std::vector<float>> plain = rtnQuantize(spec, rows, cols, w);
    llvm::Expected<std::vector<float>> afterClip =
        rtnQuantize(spec, rows, cols, clipped);
    ASSERT_TRUE(plain && afterClip);
    EXPECT_LT(outputError(w, *afterClip, x, rows, cols),
              outputError(w, *plain, x, rows, cols));
  }
}

TEST(Awq, ClipNeedsRowSlotsAndMatchingShapes) {
  std::vector<float> w = makeWeight(4, 32, 22);
  std::vector<float> h(32 * 32, 0.0f);
  TensorQuantSpec perTensor;
  perTensor.dtype = QuantDType::Int4;
  EXPECT_FALSE(awqCanClip(perTensor));
  llvm::Expected<std::vector<float>> refused = awqClip(perTensor, 4, 32, w, h);
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("per-group"),
            std::string::npos);
  llvm::Expected<std::vector<float>> badHessian =
      awqClip(int4Group(16), 4, 32, w, llvm::ArrayRef<float>(h).take_front(10));
  ASSERT_FALSE(static_cast<bool>(badHessian));
  llvm::consumeError(badHessian.takeError());

  TensorQuantSpec spec = int4Group(16);
  AwqLinear wrong{&spec, 4, 32, w, h, 8};
  llvm::Expected<AwqScaleSearch> mismatch =
      awqSearchScales(std::vector<float>(16, 1.0f), wrong);
  ASSERT_FALSE(static_cast<bool>(mismatch));
  EXPECT_NE(llvm::toString(mismatch.takeError()).find("16 channels"),
            std::string::npos);
}

TEST(Awq, DividedHessianIsThatOfTheDividedInputs) {
  int64_t cols = 16, tokens = 40;
  std::vector<float> x = makeInputs(tokens, cols, 23);
  std::vector<float> s = awqScales(meanAbsOf(x, cols), 0.5);
  std::vector<float> divided = x;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t c = 0; c < cols; ++c)
      divided[t * cols + c] /= s[c];
  std::vector<float> h = secondMoment(x, cols);
  divideHessian(h, s);
  std::vector<float> expected = secondMoment(divided, cols);
  for (size_t i = 0; i < h.size(); ++i)
    EXPECT_NEAR(h[i], expected[i], 1e-4f * (std::fabs(expected[i]) + 1.0f));
}

} // namespace
